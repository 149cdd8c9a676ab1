// Token spans for display: each span covers whole graphemes, so a BPE token that
// ends inside a multi-byte character is shown together with its neighbours
// rather than as a broken glyph.
import type { CharTokenizer } from '../../model/tokenizer';

export interface TokenSpan {
  text: string;
  /** Token ids in this span (several when tokens had to be grouped). */
  ids: number[];
  /** UTF-8 bytes of each token, in order. */
  bytes: Uint8Array[];
  /** For the character tokenizer: the span holds a character outside the model's vocabulary. */
  unknown?: boolean;
}

const utf8 = new TextEncoder();
const decoder = new TextDecoder();

function graphemes(text: string): string[] {
  const seg = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  return Array.from(seg.segment(text), (s) => s.segment);
}

/** Groups BPE tokens so each group's bytes end on a grapheme boundary. */
export function groupBpeTokens(text: string, ids: number[], tokenBytes: (id: number) => Uint8Array): TokenSpan[] {
  const boundaries = new Set<number>();
  let off = 0;
  for (const g of graphemes(text)) {
    off += utf8.encode(g).length;
    boundaries.add(off);
  }
  const spans: TokenSpan[] = [];
  let group: TokenSpan = { text: '', ids: [], bytes: [] };
  let pos = 0;
  for (const id of ids) {
    const b = tokenBytes(id);
    group.ids.push(id);
    group.bytes.push(b);
    pos += b.length;
    if (boundaries.has(pos)) {
      group.text = decoder.decode(concat(group.bytes));
      spans.push(group);
      group = { text: '', ids: [], bytes: [] };
    }
  }
  if (group.ids.length > 0) {
    group.text = decoder.decode(concat(group.bytes));
    spans.push(group);
  }
  return spans;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The model's own tokens: one per code point, grouped by grapheme; unknown characters marked. */
export function charSpans(text: string, tokenizer: CharTokenizer): TokenSpan[] {
  const spans: TokenSpan[] = [];
  for (const g of graphemes(text)) {
    const ids: number[] = [];
    const bytes: Uint8Array[] = [];
    let unknown = false;
    for (const ch of g) {
      const id = tokenizer.id(ch);
      if (id < 0) unknown = true;
      ids.push(id);
      bytes.push(utf8.encode(ch));
    }
    spans.push({ text: g, ids, bytes, unknown });
  }
  return spans;
}

/** Makes whitespace visible: · for space, → for tab, ↵ for newline (the line break is kept). */
export function showWhitespace(text: string): string {
  return text.replace(/ /g, '·').replace(/\t/g, '→').replace(/\r?\n/g, '↵\n');
}

export function codePointCount(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) i++;
    n++;
  }
  return n;
}

export function hexBytes(bytes: Uint8Array[]): string {
  return bytes.map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ')).join(' | ');
}
