import code from '../../shaders/bias_backward.wgsl?raw';
import { type Gpu, type Binding, type Recorder, grid } from '../gpu/runtime';

export interface BiasBackwardArgs {
  /** (N), accumulated: dbias += column sums of dout */
  dbias: Binding;
  /** (M, N) */
  dout: Binding;
  M: number;
  N: number;
}

/** Record dbias (N) += sum over rows of dout (M, N): deterministic, one writer per element. */
export function biasBackward(gpu: Gpu, encoder: Recorder, args: BiasBackwardArgs): void {
  gpu.dispatch(encoder, gpu.pipeline(code), {
    params: [args.M, args.N],
    buffers: [args.dbias, args.dout],
    workgroups: grid(Math.ceil(args.N / 8)),
    kernel: 'bias_backward',
    workgroupSize: 256,
    flops: args.M * args.N,
    // read dout (M, N); read and write dbias (N)
    bytes: 4 * (args.M * args.N + 2 * args.N),
  });
}
