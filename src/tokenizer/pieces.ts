// Pre-tokenization: the text is cut into pieces by cl100k_base's pattern before
// any byte pair is counted or merged, so no token crosses a word, number or
// whitespace boundary the pattern draws.

/**
 * cl100k_base's pat_str, exactly as js-tiktoken ships it (tests/unit/bpe.test.ts
 * checks it against js-tiktoken's rank module). JavaScript needs the `u` flag.
 */
export const CL100K_PATTERN =
  "('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** The pattern as a global Unicode regex, or a sentence saying why it is not one. */
export function compilePattern(pattern: string): RegExp | string {
  try {
    return new RegExp(pattern, 'gu');
  } catch (e) {
    return `The split pattern is not a valid regular expression (${(e as Error).message}).`;
  }
}

/** The pieces of a text, in order (js-tiktoken's matchAll over the text). */
export function splitPieces(text: string, regex: RegExp): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(regex)) out.push(m[0]);
  return out;
}

/** Distinct pieces in order of first appearance, with how often each occurs. */
export interface PieceCounts {
  pieces: string[];
  counts: number[];
}

export function countPieces(text: string, regex: RegExp): PieceCounts {
  const index = new Map<string, number>();
  const pieces: string[] = [];
  const counts: number[] = [];
  for (const m of text.matchAll(regex)) {
    const piece = m[0];
    const i = index.get(piece);
    if (i === undefined) {
      index.set(piece, pieces.length);
      pieces.push(piece);
      counts.push(1);
    } else counts[i]++;
  }
  return { pieces, counts };
}

const encoder = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}
