// Wall-clock timing of GPU work, fair to both sides of a comparison.
//
// Every measurement ends with the queue drained (onSubmittedWorkDone), so the
// clock stops after the GPU finished, not after the CPU recorded. Several runs
// are batched into one timing when a single run is short, so the result does
// not depend on timer resolution (Chrome rounds GPU timestamps to 100 us and
// performance.now() to 5-100 us).

export interface Timing {
  /** Median milliseconds of ONE run. */
  ms: number;
  /** Fastest sample, per run. */
  minMs: number;
  /** Runs per sample and number of samples. */
  inner: number;
  samples: number;
}

export interface Timed {
  /** Record and submit `n` runs back to back. */
  run: (n: number) => void | Promise<void>;
  /** Resolve when the GPU has finished everything submitted so far. */
  finish: () => Promise<void>;
}

export interface TimingPlan {
  /** Samples taken (the median is reported). */
  reps: number;
  /** A sample should last at least this long; short runs are batched up to it. */
  targetMs: number;
  /** Upper bound on runs per sample. */
  maxInner: number;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function sample(t: Timed, n: number): Promise<number> {
  const t0 = performance.now();
  await t.run(n);
  await t.finish();
  return (performance.now() - t0) / n;
}

/** One warm-up run (compiles pipelines, allocates), then one calibration run. */
export async function prepare(t: Timed, plan: TimingPlan): Promise<number> {
  await sample(t, 1);
  const once = await sample(t, 1);
  return Math.max(1, Math.min(plan.maxInner, Math.ceil(plan.targetMs / Math.max(once, 1e-3))));
}

/**
 * Time several implementations of the same work, interleaved sample by sample
 * (ours, theirs, ours, theirs, ...) so that load from other processes hits all
 * of them alike; ratios of the results are what a shared machine can report.
 */
export async function timeSideBySide(impls: Timed[], plan: TimingPlan): Promise<Timing[]> {
  const inner: number[] = [];
  for (const t of impls) inner.push(await prepare(t, plan));
  const samples: number[][] = impls.map(() => []);
  for (let r = 0; r < plan.reps; r++) {
    for (let i = 0; i < impls.length; i++) samples[i]!.push(await sample(impls[i]!, inner[i]!));
  }
  return samples.map((s, i) => ({ ms: median(s), minMs: Math.min(...s), inner: inner[i]!, samples: s.length }));
}

/** Let the page breathe between long GPU waits (keeps the browser responsive). */
export const yieldToBrowser = () => new Promise<void>((r) => setTimeout(r, 0));
