import forwardSource from '../../shaders/attention_forward.wgsl?raw';
import backwardSource from '../../shaders/attention_backward.wgsl?raw';
import decodeCode from '../../shaders/attention_decode.wgsl?raw';
import { grid, packParams, type Gpu, type Binding, type Recorder } from '../gpu/runtime';
import { dropoutScale, dropoutThreshold, withDropoutHash } from './dropout';

const forwardCode = withDropoutHash(forwardSource);
const backwardCode = withDropoutHash(backwardSource);

export interface AttentionShape {
  B: number;
  T: number;
  /** query width NH * hs (the output's width) */
  C: number;
  /** query heads */
  NH: number;
  /**
   * key/value heads (grouped-query attention: KV divides NH, query head h
   * reads key/value head h / (NH / KV)); NH when absent (multi-head attention)
   */
  KV?: number;
}

/** Width of a qkv row: C + 2 KV hs (3C with KV = NH). */
export const qkvWidth = ({ C, NH, KV = NH }: Pick<AttentionShape, 'C' | 'NH' | 'KV'>) => C + 2 * KV * (C / NH);

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
  /** (B, NH, T) logsumexp of each query row's scores, saved for backward */
  lse: Binding;
  /** (B, T, qkvWidth): q heads | k heads | v heads, head h at channels h*hs..(h+1)*hs of each part */
  qkv: Binding;
  /** out = (mask * att / (1 - p)) v */
  dropout?: AttentionDropout | null;
  /**
   * (B, NH, T, T): when given, also written with the probabilities before
   * dropout, exactly 0 above the diagonal (the attention views; never in training).
   */
  probs?: Binding | null;
}

export interface AttentionBackwardArgs extends AttentionShape {
  /** (B, T, qkvWidth), overwritten */
  dqkv: Binding;
  /** (B, NH, T) scratch: the row sums D = dout . out, written and read within this call */
  delta: Binding;
  /** (B, T, C) */
  dout: Binding;
  /** (B, T, qkvWidth), the forward's input */
  qkv: Binding;
  /** (B, T, C), the forward's output */
  out: Binding;
  /** (B, NH, T), the forward's logsumexp */
  lse: Binding;
  /** the forward's dropout spec, if it had one */
  dropout?: AttentionDropout | null;
}

/** Largest head size (C / NH) the kernels support. */
export const MAX_HEAD_SIZE = 128;

/** Checks the head size (C / NH) the kernels support. */
function checkHeads({ C, NH, KV = NH }: AttentionShape): void {
  if (C % NH !== 0) throw new Error(`Embedding width ${C} is not divisible by the number of heads ${NH}.`);
  if (!Number.isInteger(KV) || KV < 1 || NH % KV !== 0) {
    throw new Error(`The number of key/value heads ${KV} must divide the number of attention heads ${NH}.`);
  }
  const hs = C / NH;
  if (hs > MAX_HEAD_SIZE) {
    throw new Error(`Head size ${hs} (= ${C} / ${NH}) is larger than ${MAX_HEAD_SIZE}; use more heads or a narrower model.`);
  }
}

/** WebGPU's guaranteed workgroup memory; the attention tiles fit it on every adapter. */
const WORKGROUP_BYTES = 16384;

/**
 * Rows per tile for head size hs: the largest of 16, 8, 4 whose workgroup
 * memory (four row tiles of (TILE, KS) vec4 with KS = ceil(hs / 4) | 1, two
 * (TILE, TILE) score tiles and the row statistics, as in
 * attention_backward.wgsl) fits 16 KiB.
 */
export function attentionTile(hs: number): number {
  for (const tile of [16, 8, 4]) {
    const floats = 4 * tile * 4 * (Math.ceil(hs / 4) | 1) + 2 * tile * tile + 2 * tile + 64;
    if (floats * 4 <= WORKGROUP_BYTES) return tile;
  }
  throw new Error(`Head size ${hs} does not fit the attention kernels' workgroup memory.`);
}

/** The uniform fields, override constants and the seed binding for a shape and an optional dropout spec. */
function variant(gpu: Gpu, { B, T, C, NH, KV = NH }: AttentionShape, dropout: AttentionDropout | null | undefined) {
  const on = !!dropout && dropout.p > 0;
  const params = on
    ? packParams([B, T, C, NH, dropoutThreshold(dropout.p), dropout.salt, { f32: dropoutScale(dropout.p) }, KV])
    : packParams([B, T, C, NH, 0, 0, { f32: 1 }, KV]);
  const hs = C / NH;
  const tile = attentionTile(hs);
  const constants = { HS: hs, TILE: tile, DROPOUT: on ? 1 : 0 };
  const tiles = Math.ceil(T / tile);
  // the forward and the queries pass: one workgroup per (b, query head, tile); the keys pass per (b, key/value head, tile)
  return { params, constants, seed: on ? dropout.seed : gpu.zeros(), tile, workgroups: B * NH * tiles, keyWorkgroups: B * KV * tiles };
}

/** Floats of the (B, NH, T) logsumexp the forward saves, and of the backward's `delta` scratch. */
export const attentionRowFloats = (B: number, T: number, NH: number) => B * NH * T;

/** Query-key pairs on or below the diagonal, per (b, h). */
const causalPairs = (T: number) => (T * (T + 1)) / 2;

/** A small buffer bound as `att` when no probabilities are asked for (never written). */
const noProbs = new WeakMap<Gpu, GPUBuffer>();

/**
 * Record causal self-attention: att = softmax(q k^T / sqrt(hs) + mask),
 * out = dropout(att) v, and the logsumexp of each row for the backward pass.
 * Nothing of size (T, T) is stored unless `probs` is given.
 */
export function attentionForward(gpu: Gpu, encoder: Recorder, args: AttentionForwardArgs): void {
  const { B, T, C, NH } = args;
  checkHeads(args);
  const { params, constants, seed, workgroups } = variant(gpu, args, args.dropout);
  let probs = args.probs ?? null;
  if (!probs) {
    probs = noProbs.get(gpu) ?? gpu.buffer(16, 'attention: no probabilities');
    noProbs.set(gpu, probs);
  }
  const hs = C / NH;
  const pairs = B * NH * causalPairs(T);
  const want = !!args.probs;
  gpu.dispatch(encoder, gpu.pipeline(forwardCode, { constants: { ...constants, PROBS: want ? 1 : 0 } }), {
    params,
    buffers: [args.out, args.lse, args.qkv, seed, probs],
    workgroups: grid(workgroups),
    kernel: want ? 'attention_forward_probs' : 'attention_forward',
    workgroupSize: 64,
    // q.k and p.v (2 hs each), the online softmax (about 5); the views add q.k and exp again
    flops: pairs * (4 * hs + 5) + (want ? pairs * (2 * hs + 2) : 0),
    // q, k, v read; out and lse written (and the probabilities, if asked)
    bytes: 4 * (B * T * qkvWidth(args) + B * T * C + B * NH * T + (want ? B * NH * T * T : 0)),
  });
}

/**
 * Record the attention backward pass: dqkv (overwrite) from dout, recomputing
 * the probabilities from q, k and the forward's logsumexp (two passes:
 * dq with the row sums D, then dk and dv).
 */
export function attentionBackward(gpu: Gpu, encoder: Recorder, args: AttentionBackwardArgs): void {
  const { B, T, C, NH } = args;
  checkHeads(args);
  const { params, constants, seed, workgroups, keyWorkgroups } = variant(gpu, args, args.dropout);
  const hs = C / NH;
  const W = qkvWidth(args);
  const pairs = B * NH * causalPairs(T);
  const rows = B * NH * T;
  const shared = [args.dqkv, args.delta, args.lse, args.dout, args.qkv, seed];
  gpu.dispatch(encoder, gpu.pipeline(backwardCode, { entryPoint: 'queries', constants }), {
    params,
    buffers: [...shared, args.out],
    workgroups: grid(workgroups),
    kernel: 'attention_backward_dq',
    workgroupSize: 64,
    // D (2 hs per row); per pair q.k, dout.v, dS k (2 hs each) and the softmax gradient (about 6)
    flops: rows * 2 * hs + pairs * (6 * hs + 6),
    // q, k, v, dout, out, lse read; dq and D written
    bytes: 4 * (B * T * W + 2 * B * T * C + rows + B * T * C + rows),
  });
  gpu.dispatch(encoder, gpu.pipeline(backwardCode, { entryPoint: 'keys', constants }), {
    params,
    buffers: shared,
    workgroups: grid(keyWorkgroups),
    kernel: 'attention_backward_dkdv',
    workgroupSize: 64,
    // per pair q.k, dout.v, dS q, m P dout (2 hs each) and the softmax gradient (about 6)
    flops: pairs * (8 * hs + 6),
    // q, k, v, dout, lse, D read; dk and dv written
    bytes: 4 * (B * T * W + B * T * C + 2 * rows + (W - C) * B * T),
  });
}

export interface AttentionDecodeArgs {
  /** (C) attention output for the new position */
  out: Binding;
  /** (NH, Tmax) this query's probabilities per head; 0 from position t on */
  probs: Binding;
  /** (C) the new position's query */
  q: Binding;
  /** (Tmax, KV * hs) cached keys and values, positions 0..t-1 filled (this position's included) */
  kCache: Binding;
  vCache: Binding;
  /** cached positions, including this one (1 <= t <= Tmax) */
  t: number;
  C: number;
  NH: number;
  /** key/value heads (grouped-query attention); NH when absent */
  KV?: number;
  Tmax: number;
}

/** Record one generation step of attention: the newest position attending over the KV cache, all heads. */
export function attentionDecode(gpu: Gpu, encoder: Recorder, args: AttentionDecodeArgs): void {
  const { t, C, NH, Tmax, KV = NH } = args;
  checkHeads({ B: 1, T: t, C, NH, KV });
  if (t < 1 || t > Tmax) throw new Error(`attentionDecode: ${t} cached positions do not fit a cache of ${Tmax}.`);
  gpu.dispatch(encoder, gpu.pipeline(decodeCode), {
    params: [t, C, NH, Tmax, KV],
    buffers: [args.out, args.probs, args.q, args.kCache, args.vCache],
    workgroups: Math.ceil(C / 64),
    kernel: 'attention_decode',
    workgroupSize: 64,
    // per head and cached position: q.k (2 hs), softmax (about 5), p v (2 hs)
    flops: t * (4 * C + 5 * NH),
    // read q (C) and t cached keys and values; write out (C) and the probabilities (NH, Tmax)
    bytes: 4 * (2 * C + 2 * t * KV * (C / NH) + NH * Tmax),
  });
}
