// Per-step numbers live here, outside React state: the worker may report many
// steps a second and only the charts (redrawn a few times a second) read them.
import type { EvalStats, StepStats } from '../../engine/protocol';

export class TrainingSeries {
  readonly steps: number[] = [];
  readonly losses: number[] = [];
  readonly evals: EvalStats[] = [];
  latest: StepStats | null = null;
  /** Bumped on every change, so readers know when to redraw. */
  version = 0;

  addStep(stats: StepStats): void {
    // A resumed or replayed step replaces what came after it.
    while (this.steps.length > 0 && this.steps[this.steps.length - 1] >= stats.step) {
      this.steps.pop();
      this.losses.pop();
    }
    this.steps.push(stats.step);
    this.losses.push(stats.loss);
    this.latest = stats;
    this.version++;
  }

  addEval(stats: EvalStats): void {
    while (this.evals.length > 0 && this.evals[this.evals.length - 1].step >= stats.step) this.evals.pop();
    this.evals.push(stats);
    this.version++;
  }

  clear(): void {
    this.steps.length = 0;
    this.losses.length = 0;
    this.evals.length = 0;
    this.latest = null;
    this.version++;
  }
}

export const trainingSeries = new TrainingSeries();

/**
 * TensorBoard's smoothing: an exponential moving average, debiased so the
 * first points are not pulled towards zero. weight 0 = raw.
 */
export function smooth(values: number[], weight: number): number[] {
  const out = new Array<number>(values.length);
  let last = 0;
  let debias = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    debias = debias * weight + (1 - weight);
    out[i] = last / debias;
  }
  return out;
}

/**
 * At most maxPoints (x, y) pairs: each bucket of consecutive points becomes its
 * mean, and the last point is always kept exactly.
 */
export function downsample(xs: number[], ys: number[], maxPoints: number): { x: number[]; y: number[] } {
  const n = xs.length;
  if (n <= maxPoints) return { x: xs.slice(), y: ys.slice() };
  const x: number[] = [];
  const y: number[] = [];
  const buckets = maxPoints - 1;
  const size = (n - 1) / buckets;
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor(b * size);
    const hi = Math.max(lo + 1, Math.floor((b + 1) * size));
    let sx = 0;
    let sy = 0;
    for (let i = lo; i < hi; i++) {
      sx += xs[i];
      sy += ys[i];
    }
    x.push(sx / (hi - lo));
    y.push(sy / (hi - lo));
  }
  x.push(xs[n - 1]);
  y.push(ys[n - 1]);
  return { x, y };
}
