import { describe, expect, it } from 'vitest';
import { downsample, MAX_SERIES_POINTS, smooth, TrainingSeries } from '../../src/ui/training/series';

describe('training series for the charts', () => {
  it('smoothing 0 is the raw series; the debiased EMA starts at the first value', () => {
    expect(smooth([3, 2, 1], 0)).toEqual([3, 2, 1]);
    const s = smooth([4, 4, 4, 1], 0.9);
    expect(s[0]).toBeCloseTo(4);
    expect(s[2]).toBeCloseTo(4);
    expect(s[3]).toBeGreaterThan(1);
    expect(s[3]).toBeLessThan(4);
  });

  it('caps the drawn points and keeps the last one exactly', () => {
    const xs = Array.from({ length: 100_000 }, (_, i) => i + 1);
    const ys = xs.map((x) => 1 / x);
    const d = downsample(xs, ys, 1000);
    expect(d.x.length).toBe(1000);
    expect(d.x[999]).toBe(100_000);
    expect(d.y[999]).toBe(1e-5);
    for (let i = 1; i < d.x.length; i++) expect(d.x[i]).toBeGreaterThan(d.x[i - 1]);
    expect(downsample([1, 2], [3, 4], 1000)).toEqual({ x: [1, 2], y: [3, 4] });
  });

  it('a replayed step replaces the steps after it (resume after a rollback)', () => {
    const s = new TrainingSeries();
    for (let i = 1; i <= 5; i++) s.addStep({ step: i, loss: 5 - i, lr: 1e-3, gradNorm: 1, ms: 1, tokensPerSec: 1 });
    s.addStep({ step: 3, loss: 9, lr: 1e-3, gradNorm: 1, ms: 1, tokensPerSec: 1 });
    expect(s.steps).toEqual([1, 2, 3]);
    expect(s.losses).toEqual([4, 3, 9]);
  });

  it('holds a bounded curve over a long run: older points thinned, recent ones and the last step exact', () => {
    const series = new TrainingSeries();
    const stats = (step: number) => ({ step, loss: 5 / step, lr: 1e-3, gradNorm: 1, ms: 1, tokensPerSec: 1 });
    for (let step = 1; step <= 50_000; step++) series.addStep(stats(step));
    expect(series.steps.length).toBeLessThanOrEqual(MAX_SERIES_POINTS);
    expect(series.steps.length).toBeGreaterThan(MAX_SERIES_POINTS / 2);
    expect(series.steps[0]).toBe(1);
    expect(series.steps[series.steps.length - 1]).toBe(50_000);
    expect(series.lastLoss).toBe(5 / 50_000);
    for (let i = 1; i < series.steps.length; i++) expect(series.steps[i]).toBeGreaterThan(series.steps[i - 1]);
    for (let i = 0; i < series.steps.length; i++) expect(series.losses[i]).toBe(5 / series.steps[i]);
    // The newest points stay one per step.
    const n = series.steps.length;
    expect(series.steps[n - 1] - series.steps[n - 100]).toBe(99);
  });
});
