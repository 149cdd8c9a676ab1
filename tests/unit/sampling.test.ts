import { describe, expect, it } from 'vitest';
import type { SamplingSettings } from '../../src/engine/protocol';
import { SeededRng, sampleToken, softmaxWithTemperature } from '../../src/model/sampling';
import { randn } from '../reference/random';

const base: SamplingSettings = { temperature: 1, topK: 0, topP: 1, greedy: false, seed: 7 };

function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

function draw(logits: Float32Array, s: SamplingSettings, n: number): number[] {
  const rng = new SeededRng(s.seed);
  return Array.from({ length: n }, () => sampleToken(logits, s, rng).id);
}

describe('sampling', () => {
  const logits = randn(65, 3, 2);

  it('greedy (flag or temperature 0) picks the argmax', () => {
    const want = argmax(logits);
    expect(draw(logits, { ...base, greedy: true }, 10)).toEqual(Array(10).fill(want));
    expect(draw(logits, { ...base, temperature: 0 }, 10)).toEqual(Array(10).fill(want));
    const t = sampleToken(logits, { ...base, greedy: true }, new SeededRng(1));
    expect(t.dist.kept.filter(Boolean)).toHaveLength(1);
    expect(t.dist.ids[0]).toBe(want);
    expect(t.dist.removedMass).toBeCloseTo(1 - t.prob, 12);
  });

  it('same seed gives the same sequence, another seed a different one, and the state advances per token', () => {
    const a = draw(logits, base, 50);
    const b = draw(logits, base, 50);
    const c = draw(logits, { ...base, seed: 8 }, 50);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(new Set(a).size).toBeGreaterThan(1);
    const rng = new SeededRng(base.seed);
    const before = rng.state;
    sampleToken(logits, base, rng);
    expect(rng.state).not.toBe(before);
    // Resuming from a saved state continues the same sequence.
    const saved = new SeededRng(base.seed);
    for (let i = 0; i < 20; i++) sampleToken(logits, base, saved);
    const resumed = new SeededRng(0);
    resumed.state = saved.state;
    expect(Array.from({ length: 30 }, () => sampleToken(logits, base, resumed).id)).toEqual(a.slice(20));
  });

  it('top-k = 1 is greedy', () => {
    expect(draw(logits, { ...base, topK: 1, temperature: 1.5 }, 20)).toEqual(Array(20).fill(argmax(logits)));
  });

  it('a tiny top-p keeps only the argmax', () => {
    const t = sampleToken(logits, { ...base, topP: 1e-6 }, new SeededRng(3));
    expect(t.id).toBe(argmax(logits));
    expect(t.dist.kept.filter(Boolean)).toHaveLength(1);
    expect(draw(logits, { ...base, topP: 1e-6 }, 20)).toEqual(Array(20).fill(argmax(logits)));
  });

  it('top-k draws only among the k most likely', () => {
    const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
    const allowed = new Set(order.slice(0, 3));
    for (const id of draw(logits, { ...base, topK: 3 }, 200)) expect(allowed.has(id)).toBe(true);
  });

  it('reports the removed mass exactly', () => {
    const l = new Float32Array([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
    const k2 = sampleToken(l, { ...base, topK: 2 }, new SeededRng(1));
    expect(k2.dist.removedMass).toBeCloseTo(0.2, 6);
    expect(k2.dist.kept).toEqual([true, true, false, false]);
    expect(k2.dist.probs[0]).toBeCloseTo(0.5, 6);
    // top-p 0.7: 0.5 < 0.7, 0.8 >= 0.7, so the two most likely stay.
    const p = sampleToken(l, { ...base, topP: 0.7 }, new SeededRng(1));
    expect(p.dist.kept).toEqual([true, true, false, false]);
    expect(p.dist.removedMass).toBeCloseTo(0.2, 6);
    expect(p.keptProb).toBeCloseTo(p.prob / 0.8, 6);
    // top-k then top-p: k=3 renormalises to (0.526, 0.316, 0.158); p=0.5 keeps one.
    const kp = sampleToken(l, { ...base, topK: 3, topP: 0.5 }, new SeededRng(1));
    expect(kp.dist.kept).toEqual([true, false, false, false]);
    expect(kp.id).toBe(0);
    expect(kp.dist.removedMass).toBeCloseTo(0.5, 6);
    // Off: nothing removed.
    const off = sampleToken(l, base, new SeededRng(1));
    expect(off.dist.removedMass).toBeCloseTo(0, 12);
    expect(off.dist.kept.every(Boolean)).toBe(true);
  });

  it('temperature sharpens or flattens the distribution', () => {
    const cold = sampleToken(logits, { ...base, temperature: 0.5 }, new SeededRng(1)).dist;
    const warm = sampleToken(logits, { ...base, temperature: 2 }, new SeededRng(1)).dist;
    const one = sampleToken(logits, base, new SeededRng(1)).dist;
    expect(cold.ids[0]).toBe(one.ids[0]);
    expect(cold.probs[0]).toBeGreaterThan(one.probs[0]);
    expect(warm.probs[0]).toBeLessThan(one.probs[0]);
    const p = softmaxWithTemperature(logits, 1);
    expect(one.probs[0]).toBeCloseTo(p[argmax(logits)], 12);
  });

  it('shows at most 20 candidates, most likely first, with probabilities summing to at most 1', () => {
    const d = sampleToken(logits, base, new SeededRng(1)).dist;
    expect(d.ids).toHaveLength(20);
    for (let i = 1; i < d.probs.length; i++) expect(d.probs[i]).toBeLessThanOrEqual(d.probs[i - 1]);
    expect(d.probs.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1 + 1e-12);
  });

  it('is numerically safe for logits of +-1e4 and tiny temperatures', () => {
    const l = new Float32Array(10);
    for (let i = 0; i < 10; i++) l[i] = i % 2 ? 1e4 : -1e4;
    l[5] = 1e4 + 1;
    for (const s of [base, { ...base, temperature: 1e-3 }, { ...base, temperature: 100, topP: 0.9 }, { ...base, topK: 4 }]) {
      const t = sampleToken(l, s, new SeededRng(2));
      expect(Number.isFinite(t.prob)).toBe(true);
      expect(Number.isFinite(t.dist.removedMass)).toBe(true);
      for (const p of t.dist.probs) expect(Number.isFinite(p)).toBe(true);
      expect(t.id % 2).toBe(1);
    }
    // Non-finite logits never win and never poison the others.
    const bad = new Float32Array([Number.NaN, 1, Number.POSITIVE_INFINITY, 2]);
    const t = sampleToken(bad, { ...base, greedy: true }, new SeededRng(1));
    expect(t.id).toBe(3);
    expect(Number.isFinite(t.prob)).toBe(true);
  });
});
