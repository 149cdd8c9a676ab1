// Preference data: TRL's JSONL format both ways, refusals with sentences, the
// rule-based judge, vocabulary checks that name the characters, and the DPO
// batch (masks where the target is a response token, left-truncated prompts)
// against the reference's batching of the PyTorch fixture's convention.
import { describe, expect, it } from 'vitest';
import { describeRule, judge, outOfVocabulary, pairBatch, pairsFromJsonl, pairsToJsonl, vocabularyProblem, type PreferencePair } from '../../src/model/dpo';
import { pairBatch as pairBatchRef } from '../reference/dpo';

const vocab = [...'\n abcdefghijklmnopqrstuvwxyz.'];
const encode = (s: string) => [...s].map((c) => vocab.indexOf(c));

describe('preference pairs as JSONL', () => {
  it('round-trips pairs, including quotes, newlines and non-ASCII text', () => {
    const pairs: PreferencePair[] = [
      { prompt: 'the cat', chosen: ' sat.', rejected: ' "ran"\nfar' },
      { prompt: 'é', chosen: '', rejected: 'x' },
    ];
    const text = pairsToJsonl(pairs);
    expect(text.trim().split('\n')).toHaveLength(2);
    expect(JSON.parse(text.split('\n')[0])).toEqual(pairs[0]);
    expect(pairsFromJsonl(text)).toEqual(pairs);
    expect(pairsFromJsonl(`\n${text}\r\n\n`)).toEqual(pairs);
    expect(pairsToJsonl([])).toBe('');
  });

  it('refuses bad lines with a sentence naming the line', () => {
    expect(() => pairsFromJsonl('{"prompt":"a","chosen":"b","rejected":"c"}\n{oops')).toThrow('Line 2 is not valid JSON.');
    expect(() => pairsFromJsonl('{"prompt":"a","chosen":"b"}')).toThrow(/Line 1 needs a text "rejected" field/);
    expect(() => pairsFromJsonl('{"prompt":"a","chosen":3,"rejected":"c"}')).toThrow(/"chosen"/);
    expect(() => pairsFromJsonl('[1, 2]')).toThrow(/Line 1 needs a text "prompt" field/);
  });
});

describe('vocabulary checks', () => {
  it('lists each unknown character once, in order, and names them in a sentence', () => {
    expect(outOfVocabulary('aXbXY c', vocab)).toEqual(['X', 'Y']);
    expect(vocabularyProblem('abc', vocab)).toBeNull();
    expect(vocabularyProblem('aX\tbX', vocab, 'The target text')).toBe(
      'The target text has 2 characters the base model has never seen ("X", "\\t"); remove or replace them.',
    );
    expect(vocabularyProblem('Q', vocab)).toMatch(/1 character the base model has never seen \("Q"\); remove or replace it\./);
  });
});

describe('rule-based judge', () => {
  it('prefers by word, length or a character, and skips ties', () => {
    expect(judge({ kind: 'contains', word: 'cat' }, 'a dog', 'the cat')).toBe('b');
    expect(judge({ kind: 'contains', word: 'cat' }, 'cat', 'cats')).toBeNull();
    expect(judge({ kind: 'shorter' }, 'ab', 'abc')).toBe('a');
    expect(judge({ kind: 'shorter' }, 'ab', 'cd')).toBeNull();
    expect(judge({ kind: 'avoids', char: 'e' }, 'hello', 'world')).toBe('b');
    expect(judge({ kind: 'avoids', char: 'z' }, 'hello', 'world')).toBeNull();
    expect(describeRule({ kind: 'avoids', char: ' ' })).toBe('prefers the continuation without "space"');
  });
});

describe('DPO batch', () => {
  it('matches the reference batching (chosen then rejected; mask where the target is a response token)', () => {
    const T = 9;
    const pairs: PreferencePair[] = [
      { prompt: 'ab', chosen: 'cde', rejected: 'f' },
      { prompt: 'ghij', chosen: 'k', rejected: 'lmnop' },
    ];
    const got = pairBatch(pairs, encode, T);
    const P = pairs.length;
    const seqs = (which: 'chosen' | 'rejected') => {
      const out = new Int32Array(P * (T + 1));
      const mask = new Float64Array(P * T);
      pairs.forEach((p, i) => {
        const seq = [...encode(p.prompt), ...encode(p[which])];
        seq.forEach((id, t) => (out[i * (T + 1) + t] = id));
        for (let t = 0; t < T; t++) mask[i * T + t] = t + 1 >= p.prompt.length && t + 1 < seq.length ? 1 : 0;
      });
      return { out, mask };
    };
    const c = seqs('chosen');
    const r = seqs('rejected');
    const want = pairBatchRef(c.out, r.out, c.mask, r.mask, P, T);
    expect(Array.from(got.x)).toEqual(Array.from(want.x));
    expect(Array.from(got.y)).toEqual(Array.from(want.y));
    expect(Array.from(got.mask)).toEqual(Array.from(want.mask));
    // "ab" + "cde": positions 1..3 predict c, d, e.
    expect(Array.from(got.mask.subarray(0, T))).toEqual([0, 1, 1, 1, 0, 0, 0, 0, 0]);
  });

  it('cuts long prompts from the left and long responses from the right', () => {
    const T = 5;
    const got = pairBatch([{ prompt: 'abcdefgh', chosen: 'xy', rejected: 'stuvwxyz' }], encode, T);
    // chosen: room 6 = 4 prompt tokens (efgh) + xy
    expect(Array.from(got.x.subarray(0, T))).toEqual(encode('efghx'));
    expect(Array.from(got.mask.subarray(0, T))).toEqual([0, 0, 0, 1, 1]);
    // rejected: one prompt token (h) + 5 response tokens (stuvw)
    expect(Array.from(got.x.subarray(T))).toEqual(encode('hstuv'));
    expect(Array.from(got.y.subarray(T))).toEqual(encode('stuvw'));
    expect(Array.from(got.mask.subarray(T))).toEqual([1, 1, 1, 1, 1]);
    expect(() => pairBatch([{ prompt: '', chosen: 'a', rejected: 'b' }], encode, T)).toThrow(/needs a prompt/);
  });
});
