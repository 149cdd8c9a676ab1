// The BPE trainer against hand-worked merges and against a plain re-count-every-
// round implementation of minbpe's RegexTokenizer (Python dict order: pairs in
// order of first occurrence, max() takes the first maximal); the encoder
// against js-tiktoken on our own export; import errors.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import { describe, expect, it } from 'vitest';
import { BpeEncoder } from '../../src/tokenizer/encoder';
import { byteTokens, bytesKey, concatBytes, type Merge } from '../../src/tokenizer/model';
import { CL100K_PATTERN, splitPieces, utf8 } from '../../src/tokenizer/pieces';
import { parseTiktoken, toJsTiktokenRanks, toSidecar, toTiktoken } from '../../src/tokenizer/tiktokenFile';
import { trainBpe } from '../../src/tokenizer/trainer';

const SHAKESPEARE = readFileSync(resolve(__dirname, '../../../shared/data/tinyshakespeare/input.txt'), 'utf8');

/** minbpe's RegexTokenizer.train, re-counting every round (plus our one rule: equal bytes reuse the id). */
function referenceTrain(text: string, vocabSize: number): Merge[] {
  let ids = splitPieces(text, new RegExp(CL100K_PATTERN, 'gu')).map((p) => Array.from(utf8(p)));
  const tokens = byteTokens();
  const idOf = new Map(tokens.map((t, id) => [bytesKey(t), id]));
  const merges: Merge[] = [];
  while (tokens.length < vocabSize) {
    const stats = new Map<string, number>();
    for (const chunk of ids) for (let i = 0; i + 1 < chunk.length; i++) stats.set(`${chunk[i]},${chunk[i + 1]}`, (stats.get(`${chunk[i]},${chunk[i + 1]}`) ?? 0) + 1);
    let best = '';
    let bestCount = 0;
    for (const [pair, count] of stats) if (count > bestCount) [best, bestCount] = [pair, count];
    if (bestCount < 2) break;
    const [a, b] = best.split(',').map(Number) as [number, number];
    const bytes = concatBytes(tokens[a]!, tokens[b]!);
    let id = idOf.get(bytesKey(bytes));
    if (id === undefined) {
      id = tokens.length;
      tokens.push(bytes);
      idOf.set(bytesKey(bytes), id);
    }
    merges.push({ left: a, right: b, id, count: bestCount });
    ids = ids.map((chunk) => {
      const out: number[] = [];
      for (let i = 0; i < chunk.length; ) {
        if (i + 1 < chunk.length && chunk[i] === a && chunk[i + 1] === b) {
          out.push(id);
          i += 2;
        } else out.push(chunk[i++]!);
      }
      return out;
    });
  }
  return merges;
}

function train(text: string, vocabSize: number) {
  const r = trainBpe(text, vocabSize);
  if (!r.ok) throw new Error(r.message);
  return r;
}

/** A deterministic generator (mulberry32). */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const m = (left: number, right: number, id: number, count: number): Merge => ({ left, right, id, count });

describe('BPE trainer', () => {
  it('makes minbpe\'s merges on "aaabdaaabac", the tie included, and stops when no pair occurs twice', () => {
    const r = train('aaabdaaabac', 300);
    // (a,a)x4 -> 256; then (256,a) and (a,b) both occur twice: (256,a) occurs first -> 257; then (257,b) -> 258.
    expect(r.model.merges).toEqual([m(97, 97, 256, 4), m(256, 97, 257, 2), m(257, 98, 258, 2)]);
    expect(r.model.tokens.length).toBe(259);
    expect(r.note).toMatch(/supports a vocabulary of 259 tokens, not 300: after that no pair of adjacent tokens occurs twice/);
  });

  it('breaks ties by first occurrence in the current ids, across pieces, after merges', () => {
    // Pieces "cab" " ab" " cab" " bc" " bc". (a,b) x3 -> 256. Then (c,256), (_,b) and (b,c) occur twice each:
    // (c,256) first occurs in "cab" (the first piece) -> 257. Then (_,b) and (b,c): (_,b) comes first in " bc" -> 258; (258,c) -> 259.
    const r = train('cab ab cab bc bc', 1000);
    expect(r.model.merges).toEqual([m(97, 98, 256, 3), m(99, 256, 257, 2), m(32, 98, 258, 2), m(258, 99, 259, 2)]);
    expect(new TextDecoder().decode(r.model.tokens[259])).toBe(' bc');
    // Texts where a merge takes away a pair's first occurrence, so its next one decides the tie.
    for (const text of ['xbc abc abc xb xb bc', 'aaaa aaa aa a aaaa', 'ab ba ab ba abab baba']) {
      expect(train(text, 400).model.merges).toEqual(referenceTrain(text, 400));
    }
  });

  it('equals the re-counting reference on random texts full of ties', () => {
    const alphabets = ['ab ', 'abc \n', 'aé b\t', 'xy.z! \n1', '日本 語a'];
    let checked = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const rand = rng(seed);
      const alphabet = [...alphabets[seed % alphabets.length]!];
      const n = 50 + Math.floor(rand() * 700);
      let text = '';
      for (let i = 0; i < n; i++) text += alphabet[Math.floor(rand() * alphabet.length)];
      const size = 257 + Math.floor(rand() * 300);
      const ours = train(text, size).model.merges;
      expect(ours).toEqual(referenceTrain(text, size));
      checked += ours.length;
    }
    console.log(`[bpe] ${checked} merges on 40 random texts equal the reference's`);
    expect(checked).toBeGreaterThan(1000);
  });

  it('equals the reference on the start of Tiny Shakespeare', () => {
    const text = SHAKESPEARE.slice(0, 30_000);
    const ours = train(text, 600).model.merges;
    expect(ours).toEqual(referenceTrain(text, 600));
    expect(ours).toHaveLength(344);
  });

  it('says why a vocabulary size is refused', () => {
    for (const bad of [256, 65537, 300.5, Number.NaN]) {
      const r = trainBpe('some text', bad);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message).toMatch(/^The vocabulary size must be a whole number from 257 \(the 256 bytes and one merge\) to 65,536/);
    }
    const empty = trainBpe('', 300);
    expect(!empty.ok && empty.message).toMatch(/empty/);
  });
});

const MULTILINGUAL =
  "Hello, World! It's 2026: 12345 apples cost $3.50.\n\n    indented\tcode();   \r\n" +
  'Café naïve façade — déjà vu. Ærøskøbing, Straße, ĳssel.\n' +
  '日本語のテキストと中文字符，한국어 문장도 있습니다。\n' +
  'Emoji: 👨‍👩‍👧 🇫🇷 🤖🎉 👍🏽 ✓ ☀️\n' +
  'Digits 0 00 000 0000 3.14159 1,000,000 ٣٤٥ ⅷ\n' +
  `${' '.repeat(90)}x${'\n'.repeat(5)} \t \n` +
  `${'ab'.repeat(70)} ${'Ω'.repeat(40)} ${'!?'.repeat(45)}\n` +
  "They're we'll I'D you've SHE'S";

describe('BPE encoder', () => {
  const trained = train(SHAKESPEARE.slice(0, 200_000) + MULTILINGUAL.repeat(3), 1200).model;
  const ours = new BpeEncoder(trained);

  it('encodes exactly as js-tiktoken does with our exported ranks and pattern', () => {
    const exported = parseTiktoken('shakespeare.tiktoken', toTiktoken(trained), toSidecar(trained));
    expect(exported.ok).toBe(true);
    if (!exported.ok) return;
    expect(exported.model.tokens).toEqual(trained.tokens);
    expect(exported.model.merges).toEqual(trained.merges);
    const theirs = new Tiktoken(toJsTiktokenRanks(exported.model));
    const texts = [MULTILINGUAL, SHAKESPEARE.slice(500_000, 520_000), MULTILINGUAL.toUpperCase(), '', ' ', 'a'];
    for (const text of texts) expect(ours.encode(text)).toEqual(theirs.encode(text));
    const ids = ours.encode(MULTILINGUAL);
    console.log(`[bpe] multilingual text: ${[...MULTILINGUAL].length} characters -> ${ids.length} tokens (js-tiktoken: the same ids)`);
    expect(ids.length).toBeLessThan(utf8(MULTILINGUAL).length);
  });

  it('uses cl100k_base\'s pattern exactly as js-tiktoken ships it', () => {
    expect(CL100K_PATTERN).toBe(cl100k.pat_str);
    expect(trained.pattern).toBe(cl100k.pat_str);
  });

  it('decodes what it encodes, on random Unicode', () => {
    const rand = rng(7);
    for (let trial = 0; trial < 200; trial++) {
      let text = '';
      const n = Math.floor(rand() * 200);
      for (let i = 0; i < n; i++) {
        const kind = rand();
        let cp: number;
        if (kind < 0.4) cp = 32 + Math.floor(rand() * 95);
        else if (kind < 0.5) cp = [9, 10, 13, 32][Math.floor(rand() * 4)]!;
        else if (kind < 0.8) cp = 0xa0 + Math.floor(rand() * (0xd7ff - 0xa0));
        else cp = 0xe000 + Math.floor(rand() * (0x10ffff - 0xe000));
        text += String.fromCodePoint(cp);
      }
      const ids = ours.encode(text);
      expect(ours.decode(ids)).toBe(text);
      expect(ids.every((id) => id >= 0 && id < trained.tokens.length)).toBe(true);
    }
  });

  it('merges long pieces (the heap path) as tiktoken\'s loop does', () => {
    const theirs = new Tiktoken(toJsTiktokenRanks(trained));
    const long = ['ab'.repeat(500), ' '.repeat(1000), 'the'.repeat(300) + 'e', '!'.repeat(333), 'Ω'.repeat(200)];
    for (const text of long) expect(ours.encode(text)).toEqual(theirs.encode(text));
  });
});

describe('.tiktoken import', () => {
  const model = train('low lower lowest newer newest wider widest', 280).model;
  const file = toTiktoken(model);
  const lines = file.trimEnd().split('\n');

  it('reads back its own export, with or without the sidecar', () => {
    const full = parseTiktoken('t.tiktoken', file, toSidecar(model, 'words'));
    expect(full.ok && full.model).toEqual(model);
    expect(full.ok && full.note).toBeNull();
    const plain = parseTiktoken('t.tiktoken', file);
    expect(plain.ok && plain.model.tokens).toEqual(model.tokens);
    expect(plain.ok && plain.note).toMatch(/cl100k_base's split pattern/);
    expect(plain.ok && plain.model.merges.map((x) => x.id)).toEqual(model.merges.map((x) => x.id));
  });

  const refuse = (text: string, sidecar?: string) => {
    const r = parseTiktoken('t.tiktoken', text, sidecar);
    expect(r.ok).toBe(false);
    return r.ok ? '' : r.message;
  };

  it('names each problem in a sentence', () => {
    expect(refuse(lines.map((l, i) => (i === 100 ? 'ab$= 100' : l)).join('\n'))).toBe('t.tiktoken, line 101: "ab$=" is not valid base64.');
    expect(refuse(lines.map((l, i) => (i === 260 ? l.replace(/ \d+$/, ' 3') : l)).join('\n'))).toMatch(/^t\.tiktoken, line 261: rank 3 is given twice \(also on line 4\)\.$/);
    const n = model.tokens.length;
    expect(n).toBeGreaterThan(262);
    expect(refuse(lines.filter((_, i) => i !== 258).join('\n'))).toBe(`t.tiktoken has ${n - 1} tokens but no rank 258; ranks must run from 0 to ${n - 2} without gaps.`);
    expect(refuse(lines.map((l, i) => (i === 256 ? `${btoa('qzq')} 256` : l)).join('\n'))).toMatch(
      /^t\.tiktoken: rank 256 \(bytes 71 7a 71\) is not a merge: no two tokens of lower rank put together give its bytes\.$/,
    );
    // A token formed of tokens of higher rank only is not a merge either.
    const bytesLines = lines.slice(0, 256);
    expect(refuse([...bytesLines, `${btoa('abc')} 256`, `${btoa('ab')} 257`].join('\n'))).toMatch(/rank 256 \(bytes 61 62 63\) is not a merge/);
    expect(parseTiktoken('t.tiktoken', [...bytesLines, `${btoa('ab')} 256`, `${btoa('abc')} 257`].join('\n')).ok).toBe(true);
    expect(refuse(lines.map((l, i) => (i === 259 ? `${btoa('lo')} 259` : l)).join('\n'))).toMatch(/line 260: the bytes 6c 6f already have a rank/);
    expect(refuse('')).toMatch(/holds no ranks/);
    expect(refuse(lines.map((l) => l.replace(' ', '\t')).join('\n'))).toMatch(/expected "<base64 bytes> <rank>"/);
    expect(refuse(lines.map((l, i) => (i === 0 ? 'AA== x' : l)).join('\n'))).toMatch(/the rank "x" is not a whole number/);
    expect(refuse(lines.slice(1).map((l) => l.replace(/ (\d+)$/, (_, n) => ` ${Number(n) - 1}`)).join('\n'))).toMatch(/no token for the byte 0x00/);
    expect(refuse(file, '{"pat_str": "(unclosed"}')).toMatch(/split pattern is not a valid regular expression/);
    expect(refuse(file, 'not json')).toMatch(/not valid JSON/);
    expect(refuse(file, JSON.stringify({ pat_str: CL100K_PATTERN, vocab_size: 999, merges: [] }))).toMatch(new RegExp(`says 999 tokens but the rank file has ${n}`));
    expect(refuse(file, JSON.stringify({ pat_str: CL100K_PATTERN, merges: [[1, 2, 256, 5]] }))).toMatch(/merge 1 says 1 \+ 2 -> 256/);
  });
});
