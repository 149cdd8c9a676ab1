import code from '../../shaders/matmul.wgsl?raw';
import { type Gpu, type Binding, type Recorder } from '../gpu/runtime';

export interface MatmulArgs {
  /** C (M, N) */
  out: Binding;
  /** A (M, K), or (K, M) with transA */
  a: Binding;
  /** B (K, N), or (N, K) with transB */
  b: Binding;
  /** optional (N) added to every row */
  bias?: Binding | null;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  /** C += op(A) op(B) instead of C = ... (gradient accumulation) */
  accumulate?: boolean;
}

/** Record C (+)= op(A) op(B) (+ bias) into the encoder. */
export function matmul(gpu: Gpu, encoder: Recorder, args: MatmulArgs): void {
  const pipeline = gpu.pipeline(code, {
    constants: {
      TRANS_A: args.transA ? 1 : 0,
      TRANS_B: args.transB ? 1 : 0,
      HAS_BIAS: args.bias ? 1 : 0,
      ACCUMULATE: args.accumulate ? 1 : 0,
    },
  });
  gpu.dispatch(encoder, pipeline, {
    params: [args.M, args.N, args.K],
    buffers: [args.out, args.a, args.b, args.bias ?? gpu.zeros()],
    workgroups: [Math.ceil(args.N / 64), Math.ceil(args.M / 64)],
  });
}

/** FLOPs of one matmul, for benchmarks. */
export const matmulFlops = (M: number, N: number, K: number) => 2 * M * N * K;
