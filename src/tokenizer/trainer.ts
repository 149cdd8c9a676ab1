// Byte-level BPE training, the merges minbpe's RegexTokenizer makes, fast.
//
// The text is cut into pieces by the split pattern; each distinct piece is a
// "word" kept once with its count. Each round merges the pair of adjacent ids
// that occurs most often within pieces over the whole text. Ties go to the pair
// whose first occurrence comes first when the pieces are read in text order,
// left to right, in the current ids: that is the order minbpe's re-count
// inserts pairs into its dict, and Python's max() returns the first maximal one.
//
// First occurrence, precisely: all copies of a piece are identical, so a pair
// first occurs in the earliest-appearing word that contains it, at its leftmost
// position there. Words are numbered by first appearance; a position is the
// byte offset of the pair's left token in the word (token order and byte order
// agree within a word). key = word * 2^29 + byte offset, smaller is earlier.
//
// Counts change incrementally: a merge rewrites only the words that contain the
// pair (the pair -> words index), and only the occurrences whose pair or
// position changed are subtracted or added. A max-heap of (count, key) entries
// with lazy deletion picks the winner. A removed occurrence may move a pair's
// first occurrence later, so the pair is marked dirty (its stored key is then a
// lower bound) and its key is recomputed from the index when it reaches the top.
//
// One deliberate difference from minbpe: a merge whose bytes already have a
// token (the same bytes reached by another split) reuses that token's id, since
// a tiktoken rank file holds one rank per byte string. The round then adds no
// token, and training goes on until the vocabulary has the size asked for.
import { PairHeap } from './heap';
import { byteTokens, bytesKey, concatBytes, vocabSizeProblem, type BpeModel, type Merge } from './model';
import { CL100K_PATTERN, compilePattern, countPieces, utf8 } from './pieces';

const KEY_SCALE = 2 ** 29;
const MAX_WORDS = 2 ** 24;
const ID_SCALE = 65536;

export interface TrainOptions {
  /** The split pattern; cl100k_base's by default. */
  pattern?: string;
  /** After every merge: tokens in the vocabulary so far, and the size asked for. */
  onProgress?: (tokens: number, target: number) => void;
}

export type TrainOutcome =
  | { ok: true; model: BpeModel; /** Why training stopped short of the size asked for, if it did. */ note: string | null }
  | { ok: false; message: string };

export function trainBpe(text: string, vocabSize: number, options: TrainOptions = {}): TrainOutcome {
  const problem = vocabSizeProblem(vocabSize);
  if (problem) return { ok: false, message: problem };
  const pattern = options.pattern ?? CL100K_PATTERN;
  const regex = compilePattern(pattern);
  if (typeof regex === 'string') return { ok: false, message: regex };
  const { pieces, counts } = countPieces(text, regex);
  if (pieces.length === 0) return { ok: false, message: 'The text is empty: there is nothing to train a tokenizer on.' };
  if (pieces.length >= MAX_WORDS) {
    return { ok: false, message: `The text has ${pieces.length.toLocaleString('en-US')} distinct pieces; the trainer handles up to ${MAX_WORDS.toLocaleString('en-US')}. Use a shorter text.` };
  }
  const trainer = new Trainer(pieces, counts);
  const tokens = byteTokens();
  const idOfBytes = new Map<string, number>(tokens.map((t, id) => [bytesKey(t), id]));
  const merges: Merge[] = [];
  let note: string | null = null;
  while (tokens.length < vocabSize) {
    const pair = trainer.best();
    if (pair < 0 || trainer.countOf(pair) < 2) {
      note =
        `The text supports a vocabulary of ${tokens.length.toLocaleString('en-US')} tokens, not ${vocabSize.toLocaleString('en-US')}: ` +
        'after that no pair of adjacent tokens occurs twice. Training stopped there.';
      break;
    }
    const [left, right] = trainer.pairIds(pair);
    const bytes = concatBytes(tokens[left]!, tokens[right]!);
    const key = bytesKey(bytes);
    let id = idOfBytes.get(key);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(bytes);
      idOfBytes.set(key, id);
    }
    merges.push({ left, right, id, count: trainer.countOf(pair) });
    trainer.merge(pair, id);
    options.onProgress?.(tokens.length, vocabSize);
  }
  return { ok: true, model: { pattern, tokens, merges }, note };
}

/** The words, the pair counts, the pair -> words index and the heap. */
class Trainer {
  private readonly freq: number[];
  private readonly toks: number[][];
  private readonly offs: number[][];

  private readonly pairIndex = new Map<number, number>();
  private readonly pA: number[] = [];
  private readonly pB: number[] = [];
  private readonly count: number[] = [];
  /** A lower bound on the first-occurrence key; exact unless dirty. */
  private readonly stored: number[] = [];
  private readonly dirty: number[] = [];
  /** Words that may contain the pair: a sorted, distinct prefix of sortedLen entries, then appended ones. */
  private readonly lists: number[][] = [];
  private readonly sortedLen: number[] = [];

  // Scratch state of one merge, stamped so nothing is cleared between rounds.
  private round = 0;
  private visit = 0;
  private readonly wordStamp: number[];
  private readonly touchStamp: number[] = [];
  private readonly removedStamp: number[] = [];
  private readonly addStamp: number[] = [];
  private readonly delta: number[] = [];
  private readonly addKey: number[] = [];
  private touched: number[] = [];

  private readonly heap = new PairHeap();

  constructor(pieces: string[], counts: number[]) {
    this.freq = counts;
    this.toks = new Array<number[]>(pieces.length);
    this.offs = new Array<number[]>(pieces.length);
    this.wordStamp = new Array<number>(pieces.length).fill(0);
    for (let w = 0; w < pieces.length; w++) {
      const bytes = utf8(pieces[w]!);
      const t = new Array<number>(bytes.length);
      const o = new Array<number>(bytes.length);
      for (let i = 0; i < bytes.length; i++) {
        t[i] = bytes[i]!;
        o[i] = i;
      }
      this.toks[w] = t;
      this.offs[w] = o;
      const f = counts[w]!;
      this.visit++;
      for (let i = 0; i + 1 < t.length; i++) {
        const p = this.pairOf(t[i]!, t[i + 1]!);
        this.count[p] += f;
        const key = w * KEY_SCALE + i;
        if (key < this.stored[p]!) this.stored[p] = key;
        this.listWord(p, w);
      }
    }
    for (let p = 0; p < this.count.length; p++) {
      this.sortedLen[p] = this.lists[p]!.length; // words were visited in increasing order
      this.heap.push(this.count[p]!, this.stored[p]!, p);
    }
  }

  countOf(pair: number): number {
    return this.count[pair]!;
  }

  pairIds(pair: number): [number, number] {
    return [this.pA[pair]!, this.pB[pair]!];
  }

  /** The pair to merge next (most frequent, earliest first occurrence), or -1 when none occurs. */
  best(): number {
    const heap = this.heap;
    while (heap.size > 0) {
      const p = heap.topPair();
      if (heap.topCount() !== this.count[p] || heap.topKey() !== this.stored[p]) {
        heap.pop();
        continue;
      }
      if (this.dirty[p]) {
        heap.pop();
        this.recomputeKey(p);
        heap.push(this.count[p]!, this.stored[p]!, p);
        continue;
      }
      return p;
    }
    return -1;
  }

  /** Replaces every occurrence of the pair, left to right without overlap, by id. */
  merge(pair: number, id: number): void {
    const a = this.pA[pair]!;
    const b = this.pB[pair]!;
    const round = ++this.round;
    this.touched = [];
    const list = this.lists[pair]!;
    for (let li = 0; li < list.length; li++) {
      const w = list[li]!;
      if (this.wordStamp[w] === round) continue;
      this.wordStamp[w] = round;
      const t = this.toks[w]!;
      const o = this.offs[w]!;
      const n = t.length;
      let found = false;
      for (let i = 0; i + 1 < n; i++) {
        if (t[i] === a && t[i + 1] === b) {
          found = true;
          break;
        }
      }
      if (!found) continue;
      const nt: number[] = [];
      const no: number[] = [];
      for (let i = 0; i < n; ) {
        if (i + 1 < n && t[i] === a && t[i + 1] === b) {
          nt.push(id);
          no.push(o[i]!);
          i += 2;
        } else {
          nt.push(t[i]!);
          no.push(o[i]!);
          i++;
        }
      }
      this.diffWord(w, t, o, nt, no);
      this.toks[w] = nt;
      this.offs[w] = no;
    }
    for (const q of this.touched) {
      this.count[q] += this.delta[q]!;
      if (this.removedStamp[q] === round) this.dirty[q] = 1;
      if (this.addKey[q]! < this.stored[q]!) this.stored[q] = this.addKey[q]!;
      if (this.count[q]! > 0) this.heap.push(this.count[q]!, this.stored[q]!, q);
    }
    if (this.count[pair] !== 0) throw new Error(`BPE trainer invariant broken: pair ${a},${b} still counted ${this.count[pair]} times after its merge.`);
    this.lists[pair] = [];
    this.sortedLen[pair] = 0;
  }

  /** Subtracts the occurrences that changed between a word's old and new ids, and adds the new ones. */
  private diffWord(w: number, t: number[], o: number[], nt: number[], no: number[]): void {
    const f = this.freq[w]!;
    this.visit++;
    const n = t.length;
    const m = nt.length;
    let i = 0;
    let j = 0;
    while (i + 1 < n || j + 1 < m) {
      const oi = i + 1 < n ? o[i]! : Infinity;
      const oj = j + 1 < m ? no[j]! : Infinity;
      if (oi === oj) {
        if (t[i] !== nt[j] || t[i + 1] !== nt[j + 1]) {
          this.remove(t[i]!, t[i + 1]!, f);
          this.add(nt[j]!, nt[j + 1]!, f, w, oj);
        }
        i++;
        j++;
      } else if (oi < oj) {
        this.remove(t[i]!, t[i + 1]!, f);
        i++;
      } else {
        this.add(nt[j]!, nt[j + 1]!, f, w, oj);
        j++;
      }
    }
  }

  private touch(q: number): void {
    if (this.touchStamp[q] === this.round) return;
    this.touchStamp[q] = this.round;
    this.delta[q] = 0;
    this.addKey[q] = Infinity;
    this.touched.push(q);
  }

  private remove(x: number, y: number, f: number): void {
    const q = this.pairIndex.get(x * ID_SCALE + y)!;
    this.touch(q);
    this.delta[q] -= f;
    this.removedStamp[q] = this.round;
  }

  private add(x: number, y: number, f: number, w: number, offset: number): void {
    const q = this.pairOf(x, y);
    this.touch(q);
    this.delta[q] += f;
    const key = w * KEY_SCALE + offset;
    if (key < this.addKey[q]!) this.addKey[q] = key;
    this.listWord(q, w);
  }

  /** Adds the word to the pair's index once per word visit. */
  private listWord(q: number, w: number): void {
    if (this.addStamp[q] === this.visit) return;
    this.addStamp[q] = this.visit;
    this.lists[q]!.push(w);
  }

  private pairOf(x: number, y: number): number {
    const k = x * ID_SCALE + y;
    let q = this.pairIndex.get(k);
    if (q === undefined) {
      q = this.pA.length;
      this.pairIndex.set(k, q);
      this.pA.push(x);
      this.pB.push(y);
      this.count.push(0);
      this.stored.push(Infinity);
      this.dirty.push(0);
      this.lists.push([]);
      this.sortedLen.push(0);
      this.touchStamp.push(0);
      this.removedStamp.push(0);
      this.addStamp.push(0);
      this.delta.push(0);
      this.addKey.push(Infinity);
    }
    return q;
  }

  /** The pair's exact first occurrence: the earliest listed word that still contains it. */
  private recomputeKey(p: number): void {
    const list = this.sortedList(p);
    const a = this.pA[p]!;
    const b = this.pB[p]!;
    for (let li = 0; li < list.length; li++) {
      const w = list[li]!;
      const t = this.toks[w]!;
      for (let i = 0; i + 1 < t.length; i++) {
        if (t[i] === a && t[i + 1] === b) {
          if (li > 0) {
            // Words before it no longer contain the pair.
            this.lists[p] = list.slice(li);
            this.sortedLen[p] = list.length - li;
          }
          this.stored[p] = w * KEY_SCALE + this.offs[w]![i]!;
          this.dirty[p] = 0;
          return;
        }
      }
    }
    throw new Error(`BPE trainer invariant broken: pair ${a},${b} is counted ${this.count[p]} times but found in no word.`);
  }

  /** The pair's word list sorted and distinct (the appended tail merged into the sorted prefix). */
  private sortedList(p: number): number[] {
    const list = this.lists[p]!;
    const sorted = this.sortedLen[p]!;
    if (sorted === list.length) return list;
    const tail = Int32Array.from(list.slice(sorted)).sort();
    const out: number[] = [];
    let i = 0;
    let j = 0;
    while (i < sorted || j < tail.length) {
      const v = j >= tail.length || (i < sorted && list[i]! <= tail[j]!) ? list[i++]! : tail[j++]!;
      if (out.length === 0 || out[out.length - 1] !== v) out.push(v);
    }
    this.lists[p] = out;
    this.sortedLen[p] = out.length;
    return out;
  }
}
