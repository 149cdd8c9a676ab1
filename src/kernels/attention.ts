import forwardCode from '../../shaders/attention_forward.wgsl?raw';
import backwardCode from '../../shaders/attention_backward.wgsl?raw';
import decodeCode from '../../shaders/attention_decode.wgsl?raw';
import { grid, packParams, type Gpu, type Binding, type Recorder } from '../gpu/runtime';
import { dropoutScale, dropoutThreshold } from './dropout';

export interface AttentionShape {
  B: number;
  T: number;
  C: number;
  NH: number;
}

/**
 * Dropout on the attention probabilities (nanoGPT's attn_dropout): the mask of
 * ./dropout.ts (dropoutMaskCpu(seed, salt, B * NH * T * T, p)), indexed by the
 * flat position of the probability in (B, NH, T, T). Forward and backward must
 * get the same spec and the same seed contents.
 */
export interface AttentionDropout {
  /** drop probability, 0 <= p < 1 (0 = no dropout) */
  p: number;
  /** a per-call-site constant, distinct from every other dropout site of the step */
  salt: number;
  /** u32[1]: the step's seed, written by the caller each step */
  seed: Binding;
}

export interface AttentionForwardArgs extends AttentionShape {
  /** (B, T, C) */
  out: Binding;
  /** (B, NH, T, T) probabilities, saved for backward and drawn as heatmaps; 0 above the diagonal */
  att: Binding;
  /** (B, T, 3C): q | k | v, head h at channels h*hs..(h+1)*hs of each */
  qkv: Binding;
  /** unused by the forward pass (accepted so callers can pass one scratch everywhere) */
  scratch?: Binding | null;
  /** out = (mask * att / (1 - p)) v; att stays the probabilities before dropout */
  dropout?: AttentionDropout | null;
}

export interface AttentionBackwardArgs extends AttentionShape {
  /** (B, T, 3C), overwritten */
  dqkv: Binding;
  /** (B, T, C) */
  dout: Binding;
  qkv: Binding;
  att: Binding;
  /** attentionScratchFloats(B, T, C, NH) floats: the score gradients */
  scratch: Binding;
  /** the forward's dropout spec, if it had one */
  dropout?: AttentionDropout | null;
}

/** Largest head size (C / NH) the kernels support. */
export const MAX_HEAD_SIZE = 128;

/** Checks the head size (C / NH) the kernels support. */
function checkHeads({ C, NH }: AttentionShape): void {
  if (C % NH !== 0) throw new Error(`Embedding width ${C} is not divisible by the number of heads ${NH}.`);
  const hs = C / NH;
  if (hs > MAX_HEAD_SIZE) {
    throw new Error(`Head size ${hs} (= ${C} / ${NH}) is larger than ${MAX_HEAD_SIZE}; use more heads or a narrower model.`);
  }
}

/** The uniform fields, the DROPOUT constant and the seed binding for an optional dropout spec. */
function variant(gpu: Gpu, { B, T, C, NH }: AttentionShape, dropout: AttentionDropout | null | undefined) {
  const on = !!dropout && dropout.p > 0;
  const params = on
    ? packParams([B, T, C, NH, dropoutThreshold(dropout.p), dropout.salt, { f32: dropoutScale(dropout.p) }])
    : packParams([B, T, C, NH, 0, 0, { f32: 1 }]);
  return { params, constants: { DROPOUT: on ? 1 : 0 }, seed: on ? dropout.seed : gpu.zeros() };
}

/** Query-key pairs of causal attention per (batch, head): T (T + 1) / 2. */
const causalPairs = (T: number) => (T * (T + 1)) / 2;

/** Floats of scratch attentionBackward needs: one (B, NH, T, T) tensor of score gradients. */
export const attentionScratchFloats = (B: number, T: number, _C: number, NH: number) => B * NH * T * T;

/** Floats attentionForward saves per layer for attentionBackward: the (B, NH, T, T) probabilities. */
export const attentionSavedFloats = (B: number, T: number, NH: number) => B * NH * T * T;

/** Record causal self-attention: att = softmax(q k^T / sqrt(hs) + mask), out = dropout(att) v. */
export function attentionForward(gpu: Gpu, encoder: Recorder, args: AttentionForwardArgs): void {
  const { B, T, NH } = args;
  checkHeads(args);
  const { params, constants, seed } = variant(gpu, args, args.dropout);
  gpu.dispatch(encoder, gpu.pipeline(forwardCode, { constants }), {
    params,
    buffers: [args.out, args.att, args.qkv, seed],
    workgroups: grid(Math.ceil((B * NH * T) / 64)),
    kernel: 'attention_forward',
    workgroupSize: 64,
    // per causal pair: q.k (2 hs), softmax (about 5), p v (2 hs)
    flops: B * NH * causalPairs(T) * (4 * (args.C / NH) + 5),
    // read qkv (B, T, 3C); write out (B, T, C) and att (B, NH, T, T)
    bytes: 4 * (4 * B * T * args.C + B * NH * T * T),
  });
}

/** Record the attention backward pass: dqkv (overwrite) from dout. */
export function attentionBackward(gpu: Gpu, encoder: Recorder, args: AttentionBackwardArgs): void {
  const { B, T, C, NH } = args;
  checkHeads(args);
  const { params, constants, seed } = variant(gpu, args, args.dropout);
  const buffers = [args.dqkv, args.scratch, args.dout, args.qkv, args.att, seed];
  const hs = C / NH;
  const pairs = B * NH * causalPairs(T);
  const BTC = B * T * C;
  const TT = B * NH * T * T;
  const plan = {
    // dp = dout.v (2 hs), D and ds (5), dq += ds k (2 hs) per pair; reads dout, q, k, v, att; writes ds, dq
    queryRows: { items: B * NH * T, kernel: 'attention_backward_query', flops: pairs * (4 * hs + 5), bytes: 4 * (5 * BTC + 2 * TT) },
    // dk += ds q (2 hs), dv += p dout (2 hs) per pair; reads ds, att, q, dout; writes dk, dv
    keyRows: { items: B * NH * Math.ceil(T / 4) * Math.ceil(hs / 4), kernel: 'attention_backward_key', flops: pairs * 4 * hs, bytes: 4 * (4 * BTC + 2 * TT) },
  };
  for (const entryPoint of ['queryRows', 'keyRows'] as const) {
    const { items, kernel, flops, bytes } = plan[entryPoint];
    gpu.dispatch(encoder, gpu.pipeline(backwardCode, { entryPoint, constants }), {
      params,
      buffers,
      workgroups: grid(Math.ceil(items / 64)),
      kernel,
      workgroupSize: 64,
      flops,
      bytes,
    });
  }
}

export interface AttentionDecodeArgs {
  /** (C) attention output for the new position */
  out: Binding;
  /** (NH, Tmax) this query's probabilities per head; 0 from position t on */
  probs: Binding;
  /** (C) the new position's query */
  q: Binding;
  /** (Tmax, C) cached keys and values, positions 0..t-1 filled (this position's included) */
  kCache: Binding;
  vCache: Binding;
  /** cached positions, including this one (1 <= t <= Tmax) */
  t: number;
  C: number;
  NH: number;
  Tmax: number;
}

/** Record one generation step of attention: the newest position attending over the KV cache, all heads. */
export function attentionDecode(gpu: Gpu, encoder: Recorder, args: AttentionDecodeArgs): void {
  const { t, C, NH, Tmax } = args;
  checkHeads({ B: 1, T: t, C, NH });
  if (t < 1 || t > Tmax) throw new Error(`attentionDecode: ${t} cached positions do not fit a cache of ${Tmax}.`);
  gpu.dispatch(encoder, gpu.pipeline(decodeCode), {
    params: [t, C, NH, Tmax],
    buffers: [args.out, args.probs, args.q, args.kCache, args.vCache],
    workgroups: Math.ceil(C / 64),
    kernel: 'attention_decode',
    workgroupSize: 64,
    // per head and cached position: q.k (2 hs), softmax (about 5), p v (2 hs)
    flops: t * (4 * C + 5 * NH),
    // read q (C) and t cached keys and values; write out (C) and the probabilities (NH, Tmax)
    bytes: 4 * (2 * C + 2 * t * C + NH * Tmax),
  });
}
