import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN } from '../../src/model/config';
import { learningRate } from '../../src/model/schedule';

describe('learning-rate schedule (nanoGPT get_lr)', () => {
  const c = { ...DEFAULT_TRAIN, lrDecay: true, learningRate: 1e-3, minLr: 1e-4, warmupSteps: 10, maxSteps: 110 };

  it('is constant when decay is off', () => {
    for (const it of [0, 5, 50, 500]) expect(learningRate(it, { ...c, lrDecay: false })).toBe(1e-3);
  });

  it('warms up linearly as (it + 1) / (warmup + 1)', () => {
    expect(learningRate(0, c)).toBeCloseTo(1e-3 / 11, 15);
    expect(learningRate(9, c)).toBeCloseTo((1e-3 * 10) / 11, 15);
  });

  it('decays along a cosine from the peak to minLr', () => {
    expect(learningRate(10, c)).toBeCloseTo(1e-3, 15);
    expect(learningRate(60, c)).toBeCloseTo(1e-4 + 0.5 * (1e-3 - 1e-4), 15);
    expect(learningRate(110, c)).toBeCloseTo(1e-4, 15);
    expect(learningRate(111, c)).toBe(1e-4);
    for (let it = 11; it <= 110; it++) expect(learningRate(it, c)).toBeLessThanOrEqual(learningRate(it - 1, c));
  });
});
