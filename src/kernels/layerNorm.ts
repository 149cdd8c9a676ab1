import forwardCode from '../../shaders/layernorm_forward.wgsl?raw';
import backwardCode from '../../shaders/layernorm_backward.wgsl?raw';
import paramsCode from '../../shaders/layernorm_backward_params.wgsl?raw';
import { type Gpu, type Binding, type Recorder, grid } from '../gpu/runtime';
import { rowBlocks, TEAM_WG, withRowTeams } from './rowTeams';

/** Rows per workgroup: GPU kernels (a team per row, shaders/layernorm_*.wgsl ROWS) and CPU kernels (one invocation per row). */
const TEAM_ROWS = 8;
const SERIAL_ROWS = 64;
/** Channels per workgroup in the parameter-gradient kernels. */
const COLS = 64;

export interface LayerNormForwardArgs {
  /** (N, C) */
  out: Binding;
  /** (N) saved for the backward */
  mean: Binding;
  /** (N) 1 / sqrt(var + 1e-5), saved for the backward */
  rstd: Binding;
  /** (N, C), a different buffer from out */
  inp: Binding;
  /** (C) */
  weight: Binding;
  /** (C), or null for a LayerNorm without bias */
  bias: Binding | null;
  N: number;
  C: number;
}

export interface LayerNormBackwardArgs {
  /** (N, C): accumulated, or overwritten when `overwrite` is set */
  dinp: Binding;
  /** (C), accumulated */
  dweight: Binding;
  /** (C), accumulated, or null without bias */
  dbias: Binding | null;
  /** layerNormBackwardScratchFloats(N, C) floats (a range of a shared scratch buffer will do); clobbered */
  scratch: Binding;
  /** (N, C) */
  dout: Binding;
  /** (N, C) the forward's input */
  inp: Binding;
  /** (C) */
  weight: Binding;
  /** (N) from the forward */
  mean: Binding;
  /** (N) from the forward */
  rstd: Binding;
  N: number;
  C: number;
  /**
   * Write dinp instead of adding into it: for the first gradient written into
   * a buffer within a step (the final LayerNorm's, into the residual-stream
   * gradient), so that buffer needs no clear inside the step's compute pass.
   */
  overwrite?: boolean;
}

/** Floats of scratch layerNormBackward needs for N rows of C channels (the parameter gradients' partial sums). */
export function layerNormBackwardScratchFloats(N: number, C: number): number {
  return 2 * rowBlocks(N, C).NB * C;
}

/** Row kernels: the GPU variant (vec4 when C % 4 == 0) or the CPU one, its pipeline code and grid. */
function rowVariant(gpu: Gpu, code: string, C: number, N: number) {
  if (gpu.kernels === 'cpu') return { code: withRowTeams(gpu, code), entryPoint: 'serial', workgroups: grid(Math.ceil(N / SERIAL_ROWS)), size: SERIAL_ROWS };
  return { code: withRowTeams(gpu, code), entryPoint: C % 4 === 0 ? 'main4' : 'main', workgroups: grid(Math.ceil(N / TEAM_ROWS)), size: TEAM_WG };
}

/** Record out = (inp - mean) * rstd * weight (+ bias) per row, saving mean and rstd (eps 1e-5, biased variance). */
export function layerNormForward(gpu: Gpu, encoder: Recorder, args: LayerNormForwardArgs): void {
  const { N, C } = args;
  const v = rowVariant(gpu, forwardCode, C, N);
  const pipeline = gpu.pipeline(v.code, { entryPoint: v.entryPoint, constants: { HAS_BIAS: args.bias ? 1 : 0 } });
  gpu.dispatch(encoder, pipeline, {
    params: [N, C],
    buffers: [args.out, args.mean, args.rstd, args.inp, args.weight, args.bias ?? gpu.zeros()],
    workgroups: v.workgroups,
    kernel: 'layernorm_forward',
    workgroupSize: v.size,
    flops: 8 * N * C,
    bytes: 4 * (2 * N * C + 2 * N + (args.bias ? 2 : 1) * C),
  });
}

/**
 * Record dinp (+)= ..., dweight += ..., dbias += ... : the row kernel, then the
 * parameter gradients' two stages (partials per block of rows into scratch,
 * then their sums in a fixed order).
 */
export function layerNormBackward(gpu: Gpu, encoder: Recorder, args: LayerNormBackwardArgs): void {
  const { N, C } = args;
  const v = rowVariant(gpu, backwardCode, C, N);
  gpu.dispatch(encoder, gpu.pipeline(v.code, { entryPoint: v.entryPoint, constants: { ACCUMULATE: args.overwrite ? 0 : 1 } }), {
    params: [N, C],
    buffers: [args.dinp, args.dout, args.inp, args.weight, args.mean, args.rstd],
    workgroups: v.workgroups,
    kernel: 'layernorm_backward',
    workgroupSize: v.size,
    flops: 14 * N * C,
    bytes: 4 * ((args.overwrite ? 3 : 4) * N * C + 2 * N + C),
  });
  const { RB, NB } = rowBlocks(N, C);
  const constants = { HAS_BIAS: args.dbias ? 1 : 0 };
  const params = [N, C, RB, NB];
  const colBlocks = Math.ceil(C / COLS);
  const sums = args.dbias ? 2 : 1;
  gpu.dispatch(encoder, gpu.pipeline(paramsCode, { entryPoint: 'partials', constants }), {
    params,
    buffers: [args.scratch, args.dout, args.inp, args.mean, args.rstd],
    workgroups: [colBlocks, NB],
    kernel: 'layernorm_backward_params',
    workgroupSize: COLS,
    flops: (3 + sums) * N * C,
    bytes: 4 * (2 * N * C + 2 * N + sums * NB * C),
  });
  gpu.dispatch(encoder, gpu.pipeline(paramsCode, { entryPoint: 'reduce', constants }), {
    params,
    buffers: [args.dweight, args.dbias ?? gpu.zeros(), args.scratch],
    workgroups: colBlocks,
    kernel: 'layernorm_backward_params_reduce',
    workgroupSize: COLS,
    flops: sums * NB * C,
    bytes: 4 * sums * (NB * C + 2 * C),
  });
}
