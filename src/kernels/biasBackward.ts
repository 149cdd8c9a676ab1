import code from '../../shaders/bias_backward.wgsl?raw';
import { type Gpu, type Binding, type Recorder } from '../gpu/runtime';
import { rowBlocks } from './rowTeams';

/** Columns per workgroup (shaders/bias_backward.wgsl WG). */
const COLS = 64;

export interface BiasBackwardArgs {
  /** (N), accumulated: dbias += column sums of dout */
  dbias: Binding;
  /** biasBackwardScratchFloats(M, N) floats (a range of a shared scratch buffer will do); clobbered */
  scratch: Binding;
  /** (M, N) */
  dout: Binding;
  M: number;
  N: number;
}

/** Floats of scratch biasBackward needs for dout (M, N): the partial column sums of each block of rows. */
export function biasBackwardScratchFloats(M: number, N: number): number {
  return rowBlocks(M, N).NB * N;
}

/** What finishes a bias gradient once its partial column sums are recorded: dbias (N) += sum of NB rows of partials. */
export interface BiasPartials {
  dbias: Binding;
  /** (NB, N) partial column sums */
  partials: Binding;
  N: number;
  NB: number;
}

/**
 * Record dbias (N) += sum over rows of dout (M, N): partial sums per block of
 * rows into scratch, then their sums in block order (deterministic, one writer
 * per element).
 */
export function biasBackward(gpu: Gpu, encoder: Recorder, args: BiasBackwardArgs): void {
  biasBackwardReduce(gpu, encoder, biasBackwardPartials(gpu, encoder, args));
}

/** Record the first stage only: the partial column sums of each block of rows into scratch. Finish with biasBackwardReduce or a split-K matmul's biasGrad. */
export function biasBackwardPartials(gpu: Gpu, encoder: Recorder, args: BiasBackwardArgs): BiasPartials {
  const { M, N } = args;
  const { RB, NB } = rowBlocks(M, N);
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint: 'partials' }), {
    params: [M, N, RB, NB],
    buffers: [args.scratch, args.dout],
    workgroups: [Math.ceil(N / COLS), NB],
    kernel: 'bias_backward',
    workgroupSize: COLS,
    flops: M * N,
    bytes: 4 * (M * N + NB * N),
  });
  return { dbias: args.dbias, partials: args.scratch, N, NB };
}

/** Record the second stage: dbias += the NB partial sums of each column, in block order. */
export function biasBackwardReduce(gpu: Gpu, encoder: Recorder, p: BiasPartials): void {
  const { N, NB } = p;
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint: 'reduce' }), {
    params: [0, N, 0, NB],
    buffers: [p.dbias, p.partials],
    workgroups: Math.ceil(N / COLS),
    kernel: 'bias_backward_reduce',
    workgroupSize: COLS,
    flops: NB * N,
    bytes: 4 * (NB * N + 2 * N),
  });
}
