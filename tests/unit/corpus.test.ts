import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkCorpusBytes, checkCorpusSize, checkCorpusText, codePointOffset, CorpusScanner, CORPUS_LIMITS } from '../../src/data/corpus';

const enc = new TextEncoder();

describe('corpus checks', () => {
  it('accepts plain text and reports size, vocabulary and the 90/10 split', () => {
    const text = 'hello world\n'.repeat(10);
    const r = checkCorpusText('pasted text', text, 33);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.text).toBe(text);
    expect(r.stats.chars).toBe(120);
    expect(r.stats.bytes).toBe(120);
    expect(r.stats.vocab).toEqual(['\n', ' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
    expect(r.stats.trainChars).toBe(108);
    expect(r.stats.valChars).toBe(12);
    expect(r.stats.splitIndex).toBe(108);
  });

  it('counts code points, not UTF-16 units, and sorts the vocabulary by code point', () => {
    const text = 'a😀b😀é'.repeat(4);
    const r = checkCorpusText('emoji', text, 2);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.stats.chars).toBe(20);
    expect(r.stats.vocab).toEqual(['a', 'b', 'é', '😀']);
    expect(r.stats.bytes).toBe(enc.encode(text).length);
    // 18 code points train; the split index lands on a whole code point.
    expect(r.text.slice(r.stats.splitIndex)).toBe('😀é');
  });

  it('decodes a multi-byte character split across chunks', () => {
    const bytes = enc.encode('xé😀y'.repeat(3));
    const scanner = new CorpusScanner('split');
    for (let i = 0; i < bytes.length; i++) expect(scanner.push(bytes.subarray(i, i + 1))).toBeNull();
    const r = scanner.finish(1);
    expect(r.ok && r.text).toBe('xé😀y'.repeat(3));
  });

  it('rejects an empty file with a sentence', () => {
    const r = checkCorpusBytes('empty.txt', new Uint8Array(0), 10);
    expect(r).toEqual({ ok: false, message: expect.stringMatching(/^empty\.txt is empty\./) });
  });

  it('rejects NUL bytes as binary', () => {
    const bytes = new Uint8Array([72, 105, 0, 1, 2, 3]);
    const r = checkCorpusBytes('image.png', bytes, 1);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toMatch(/binary file/);
  });

  it('rejects invalid UTF-8, including a truncated sequence at the very end', () => {
    const bad = checkCorpusBytes('latin1.txt', new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x20, 0x61, 0x62]), 1);
    expect(!bad.ok && bad.message).toMatch(/not valid UTF-8/);
    const truncated = checkCorpusBytes('cut.txt', new Uint8Array([0x61, 0x62, 0x63, 0xf0, 0x9f]), 1);
    expect(!truncated.ok && truncated.message).toMatch(/not valid UTF-8/);
  });

  it('rejects a text shorter than one context window plus one', () => {
    const r = checkCorpusText('short', 'abcdefghij', 33);
    expect(!r.ok && r.message).toMatch(/only 10 characters.*at least 33/);
    expect(checkCorpusText('exact', 'x'.repeat(33), 33).ok).toBe(true);
  });

  it('rejects more distinct characters than the vocabulary limit', () => {
    let text = '';
    for (let i = 0; i <= CORPUS_LIMITS.maxVocab; i++) text += String.fromCodePoint(0x4e00 + i);
    const r = checkCorpusText('cjk', text, 1);
    expect(!r.ok && r.message).toMatch(/more than 4096 distinct characters/);
    expect(checkCorpusText('cjk', text.slice(0, -1), 1).ok).toBe(true);
  });

  it('rejects a file over the size limit before reading it', () => {
    expect(checkCorpusSize('big.txt', CORPUS_LIMITS.maxBytes + 1)).toMatch(/big\.txt is 64\.0 MB, over the 64\.0 MB limit/);
    expect(checkCorpusSize('ok.txt', CORPUS_LIMITS.maxBytes)).toBeNull();
  });

  it('finds code point offsets', () => {
    expect(codePointOffset('a😀b', 2)).toBe(3);
    expect(codePointOffset('abc', 10)).toBe(3);
  });

  it('reads Tiny Shakespeare: 65 characters, the canonical vocabulary', () => {
    const bytes = readFileSync(resolve(__dirname, '../../../shared/data/tinyshakespeare.txt'));
    const r = checkCorpusBytes('tinyshakespeare.txt', new Uint8Array(bytes), 257);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.stats.chars).toBe(1115394);
    expect(r.stats.vocab.length).toBe(65);
    expect(r.stats.trainChars).toBe(1003854);
  });
});
