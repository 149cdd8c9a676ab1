import { describe, expect, it } from 'vitest';
import { CharTokenizer } from '../../src/model/tokenizer';

describe('character tokenizer', () => {
  it('uses the sorted unique code points, as nanoGPT does', () => {
    const t = CharTokenizer.fromText('hello world');
    expect(t.vocab).toEqual([' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
    const { ids, unknown } = t.encode('hold');
    expect(Array.from(ids)).toEqual([3, 5, 4, 1]);
    expect(unknown).toEqual([]);
    expect(t.decode(ids)).toBe('hold');
  });

  it('treats characters beyond the BMP as one token and sorts by code point', () => {
    const t = CharTokenizer.fromText('a😀b\u{FFFF}');
    expect(t.vocab).toEqual(['a', 'b', '\u{FFFF}', '😀']);
    expect(t.encode('😀').ids.length).toBe(1);
  });

  it('reports characters the model has never seen instead of inventing ids', () => {
    const t = CharTokenizer.fromText('abc');
    const { ids, unknown } = t.encode('abz!');
    expect(Array.from(ids)).toEqual([0, 1]);
    expect(unknown).toEqual(['z', '!']);
    expect(t.id('z')).toBe(-1);
  });
});
