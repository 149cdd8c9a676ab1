// The calibrated range next to the roofline: what a step may really cost on a
// profile, from published measurements of WebGPU rather than from the
// profile's peak. Two bounds per profile, optimistic and pessimistic, each an
// explicit set of parameters:
//
//   time(d) = max(FLOPs / (peak * flopEff[class]), bytes / (bandwidth * byteEff[class])) / occupancy(d)
//             + dispatchUs
//   stepMs  = sum time(d) + passUs per compute pass + per copy/clear (copyUs + bytes / bandwidth)
//
// class(d) is matmul, attention, elementwise or reduction (kernelClass below).
// Where a number comes from a measurement the source is named; where none was
// found the number is an assumption and says so (SOURCES). Nothing here was
// measured on the profiles' GPUs: the range is what the sources allow, to be
// narrowed the day such a GPU runs `npm run bench:node`.

import type { DispatchRecord } from '../../src/gpu/runtime';
import { occupancy, type GpuProfile, type StepCommands } from './model';

export type KernelClass = 'matmul' | 'attention' | 'elementwise' | 'reduction';
export const KERNEL_CLASSES: KernelClass[] = ['matmul', 'attention', 'elementwise', 'reduction'];

/** A dispatch's class, by kernel name: split-K reductions, norms, losses and partial sums are reductions. */
export function kernelClass(d: Pick<DispatchRecord, 'kernel'>): KernelClass {
  const k = d.kernel;
  if (/reduce|^layernorm|^rmsnorm|^cross_entropy|^grad_norm|^bias_backward|^sequence_logprob|^dpo|^tensor_health|^embedding_backward/.test(k)) return 'reduction';
  if (k.startsWith('matmul') || k.startsWith('matvec')) return 'matmul';
  if (k.startsWith('attention')) return 'attention';
  return 'elementwise';
}

/** One bound's parameters. */
export interface Calibration {
  /** fixed cost of each dispatch (WebGPU validation, encoding, barrier), µs */
  dispatchUs: number;
  /** beginning and ending a compute pass, µs */
  passUs: number;
  /** one copy or clear command on top of its bytes, µs */
  copyUs: number;
  /** fraction of the profile's peak FLOP/s each class reaches */
  flopEff: Record<KernelClass, number>;
  /** fraction of the profile's bandwidth each class reaches */
  byteEff: Record<KernelClass, number>;
}

/** The sources behind the parameters (printed with the plan and given in the README). */
export const SOURCES: Record<string, string> = {
  dispatch:
    'Maczan, "Characterizing WebGPU Dispatch Overhead for LLM Inference Across Four GPU Vendors, Three Backends, and Three Browsers", ' +
    'arXiv:2604.02344 (2026): WebGPU API overhead per sequential dispatch 24-36 µs on Vulkan, 32-71 µs on Metal (Dawn and wgpu-native).',
  matmul:
    'audiovention/wgpu-mm README: best WebGPU f32 GEMM about 900 GFLOP/s on an 8-core M1 (peak 2.6 TFLOP/s, 35%), a WONNX baseline 400 GFLOP/s (15%), ' +
    'a Metal shader with SIMD groups (not in WebGPU) 1.8-2.0 TFLOP/s (70-75%); AnswerDotAI/gpu.cpp README: its WebGPU matmul example about 3.5 TFLOP/s on an M1 Max ' +
    '(peak about 10.4 TFLOP/s, 34%).',
  bandwidth:
    'audiovention/wgpu-mm README: the memory-bound GEMV (1x384 by 384x51865) runs in about 1.30 ms against a 1.20 ms bandwidth bound (92%).',
  assumed:
    'No published WebGPU figure was found for attention, element-wise or reduction kernels: their efficiencies are assumptions (optimistic: ' +
    'what the GEMV reaches; pessimistic: a quarter to a half of it, for kernels that read strided rows or reduce through workgroup memory), ' +
    'as are the pass and copy costs (taken as one dispatch).',
};

const flops = (matmul: number, attention: number, elementwise: number, reduction: number): Record<KernelClass, number> => ({ matmul, attention, elementwise, reduction });

/** Vulkan / D3D12 (integrated laptop, RTX 4070) and Metal (Apple) fixed costs from arXiv:2604.02344. */
const FIXED = { vulkan: [24, 36], metal: [32, 71] } as const;

/** Optimistic and pessimistic parameters of a profile. */
export function calibrations(p: GpuProfile): { optimistic: Calibration; pessimistic: Calibration } {
  const [lo, hi] = p.id === 'apple-m2' ? FIXED.metal : FIXED.vulkan;
  return {
    optimistic: {
      dispatchUs: lo,
      passUs: lo,
      copyUs: lo,
      // matmul: gpu.cpp / wgpu-mm's best WebGPU kernels (35%); attention as a matmul-shaped kernel at half that
      flopEff: flops(0.35, 0.2, 1, 1),
      // bandwidth: the wgpu-mm GEMV (0.92), taken as 0.9 for every memory-bound class
      byteEff: flops(0.9, 0.9, 0.9, 0.9),
    },
    pessimistic: {
      dispatchUs: hi,
      passUs: hi,
      copyUs: hi,
      // matmul: the WONNX baseline in wgpu-mm (15%); attention at a third of that (assumed)
      flopEff: flops(0.15, 0.05, 1, 1),
      byteEff: flops(0.5, 0.25, 0.5, 0.3),
    },
  };
}

/** Seconds one dispatch takes under a calibration. */
export function calibratedSeconds(d: DispatchRecord, p: GpuProfile, c: Calibration): number {
  const k = kernelClass(d);
  const bound = Math.max(d.flops / (p.peakFlops * c.flopEff[k]), d.bytes / (p.bandwidth * c.byteEff[k]));
  return bound / occupancy(d, p) + c.dispatchUs * 1e-6;
}

/** Milliseconds of a recorded step (or decoded token) under a calibration. */
export function calibratedMs(dispatches: DispatchRecord[], commands: StepCommands, p: GpuProfile, c: Calibration): number {
  let s = 0;
  for (const d of dispatches) s += calibratedSeconds(d, p, c);
  s += commands.passes * c.passUs * 1e-6;
  s += (commands.copies + commands.clears) * c.copyUs * 1e-6 + (2 * commands.copyBytes + commands.clearBytes) / p.bandwidth;
  return s * 1e3;
}

export interface CalibratedRange {
  optimisticMs: number;
  pessimisticMs: number;
  /** of which the fixed costs (dispatches, passes, copies), ms */
  fixedMs: [number, number];
}

export function calibratedRange(dispatches: DispatchRecord[], commands: StepCommands, p: GpuProfile): CalibratedRange {
  const { optimistic, pessimistic } = calibrations(p);
  const fixed = (c: Calibration) => (dispatches.length * c.dispatchUs + commands.passes * c.passUs + (commands.copies + commands.clears) * c.copyUs) * 1e-3;
  return {
    optimisticMs: calibratedMs(dispatches, commands, p, optimistic),
    pessimisticMs: calibratedMs(dispatches, commands, p, pessimistic),
    fixedMs: [fixed(optimistic), fixed(pessimistic)],
  };
}

/** "12.3 min" / "45 s" */
export function duration(ms: number): string {
  const s = ms / 1e3;
  return s >= 120 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(0)} s`;
}

/** The parameters as printed lines. */
export function calibrationText(profiles: GpuProfile[]): string[] {
  const out = [
    'time(d) = max(FLOPs / (peak * flopEff[class]), bytes / (bandwidth * byteEff[class])) / occupancy(d) + dispatch µs; + pass µs per compute pass; + per copy/clear command its µs and bytes / bandwidth',
  ];
  for (const p of profiles) {
    const cs = calibrations(p);
    for (const [name, c] of Object.entries(cs)) {
      const eff = (e: Record<KernelClass, number>) => KERNEL_CLASSES.map((k) => `${k} ${e[k]}`).join(', ');
      out.push(`${p.id} ${name}: dispatch ${c.dispatchUs} µs, pass ${c.passUs} µs, copy ${c.copyUs} µs; flopEff ${eff(c.flopEff)}; byteEff ${eff(c.byteEff)}`);
    }
  }
  out.push(...Object.entries(SOURCES).map(([k, v]) => `source (${k}): ${v}`));
  return out;
}

/** One recorded piece of work for the summary: a training step (timed per run of `runSteps`) or a decoded token. */
export interface PlannedStep {
  name: string;
  dispatches: DispatchRecord[];
  commands: StepCommands;
  /** 'step': ms per step and the time of `runSteps` steps; 'token': ms per token and tokens/s */
  unit: 'step' | 'token';
  runSteps?: number;
}

const big = (x: number) => (x >= 1e9 ? `${(x / 1e9).toFixed(2)}G` : `${(x / 1e6).toFixed(2)}M`);

/** Per step and profile: the roofline, the calibrated range, and a run's time (steps) or tokens per second (decoding). */
export function calibratedTable(steps: PlannedStep[], profiles: GpuProfile[]): string[] {
  const out = [
    '| work | dispatches | passes | FLOPs | bytes | profile | roofline ms | calibrated ms (optimistic - pessimistic) | of which fixed costs ms | whole run / rate |',
    '|---|--:|--:|--:|--:|---|--:|--:|--:|---|',
  ];
  for (const s of steps) {
    const flops = s.dispatches.reduce((a, d) => a + d.flops, 0);
    const bytes = s.dispatches.reduce((a, d) => a + d.bytes, 0);
    for (const p of profiles) {
      const roofline = s.dispatches.reduce((a, d) => a + Math.max(d.flops / p.peakFlops, d.bytes / p.bandwidth), 0) * 1e3;
      const r = calibratedRange(s.dispatches, s.commands, p);
      const run =
        s.unit === 'token'
          ? `${(1e3 / r.pessimisticMs).toFixed(0)} - ${(1e3 / r.optimisticMs).toFixed(0)} tokens/s`
          : s.runSteps
            ? `${s.runSteps.toLocaleString('en-US')} steps: ${duration(r.optimisticMs * s.runSteps)} - ${duration(r.pessimisticMs * s.runSteps)}`
            : '';
      out.push(
        `| ${s.name} | ${s.dispatches.length} | ${s.commands.passes} | ${big(flops)} | ${big(bytes)} | ${p.id} | ${roofline.toFixed(2)} | ` +
          `${r.optimisticMs.toFixed(2)} - ${r.pessimisticMs.toFixed(2)} | ${r.fixedMs[0].toFixed(2)} - ${r.fixedMs[1].toFixed(2)} | ${run} |`,
      );
    }
  }
  return out;
}
