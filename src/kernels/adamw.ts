import adamwCode from '../../shaders/adamw.wgsl?raw';
import normCode from '../../shaders/grad_norm.wgsl?raw';
import { grid, type Gpu, type Binding, type Recorder } from '../gpu/runtime';

/** Partial sums gradNorm keeps between its two passes: one per invocation of ~64 floats, at most 16384. */
export const gradNormScratchFloats = (n: number) => Math.max(1, Math.min(16384, Math.ceil(n / 64)));

/** Record norm[0] = sqrt(sum grads[i]^2) over n floats, reduced fully on the GPU. */
export function gradNorm(
  gpu: Gpu,
  encoder: Recorder,
  args: { norm: Binding; grads: Binding; n: number; scratch: Binding },
): void {
  const G = gradNormScratchFloats(args.n);
  gpu.dispatch(encoder, gpu.pipeline(normCode, { entryPoint: 'partials' }), {
    params: [args.n, G],
    buffers: [args.scratch, args.grads],
    workgroups: Math.ceil(G / 64),
    kernel: 'grad_norm_partials',
    workgroupSize: 64,
    flops: 2 * args.n,
    bytes: 4 * (args.n + G),
  });
  gpu.dispatch(encoder, gpu.pipeline(normCode, { entryPoint: 'finish' }), {
    params: [args.n, G],
    buffers: [args.norm, args.scratch],
    workgroups: 1,
    kernel: 'grad_norm_finish',
    workgroupSize: 64,
    flops: G + 1,
    bytes: 4 * (G + 1),
  });
}

export interface AdamwArgs {
  /** the flat parameter buffer, updated in place */
  params: Binding;
  grads: Binding;
  /** first and second moments, same layout as params */
  m: Binding;
  v: Binding;
  /** range of the flat buffers this call updates, in floats */
  offset: number;
  count: number;
  /** apply weight decay to this range (2-D weights yes; biases, LayerNorm and so on no) */
  decay: boolean;
  /** f32[8]: lr, beta1, beta2, eps, weightDecay, maxNorm (0 = no clipping), 1 - beta1^t, 1 - beta2^t; written each step */
  hyper: Binding;
  /** gradNorm's output: [0] = global gradient L2 norm (read only when maxNorm > 0) */
  norm: Binding;
}

/** The hyper buffer's contents for step t (from 1). */
export function adamwHyper(h: {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  maxNorm: number;
  t: number;
}): Float32Array {
  return new Float32Array([h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.maxNorm, 1 - h.beta1 ** h.t, 1 - h.beta2 ** h.t]);
}

/** Record one AdamW step over params[offset .. offset + count). */
export function adamw(gpu: Gpu, encoder: Recorder, args: AdamwArgs): void {
  const W = Math.ceil(args.count / 256);
  gpu.dispatch(encoder, gpu.pipeline(adamwCode, { constants: { DECAY: args.decay ? 1 : 0 } }), {
    params: [args.offset, args.count],
    buffers: [args.params, args.grads, args.m, args.v, args.hyper, args.norm],
    workgroups: grid(W),
    kernel: 'adamw',
    workgroupSize: 256,
    // clip scale, both moments, bias corrections, sqrt, divide, decay and update: about 16 per parameter
    flops: 16 * args.count,
    // read params, grads, m, v; write params, m, v; plus the 8 hyper-parameters and the norm
    bytes: 28 * args.count + 36,
  });
}
