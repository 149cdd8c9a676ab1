import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN } from '../../src/model/config';
import { hyperFloats, learningRate, mixSeed, stepHyper } from '../../src/model/schedule';

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

  it('warmup and the minimum rate belong to the cosine schedule: with decay off neither applies', () => {
    const off = { ...c, lrDecay: false, warmupSteps: 50, minLr: 1e-5 };
    for (const it of [0, 1, 49, 50, 109, 110, 1000]) expect(learningRate(it, off)).toBe(1e-3);
  });

  it('a run continued past its end keeps its schedule: the decay ends at lrDecaySteps, then minLr', () => {
    const continued = { ...c, maxSteps: 200, lrDecaySteps: 110 };
    for (let it = 0; it <= 110; it++) expect(learningRate(it, continued)).toBe(learningRate(it, c));
    for (const it of [111, 150, 199]) expect(learningRate(it, continued)).toBe(1e-4);
  });
});

describe('a step\'s settings (stepHyper, the one builder the trainer, benchmarks and tests use)', () => {
  const train = { ...DEFAULT_TRAIN, lrDecay: true, learningRate: 1e-3, minLr: 1e-4, warmupSteps: 10, maxSteps: 110, seed: 7 };

  it('takes the schedule\'s rate, AdamW\'s t from 1 and a per-step dropout seed', () => {
    const h = stepHyper(train, 60);
    expect(h.lr).toBe(learningRate(60, train));
    expect(h.t).toBe(61);
    expect([h.beta1, h.beta2, h.eps, h.weightDecay, h.gradClip]).toEqual([train.beta1, train.beta2, train.eps, train.weightDecay, train.gradClip]);
    expect(h.dropoutSeed).toBe(mixSeed(7, 60));
    const seeds = new Set(Array.from({ length: 1000 }, (_, it) => stepHyper(train, it).dropoutSeed));
    expect(seeds.size).toBe(1000);
    expect(stepHyper({ ...train, seed: 8 }, 60).dropoutSeed).not.toBe(h.dropoutSeed);
  });

  it('packs the f32[8] the AdamW kernel reads: lr, betas, eps, decay, clip, bias corrections', () => {
    const h = { ...stepHyper(train, 2), beta1: 0.9, beta2: 0.95 };
    const f = hyperFloats(h);
    expect(f).toBeInstanceOf(Float32Array);
    expect(Array.from(f)).toEqual(
      [h.lr, 0.9, 0.95, h.eps, h.weightDecay, h.gradClip, 1 - 0.9 ** 3, 1 - 0.95 ** 3].map((x) => Math.fround(x)),
    );
  });
});
