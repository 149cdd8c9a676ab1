// Autoregressive decoding of the GPU GPT with a key/value cache: each pushed
// token runs the network for ONE row (the new position t) and attends over the
// keys and values of positions 0..t kept on the GPU, instead of a full forward
// over the whole context. Same weights, same block forward (./block.ts) as
// ./gpt.ts, so the logits match the full forward's last row up to float32
// summation order.
//
// Per push at position t (< blockSize), all in ONE compute pass:
//   x = wte[id] + wpe[t]                                    (C)   embedding_forward, pos0 = t
//   per layer l: blockForward with N = 1, whose attention is
//     kCache[l][t] = qkv[C..2C]; vCache[l][t] = qkv[2C..3C]       kv_append
//     y = attentionDecode(q = qkv[0..C], kCache[l], vCache[l])   (C)
//   logits = ln_f(x) lm_head^T                              (V)   read back (one copy after the pass)
// The token id reaches the GPU through a 4-byte buffer written on the queue
// before the submit (queue order keeps pushes in flight apart).
//
// Buffers are allocated once per decoder (the caches are (blockSize, C) per
// layer for K and for V) and freed by dispose(). The weights are the model's
// own parameter ranges of its flat buffer, read at submit time: a decoder made after a training
// step sees the new weights (the GPU queue orders the step before the push).
// Positions cached before an update keep the keys and values of the old
// weights, so make a new decoder after training when exact logits matter.

import type { ForwardHooks } from './hooks';
import type { Gpu } from '../gpu/runtime';
import { attentionDecode } from '../kernels/attention';
import { embeddingForward } from '../kernels/embedding';
import { kvAppend } from '../kernels/kvAppend';
import { blockForward, type BlockActivations, type BlockLora, type BlockWeights } from './block';
import { DEFAULT_ROPE_THETA, RMS_NORM_EPS, type ModelConfig } from './config';
import { blockDims, blockKind, blockWeightNames, lmHeadName, roleName } from './description';
import { headForward } from './head';
import { llamaBlockForward, type LlamaShape } from './llamaBlock';

/** Incremental decoding with a key/value cache, when the model offers one. */
export interface Decoder {
  /** Feed one token at the next position; logits (V) for the token after it. */
  push(id: number): Promise<Float32Array>;
  /** Positions filled so far. */
  readonly length: number;
  dispose(): void;
}

/** A parameter tensor as a byte range of the flat parameter buffer. */
export interface WeightRange {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

/** A parameter range by nanoGPT name (null for an absent bias). */
export type WeightLookup = (name: string) => WeightRange | null;

interface LayerCache {
  k: GPUBuffer; // (blockSize, C)
  v: GPUBuffer; // (blockSize, C)
}

export class GptDecoder implements Decoder {
  private filled = 0;
  private disposed = false;

  private readonly owned: GPUBuffer[] = [];
  private readonly tokenId: GPUBuffer; // (1) i32, the pushed token
  private readonly x: GPUBuffer; // (C) residual stream entering a layer (and leaving the last)
  private readonly res: GPUBuffer; // (C) residual stream after attention
  private readonly ln: GPUBuffer; // (C) LayerNorm output (ln_1, ln_2, ln_f in turn)
  private readonly mean: GPUBuffer; // (1)
  private readonly rstd: GPUBuffer; // (1)
  private readonly qkv: GPUBuffer; // (3C)
  private readonly atty: GPUBuffer; // (C)
  private readonly probs: GPUBuffer; // (NH, blockSize)
  private readonly proj: GPUBuffer; // (C) c_proj / mlp.c_proj output before the residual add
  private readonly fch: GPUBuffer; // (4C)
  private readonly fcha: GPUBuffer; // (4C)
  private readonly logitsBuf: GPUBuffer; // (V)
  private readonly caches: LayerCache[] = [];
  /** The LLaMA block's shape for one row, or null (GPT-2 block). */
  private readonly llama: LlamaShape | null;
  private readonly staging: GPUBuffer[] = []; // free MAP_READ buffers of V floats

  constructor(
    private readonly gpu: Gpu,
    readonly config: ModelConfig,
    private readonly weight: WeightLookup,
    private readonly onDispose: (d: GptDecoder) => void = () => undefined,
    /** Layer l's LoRA adapters at the model's current strength (read at each push), or none. */
    private readonly lora: (l: number) => BlockLora | null = () => null,
    /** The model's live interventions (read at each push), or none. */
    private readonly hooks: () => ForwardHooks | null = () => null,
  ) {
    const { nLayer: L, nHead: NH, nEmbd: C, blockSize: T, vocabSize: V } = config;
    const dims = blockDims(config);
    this.llama = blockKind(config) === 'llama'
      ? { ...dims, T: 1, theta: config.ropeTheta ?? DEFAULT_ROPE_THETA, eps: config.rmsNormEps ?? RMS_NORM_EPS }
      : null;
    const f = (floats: number, label: string) => {
      const b = gpu.buffer(4 * floats, `decoder ${label}`);
      this.owned.push(b);
      return b;
    };
    this.tokenId = f(1, 'token id');
    this.x = f(C, 'residual');
    this.res = f(C, 'residual after attention');
    this.ln = f(C, 'layernorm');
    this.mean = f(1, 'ln mean');
    this.rstd = f(1, 'ln rstd');
    this.qkv = f(dims.qkv, 'qkv');
    this.atty = f(C, 'atty');
    this.probs = f(NH * T, 'att probs');
    this.proj = f(C, 'proj');
    this.fch = f(dims.mlpIn, 'fch');
    this.fcha = f(dims.mlpHidden, 'fch act');
    this.logitsBuf = f(V, 'logits');
    const kvRow = dims.KV * dims.D;
    for (let l = 0; l < L; l++) this.caches.push({ k: f(T * kvRow, `h${l} k cache`), v: f(T * kvRow, `h${l} v cache`) });
  }

  /** Positions filled so far (pushes submitted). */
  get length(): number {
    return this.filled;
  }

  /** Bytes of the GPU buffers this decoder holds (staging included). */
  liveBytes(): number {
    return [...this.owned, ...this.staging].reduce((s, b) => s + b.size, 0);
  }

  /**
   * Feed token `id` at the next position; resolves with the logits (V) for the
   * token after it. Recorded and submitted at once, so pushes and training
   * steps run in the order they were called.
   */
  async push(id: number): Promise<Float32Array> {
    const { blockSize: T, vocabSize: V } = this.config;
    if (this.disposed) throw new Error('This decoder was disposed; make a new one with model.decoder().');
    if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new Error(`Token id ${id} is outside the vocabulary (0..${V - 1}).`);
    if (this.filled >= T) {
      throw new Error(`The key/value cache holds ${T} positions (the block size) and is full; run a full forward over the last ${T} tokens instead.`);
    }
    const t = this.filled;
    const staging = this.takeStaging();
    this.gpu.write(this.tokenId, Int32Array.of(id));
    const encoder = this.gpu.device.createCommandEncoder({ label: `decode position ${t}` });
    const pass = encoder.beginComputePass({ label: `decode position ${t}` });
    this.record(pass, t);
    pass.end();
    encoder.copyBufferToBuffer(this.logitsBuf, 0, staging, 0, 4 * V);
    this.gpu.device.queue.submit([encoder.finish()]);
    this.filled = t + 1;

    try {
      await staging.mapAsync(GPUMapMode.READ);
      const logits = new Float32Array(staging.getMappedRange().slice(0));
      staging.unmap();
      return logits;
    } finally {
      if (this.disposed) staging.destroy();
      else this.staging.push(staging);
    }
  }

  /** Free every buffer (staging buffers still being read are freed when their read ends). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of this.owned) this.gpu.destroy(b);
    for (const b of this.staging) b.destroy();
    this.owned.length = 0;
    this.staging.length = 0;
    this.caches.length = 0;
    this.onDispose(this);
  }

  private record(enc: GPUComputePassEncoder, t: number): void {
    const { gpu, config } = this;
    const { nLayer: L, nHead: NH, nEmbd: C, blockSize: T, vocabSize: V } = config;
    const w = (name: string) => {
      const b = this.weight(name);
      if (!b) throw new Error(`The model has no parameter ${name}; was it destroyed?`);
      return b;
    };
    const opt = (name: string) => this.weight(name);
    const wte = w(roleName(config, 'tokenEmbedding')!);
    const wpeName = roleName(config, 'positionEmbedding');
    // x = wte[id] + wpe[t] (C); rotary models: the token row alone
    embeddingForward(gpu, enc, { out: this.x, tokens: this.tokenId, wte, wpe: wpeName ? w(wpeName) : null, B: 1, T: 1, C, pos0: t });

    // One row: ln_1, ln_2 (and later ln_f) share a buffer, as do their statistics.
    const acts: BlockActivations = {
      ln1: this.ln, ln1Mean: this.mean, ln1Rstd: this.rstd, qkv: this.qkv, atty: this.atty, res2: this.res,
      ln2: this.ln, ln2Mean: this.mean, ln2Rstd: this.rstd, fch: this.fch, fcha: this.fcha, out: this.x,
    };
    const hooks = this.hooks();
    const KV = this.llama?.KV ?? NH;
    const kvRow = KV * (C / NH); // floats of one position's keys (or values)
    for (let l = 0; l < L; l++) {
      const names = blockWeightNames(config, l);
      const req = (n: string | undefined) => w(n!);
      const get = (n: string | undefined) => (n === undefined ? null : opt(n));
      const weights: BlockWeights = {
        ln1w: req(names.ln1w), ln1b: get(names.ln1b), attnW: req(names.attnW), attnB: get(names.attnB),
        projW: req(names.projW), projB: get(names.projB), ln2w: req(names.ln2w), ln2b: get(names.ln2b),
        fcW: req(names.fcW), fcB: get(names.fcB), mprojW: req(names.mprojW), mprojB: get(names.mprojB),
      };
      const cache = this.caches[l];
      // q heads | k heads | v heads: this position's keys and values join the cache, then the query attends over it.
      const attend = () => {
        kvAppend(gpu, enc, { kCache: cache.k, vCache: cache.v, qkv: this.qkv, n: kvRow, qOff: C, pos: t, Tmax: T });
        // q is the first C floats of qkv; the kernel reads only those.
        attentionDecode(gpu, enc, { out: this.atty, probs: this.probs, q: this.qkv, kCache: cache.k, vCache: cache.v, t: t + 1, C, NH, KV, Tmax: T }); // (C)
      };
      if (this.llama) llamaBlockForward(gpu, enc, { inp: this.x, acts, w: weights, N: 1, shape: this.llama, pos0: t, attend, lora: this.lora(l), hooks: hooks?.layer(l) });
      else blockForward(gpu, enc, { inp: this.x, acts, w: weights, proj: this.proj, N: 1, C, activation: config.activation, dropout: null, lora: this.lora(l), attend, hooks: hooks?.layer(l) });
    }
    headForward(gpu, enc, {
      logits: this.logitsBuf, inp: this.x, acts: { lnf: this.ln, mean: this.mean, rstd: this.rstd },
      w: { normW: w(roleName(config, 'normF')!), normB: this.weight(roleName(config, 'normFBias') ?? ''), lmHead: w(lmHeadName(config)) },
      shape: { N: 1, C, V, rmsEps: this.llama ? this.llama.eps : null },
    }); // (V)
  }

  private takeStaging(): GPUBuffer {
    return (
      this.staging.pop() ??
      this.gpu.device.createBuffer({
        size: 4 * this.config.vocabSize,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        label: 'decoder logits readback',
      })
    );
  }
}
