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
  /** The Linear this product belongs to, e.g. 'attn.c_attn' (profiles group by it and by fwd / dX / dW). */
  site?: string;
}

/** The direction of a Linear's product, from its transposes: x W^T is the forward, dY^T X the weight gradient. */
export function matmulDirection(args: Pick<MatmulArgs, 'transA' | 'transB'>): 'fwd' | 'dX' | 'dW' {
  if (args.transA) return 'dW';
  return args.transB ? 'fwd' : 'dX';
}

/** Bytes a product must move at least: A, B (and bias) read once, C written once (and read when accumulating). */
export function matmulBytes(args: Pick<MatmulArgs, 'M' | 'N' | 'K' | 'bias' | 'accumulate'>): number {
  const { M, N, K } = args;
  return 4 * (M * K + K * N + M * N * (args.accumulate ? 2 : 1) + (args.bias ? N : 0));
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
    kernel: 'matmul',
    workgroupSize: 64,
    flops: matmulFlops(args.M, args.N, args.K),
    bytes: matmulBytes(args),
    ...(args.site ? { label: `${args.site} ${matmulDirection(args)}` } : {}),
  });
}

/** FLOPs of one matmul, for benchmarks. */
export const matmulFlops = (M: number, N: number, K: number) => 2 * M * N * K;
