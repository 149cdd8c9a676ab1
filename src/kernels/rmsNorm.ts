import forwardCode from '../../shaders/rmsnorm_forward.wgsl?raw';
import backwardCode from '../../shaders/rmsnorm_backward.wgsl?raw';
import paramsCode from '../../shaders/rmsnorm_backward_params.wgsl?raw';
import { type Gpu, type Binding, type Recorder, grid, packParams } from '../gpu/runtime';
import { rowBlocks, TEAM_WG, withRowTeams } from './rowTeams';

/** Rows per workgroup: GPU kernels (a team per row, shaders/rmsnorm_*.wgsl ROWS) and CPU kernels (one invocation per row). */
const TEAM_ROWS = 8;
const SERIAL_ROWS = 64;
/** Channels per workgroup in the weight-gradient kernels. */
const COLS = 64;

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
  /** rmsNormBackwardScratchFloats(N, C) floats (a range of a shared scratch buffer will do); clobbered */
  scratch: Binding;
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

/** Floats of scratch rmsNormBackward needs for N rows of C channels (the weight gradient's partial sums). */
export function rmsNormBackwardScratchFloats(N: number, C: number): number {
  return rowBlocks(N, C).NB * C;
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
 * Record dinp (+)= ..., dweight += ... : the row kernel, then the weight
 * gradient's two stages (partials per block of rows into scratch, then their
 * sums in a fixed order).
 */
export function rmsNormBackward(gpu: Gpu, encoder: Recorder, args: RmsNormBackwardArgs): void {
  const { N, C } = args;
  const v = rowVariant(gpu, backwardCode, C, N);
  gpu.dispatch(encoder, gpu.pipeline(v.code, { entryPoint: v.entryPoint, constants: { ACCUMULATE: args.overwrite ? 0 : 1 } }), {
    params: [N, C],
    buffers: [args.dinp, args.dout, args.inp, args.weight, args.rstd],
    workgroups: v.workgroups,
    kernel: 'rmsnorm_backward',
    workgroupSize: v.size,
    flops: 9 * N * C,
    bytes: 4 * ((args.overwrite ? 3 : 4) * N * C + N + C),
  });
  const { RB, NB } = rowBlocks(N, C);
  const params = [N, C, RB, NB];
  const colBlocks = Math.ceil(C / COLS);
  gpu.dispatch(encoder, gpu.pipeline(paramsCode, { entryPoint: 'partials' }), {
    params,
    buffers: [args.scratch, args.dout, args.inp, args.rstd],
    workgroups: [colBlocks, NB],
    kernel: 'rmsnorm_backward_params',
    workgroupSize: COLS,
    flops: 3 * N * C,
    bytes: 4 * (2 * N * C + N + NB * C),
  });
  gpu.dispatch(encoder, gpu.pipeline(paramsCode, { entryPoint: 'reduce' }), {
    params,
    buffers: [args.dweight, args.scratch],
    workgroups: colBlocks,
    kernel: 'rmsnorm_backward_params_reduce',
    workgroupSize: COLS,
    flops: NB * C,
    bytes: 4 * (NB * C + 2 * C),
  });
}
