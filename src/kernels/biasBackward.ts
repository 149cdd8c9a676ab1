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

/**
 * Record dbias (N) += sum over rows of dout (M, N): partial sums per block of
 * rows into scratch, then their sums in block order (deterministic, one writer
 * per element).
 */
export function biasBackward(gpu: Gpu, encoder: Recorder, args: BiasBackwardArgs): void {
  const { M, N } = args;
  const { RB, NB } = rowBlocks(M, N);
  const params = [M, N, RB, NB];
  const colBlocks = Math.ceil(N / COLS);
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint: 'partials' }), {
    params,
    buffers: [args.scratch, args.dout],
    workgroups: [colBlocks, NB],
    kernel: 'bias_backward',
    workgroupSize: COLS,
    flops: M * N,
    bytes: 4 * (M * N + NB * N),
  });
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint: 'reduce' }), {
    params,
    buffers: [args.dbias, args.scratch],
    workgroups: colBlocks,
    kernel: 'bias_backward_reduce',
    workgroupSize: COLS,
    flops: NB * N,
    bytes: 4 * (NB * N + 2 * N),
  });
}
