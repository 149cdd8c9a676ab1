// Head scores on constructed attention patterns with known answers, the
// induction probe, top-k, surprisal and the loss conversions.
import { describe, expect, it } from 'vitest';
import {
  bitsPerChar, headBadges, headScores, inductionProbe, inductionScores, meanSurprisalByChar, perplexity, previousTokenRow, surprisalOf, topK,
} from '../../src/model/inspect';

/** (L=1, NH, T, T) from one pattern per head: pattern(i, j) for j <= i. */
function attention(T: number, patterns: Array<(i: number, j: number) => number>): Float64Array {
  const att = new Float64Array(patterns.length * T * T);
  patterns.forEach((f, h) => {
    for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) att[(h * T + i) * T + j] = f(i, j);
  });
  return att;
}

const previous = (i: number, j: number) => (i === 0 ? 1 : j === i - 1 ? 1 : 0);
const uniform = (i: number) => 1 / (i + 1);
const first = (_i: number, j: number) => (j === 0 ? 1 : 0);
const self = (i: number, j: number) => (i === j ? 1 : 0);

describe('head scores on constructed patterns', () => {
  const T = 13;
  const att = attention(T, [previous, uniform, first, self]);
  const [s] = headScores(att, 1, 4, T);

  it('a pure previous-token head scores 1 on previous-token and 0 elsewhere', () => {
    expect(s[0]).toEqual({ previous: 1, first: 1 / (T - 1), self: 0 }); // query 1's previous token is the first
  });

  it('a uniform head scores 1/(i+1) at every query i, and their mean overall', () => {
    const row = previousTokenRow(att, 1 * T * T, T);
    for (let i = 1; i < T; i++) expect(row[i]).toBeCloseTo(1 / (i + 1), 15);
    let mean = 0;
    for (let i = 1; i < T; i++) mean += 1 / (i + 1);
    mean /= T - 1;
    expect(s[1].previous).toBeCloseTo(mean, 15);
    expect(s[1].first).toBeCloseTo(mean, 15);
    expect(s[1].self).toBeCloseTo(mean, 15);
  });

  it('first-token and self heads score 1 on their measure', () => {
    expect(s[2].first).toBe(1);
    expect(s[2].self).toBe(0);
    expect(s[3].self).toBe(1);
    expect(s[3].previous).toBe(0);
  });

  it('badges name what a head does', () => {
    expect(headBadges(s[0], 0.1)).toEqual(['previous token']);
    expect(headBadges(s[3], 0.9)).toEqual(['induction', 'self']);
    expect(headBadges(s[1], null)).toEqual([]);
  });

  it('needs two positions', () => {
    expect(() => headScores(new Float64Array(1), 1, 1, 1)).toThrow(/at least two/);
  });
});

describe('induction score', () => {
  const n = 7;
  const T = 2 * n;
  // Head 0: an induction head (second copy's token n+j attends to j+1); head 1: previous token; head 2: uniform.
  const induct = (i: number, j: number) => (i >= n ? (j === i - n + 1 ? 1 : 0) : j === 0 ? 1 : 0);
  const att = attention(T, [induct, previous, uniform]);
  const [scores] = inductionScores(att, 1, 3, n);

  it('is 1 for an induction head, 0 for a previous-token head and the mean of 1/(i+1) for a uniform one', () => {
    expect(scores[0]).toBe(1);
    expect(scores[1]).toBe(0);
    let mean = 0;
    for (let j = 0; j < n; j++) mean += 1 / (n + j + 1);
    expect(scores[2]).toBeCloseTo(mean / n, 15);
  });

  it('probes with a random sequence repeated twice, without repeats while the vocabulary allows', () => {
    const p = inductionProbe(30, 10, 9);
    expect(p.length).toBe(20);
    expect(Array.from(p.subarray(10))).toEqual(Array.from(p.subarray(0, 10)));
    expect(new Set(p.subarray(0, 10)).size).toBe(10);
    for (const id of p) expect(id >= 0 && id < 30).toBe(true);
    expect(Array.from(inductionProbe(30, 10, 9))).toEqual(Array.from(p));
    const small = inductionProbe(3, 8, 9);
    expect(new Set(small).size).toBe(3);
    // The line break left out while enough other tokens remain: 16 of the 17 others, each once.
    const noBreak = inductionProbe(17, 16, 9, [0]);
    expect(noBreak.includes(0)).toBe(false);
    expect(new Set(noBreak.subarray(0, 16)).size).toBe(16);
    // Too few others: the whole vocabulary again.
    expect(new Set(inductionProbe(3, 3, 9, [0]).subarray(0, 3)).size).toBe(3);
  });
});

describe('surprisal and top-k', () => {
  it('top-k is the softmax of the row, likeliest first', () => {
    const logits = [0, Math.log(2), Math.log(4), 0, Math.log(1)];
    const { ids, probs } = topK(logits, 1, 4, 2); // row [log2, log4, 0, 0]
    expect(ids).toEqual([1, 0]);
    expect(probs[0]).toBeCloseTo(4 / 8, 12);
    expect(probs[1]).toBeCloseTo(2 / 8, 12);
  });

  it('bits are nats / ln 2 and the probability is exp(-nats)', () => {
    const ids = Int32Array.of(0, 1, 1);
    const V = 2;
    const logits = [0, 0, 0, Math.log(3), 9, 9];
    const losses = [Math.LN2, Math.log(4 / 3)];
    const s = surprisalOf(ids, losses, logits, V);
    expect(s.map((c) => c.pos)).toEqual([1, 2]);
    expect(s[0].bits).toBeCloseTo(1, 12);
    expect(s[1].prob).toBeCloseTo(0.75, 12);
    expect(s[1].top.ids).toEqual([1, 0]);
    const by = meanSurprisalByChar([...s, { ...s[0], id: 0, bits: 3 }]);
    expect(by.map((b) => b.id)).toEqual([1, 0]);
    expect(by[0].bits).toBeCloseTo((1 + Math.log2(4 / 3)) / 2, 12);
  });

  it('perplexity and bits per character', () => {
    expect(perplexity(Math.log(65))).toBeCloseTo(65, 10);
    expect(bitsPerChar(Math.LN2 * 3)).toBeCloseTo(3, 12);
  });
});
