import { describe, expect, it } from 'vitest';
import { CharTokenizer } from '../../src/model/tokenizer';
import { loadBpe } from '../../src/ui/tokenizer/openai';
import { charSpans, codePointCount, groupBpeTokens, showWhitespace } from '../../src/ui/tokenizer/spans';

const TEXT = 'Call me Ishmael. 👨‍👩‍👧 café (e\u0301) 漢字テスト 🇫🇷\tend\n';

describe('token spans', () => {
  for (const name of ['cl100k_base', 'o200k_base'] as const) {
    it(`${name}: spans cover whole graphemes, keep every id, never show a broken glyph`, async () => {
      const bpe = await loadBpe(name);
      const ids = bpe.encode(TEXT);
      const spans = groupBpeTokens(TEXT, ids, bpe.tokenBytes);
      expect(spans.flatMap((s) => s.ids)).toEqual(ids);
      expect(spans.map((s) => s.text).join('')).toBe(TEXT);
      for (const s of spans) expect(s.text).not.toContain('\uFFFD');
      // The family emoji is several byte-level tokens; it must be one span (or inside one).
      const family = spans.find((s) => s.text.includes('👨'))!;
      expect(family.text).toContain('👨‍👩‍👧');
      expect(family.ids.length).toBeGreaterThan(1);
    }, 60_000); // parsing the rank tables takes seconds on a busy machine
  }

  it('character tokens: one id per code point, grouped by grapheme, unknown characters marked', () => {
    const tok = CharTokenizer.fromText('abc e\u0301');
    const spans = charSpans('ab e\u0301z', tok);
    expect(spans.map((s) => s.text)).toEqual(['a', 'b', ' ', 'e\u0301', 'z']);
    expect(spans[3].ids).toEqual([tok.id('e'), tok.id('\u0301')]);
    expect(spans[4].unknown).toBe(true);
    expect(spans[4].ids).toEqual([-1]);
  });

  it('shows whitespace and counts code points', () => {
    expect(showWhitespace('a b\tc\nd')).toBe('a·b→c↵\nd');
    expect(codePointCount('a😀b')).toBe(3);
  });
});
