import forwardCode from '../../shaders/rmsnorm_forward.wgsl?raw';
import backwardCode from '../../shaders/rmsnorm_backward.wgsl?raw';
import { type Gpu, type Binding, type Recorder, grid, packParams } from '../gpu/runtime';
import { GradReduce, regionFloats } from './gradReduce';
import { partialsUnused } from './layerNorm';
import { TEAM_WG, withRowTeams } from './rowTeams';

/** Rows per workgroup: GPU kernels (a team per row, shaders/rmsnorm_*.wgsl ROWS) and CPU kernels (one invocation per row). */
const TEAM_ROWS = 8;
const SERIAL_ROWS = 64;

/** LLaMA's default rms_norm_eps is 1e-6; the llama-gqa fixture uses 1e-5: always pass the model's. */
export interface RmsNormForwardArgs {
  /** (N, C) */
  out: Binding;
  /** (N) 1 / sqrt(mean(x^2) + eps), saved for the backward */
  rstd: Binding;
  /** (N, C), a different buffer from out */
  inp: Binding;
  /** (C) */
  weight: Binding;
  N: number;
  C: number;
  eps: number;
}

export interface RmsNormBackwardArgs {
  /** (N, C): accumulated, or overwritten when `overwrite` is set */
  dinp: Binding;
  /** (C), accumulated */
  dweight: Binding;
  /**
   * Where the weight gradient's per-workgroup partial sums go: a backward's
   * GradReduce (./gradReduce.ts: added into dweight when it records), or,
   * without one, rmsNormBackwardScratchFloats(N, C) floats of scratch
   * (clobbered) reduced right after the row kernel.
   */
  deferred?: GradReduce | null;
  scratch?: Binding | null;
  /** A frozen RMSNorm: no weight gradient (dweight is not written). */
  frozen?: boolean;
  /** (N, C) */
  dout: Binding;
  /** (N, C) the forward's input */
  inp: Binding;
  /** (C) */
  weight: Binding;
  /** (N) from the forward */
  rstd: Binding;
  N: number;
  C: number;
  /** Write dinp instead of adding into it (the first gradient written into a buffer within a step). */
  overwrite?: boolean;
}

/** Floats of partial sums the weight gradient of N rows of C channels takes (one row of C per workgroup of the row kernel), as a GradReduce region. */
export function rmsNormPartialFloats(N: number, C: number): number {
  return regionFloats(Math.ceil(N / Math.min(TEAM_ROWS, SERIAL_ROWS)) * C);
}

/** Floats of scratch rmsNormBackward needs without a GradReduce (the weight gradient's partial sums). */
export function rmsNormBackwardScratchFloats(N: number, C: number): number {
  return rmsNormPartialFloats(N, C);
}

/** Row kernels: the GPU variant (vec4 when C % 4 == 0) or the CPU one, its pipeline code and grid. */
function rowVariant(gpu: Gpu, code: string, C: number, N: number) {
  if (gpu.kernels === 'cpu') return { code: withRowTeams(gpu, code), entryPoint: 'serial', workgroups: grid(Math.ceil(N / SERIAL_ROWS)), size: SERIAL_ROWS };
  return { code: withRowTeams(gpu, code), entryPoint: C % 4 === 0 ? 'main4' : 'main', workgroups: grid(Math.ceil(N / TEAM_ROWS)), size: TEAM_WG };
}

/** Record out = weight * inp * rstd per row, saving rstd = 1 / sqrt(mean(inp^2) + eps). */
export function rmsNormForward(gpu: Gpu, encoder: Recorder, args: RmsNormForwardArgs): void {
  const { N, C } = args;
  const v = rowVariant(gpu, forwardCode, C, N);
  gpu.dispatch(encoder, gpu.pipeline(v.code, { entryPoint: v.entryPoint }), {
    params: packParams([N, C, { f32: args.eps }]),
    buffers: [args.out, args.rstd, args.inp, args.weight],
    workgroups: v.workgroups,
    kernel: 'rmsnorm_forward',
    workgroupSize: v.size,
    flops: 4 * N * C,
    bytes: 4 * (2 * N * C + N + C),
  });
}

/**
 * Record dinp (+)= ..., and the weight gradient: one row kernel, whose
 * workgroups also leave their rows' share of dweight in partials; a GradReduce
 * adds them in a fixed order (the backward's, at its end, or one of its own
 * right away when only scratch is given).
 */
export function rmsNormBackward(gpu: Gpu, encoder: Recorder, args: RmsNormBackwardArgs): void {
  const { N, C } = args;
  const v = rowVariant(gpu, backwardCode, C, N);
  const NWG = Math.ceil(N / (gpu.kernels === 'cpu' ? SERIAL_ROWS : TEAM_ROWS));
  const grads = !args.frozen;
  let reduce: GradReduce | null = null;
  let region: { binding: Binding; at: number } | null = null;
  if (grads) {
    if (!args.deferred && !args.scratch) throw new Error('An RMSNorm backward with a weight gradient needs a GradReduce or scratch.');
    reduce = args.deferred ?? new GradReduce(args.scratch!);
    region = reduce.take(NWG * C);
  }
  const constants = { ACCUMULATE: args.overwrite ? 0 : 1, PARAM_GRADS: grads ? 1 : 0 };
  gpu.dispatch(encoder, gpu.pipeline(v.code, { entryPoint: v.entryPoint, constants }), {
    params: [N, C, NWG],
    buffers: [args.dinp, args.dout, args.inp, args.weight, args.rstd, region?.binding ?? partialsUnused(gpu)],
    workgroups: v.workgroups,
    kernel: 'rmsnorm_backward',
    workgroupSize: v.size,
    flops: 9 * N * C + (grads ? 3 * N * C : 0),
    bytes: 4 * ((args.overwrite ? 3 : 4) * N * C + N + C + (grads ? NWG * C : 0)),
  });
  if (!reduce || !region) return;
  reduce.add({ src: region.at, stride: C, count: NWG, len: C, dst: args.dweight });
  if (!args.deferred) reduce.record(gpu, encoder);
}
