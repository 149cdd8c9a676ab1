// A byte-level BPE tokenizer as data: the split pattern, every token's bytes by
// id, and the merges that made them. Ids are tiktoken ranks: 0-255 are the
// single bytes (in byte order for a tokenizer we train), then one id per merge.

/** The smallest vocabulary with one merge, and the largest whose ids fit 16 bits. */
export const MIN_VOCAB = 257;
export const MAX_VOCAB = 65536;

export interface Merge {
  left: number;
  right: number;
  /** The token the pair became. */
  id: number;
  /** How often the pair occurred in the text when it was merged; null when unknown (an imported file without counts). */
  count: number | null;
}

export interface BpeModel {
  /** The regular expression (js-tiktoken's pat_str syntax, `u` flag) that cuts text into pieces. */
  pattern: string;
  /** Each token's bytes, by id. */
  tokens: Uint8Array[];
  /** In the order they were made. */
  merges: Merge[];
}

/** A sentence when the size is not a whole number from MIN_VOCAB to MAX_VOCAB. */
export function vocabSizeProblem(size: number): string | null {
  if (!Number.isInteger(size) || size < MIN_VOCAB || size > MAX_VOCAB) {
    return (
      `The vocabulary size must be a whole number from ${MIN_VOCAB.toLocaleString('en-US')} ` +
      `(the 256 bytes and one merge) to ${MAX_VOCAB.toLocaleString('en-US')}; ${Number.isFinite(size) ? size : 'that'} is not.`
    );
  }
  return null;
}

/** The bytes of a token as a binary string (one char per byte), usable as a Map key. */
export function bytesKey(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 4096) s += String.fromCharCode(...bytes.subarray(i, i + 4096));
  return s;
}

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** The 256 single bytes, id = byte value. */
export function byteTokens(): Uint8Array[] {
  return Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
}
