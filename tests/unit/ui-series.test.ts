import { describe, expect, it } from 'vitest';
import { TrainingSeries } from '../../src/ui/training/series';

const stats = (step: number, loss: number) => ({ step, loss, lr: 1e-3, gradNorm: 1, ms: 1, tokensPerSec: 1 });

describe('the chart series guards and history', () => {
  it('never holds a non-finite loss, from steps, evaluations or a whole history', () => {
    const s = new TrainingSeries();
    s.addStep(stats(1, 4));
    s.addStep(stats(2, NaN));
    s.addStep(stats(3, Infinity));
    s.addEval({ step: 1, trainLoss: NaN, valLoss: 3 });
    s.addEval({ step: 1, trainLoss: 3, valLoss: -Infinity });
    expect(s.steps).toEqual([1]);
    expect(s.evals).toEqual([]);
    expect(s.latest?.step).toBe(1);
    s.replace(
      [
        { step: 1, loss: 4 },
        { step: 2, loss: NaN },
        { step: 3, loss: 3 },
      ],
      [{ step: 3, trainLoss: Infinity, valLoss: 1 }],
    );
    expect(s.steps).toEqual([1, 3]);
    expect(s.evals).toEqual([]);
    expect(s.nonFiniteCount).toBe(0);
  });

  it('a history replaces the curve; steps after it append and stay contiguous', () => {
    const s = new TrainingSeries();
    for (let i = 1; i <= 8; i++) s.addStep(stats(i, 5 - i / 10));
    const v = s.version;
    // A rollback to step 4 (NaN at step 9, or a restore on a new device).
    s.replace(
      [1, 2, 3, 4].map((step) => ({ step, loss: 5 - step / 10 })),
      [{ step: 4, trainLoss: 4.6, valLoss: 4.7 }],
    );
    expect(s.version).toBeGreaterThan(v);
    expect(s.steps).toEqual([1, 2, 3, 4]);
    expect(s.lastLoss).toBeCloseTo(4.6);
    expect(s.latest).toBeNull(); // step 8's details no longer describe the curve
    expect(s.evals.map((e) => e.step)).toEqual([4]);
    s.addStep(stats(5, 4.4));
    s.addStep(stats(6, 4.3));
    expect(s.steps).toEqual([1, 2, 3, 4, 5, 6]);
    expect(s.contiguous).toBe(true);
    s.addStep(stats(9, 4.1));
    expect(s.contiguous).toBe(false);
  });

  it('keeps the latest step when the history ends at it, and drops out-of-order points', () => {
    const s = new TrainingSeries();
    s.addStep(stats(3, 2));
    s.replace(
      [
        { step: 1, loss: 3 },
        { step: 1, loss: 9 },
        { step: 2, loss: 2.5 },
        { step: 3, loss: 2 },
      ],
      [],
    );
    expect(s.steps).toEqual([1, 2, 3]);
    expect(s.latest?.step).toBe(3);
    s.replace([], []);
    expect(s.steps).toEqual([]);
    expect(s.lastLoss).toBeNull();
    expect(s.contiguous).toBe(true);
  });
});
