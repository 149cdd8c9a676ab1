import forwardCode from '../../shaders/layernorm_forward.wgsl?raw';
import backwardCode from '../../shaders/layernorm_backward.wgsl?raw';
import paramsCode from '../../shaders/layernorm_backward_params.wgsl?raw';
import { type Gpu, type Binding, type Recorder, grid } from '../gpu/runtime';

/** Rows per workgroup in the row kernels, one invocation each (shaders/layernorm_*.wgsl WG). */
const ROWS = 64;
/** Channels per workgroup in the parameter-gradient kernel, one invocation each. */
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
  /** (N, C), accumulated */
  dinp: Binding;
  /** (C), accumulated */
  dweight: Binding;
  /** (C), accumulated, or null without bias */
  dbias: Binding | null;
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
}

/** Record out = (inp - mean) * rstd * weight (+ bias) per row, saving mean and rstd (eps 1e-5, biased variance). */
export function layerNormForward(gpu: Gpu, encoder: Recorder, args: LayerNormForwardArgs): void {
  const pipeline = gpu.pipeline(forwardCode, { constants: { HAS_BIAS: args.bias ? 1 : 0 } });
  gpu.dispatch(encoder, pipeline, {
    params: [args.N, args.C],
    buffers: [args.out, args.mean, args.rstd, args.inp, args.weight, args.bias ?? gpu.zeros()],
    workgroups: grid(Math.ceil(args.N / ROWS)),
    kernel: 'layernorm_forward',
    workgroupSize: ROWS,
    // per element: the mean (1), the variance (3), normalise, scale and shift (4)
    flops: 8 * args.N * args.C,
    // read inp (N, C), weight and bias (C); write out (N, C), mean and rstd (N)
    bytes: 4 * (2 * args.N * args.C + 2 * args.C + 2 * args.N),
  });
}

/** Record dinp += ..., dweight += ..., dbias += ... (two dispatches: rows, then column sums). */
export function layerNormBackward(gpu: Gpu, encoder: Recorder, args: LayerNormBackwardArgs): void {
  const params = [args.N, args.C];
  gpu.dispatch(encoder, gpu.pipeline(backwardCode), {
    params,
    buffers: [args.dinp, args.dout, args.inp, args.weight, args.mean, args.rstd],
    workgroups: grid(Math.ceil(args.N / ROWS)),
    kernel: 'layernorm_backward',
    workgroupSize: ROWS,
    // per element: x-hat (2), dout * weight (1), the two row sums (3), dinp += (4)
    flops: 10 * args.N * args.C,
    // read dout, inp (N, C), weight (C), mean, rstd (N); read and write dinp (N, C)
    bytes: 4 * (4 * args.N * args.C + args.C + 2 * args.N),
  });
  gpu.dispatch(encoder, gpu.pipeline(paramsCode, { constants: { HAS_BIAS: args.dbias ? 1 : 0 } }), {
    params,
    buffers: [args.dweight, args.dbias ?? gpu.zeros(), args.dout, args.inp, args.mean, args.rstd],
    workgroups: grid(Math.ceil(args.C / COLS)),
    kernel: 'layernorm_backward_params',
    workgroupSize: COLS,
    // per element: x-hat (2), dweight += dout * x-hat (2), dbias += dout (1)
    flops: 5 * args.N * args.C,
    // read dout, inp (N, C), mean, rstd (N); read and write dweight and dbias (C)
    bytes: 4 * (2 * args.N * args.C + 2 * args.N + (args.dbias ? 4 : 2) * args.C),
  });
}
