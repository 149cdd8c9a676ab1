// Per-step numbers live here, outside React state: the worker may report many
// steps a second and only the charts (redrawn a few times a second) read them.
import type { EvalStats, LossPoint, StepStats } from '../../engine/protocol';

/** Points kept per curve; past this the older half is thinned to every other point (as the engine's history). */
export const MAX_SERIES_POINTS = 2000;

export class TrainingSeries {
  readonly steps: number[] = [];
  readonly losses: number[] = [];
  readonly evals: EvalStats[] = [];
  latest: StepStats | null = null;
  /** Bumped on every change, so readers know when to redraw. */
  version = 0;

  /** Non-finite losses never reach the charts (the engine rolls back; this is a second guard). */
  addStep(stats: StepStats): void {
    if (!Number.isFinite(stats.loss) || !Number.isFinite(stats.step)) return;
    // A resumed or replayed step replaces what came after it.
    while (this.steps.length > 0 && this.steps[this.steps.length - 1] >= stats.step) {
      this.steps.pop();
      this.losses.pop();
    }
    this.steps.push(stats.step);
    this.losses.push(stats.loss);
    if (this.steps.length > MAX_SERIES_POINTS) this.thin();
    this.latest = stats;
    this.version++;
  }

  addEval(stats: EvalStats): void {
    if (!Number.isFinite(stats.trainLoss) || !Number.isFinite(stats.valLoss) || !Number.isFinite(stats.step)) return;
    while (this.evals.length > 0 && this.evals[this.evals.length - 1].step >= stats.step) this.evals.pop();
    this.evals.push(stats);
    this.version++;
  }

  /**
   * The whole curve from the engine (a resumed run, a rollback, a restore on a
   * new device). The latest step's details are kept only while that step is
   * still on the curve.
   */
  replace(lossHistory: LossPoint[], evalHistory: EvalStats[]): void {
    this.steps.length = 0;
    this.losses.length = 0;
    this.evals.length = 0;
    for (const p of lossHistory) {
      if (!Number.isFinite(p.loss) || !Number.isFinite(p.step)) continue;
      if (this.steps.length > 0 && this.steps[this.steps.length - 1] >= p.step) continue;
      this.steps.push(p.step);
      this.losses.push(p.loss);
    }
    for (const e of evalHistory) this.addEval(e);
    const last = this.steps.length ? this.steps[this.steps.length - 1] : 0;
    if (this.latest && this.latest.step !== last) this.latest = null;
    this.version++;
  }

  /** Keep every other point of the older half, so a long run holds a bounded, evenly thinned curve. */
  private thin(): void {
    const half = Math.floor(this.steps.length / 2);
    let w = 0;
    for (let r = 0; r < this.steps.length; r++) {
      if (r < half && r % 2 === 1) continue;
      this.steps[w] = this.steps[r];
      this.losses[w] = this.losses[r];
      w++;
    }
    this.steps.length = w;
    this.losses.length = w;
  }

  /** The loss of the last step on the curve. */
  get lastLoss(): number | null {
    return this.losses.length ? this.losses[this.losses.length - 1] : null;
  }

  /** Consecutive steps on the curve with no gap, as a run that lost nothing has (until it is long enough to be thinned). */
  get contiguous(): boolean {
    for (let i = 1; i < this.steps.length; i++) if (this.steps[i] !== this.steps[i - 1] + 1) return false;
    return true;
  }

  /** Non-finite values held for drawing; always 0 (asserted by tests). */
  get nonFiniteCount(): number {
    let n = 0;
    for (const x of this.losses) if (!Number.isFinite(x)) n++;
    for (const e of this.evals) if (!Number.isFinite(e.trainLoss) || !Number.isFinite(e.valLoss)) n++;
    return n;
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
