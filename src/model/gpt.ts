// The GPT (nanoGPT's architecture) on WebGPU, built from the kernels in
// src/kernels. llm.c's structure: every buffer is allocated once per
// (config, batch size); one training step (zero grads, forward, backward,
// global grad norm, AdamW) is recorded into ONE command encoder and submitted
// once; nothing is read back inside the step.
//
// API (driven by the engine worker):
//   const model = new GptModel(gpu, config, batchSize, { params?, seed? });
//   model.step({ x, y }, hyper)  -> Promise<{ loss, gradNorm, doneAt }>
//       x, y: Int32Array (B*T). hyper: StepHyper (lr, betas, eps, weightDecay,
//       gradClip (0 = off), t (AdamW step, from 1), dropoutSeed). Returns at
//       once after submitting; the promise resolves when the GPU is done and
//       the loss / grad norm (before clipping) came back through a small
//       staging ring. Steps submitted back to back run in order.
//   stepHyper(train, it)         -> the StepHyper of 0-based step `it` (lr schedule:
//                                   constant, or linear warmup + cosine decay to minLr)
//   model.evalLoss({ x, y })     -> mean loss, no dropout, no backward, no update
//   model.inspect({ x, y }, dropoutSeed?) -> { loss, logits (B*T, V), grads (P) }:
//                                   forward + backward without an update (tests, debugging)
//   model.forwardPrompt(ids, { attention }) -> { logits (V) of the last position,
//       att (nLayer, nHead, T, T) probabilities } for one sequence (B = 1,
//       T = ids.length <= blockSize); rows are queries, zero above the diagonal
//   model.logits(ids) / model.attention(ids): the two halves of forwardPrompt
//   step(batch, { ...hyper, health: true }) also returns health (tensors, 4): per parameter
//                                   tensor sum g^2, sum w_old^2, sum du^2 of that step
//   model.probe(ids)             -> { lens (L, T, V), att (L, NH, T, T), losses (T-1) }: the logit
//                                   lens after every block and per-position losses for one sequence
//   model.decoder()              -> a KV-cache decoder (./decoder.ts): push(id) -> logits (V)
//                                   of the next token, one row of work per token, up to
//                                   blockSize positions; dispose() frees its buffers
//   model.readState() / writeState({ params, m, v, step }): the whole training
//       state as flat Float32Arrays in the layout of ./layout.ts
//   model.tensors()              -> the named parameter tensors (nanoGPT names)
//   model.liveBytes()            -> bytes of GPU buffers this model holds
//   model.finish() / destroy()
//
// Dropout (when config.dropout > 0, training steps only) follows nanoGPT on
// the embeddings, on the attention probabilities and on both residual
// branches, with masks hashed from the step's seed (salts: 0 embeddings,
// 1 + 2l / 2 + 2l layer l's attention / MLP branch, ATTENTION_DROPOUT_SALT + l
// layer l's attention probabilities).
//
// The kernels bind whole buffers, so each parameter tensor and its gradient
// has its own buffer; per step the gradients are copied into one flat buffer
// (the global norm and AdamW walk it as two ranges: decayed, not decayed) and
// the updated flat parameters are copied back into the per-tensor buffers.

import type { Gpu } from '../gpu/runtime';
import { activationBackward, activationForward } from '../kernels/activation';
import { adamw, gradNorm, gradNormScratchFloats } from '../kernels/adamw';
import { attentionBackward, attentionForward, attentionScratchFloats } from '../kernels/attention';
import { biasBackward } from '../kernels/biasBackward';
import { crossEntropyBackward, crossEntropyForward, meanLoss } from '../kernels/crossEntropy';
import { dropoutBackward, dropoutForward } from '../kernels/dropout';
import { add } from '../kernels/elementwise';
import { embeddingBackward, embeddingForward } from '../kernels/embedding';
import { layerNormBackward, layerNormForward } from '../kernels/layerNorm';
import { matmul } from '../kernels/matmul';
import { healthTable, tensorHealth, type HealthTable } from '../kernels/tensorHealth';
import { learningRate } from '../engine/schedule';
import type { ModelConfig, TrainConfig } from './config';
import { GptDecoder } from './decoder';
import { initParams, paramLayout, type ParamLayout, type ParamTensor } from './layout';

/** Dropout salt of layer 0's attention probabilities (layer l: + l), apart from the 1 + 2l / 2 + 2l of the branches. */
export const ATTENTION_DROPOUT_SALT = 0x10000;

export interface TokenBatch {
  /** (B*T) input ids */
  x: Int32Array;
  /** (B*T) next-token targets */
  y: Int32Array;
}

export interface StepHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Global gradient-norm clip, 0 = off. */
  gradClip: number;
  /** AdamW's step count, from 1 (bias correction). */
  t: number;
  /** Seeds this step's dropout masks. */
  dropoutSeed: number;
  /** Also measure each parameter tensor's health (GptModel.recordHealth) after this step. */
  health?: boolean;
}

export interface StepResult {
  loss: number;
  /** Global gradient L2 norm before clipping. */
  gradNorm: number;
  /** performance.now() when the readback arrived. */
  doneAt: number;
  /** With hyper.health: (tensors, 4) sums of squares of gradient, weight before the step, update, 0 per tensor of tensors(). */
  health?: Float32Array;
}

/** What GptModel.probe returns for one sequence of T tokens. */
export interface ProbeResult {
  T: number;
  /** (L, T, V) logits of ln_f + lm_head after each block; layer L-1 is the model's output. */
  lens: Float32Array;
  /** (L, NH, T, T) attention probabilities, rows = queries. */
  att: Float32Array;
  /** (T-1) cross-entropy in nats of ids[t+1] given ids[0..t]. */
  losses: Float32Array;
}

export interface ModelState {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  /** AdamW steps taken. */
  step: number;
}

/** The hyper-parameters of 0-based step `it` under a training config. */
export function stepHyper(train: TrainConfig, it: number): StepHyper {
  return {
    lr: learningRate(it, train),
    beta1: train.beta1,
    beta2: train.beta2,
    eps: train.eps,
    weightDecay: train.weightDecay,
    gradClip: train.gradClip,
    t: it + 1,
    dropoutSeed: (Math.imul(train.seed >>> 0, 0x9e3779b1) + it) >>> 0,
  };
}

/** Activations one layer keeps for backward. */
interface LayerActs {
  ln1: GPUBuffer; // (BT, C)
  ln1Mean: GPUBuffer; // (BT)
  ln1Rstd: GPUBuffer; // (BT)
  qkv: GPUBuffer; // (BT, 3C)
  att: GPUBuffer; // (B, NH, T, T)
  atty: GPUBuffer; // (BT, C)
  res2: GPUBuffer; // (BT, C)
  ln2: GPUBuffer; // (BT, C)
  ln2Mean: GPUBuffer; // (BT)
  ln2Rstd: GPUBuffer; // (BT)
  fch: GPUBuffer; // (BT, 4C)
  fcha: GPUBuffer; // (BT, 4C)
  res3: GPUBuffer; // (BT, C)
}

/** The per-layer parameter (or gradient) buffers. */
interface LayerParams {
  ln1w: GPUBuffer; ln1b: GPUBuffer | null;
  attnW: GPUBuffer; attnB: GPUBuffer | null;
  projW: GPUBuffer; projB: GPUBuffer | null;
  ln2w: GPUBuffer; ln2b: GPUBuffer | null;
  fcW: GPUBuffer; fcB: GPUBuffer | null;
  mprojW: GPUBuffer; mprojB: GPUBuffer | null;
}

const READBACK_BYTES = 8; // loss, grad norm (f32 each)

export class GptModel {
  readonly layout: ParamLayout;
  readonly paramCount: number;
  /** AdamW steps taken (the t of the last step). */
  stepsTaken = 0;

  private readonly owned: GPUBuffer[] = [];
  // Parameters and gradients: one buffer per tensor (kernels bind whole buffers) ...
  private readonly param = new Map<string, GPUBuffer>();
  private readonly grad = new Map<string, GPUBuffer>();
  // ... and the flat copies the optimizer walks, with both moments.
  private readonly flatParams: GPUBuffer; // (P)
  private readonly flatGrads: GPUBuffer; // (P)
  private readonly m: GPUBuffer; // (P)
  private readonly v: GPUBuffer; // (P)
  private readonly normScratch: GPUBuffer;
  private readonly norm: GPUBuffer; // f32[1]
  private readonly hyper: GPUBuffer; // f32[8]
  private readonly seed: GPUBuffer; // u32[1]

  // Activations (training shapes; prompts and evals use a prefix of them).
  private readonly tokens: GPUBuffer; // (BT) i32
  private readonly targets: GPUBuffer; // (BT) i32
  private readonly encoded: GPUBuffer; // (BT, C)
  private readonly encodedDrop: GPUBuffer | null; // (BT, C)
  private readonly layers: LayerActs[] = [];
  private readonly lnf: GPUBuffer; // (BT, C)
  private readonly lnfMean: GPUBuffer; // (BT)
  private readonly lnfRstd: GPUBuffer; // (BT)
  private readonly logitsBuf: GPUBuffer; // (BT, V)
  private readonly losses: GPUBuffer; // (BT)
  private readonly loss: GPUBuffer; // f32[1]

  // Scratch shared by all layers.
  private readonly proj: GPUBuffer; // (BT, C) projection output before the residual add
  private readonly projDrop: GPUBuffer | null; // (BT, C)
  private readonly dDrop: GPUBuffer | null; // (BT, C) gradient through a dropout
  private readonly dlogits: GPUBuffer; // (BT, V)
  private readonly dres: GPUBuffer; // (BT, C) gradient of the residual stream
  private readonly dC: GPUBuffer; // (BT, C) d(layernorm output) / d atty
  private readonly dqkv: GPUBuffer; // (BT, 3C)
  private readonly d4a: GPUBuffer; // (BT, 4C) d(fch after activation)
  private readonly d4b: GPUBuffer; // (BT, 4C) d fch
  private readonly attScratch: GPUBuffer; // (B, NH, T, T)
  private readonly promptOut: GPUBuffer; // (L*NH*T*T + V) readback of a prompt forward
  private lensOut: GPUBuffer | null = null; // (L, blockSize, V) logit lens, allocated on the first probe
  private health: { table: HealthTable; out: GPUBuffer; partial: GPUBuffer; chunks: GPUBuffer; firstChunk: GPUBuffer } | null = null;

  private readonly staging: GPUBuffer[] = []; // free MAP_READ buffers of READBACK_BYTES
  private readonly decoders = new Set<GptDecoder>(); // live, disposed with the model

  constructor(
    private readonly gpu: Gpu,
    readonly config: ModelConfig,
    readonly batchSize: number,
    options: { params?: Float32Array; seed?: number } = {},
  ) {
    const { nLayer: L, nHead: NH, nEmbd: C, blockSize: T, vocabSize: V, dropout } = config;
    const B = batchSize;
    const BT = B * T;
    this.layout = paramLayout(config);
    const P = (this.paramCount = this.layout.total);
    const f = (floats: number, label: string) => this.alloc(4 * floats, label);
    const drop = dropout > 0;

    for (const t of this.layout.tensors) {
      this.param.set(t.name, f(t.size, t.name));
      this.grad.set(t.name, f(t.size, `grad ${t.name}`));
    }
    this.flatParams = f(P, 'params');
    this.flatGrads = f(P, 'grads');
    this.m = f(P, 'adam m');
    this.v = f(P, 'adam v');
    this.normScratch = f(gradNormScratchFloats(P), 'grad norm scratch');
    this.norm = f(1, 'grad norm');
    this.hyper = f(8, 'adamw hyper');
    this.seed = f(1, 'dropout seed');

    this.tokens = f(BT, 'tokens');
    this.targets = f(BT, 'targets');
    this.encoded = f(BT * C, 'encoded');
    this.encodedDrop = drop ? f(BT * C, 'encoded dropout') : null;
    for (let l = 0; l < L; l++) {
      this.layers.push({
        ln1: f(BT * C, `h${l} ln1`), ln1Mean: f(BT, `h${l} ln1 mean`), ln1Rstd: f(BT, `h${l} ln1 rstd`),
        qkv: f(BT * 3 * C, `h${l} qkv`),
        att: f(B * NH * T * T, `h${l} att`),
        atty: f(BT * C, `h${l} atty`),
        res2: f(BT * C, `h${l} res2`),
        ln2: f(BT * C, `h${l} ln2`), ln2Mean: f(BT, `h${l} ln2 mean`), ln2Rstd: f(BT, `h${l} ln2 rstd`),
        fch: f(BT * 4 * C, `h${l} fch`),
        fcha: f(BT * 4 * C, `h${l} fch act`),
        res3: f(BT * C, `h${l} res3`),
      });
    }
    this.lnf = f(BT * C, 'ln_f');
    this.lnfMean = f(BT, 'ln_f mean');
    this.lnfRstd = f(BT, 'ln_f rstd');
    this.logitsBuf = f(BT * V, 'logits');
    this.losses = f(BT, 'losses');
    this.loss = f(1, 'loss');

    this.proj = f(BT * C, 'proj');
    this.projDrop = drop ? f(BT * C, 'proj dropout') : null;
    this.dDrop = drop ? f(BT * C, 'd dropout') : null;
    this.dlogits = f(BT * V, 'dlogits');
    this.dres = f(BT * C, 'd residual');
    this.dC = f(BT * C, 'd ln');
    this.dqkv = f(BT * 3 * C, 'dqkv');
    this.d4a = f(BT * 4 * C, 'd fch act');
    this.d4b = f(BT * 4 * C, 'd fch');
    this.attScratch = f(attentionScratchFloats(B, T, C, NH), 'attention scratch');
    this.promptOut = f(L * NH * T * T + V, 'prompt readback');

    this.writeState({
      params: options.params ?? initParams(this.layout, options.seed ?? 1337),
      m: new Float32Array(P),
      v: new Float32Array(P),
      step: 0,
    });
  }

  // ------------------------------------------------------------------ public API

  /** Record and submit one training step; resolves with its loss and grad norm once the GPU is done. */
  step(batch: TokenBatch, hyper: StepHyper): Promise<StepResult> {
    const { batchSize: B } = this;
    const T = this.config.blockSize;
    this.writeTokens(batch, B * T);
    const h = hyper;
    this.gpu.write(
      this.hyper,
      Float32Array.of(h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.gradClip, 1 - h.beta1 ** h.t, 1 - h.beta2 ** h.t),
    );
    this.gpu.write(this.seed, Uint32Array.of(h.dropoutSeed >>> 0));
    this.stepsTaken = h.t;

    const staging = this.takeStaging();
    const encoder = this.gpu.device.createCommandEncoder({ label: 'train step' });
    for (const g of this.grad.values()) encoder.clearBuffer(g);
    this.recordForward(encoder, B, T, this.config.dropout);
    this.recordLoss(encoder, B * T);
    this.recordBackward(encoder, B, T, this.config.dropout);
    this.recordUpdate(encoder);
    encoder.copyBufferToBuffer(this.loss, 0, staging, 0, 4);
    encoder.copyBufferToBuffer(this.norm, 0, staging, 4, 4);
    this.gpu.device.queue.submit([encoder.finish()]);
    const health = h.health ? this.recordHealth() : null;
    return this.readStaging(staging).then(async ([loss, norm]) => ({
      loss, gradNorm: norm, doneAt: performance.now(), ...(health ? { health: await health } : {}),
    }));
  }

  /**
   * Forward and backward of one batch without an update, for tests and
   * inspection: the mean loss, the logits (B*T, V) and the flat gradients (P)
   * in the parameter layout. Dropout only when a seed is given.
   */
  async inspect(batch: TokenBatch, dropoutSeed?: number): Promise<{ loss: number; logits: Float32Array; grads: Float32Array }> {
    const B = this.batchSize;
    const T = this.config.blockSize;
    const BT = B * T;
    this.writeTokens(batch, BT);
    const p = dropoutSeed === undefined ? 0 : this.config.dropout;
    if (dropoutSeed !== undefined) this.gpu.write(this.seed, Uint32Array.of(dropoutSeed >>> 0));
    const encoder = this.gpu.device.createCommandEncoder({ label: 'inspect' });
    for (const g of this.grad.values()) encoder.clearBuffer(g);
    this.recordForward(encoder, B, T, p);
    this.recordLoss(encoder, BT);
    this.recordBackward(encoder, B, T, p);
    this.recordGather(encoder);
    this.gpu.device.queue.submit([encoder.finish()]);
    const [loss, logits, grads] = await Promise.all([
      this.gpu.readF32(this.loss, 1),
      this.gpu.readF32(this.logitsBuf, BT * this.config.vocabSize),
      this.gpu.readF32(this.flatGrads, this.paramCount),
    ]);
    return { loss: loss[0], logits, grads };
  }

  /** Mean loss on a batch: forward only, no dropout. */
  async evalLoss(batch: TokenBatch): Promise<number> {
    const B = this.batchSize;
    const T = this.config.blockSize;
    this.writeTokens(batch, B * T);
    const staging = this.takeStaging();
    const encoder = this.gpu.device.createCommandEncoder({ label: 'eval' });
    this.recordForward(encoder, B, T, 0);
    this.recordLoss(encoder, B * T);
    encoder.copyBufferToBuffer(this.loss, 0, staging, 0, 4);
    this.gpu.device.queue.submit([encoder.finish()]);
    return (await this.readStaging(staging))[0];
  }

  /**
   * Forward of one sequence (B = 1, T = ids.length): the logits (V) of the last
   * position and, when asked, the attention probabilities (L, NH, T, T).
   */
  async forwardPrompt(ids: Int32Array, opts: { attention?: boolean } = {}): Promise<{ logits: Float32Array; att: Float32Array | null }> {
    const { nLayer: L, nHead: NH, blockSize, vocabSize: V } = this.config;
    const T = ids.length;
    if (T < 1 || T > blockSize) throw new Error(`A prompt must hold 1 to ${blockSize} tokens, got ${T}.`);
    for (const id of ids) if (!(id >= 0 && id < V)) throw new Error(`Token id ${id} is outside the vocabulary (0..${V - 1}).`);
    this.gpu.write(this.tokens, ids);
    const encoder = this.gpu.device.createCommandEncoder({ label: 'prompt forward' });
    this.recordForward(encoder, 1, T, 0);
    const attFloats = opts.attention ? L * NH * T * T : 0;
    if (opts.attention) {
      for (let l = 0; l < L; l++) encoder.copyBufferToBuffer(this.layers[l].att, 0, this.promptOut, 4 * l * NH * T * T, 4 * NH * T * T);
    }
    encoder.copyBufferToBuffer(this.logitsBuf, 4 * (T - 1) * V, this.promptOut, 4 * attFloats, 4 * V);
    this.gpu.device.queue.submit([encoder.finish()]);
    const out = new Float32Array(await this.gpu.read(this.promptOut, 0, 4 * (attFloats + V)));
    return { logits: out.slice(attFloats), att: opts.attention ? out.slice(0, attFloats) : null };
  }

  /** Next-token logits (V) after `ids`. */
  async logits(ids: Int32Array): Promise<Float32Array> {
    return (await this.forwardPrompt(ids)).logits;
  }

  /** Attention probabilities (nLayer, nHead, T, T) for `ids`. */
  async attention(ids: Int32Array): Promise<Float32Array> {
    return (await this.forwardPrompt(ids, { attention: true })).att!;
  }

  /**
   * A key/value-cache decoder over this model's weights as of each push (see
   * ./decoder.ts): logits after each pushed token equal logits(prefix).
   */
  decoder(): GptDecoder {
    if (!this.owned.length) throw new Error('This model was destroyed; it cannot decode.');
    const d = new GptDecoder(this.gpu, this.config, (name) => this.param.get(name) ?? null, (x) => this.decoders.delete(x));
    this.decoders.add(d);
    return d;
  }

  // ------------------------------------------------------------------ interpretability probe

  /**
   * Forward of one sequence (B = 1, T = ids.length <= blockSize) for the
   * inspection views: the logit lens (L, T, V) (ln_f and lm_head applied to the
   * residual stream after each block; its last layer is the model's logits),
   * per-position losses (T-1) in nats (row t predicts ids[t+1]) and the
   * attention probabilities (L, NH, T, T). Our kernels only; one readback.
   */
  async probe(ids: Int32Array): Promise<ProbeResult> {
    const { nLayer: L, nHead: NH, nEmbd: C, blockSize, vocabSize: V } = this.config;
    const T = ids.length;
    if (T < 1 || T > blockSize) throw new Error(`A prompt must hold 1 to ${blockSize} tokens, got ${T}.`);
    for (const id of ids) if (!(id >= 0 && id < V)) throw new Error(`Token id ${id} is outside the vocabulary (0..${V - 1}).`);
    const { gpu } = this;
    const stride = Math.ceil((blockSize * V * 4) / 256) * 256; // bytes per layer of lens logits, bindable offsets
    if (!this.lensOut) this.lensOut = this.alloc(L * stride, 'logit lens (L, T, V)');
    const lens = this.lensOut;
    gpu.write(this.tokens, ids);
    if (T > 1) gpu.write(this.targets, ids.subarray(1));
    const lensFloats = L * T * V;
    const attFloats = L * NH * T * T;
    const lossFloats = T - 1;
    const out = gpu.buffer(4 * (lensFloats + attFloats + Math.max(1, lossFloats)), 'probe readback');
    const encoder = gpu.device.createCommandEncoder({ label: 'probe' });
    this.recordForward(encoder, 1, T, 0);
    for (let l = 0; l < L; l++) {
      // ln_f of block l's output into the ln_f scratch (free after the forward), then lm_head into layer l's slot.
      layerNormForward(gpu, encoder, {
        out: this.lnf, mean: this.lnfMean, rstd: this.lnfRstd, inp: this.layers[l].res3,
        weight: this.p('transformer.ln_f.weight'), bias: this.param.get('transformer.ln_f.bias') ?? null, N: T, C,
      });
      const slot = { buffer: lens, offset: l * stride, size: T * V * 4 };
      matmul(gpu, encoder, { site: 'lens', out: slot, a: this.lnf, b: this.lmHead(this.param), M: T, N: V, K: C, transB: true }); // (T, V)
    }
    if (lossFloats > 0) {
      const last = { buffer: lens, offset: (L - 1) * stride, size: lossFloats * V * 4 };
      crossEntropyForward(gpu, encoder, { losses: this.losses, logits: last, targets: this.targets, BT: lossFloats, V });
      encoder.copyBufferToBuffer(this.losses, 0, out, 4 * (lensFloats + attFloats), 4 * lossFloats);
    }
    for (let l = 0; l < L; l++) {
      encoder.copyBufferToBuffer(lens, l * stride, out, 4 * l * T * V, 4 * T * V);
      encoder.copyBufferToBuffer(this.layers[l].att, 0, out, 4 * (lensFloats + l * NH * T * T), 4 * NH * T * T);
    }
    gpu.device.queue.submit([encoder.finish()]);
    try {
      const all = new Float32Array(await gpu.read(out, 0, 4 * (lensFloats + attFloats + lossFloats)));
      return {
        T,
        lens: all.slice(0, lensFloats),
        att: all.slice(lensFloats, lensFloats + attFloats),
        losses: all.slice(lensFloats + attFloats),
      };
    } finally {
      gpu.destroy(out);
    }
  }

  /**
   * Per-tensor training health of the step just submitted, in its own command
   * buffer right behind it (the flat gradients, weights, moments and the
   * step's hyper-parameters are still in place): for each tensor of tensors(),
   * sum g^2, sum w_old^2 and sum du^2 (see shaders/tensor_health.wgsl). One
   * small readback of 16 bytes per tensor.
   */
  private recordHealth(): Promise<Float32Array> {
    const { gpu, layout } = this;
    if (!this.health) {
      const table = healthTable(layout.tensors);
      this.health = {
        table,
        out: this.alloc(16 * table.nTensors, 'tensor health (tensors, 4)'),
        partial: this.alloc(16 * table.nChunks, 'tensor health partials'),
        chunks: this.alloc(table.chunks.byteLength, 'tensor health chunks'),
        firstChunk: this.alloc(table.firstChunk.byteLength, 'tensor health first chunks'),
      };
      gpu.write(this.health.chunks, table.chunks);
      gpu.write(this.health.firstChunk, table.firstChunk);
    }
    const hb = this.health;
    const encoder = gpu.device.createCommandEncoder({ label: 'tensor health' });
    tensorHealth(gpu, encoder, {
      out: hb.out, partial: hb.partial, chunks: hb.chunks, firstChunk: hb.firstChunk,
      grads: this.flatGrads, params: this.flatParams, m: this.m, v: this.v, hyper: this.hyper,
      nChunks: hb.table.nChunks, nTensors: hb.table.nTensors, decayCount: layout.decayCount, count: layout.total,
    });
    gpu.device.queue.submit([encoder.finish()]);
    return gpu.readF32(hb.out, 4 * hb.table.nTensors);
  }

  /** Parameters, both AdamW moments and the step count, after all submitted work. */
  async readState(): Promise<ModelState> {
    const [params, m, v] = await Promise.all([this.flatParams, this.m, this.v].map((b) => this.gpu.readF32(b, this.paramCount)));
    return { params, m, v, step: this.stepsTaken };
  }

  /** Replace the whole training state (the moments default to zero, the step to 0). */
  writeState(state: { params: Float32Array; m?: Float32Array; v?: Float32Array; step?: number }): void {
    const P = this.paramCount;
    for (const [name, a] of Object.entries({ params: state.params, m: state.m, v: state.v })) {
      if (a && a.length !== P) throw new Error(`The ${name} array has ${a.length} values but this model has ${P} parameters.`);
    }
    this.gpu.write(this.flatParams, state.params);
    this.gpu.write(this.m, state.m ?? new Float32Array(P));
    this.gpu.write(this.v, state.v ?? new Float32Array(P));
    for (const t of this.layout.tensors) this.gpu.write(this.param.get(t.name)!, state.params.subarray(t.offset, t.offset + t.size));
    this.stepsTaken = state.step ?? 0;
  }

  /** The parameter tensors under nanoGPT names (tied lm_head listed once, as transformer.wte.weight). */
  tensors(): ParamTensor[] {
    return this.layout.tensors;
  }

  /** Bytes of the GPU buffers this model holds (staging ring included). */
  liveBytes(): number {
    return [...this.owned, ...this.staging].reduce((s, b) => s + b.size, 0);
  }

  finish(): Promise<void> {
    return this.gpu.finish();
  }

  destroy(): void {
    for (const d of [...this.decoders]) d.dispose();
    for (const b of this.owned) this.gpu.destroy(b);
    for (const b of this.staging) b.destroy();
    this.owned.length = 0;
    this.staging.length = 0;
  }

  // ------------------------------------------------------------------ recording

  private p(name: string): GPUBuffer {
    return this.param.get(name)!;
  }

  private layerParams(map: Map<string, GPUBuffer>, l: number): LayerParams {
    const h = `transformer.h.${l}`;
    const opt = (n: string) => map.get(`${h}.${n}`) ?? null;
    const req = (n: string) => map.get(`${h}.${n}`)!;
    return {
      ln1w: req('ln_1.weight'), ln1b: opt('ln_1.bias'),
      attnW: req('attn.c_attn.weight'), attnB: opt('attn.c_attn.bias'),
      projW: req('attn.c_proj.weight'), projB: opt('attn.c_proj.bias'),
      ln2w: req('ln_2.weight'), ln2b: opt('ln_2.bias'),
      fcW: req('mlp.c_fc.weight'), fcB: opt('mlp.c_fc.bias'),
      mprojW: req('mlp.c_proj.weight'), mprojB: opt('mlp.c_proj.bias'),
    };
  }

  private lmHead(map: Map<string, GPUBuffer>): GPUBuffer {
    return map.get(this.config.tieWeights ? 'transformer.wte.weight' : 'lm_head.weight')!;
  }

  /** tokens -> logits (B*T, V). Dropout only when p > 0 (training). */
  private recordForward(enc: GPUCommandEncoder, B: number, T: number, p: number): void {
    const { gpu } = this;
    const { nLayer: L, nHead: NH, nEmbd: C, vocabSize: V } = this.config;
    const BT = B * T;
    const drop = p > 0;
    const seed = this.seed;

    embeddingForward(gpu, enc, { out: this.encoded, tokens: this.tokens, wte: this.p('transformer.wte.weight'), wpe: this.p('transformer.wpe.weight'), B, T, C });
    let resid = this.encoded; // (BT, C)
    if (drop) {
      dropoutForward(gpu, enc, { out: this.encodedDrop!, inp: this.encoded, n: BT * C, p, salt: 0, seed });
      resid = this.encodedDrop!;
    }
    for (let l = 0; l < L; l++) {
      const a = this.layers[l];
      const w = this.layerParams(this.param, l);
      layerNormForward(gpu, enc, { out: a.ln1, mean: a.ln1Mean, rstd: a.ln1Rstd, inp: resid, weight: w.ln1w, bias: w.ln1b, N: BT, C });
      matmul(gpu, enc, { site: 'attn.c_attn', out: a.qkv, a: a.ln1, b: w.attnW, bias: w.attnB, M: BT, N: 3 * C, K: C, transB: true }); // (BT, 3C)
      attentionForward(gpu, enc, { out: a.atty, att: a.att, qkv: a.qkv, B, T, C, NH, dropout: this.attentionDropout(p, l) });
      matmul(gpu, enc, { site: 'attn.c_proj', out: this.proj, a: a.atty, b: w.projW, bias: w.projB, M: BT, N: C, K: C, transB: true }); // (BT, C)
      this.residualAdd(enc, a.res2, resid, BT * C, p, 1 + 2 * l);
      layerNormForward(gpu, enc, { out: a.ln2, mean: a.ln2Mean, rstd: a.ln2Rstd, inp: a.res2, weight: w.ln2w, bias: w.ln2b, N: BT, C });
      matmul(gpu, enc, { site: 'mlp.c_fc', out: a.fch, a: a.ln2, b: w.fcW, bias: w.fcB, M: BT, N: 4 * C, K: C, transB: true }); // (BT, 4C)
      activationForward(gpu, enc, { out: a.fcha, inp: a.fch, n: BT * 4 * C, kind: this.config.activation });
      matmul(gpu, enc, { site: 'mlp.c_proj', out: this.proj, a: a.fcha, b: w.mprojW, bias: w.mprojB, M: BT, N: C, K: 4 * C, transB: true }); // (BT, C)
      this.residualAdd(enc, a.res3, a.res2, BT * C, p, 2 + 2 * l);
      resid = a.res3;
    }
    layerNormForward(gpu, enc, {
      out: this.lnf, mean: this.lnfMean, rstd: this.lnfRstd, inp: resid,
      weight: this.p('transformer.ln_f.weight'), bias: this.param.get('transformer.ln_f.bias') ?? null, N: BT, C,
    });
    matmul(gpu, enc, { site: 'lm_head', out: this.logitsBuf, a: this.lnf, b: this.lmHead(this.param), M: BT, N: V, K: C, transB: true }); // (BT, V)
  }

  /** out = resid + dropout(proj) */
  private residualAdd(enc: GPUCommandEncoder, out: GPUBuffer, resid: GPUBuffer, n: number, p: number, salt: number): void {
    let branch = this.proj;
    if (p > 0) {
      dropoutForward(this.gpu, enc, { out: this.projDrop!, inp: this.proj, n, p, salt, seed: this.seed });
      branch = this.projDrop!;
    }
    add(this.gpu, enc, { out, a: resid, b: branch, n });
  }

  /** Per-row cross-entropy and its mean into this.loss. */
  private recordLoss(enc: GPUCommandEncoder, BT: number): void {
    const V = this.config.vocabSize;
    crossEntropyForward(this.gpu, enc, { losses: this.losses, logits: this.logitsBuf, targets: this.targets, BT, V });
    meanLoss(this.gpu, enc, { out: this.loss, losses: this.losses, n: BT });
  }

  /** Gradients of the mean loss into the per-tensor gradient buffers (accumulated; zeroed by the step). */
  private recordBackward(enc: GPUCommandEncoder, B: number, T: number, p: number): void {
    const { gpu } = this;
    const { nLayer: L, nHead: NH, nEmbd: C, vocabSize: V } = this.config;
    const BT = B * T;
    const g = this.grad;

    crossEntropyBackward(gpu, enc, { dlogits: this.dlogits, logits: this.logitsBuf, targets: this.targets, BT, V }); // (BT, V)
    matmul(gpu, enc, { site: 'lm_head', out: this.dC, a: this.dlogits, b: this.lmHead(this.param), M: BT, N: C, K: V }); // dlnf (BT, C)
    matmul(gpu, enc, { site: 'lm_head', out: this.lmHead(g), a: this.dlogits, b: this.lnf, M: V, N: C, K: BT, transA: true, accumulate: true }); // (V, C)
    enc.clearBuffer(this.dres);
    const lastResid = L > 0 ? this.layers[L - 1].res3 : this.embedOut(p);
    layerNormBackward(gpu, enc, {
      dinp: this.dres, dweight: g.get('transformer.ln_f.weight')!, dbias: g.get('transformer.ln_f.bias') ?? null,
      dout: this.dC, inp: lastResid, weight: this.p('transformer.ln_f.weight'), mean: this.lnfMean, rstd: this.lnfRstd, N: BT, C,
    });

    for (let l = L - 1; l >= 0; l--) {
      const a = this.layers[l];
      const w = this.layerParams(this.param, l);
      const dw = this.layerParams(g, l);
      const residIn = l > 0 ? this.layers[l - 1].res3 : this.embedOut(p);
      // res3 = res2 + dropout(mlp(ln2(res2))): dres already holds d res3, which is also part of d res2.
      const dmlp = this.throughDropout(enc, BT * C, p, 2 + 2 * l); // (BT, C)
      matmul(gpu, enc, { site: 'mlp.c_proj', out: this.d4a, a: dmlp, b: w.mprojW, M: BT, N: 4 * C, K: C }); // (BT, 4C)
      matmul(gpu, enc, { site: 'mlp.c_proj', out: dw.mprojW, a: dmlp, b: a.fcha, M: C, N: 4 * C, K: BT, transA: true, accumulate: true }); // (C, 4C)
      if (dw.mprojB) biasBackward(gpu, enc, { dbias: dw.mprojB, dout: dmlp, M: BT, N: C });
      activationBackward(gpu, enc, { dinp: this.d4b, inp: a.fch, dout: this.d4a, n: BT * 4 * C, kind: this.config.activation });
      matmul(gpu, enc, { site: 'mlp.c_fc', out: this.dC, a: this.d4b, b: w.fcW, M: BT, N: C, K: 4 * C }); // d ln2 (BT, C)
      matmul(gpu, enc, { site: 'mlp.c_fc', out: dw.fcW, a: this.d4b, b: a.ln2, M: 4 * C, N: C, K: BT, transA: true, accumulate: true }); // (4C, C)
      if (dw.fcB) biasBackward(gpu, enc, { dbias: dw.fcB, dout: this.d4b, M: BT, N: 4 * C });
      layerNormBackward(gpu, enc, {
        dinp: this.dres, dweight: dw.ln2w, dbias: dw.ln2b, dout: this.dC, inp: a.res2, weight: w.ln2w, mean: a.ln2Mean, rstd: a.ln2Rstd, N: BT, C,
      });
      // res2 = residIn + dropout(attn(ln1(residIn))): dres now holds d res2.
      const dattn = this.throughDropout(enc, BT * C, p, 1 + 2 * l); // (BT, C)
      matmul(gpu, enc, { site: 'attn.c_proj', out: this.dC, a: dattn, b: w.projW, M: BT, N: C, K: C }); // d atty (BT, C)
      matmul(gpu, enc, { site: 'attn.c_proj', out: dw.projW, a: dattn, b: a.atty, M: C, N: C, K: BT, transA: true, accumulate: true }); // (C, C)
      if (dw.projB) biasBackward(gpu, enc, { dbias: dw.projB, dout: dattn, M: BT, N: C });
      attentionBackward(gpu, enc, {
        dqkv: this.dqkv, dout: this.dC, qkv: a.qkv, att: a.att, B, T, C, NH, scratch: this.attScratch, dropout: this.attentionDropout(p, l),
      }); // (BT, 3C)
      matmul(gpu, enc, { site: 'attn.c_attn', out: this.dC, a: this.dqkv, b: w.attnW, M: BT, N: C, K: 3 * C }); // d ln1 (BT, C)
      matmul(gpu, enc, { site: 'attn.c_attn', out: dw.attnW, a: this.dqkv, b: a.ln1, M: 3 * C, N: C, K: BT, transA: true, accumulate: true }); // (3C, C)
      if (dw.attnB) biasBackward(gpu, enc, { dbias: dw.attnB, dout: this.dqkv, M: BT, N: 3 * C });
      layerNormBackward(gpu, enc, {
        dinp: this.dres, dweight: dw.ln1w, dbias: dw.ln1b, dout: this.dC, inp: residIn, weight: w.ln1w, mean: a.ln1Mean, rstd: a.ln1Rstd, N: BT, C,
      });
    }
    // resid0 = dropout(wte[x] + wpe[t])
    const demb = this.throughDropout(enc, BT * C, p, 0);
    embeddingBackward(gpu, enc, {
      dwte: g.get('transformer.wte.weight')!, dwpe: g.get('transformer.wpe.weight')!, dout: demb, tokens: this.tokens, B, T, C, V,
    });
  }

  /** Layer l's dropout on the attention probabilities, when p > 0 (training). */
  private attentionDropout(p: number, l: number) {
    return p > 0 ? { p, salt: ATTENTION_DROPOUT_SALT + l, seed: this.seed } : null;
  }

  /** The residual stream entering layer 0. */
  private embedOut(p: number): GPUBuffer {
    return p > 0 ? this.encodedDrop! : this.encoded;
  }

  /** d(branch) = dropoutBackward(dres) when dropout is on, else dres itself. */
  private throughDropout(enc: GPUCommandEncoder, n: number, p: number, salt: number): GPUBuffer {
    if (!(p > 0)) return this.dres;
    dropoutBackward(this.gpu, enc, { dinp: this.dDrop!, dout: this.dres, n, p, salt, seed: this.seed });
    return this.dDrop!;
  }

  /** Copy every per-tensor gradient into the flat gradient buffer. */
  private recordGather(enc: GPUCommandEncoder): void {
    for (const t of this.layout.tensors) enc.copyBufferToBuffer(this.grad.get(t.name)!, 0, this.flatGrads, 4 * t.offset, 4 * t.size);
  }

  /** Gather gradients, global norm, AdamW over the two ranges, scatter the parameters back. */
  private recordUpdate(enc: GPUCommandEncoder): void {
    const { gpu, layout } = this;
    this.recordGather(enc);
    gradNorm(gpu, enc, { norm: this.norm, grads: this.flatGrads, n: layout.total, scratch: this.normScratch });
    const common = { params: this.flatParams, grads: this.flatGrads, m: this.m, v: this.v, hyper: this.hyper, norm: this.norm };
    adamw(gpu, enc, { ...common, offset: 0, count: layout.decayCount, decay: true });
    adamw(gpu, enc, { ...common, offset: layout.decayCount, count: layout.total - layout.decayCount, decay: false });
    for (const t of layout.tensors) enc.copyBufferToBuffer(this.flatParams, 4 * t.offset, this.param.get(t.name)!, 0, 4 * t.size);
  }

  // ------------------------------------------------------------------ buffers and readback

  private alloc(bytes: number, label: string): GPUBuffer {
    const b = this.gpu.buffer(bytes, label);
    this.owned.push(b);
    return b;
  }

  private writeTokens(batch: TokenBatch, BT: number): void {
    if (batch.x.length !== BT || batch.y.length !== BT) {
      throw new Error(`A batch must hold ${BT} inputs and targets, got ${batch.x.length} and ${batch.y.length}.`);
    }
    this.gpu.write(this.tokens, batch.x);
    this.gpu.write(this.targets, batch.y);
  }

  private takeStaging(): GPUBuffer {
    return (
      this.staging.pop() ??
      this.gpu.device.createBuffer({ size: READBACK_BYTES, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'step readback' })
    );
  }

  private async readStaging(staging: GPUBuffer): Promise<[number, number]> {
    await staging.mapAsync(GPUMapMode.READ);
    const [a, b] = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    if (this.owned.length) this.staging.push(staging);
    else staging.destroy();
    return [a, b];
  }
}
