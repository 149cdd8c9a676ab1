// GPU time per kernel group of one training step (timestamp queries), shared
// by the browser benchmark page and the Node benchmark.

import { groupTimes, NO_TIMESTAMPS, type GpuProfiler, type GroupTime } from '../src/gpu/profiler';
import type { Gpu } from '../src/gpu/runtime';

export interface StepProfile {
  /** null where the adapter has no timestamp queries (`note` says so) */
  groups: GroupTime[] | null;
  /** sum of the timed dispatches, ms */
  totalMs: number;
  dispatches: number;
  note: string;
}

/** Profile one call of `step` (a training step recorded through `gpu`, built on `profiler.device`). */
export async function profileStep(profiler: GpuProfiler, gpu: Gpu, step: () => Promise<unknown>): Promise<StepProfile> {
  const timed = await profiler.profile(gpu, step);
  if (!timed) return { groups: null, totalMs: 0, dispatches: 0, note: NO_TIMESTAMPS };
  const totalMs = timed.reduce((s, d) => s + d.ms, 0);
  return {
    groups: groupTimes(timed),
    totalMs,
    dispatches: timed.length,
    note: `GPU time of each of the step's ${timed.length} dispatches (timestamp queries, one pass per dispatch while profiling), summed by group.`,
  };
}

/** The profile as a markdown table: group, ms, share of the step. */
export function profileTable(p: StepProfile): string {
  if (!p.groups) return p.note;
  const rows = ['| kernel group | dispatches | GPU ms | share |', '|---|--:|--:|--:|'];
  for (const g of p.groups) rows.push(`| ${g.group} | ${g.dispatches} | ${g.ms.toFixed(3)} | ${(100 * g.share).toFixed(1)}% |`);
  rows.push(`| total | ${p.dispatches} | ${p.totalMs.toFixed(3)} | 100% |`);
  return rows.join('\n');
}
