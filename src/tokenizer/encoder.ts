// Encoding with a BPE vocabulary, exactly as tiktoken does: a piece whose bytes
// are a token is that token; otherwise, starting from single bytes, the
// adjacent pair whose concatenation has the lowest rank merges first (the
// leftmost on a tie), until no adjacent concatenation is a token. Ranks are
// our ids. Each distinct piece is encoded once and cached.
import { bytesKey, type BpeModel } from './model';
import { compilePattern, utf8 } from './pieces';

const ID_SCALE = 65536;
/** Pieces longer than this (in bytes) merge through a heap instead of rescanning. */
const LONG_PIECE = 64;

export class BpeEncoder {
  readonly model: BpeModel;
  private readonly regex: RegExp;
  private readonly idOfBytes = new Map<string, number>();
  /** left id * 65536 + right id -> the id of their concatenation, when it is a token. */
  private readonly pairRank = new Map<number, number>();
  private readonly byteId = new Int32Array(256).fill(-1);
  private readonly cache = new Map<string, number[]>();
  private readonly decoder = new TextDecoder('utf-8');

  constructor(model: BpeModel) {
    this.model = model;
    const regex = compilePattern(model.pattern);
    if (typeof regex === 'string') throw new Error(regex);
    this.regex = regex;
    model.tokens.forEach((bytes, id) => {
      this.idOfBytes.set(bytesKey(bytes), id);
      if (bytes.length === 1) this.byteId[bytes[0]!] = id;
    });
    // Every split of every token into two tokens is a pair that merges into it.
    model.tokens.forEach((bytes, id) => {
      for (let k = 1; k < bytes.length; k++) {
        const l = this.idOfBytes.get(bytesKey(bytes.subarray(0, k)));
        if (l === undefined) continue;
        const r = this.idOfBytes.get(bytesKey(bytes.subarray(k)));
        if (r !== undefined) this.pairRank.set(l * ID_SCALE + r, id);
      }
    });
  }

  get vocabSize(): number {
    return this.model.tokens.length;
  }

  tokenBytes(id: number): Uint8Array {
    return this.model.tokens[id] ?? new Uint8Array(0);
  }

  encode(text: string): number[] {
    const out: number[] = [];
    for (const m of text.matchAll(this.regex)) {
      const ids = this.encodePiece(m[0]);
      for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
    }
    return out;
  }

  /** Tokens in the text without building the id list. */
  count(text: string): number {
    let n = 0;
    for (const m of text.matchAll(this.regex)) n += this.encodePiece(m[0]).length;
    return n;
  }

  decode(ids: number[]): string {
    let length = 0;
    for (const id of ids) length += this.tokenBytes(id).length;
    const bytes = new Uint8Array(length);
    let at = 0;
    for (const id of ids) {
      const t = this.tokenBytes(id);
      bytes.set(t, at);
      at += t.length;
    }
    return this.decoder.decode(bytes);
  }

  encodePiece(piece: string): number[] {
    let ids = this.cache.get(piece);
    if (ids === undefined) {
      ids = this.mergePiece(utf8(piece));
      this.cache.set(piece, ids);
    }
    return ids;
  }

  private mergePiece(bytes: Uint8Array): number[] {
    const whole = this.idOfBytes.get(bytesKey(bytes));
    if (whole !== undefined) return [whole];
    const ids = Array.from(bytes, (b) => this.byteId[b]!);
    return bytes.length > LONG_PIECE ? this.mergeLong(ids) : this.mergeShort(ids);
  }

  private rankOf(l: number, r: number): number {
    return this.pairRank.get(l * ID_SCALE + r) ?? Infinity;
  }

  /** tiktoken's loop: find the lowest rank, merge it, again. */
  private mergeShort(ids: number[]): number[] {
    for (;;) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const r = this.rankOf(ids[i]!, ids[i + 1]!);
        if (r < best) {
          best = r;
          at = i;
        }
      }
      if (at < 0) return ids;
      ids.splice(at, 2, best);
    }
  }

  /** The same merges in O(n log n): a linked list of parts and a heap of (rank, position). */
  private mergeLong(ids: number[]): number[] {
    const n = ids.length;
    const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
    const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
    const alive = new Uint8Array(n).fill(1);
    const tok = Int32Array.from(ids);
    // Heap entries: rank * n + position, smallest first (positions order parts left to right).
    const heap: number[] = [];
    const push = (i: number) => {
      const j = next[i]!;
      if (j < 0) return;
      const r = this.rankOf(tok[i]!, tok[j]!);
      if (r === Infinity) return;
      heapPush(heap, r * n + i);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    while (heap.length > 0) {
      const e = heapPop(heap);
      const i = e % n;
      const r = (e - i) / n;
      const j = next[i]!;
      if (!alive[i] || j < 0 || this.rankOf(tok[i]!, tok[j]!) !== r) continue;
      tok[i] = r;
      alive[j] = 0;
      next[i] = next[j]!;
      if (next[i]! >= 0) prev[next[i]!] = i;
      if (prev[i]! >= 0) push(prev[i]!);
      push(i);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) out.push(tok[i]!);
    return out;
  }
}

function heapPush(h: number[], v: number): void {
  let i = h.length;
  h.push(v);
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]! <= v) break;
    h[i] = h[p]!;
    i = p;
  }
  h[i] = v;
}

function heapPop(h: number[]): number {
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length > 0) {
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const c = l + 1 < n && h[l + 1]! < h[l]! ? l + 1 : l;
      if (h[c]! >= last) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
  return top;
}

/** Characters (code points) per token: how much text one token carries. */
export function charsPerToken(chars: number, tokens: number): number {
  return tokens > 0 ? chars / tokens : 0;
}
