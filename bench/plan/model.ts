// The step plan's arithmetic: GPU profiles, the roofline of each dispatch, and
// the cost model behind predictedMs. Pure functions over recorded dispatches,
// so a test can check them on a tiny config.
//
// Per dispatch d on a profile with peak P FLOP/s, bandwidth W bytes/s and U
// compute units:
//   roofline(d)  = max(flops / P, bytes / W)
//   occupancy(d) = w / (2U * ceil(w / 2U))   (w = workgroups of d)
//       A compute unit needs about two resident workgroups to hide memory
//       latency, so a dispatch fills the GPU in "waves" of 2U workgroups; the
//       last, partial wave leaves lanes idle. Under 2U workgroups the dispatch
//       runs at w / 2U of the machine (the flag the plan prints).
//   predicted(d) = roofline(d) / occupancy(d) + DISPATCH_FIXED_US
//       The fixed cost is the launch and the barrier between dependent
//       dispatches in one pass.
// Per step: predictedMs = sum of predicted(d) + PASS_FIXED_US per compute pass
// + for each copy or clear command COPY_FIXED_US plus its bytes over the
// bandwidth (a copy reads and writes its bytes, a clear writes them).
// rooflineMs = sum of roofline(d): the dispatches alone, nothing else.

import { KERNEL_GROUPS, kernelGroup } from '../../src/gpu/profiler';
import type { DispatchRecord } from '../../src/gpu/runtime';

export interface GpuProfile {
  /** Key in the JSON (rooflineMs / predictedMs). */
  id: string;
  name: string;
  /** f32 FLOP/s */
  peakFlops: number;
  /** bytes/s */
  bandwidth: number;
  /** execution units, cores or SMs */
  computeUnits: number;
}

export const PROFILES: GpuProfile[] = [
  { id: 'integrated-laptop', name: 'integrated laptop GPU (2 TFLOP/s f32, 100 GB/s, 96 EUs)', peakFlops: 2e12, bandwidth: 100e9, computeUnits: 96 },
  { id: 'apple-m2', name: 'Apple M2-class GPU (3.6 TFLOP/s, 100 GB/s, 10 cores)', peakFlops: 3.6e12, bandwidth: 100e9, computeUnits: 10 },
  { id: 'rtx-4070', name: 'discrete RTX 4070-class GPU (29 TFLOP/s, 504 GB/s, 46 SMs)', peakFlops: 29e12, bandwidth: 504e9, computeUnits: 46 },
];

/** Launch plus the barrier between dependent dispatches within a pass. */
export const DISPATCH_FIXED_US = 4;
/** Beginning and ending a compute pass (resource tracking, implicit barriers). */
export const PASS_FIXED_US = 10;
/** One copyBufferToBuffer or clearBuffer command, on top of its bytes. */
export const COPY_FIXED_US = 4;
/** Resident workgroups per compute unit needed to hide latency. */
export const WORKGROUPS_PER_UNIT = 2;

export const COST_MODEL_TEXT = [
  'roofline(d) = max(FLOPs / peak, bytes / bandwidth)',
  `occupancy(d) = w / (${WORKGROUPS_PER_UNIT}U * ceil(w / ${WORKGROUPS_PER_UNIT}U)), w = workgroups, U = compute units (a unit needs ${WORKGROUPS_PER_UNIT} resident workgroups to hide latency; a partial last wave idles)`,
  `predicted(d) = roofline(d) / occupancy(d) + ${DISPATCH_FIXED_US} µs fixed per dispatch (launch and barrier)`,
  `predictedMs = sum predicted(d) + ${PASS_FIXED_US} µs per compute pass + per copy/clear command ${COPY_FIXED_US} µs + its bytes / bandwidth (copies move their bytes twice)`,
  'rooflineMs = sum roofline(d)',
];

/** The copy and clear commands and compute passes of one recorded step. */
export interface StepCommands {
  passes: number;
  copies: number;
  clears: number;
  /** bytes copied (each read and written) */
  copyBytes: number;
  /** bytes cleared (written) */
  clearBytes: number;
}

export const workgroupCount = (d: DispatchRecord) => d.workgroups[0] * d.workgroups[1] * d.workgroups[2];

/** Seconds of the roofline bound of one dispatch. */
export function rooflineSeconds(d: DispatchRecord, p: GpuProfile): number {
  return Math.max(d.flops / p.peakFlops, d.bytes / p.bandwidth);
}

export function occupancy(d: DispatchRecord, p: GpuProfile): number {
  const wave = WORKGROUPS_PER_UNIT * p.computeUnits;
  const w = workgroupCount(d);
  return w / (wave * Math.ceil(w / wave));
}

/** True when the dispatch has fewer workgroups than twice the profile's compute units. */
export const underfills = (d: DispatchRecord, p: GpuProfile) => workgroupCount(d) < WORKGROUPS_PER_UNIT * p.computeUnits;

export function predictedSeconds(d: DispatchRecord, p: GpuProfile): number {
  return rooflineSeconds(d, p) / occupancy(d, p) + DISPATCH_FIXED_US * 1e-6;
}

export interface ProfileSummary {
  rooflineMs: number;
  predictedMs: number;
  /** the parts of predictedMs - rooflineMs */
  occupancyMs: number;
  fixedMs: number;
  copyMs: number;
  /** dispatches with fewer workgroups than 2x the compute units */
  underfilled: number;
  /** the underfilled ones that take at least 1% of the step's roofline time */
  underfilledCostly: number;
}

export function summarize(dispatches: DispatchRecord[], commands: StepCommands, p: GpuProfile): ProfileSummary {
  let roofline = 0;
  let occ = 0;
  let underfilled = 0;
  for (const d of dispatches) {
    const r = rooflineSeconds(d, p);
    roofline += r;
    occ += r / occupancy(d, p) - r;
    if (underfills(d, p)) underfilled++;
  }
  const underfilledCostly = dispatches.filter((d) => underfills(d, p) && rooflineSeconds(d, p) >= 0.01 * roofline).length;
  const fixed = (dispatches.length * DISPATCH_FIXED_US + commands.passes * PASS_FIXED_US) * 1e-6;
  const copy = (commands.copies + commands.clears) * COPY_FIXED_US * 1e-6 + (2 * commands.copyBytes + commands.clearBytes) / p.bandwidth;
  return {
    rooflineMs: roofline * 1e3,
    predictedMs: (roofline + occ + fixed + copy) * 1e3,
    occupancyMs: occ * 1e3,
    fixedMs: fixed * 1e3,
    copyMs: copy * 1e3,
    underfilled,
    underfilledCostly,
  };
}

/** The plan file (bench-results/plan-<date>.json), in the issue's schema plus a few descriptive fields. */
export interface PlanJson {
  config: Record<string, unknown>;
  passes: number;
  copies: number;
  dispatches: Array<{ kernel: string; workgroups: [number, number, number]; invocationsPerWorkgroup: number; flops: number; bytes: number; label?: string }>;
  rooflineMs: Record<string, number>;
  predictedMs: Record<string, number>;
  costModel: string[];
  profiles: GpuProfile[];
  clears: number;
  copyBuffers: number;
}

export function planJson(config: Record<string, unknown>, dispatches: DispatchRecord[], commands: StepCommands): PlanJson {
  const rooflineMs: Record<string, number> = {};
  const predictedMs: Record<string, number> = {};
  for (const p of PROFILES) {
    const s = summarize(dispatches, commands, p);
    rooflineMs[p.id] = s.rooflineMs;
    predictedMs[p.id] = s.predictedMs;
  }
  return {
    config,
    passes: commands.passes,
    copies: commands.copies + commands.clears,
    dispatches: dispatches.map((d) => ({
      kernel: d.kernel,
      workgroups: d.workgroups,
      invocationsPerWorkgroup: d.workgroupSize,
      flops: d.flops,
      bytes: d.bytes,
      ...(d.label ? { label: d.label } : {}),
    })),
    rooflineMs,
    predictedMs,
    costModel: COST_MODEL_TEXT,
    profiles: PROFILES,
    clears: commands.clears,
    copyBuffers: commands.copies,
  };
}

const num = (x: number, d = 1) => (x >= 1e9 ? `${(x / 1e9).toFixed(d)}G` : x >= 1e6 ? `${(x / 1e6).toFixed(d)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(d)}k` : `${x}`);

/** The printed plan: one row per dispatch, then totals and the per-profile model. */
export function planTable(title: string, dispatches: DispatchRecord[], commands: StepCommands, options: { rows?: boolean; targets?: boolean } = {}): string {
  const out: string[] = [`## ${title}`, ''];
  const { rows = true, targets: withTargets = true } = options;
  const head = ['#', 'kernel', 'call site', 'grid', 'wg size', 'invocations', 'FLOPs', 'bytes', ...PROFILES.map((p) => `${p.id} µs`)];
  if (rows) out.push(`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 3 ? '---' : '--:')).join('|')}|`);
  if (rows) dispatches.forEach((d, i) => {
    const w = workgroupCount(d);
    const cells = PROFILES.map((p) => `${(rooflineSeconds(d, p) * 1e6).toFixed(1)}${underfills(d, p) ? ' ⚑' : ''}`);
    out.push(
      `| ${i + 1} | ${d.kernel} | ${d.label ?? ''} | ${d.workgroups.join('×')} | ${d.workgroupSize} | ${num(w * d.workgroupSize)} | ${num(d.flops)} | ${num(d.bytes)} | ${cells.join(' | ')} |`,
    );
  });
  const flops = dispatches.reduce((s, d) => s + d.flops, 0);
  const bytes = dispatches.reduce((s, d) => s + d.bytes, 0);
  out.push(
    '',
    `Per step: ${dispatches.length} dispatches, ${num(flops, 2)} FLOPs, ${num(bytes, 2)} bytes at least; ` +
      `${commands.passes} compute passes; ${commands.copies + commands.clears} copy/clear commands ` +
      `(${commands.copies} copyBufferToBuffer moving ${num(commands.copyBytes, 2)} bytes, ${commands.clears} clearBuffer over ${num(commands.clearBytes, 2)} bytes).`,
    '',
    '⚑ = fewer workgroups than twice the profile\'s compute units.',
    '',
    '| profile | rooflineMs | + occupancy ms | + fixed ms | + copies ms | predictedMs | predicted / roofline | dispatches ⚑ | ⚑ with >= 1% of roofline |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  for (const p of PROFILES) {
    const s = summarize(dispatches, commands, p);
    out.push(
      `| ${p.name} | ${s.rooflineMs.toFixed(3)} | ${s.occupancyMs.toFixed(3)} | ${s.fixedMs.toFixed(3)} | ${s.copyMs.toFixed(3)} | ${s.predictedMs.toFixed(3)} | ${(s.predictedMs / s.rooflineMs).toFixed(2)}x | ${s.underfilled} | ${s.underfilledCostly} |`,
    );
  }
  if (withTargets) out.push('', ...targets(dispatches, commands));
  out.push('', ...groupTable(dispatches), '', 'Cost model:', ...COST_MODEL_TEXT.map((l) => `- ${l}`));
  return out.join('\n');
}

/** Per kernel group: dispatches, FLOPs, bytes, fewest workgroups, and roofline ms per profile with its share of the step. */
function groupTable(dispatches: DispatchRecord[]): string[] {
  const totals = PROFILES.map((p) => dispatches.reduce((s, d) => s + rooflineSeconds(d, p), 0));
  const out = [
    `| group | dispatches | fewest workgroups | FLOPs | bytes | ${PROFILES.map((p) => `${p.id} roofline ms (share)`).join(' | ')} |`,
    `|---|--:|--:|--:|--:|${PROFILES.map(() => '--:').join('|')}|`,
  ];
  for (const g of KERNEL_GROUPS) {
    const ds = dispatches.filter((d) => kernelGroup(d) === g);
    if (!ds.length) continue;
    const cells = PROFILES.map((p, i) => {
      const ms = ds.reduce((s, d) => s + rooflineSeconds(d, p), 0);
      return `${(ms * 1e3).toFixed(3)} (${((100 * ms) / totals[i]!).toFixed(1)}%)`;
    });
    const fewest = Math.min(...ds.map(workgroupCount));
    out.push(`| ${g} | ${ds.length} | ${fewest} | ${num(ds.reduce((s, d) => s + d.flops, 0), 2)} | ${num(ds.reduce((s, d) => s + d.bytes, 0), 2)} | ${cells.join(' | ')} |`);
  }
  return out;
}

/** The issue's figures to reach, each with what the plan shows. */
function targets(dispatches: DispatchRecord[], commands: StepCommands): string[] {
  const discrete = PROFILES[PROFILES.length - 1]!;
  const total = dispatches.reduce((s, d) => s + rooflineSeconds(d, discrete), 0);
  const thin = dispatches.filter((d) => underfills(d, discrete) && rooflineSeconds(d, discrete) >= 0.01 * total);
  const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const ratios = PROFILES.map((p) => {
    const sm = summarize(dispatches, commands, p);
    return { p, r: sm.predictedMs / sm.rooflineMs };
  });
  return [
    'Targets:',
    `- one compute pass per step: ${commands.passes} (${mark(commands.passes === 1)})`,
    `- copy/clear commands per step: ${commands.copies + commands.clears} (${commands.copies} copies of ${num(commands.copyBytes, 2)} bytes, ${commands.clears} clears); no gather or scatter copies (at most the loss and norm readback): ${mark(commands.copies <= 2)}`,
    `- every dispatch has >= ${WORKGROUPS_PER_UNIT * discrete.computeUnits} workgroups or takes < 1% of the ${discrete.id} roofline: ${thin.length} do not (${mark(thin.length === 0)})${thin.length ? `: ${[...new Set(thin.map((d) => d.label ?? d.kernel))].join(', ')}` : ''}`,
    `- predictedMs within 1.5x of rooflineMs: ${ratios.map(({ p, r }) => `${p.id} ${r.toFixed(2)}x`).join(', ')} (${mark(ratios.every(({ r }) => r <= 1.5))})`,
  ];
}
