// Export and import in tiktoken's rank format, plus a JSON sidecar.
//
// `<name>.tiktoken`: one line per token, the base64 of its bytes, a space, its
// rank (= our id), in rank order; what tiktoken's load_tiktoken_bpe reads.
// `<name>.tiktoken.json`: what the rank file cannot hold:
//   { "format": "gpt-playground-bpe", "pat_str": "...", "special_tokens": {},
//     "vocab_size": N, "merges": [[left, right, id, count], ...], "corpus": "..." }
// Imported without its sidecar, a rank file gets cl100k_base's pattern and
// merges read back from the ranks (counts unknown).
import { bytesKey, MAX_VOCAB, type BpeModel, type Merge } from './model';
import { CL100K_PATTERN, compilePattern } from './pieces';

export const SIDECAR_FORMAT = 'gpt-playground-bpe';

export interface Sidecar {
  format: typeof SIDECAR_FORMAT;
  pat_str: string;
  special_tokens: Record<string, number>;
  vocab_size: number;
  merges: [number, number, number, number | null][];
  corpus?: string;
}

export function toTiktoken(model: BpeModel): string {
  return model.tokens.map((bytes, id) => `${btoa(bytesKey(bytes))} ${id}\n`).join('');
}

export function toSidecar(model: BpeModel, corpus?: string): string {
  const sidecar: Sidecar = {
    format: SIDECAR_FORMAT,
    pat_str: model.pattern,
    special_tokens: {},
    vocab_size: model.tokens.length,
    merges: model.merges.map((m) => [m.left, m.right, m.id, m.count]),
    ...(corpus !== undefined ? { corpus } : {}),
  };
  return JSON.stringify(sidecar);
}

/** js-tiktoken's in-memory form of a rank file ("! <rank> <base64>" lines) with the pattern. */
export function toJsTiktokenRanks(model: BpeModel): { pat_str: string; special_tokens: Record<string, number>; bpe_ranks: string } {
  return {
    pat_str: model.pattern,
    special_tokens: {},
    bpe_ranks: model.tokens.map((bytes, id) => `! ${id} ${btoa(bytesKey(bytes))}`).join('\n'),
  };
}

export type ImportOutcome = { ok: true; model: BpeModel; note: string | null } | { ok: false; message: string };

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');

/** Reads a rank file (and its sidecar, if given): the tokenizer, or the first problem as a sentence. */
export function parseTiktoken(name: string, text: string, sidecarText?: string): ImportOutcome {
  const byRank = new Map<number, { bytes: Uint8Array; line: number }>();
  const lineOfBytes = new Map<string, number>();
  const lines = text.split('\n');
  let count = 0;
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!.replace(/\r$/, '');
    if (line === '') continue;
    const at = `${name}, line ${li + 1}`;
    const fields = line.split(' ');
    if (fields.length !== 2) return { ok: false, message: `${at}: expected "<base64 bytes> <rank>", found ${JSON.stringify(line.slice(0, 60))}.` };
    const [b64, rankText] = fields as [string, string];
    if (b64 === '' || !BASE64.test(b64)) return { ok: false, message: `${at}: ${JSON.stringify(b64.slice(0, 40))} is not valid base64.` };
    if (!/^\d+$/.test(rankText)) return { ok: false, message: `${at}: the rank ${JSON.stringify(rankText.slice(0, 20))} is not a whole number.` };
    const rank = Number(rankText);
    if (++count > MAX_VOCAB || rank >= MAX_VOCAB) {
      return { ok: false, message: `${name} has ranks beyond ${MAX_VOCAB - 1}; this app handles vocabularies of up to ${MAX_VOCAB.toLocaleString('en-US')} tokens.` };
    }
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const previous = byRank.get(rank);
    if (previous) return { ok: false, message: `${at}: rank ${rank} is given twice (also on line ${previous.line}).` };
    const key = bytesKey(bytes);
    const sameBytes = lineOfBytes.get(key);
    if (sameBytes !== undefined) return { ok: false, message: `${at}: the bytes ${hex(bytes)} already have a rank (line ${sameBytes}); each token must be listed once.` };
    byRank.set(rank, { bytes, line: li + 1 });
    lineOfBytes.set(key, li + 1);
  }
  if (count === 0) return { ok: false, message: `${name} holds no ranks: it is empty or not a .tiktoken file.` };
  const tokens: Uint8Array[] = [];
  for (let rank = 0; rank < count; rank++) {
    const entry = byRank.get(rank);
    if (!entry) return { ok: false, message: `${name} has ${count} tokens but no rank ${rank}; ranks must run from 0 to ${count - 1} without gaps.` };
    tokens.push(entry.bytes);
  }
  const idOf = new Map<string, number>(tokens.map((t, id) => [bytesKey(t), id]));
  for (let b = 0; b < 256; b++) {
    if (!idOf.has(String.fromCharCode(b))) {
      return { ok: false, message: `${name} has no token for the byte 0x${b.toString(16).padStart(2, '0')}; a byte-level tokenizer needs all 256 single bytes.` };
    }
  }
  // Every longer token must be two earlier tokens put together.
  const derived: Merge[] = [];
  for (let id = 0; id < tokens.length; id++) {
    const bytes = tokens[id]!;
    if (bytes.length === 1) continue;
    let merge: Merge | null = null;
    for (let k = 1; k < bytes.length && !merge; k++) {
      const l = idOf.get(bytesKey(bytes.subarray(0, k)));
      const r = idOf.get(bytesKey(bytes.subarray(k)));
      if (l !== undefined && r !== undefined && l < id && r < id) merge = { left: l, right: r, id, count: null };
    }
    if (!merge) {
      return { ok: false, message: `${name}: rank ${id} (bytes ${hex(bytes.subarray(0, 24))}${bytes.length > 24 ? ' …' : ''}) is not a merge: no two tokens of lower rank put together give its bytes.` };
    }
    derived.push(merge);
  }
  if (sidecarText === undefined) {
    return { ok: true, model: { pattern: CL100K_PATTERN, tokens, merges: derived }, note: "No sidecar (.tiktoken.json) was given: using cl100k_base's split pattern; merge counts are unknown." };
  }
  return withSidecar(name, tokens, sidecarText);
}

function withSidecar(name: string, tokens: Uint8Array[], sidecarText: string): ImportOutcome {
  const side = `${name}'s sidecar`;
  let raw: unknown;
  try {
    raw = JSON.parse(sidecarText);
  } catch {
    return { ok: false, message: `${side} is not valid JSON.` };
  }
  const s = raw as Partial<Sidecar>;
  if (typeof s !== 'object' || s === null || typeof s.pat_str !== 'string') return { ok: false, message: `${side} has no "pat_str" string (the split pattern).` };
  const regex = compilePattern(s.pat_str);
  if (typeof regex === 'string') return { ok: false, message: `${side}: ${regex}` };
  if (s.special_tokens && Object.keys(s.special_tokens).length > 0) return { ok: false, message: `${side} lists special tokens; this app's tokenizers have none.` };
  if (s.vocab_size !== undefined && s.vocab_size !== tokens.length) {
    return { ok: false, message: `${side} says ${s.vocab_size} tokens but the rank file has ${tokens.length}; they do not belong together.` };
  }
  const merges: Merge[] = [];
  if (!Array.isArray(s.merges)) return { ok: false, message: `${side} has no "merges" list.` };
  for (let i = 0; i < s.merges.length; i++) {
    const m = s.merges[i] as unknown;
    const ok =
      Array.isArray(m) &&
      m.length === 4 &&
      m.slice(0, 3).every((v) => Number.isInteger(v) && v >= 0 && v < tokens.length) &&
      (m[3] === null || (Number.isInteger(m[3]) && m[3] >= 0));
    if (!ok) return { ok: false, message: `${side}: merge ${i + 1} is not [left, right, id, count] with ids below ${tokens.length}.` };
    const [left, right, id, count] = m as [number, number, number, number | null];
    if (bytesKey(tokens[left]!) + bytesKey(tokens[right]!) !== bytesKey(tokens[id]!)) {
      return { ok: false, message: `${side}: merge ${i + 1} says ${left} + ${right} -> ${id}, but those tokens' bytes do not put together to token ${id}'s.` };
    }
    merges.push({ left, right, id, count });
  }
  return { ok: true, model: { pattern: s.pat_str, tokens, merges }, note: null };
}
