import forwardCode from '../../shaders/attention_forward.wgsl?raw';
import backwardCode from '../../shaders/attention_backward.wgsl?raw';
import decodeCode from '../../shaders/attention_decode.wgsl?raw';
import type { Gpu } from '../gpu/runtime';

export interface AttentionShape {
  B: number;
  T: number;
  C: number;
  NH: number;
}

export interface AttentionForwardArgs extends AttentionShape {
  /** (B, T, C) */
  out: GPUBuffer;
  /** (B, NH, T, T) probabilities, saved for backward and drawn as heatmaps; 0 above the diagonal */
  att: GPUBuffer;
  /** (B, T, 3C): q | k | v, head h at channels h*hs..(h+1)*hs of each */
  qkv: GPUBuffer;
  /** unused by the forward pass (accepted so callers can pass one scratch everywhere) */
  scratch?: GPUBuffer | null;
}

export interface AttentionBackwardArgs extends AttentionShape {
  /** (B, T, 3C), overwritten */
  dqkv: GPUBuffer;
  /** (B, T, C) */
  dout: GPUBuffer;
  qkv: GPUBuffer;
  att: GPUBuffer;
  /** attentionScratchFloats(B, T, C, NH) floats: the score gradients */
  scratch: GPUBuffer;
}

/** Largest head size (C / NH) the kernels support. */
export const MAX_HEAD_SIZE = 128;

/** Tile shape for a head size: QB query rows per workgroup, QB * HS_MAX = 1024 floats staged. */
function tiling({ C, NH }: AttentionShape): { QB: number; HS_MAX: number } {
  if (C % NH !== 0) throw new Error(`Embedding width ${C} is not divisible by the number of heads ${NH}.`);
  const hs = C / NH;
  if (hs <= 64) return { QB: 16, HS_MAX: 64 };
  if (hs <= MAX_HEAD_SIZE) return { QB: 8, HS_MAX: 128 };
  throw new Error(`Head size ${hs} (= ${C} / ${NH}) is larger than ${MAX_HEAD_SIZE}; use more heads or a narrower model.`);
}

/** Floats of scratch attentionBackward needs: one (B, NH, T, T) tensor of score gradients. */
export const attentionScratchFloats = (B: number, T: number, _C: number, NH: number) => B * NH * T * T;

/** Record causal self-attention: att = softmax(q k^T / sqrt(hs) + mask), out = att v. */
export function attentionForward(gpu: Gpu, encoder: GPUCommandEncoder, args: AttentionForwardArgs): void {
  const { B, T, C, NH } = args;
  const tile = tiling(args);
  gpu.dispatch(encoder, gpu.pipeline(forwardCode, { constants: tile }), {
    params: [B, T, C, NH],
    buffers: [args.out, args.att, args.qkv],
    workgroups: [Math.ceil(T / tile.QB), NH, B],
  });
}

/** Record the attention backward pass: dqkv (overwrite) from dout. */
export function attentionBackward(gpu: Gpu, encoder: GPUCommandEncoder, args: AttentionBackwardArgs): void {
  const { B, T, C, NH } = args;
  const tile = tiling(args);
  const buffers = [args.dqkv, args.scratch, args.dout, args.qkv, args.att];
  const workgroups: [number, number, number] = [Math.ceil(T / tile.QB), NH, B];
  for (const entryPoint of ['queryRows', 'keyRows']) {
    gpu.dispatch(encoder, gpu.pipeline(backwardCode, { constants: tile, entryPoint }), {
      params: [B, T, C, NH],
      buffers,
      workgroups,
    });
  }
}

export interface AttentionDecodeArgs {
  /** (C) attention output for the new position */
  out: GPUBuffer;
  /** (NH, Tmax) this query's probabilities per head; 0 from position t on */
  probs: GPUBuffer;
  /** (C) the new position's query */
  q: GPUBuffer;
  /** (Tmax, C) cached keys and values, positions 0..t-1 filled (this position's included) */
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  /** cached positions, including this one (1 <= t <= Tmax) */
  t: number;
  C: number;
  NH: number;
  Tmax: number;
}

/** Record one generation step of attention: the newest position attending over the KV cache, all heads. */
export function attentionDecode(gpu: Gpu, encoder: GPUCommandEncoder, args: AttentionDecodeArgs): void {
  const { t, C, NH, Tmax } = args;
  tiling({ B: 1, T: t, C, NH });
  if (t < 1 || t > Tmax) throw new Error(`attentionDecode: ${t} cached positions do not fit a cache of ${Tmax}.`);
  gpu.dispatch(encoder, gpu.pipeline(decodeCode), {
    params: [t, C, NH, Tmax],
    buffers: [args.out, args.probs, args.q, args.kCache, args.vCache],
    workgroups: NH,
  });
}
