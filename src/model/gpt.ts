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
//   stepHyper(train, it)         -> the StepHyper of 0-based step `it` (./schedule.ts)
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
//       state as packed flat Float32Arrays (./layout.ts offsets, no padding)
//   model.tensors()              -> the named parameter tensors (nanoGPT names)
//   model.liveBytes()            -> bytes of GPU buffers this model holds
//   model.allocation             -> the table every buffer was allocated from (./allocation.ts)
//   model.finish() / destroy()
//
// Dropout (when config.dropout > 0, training steps only) follows nanoGPT on
// the embeddings, on the attention probabilities and on both residual
// branches, with masks hashed from the step's seed (salts: 0 embeddings,
// 1 + 2l / 2 + 2l layer l's attention / MLP branch, ATTENTION_DROPOUT_SALT + l
// layer l's attention probabilities).
//
// State (llm.c's layout): ONE GPU buffer each for params, grads and AdamW's m
// and v, every tensor at its 256-byte-aligned gpuOffset from ./layout.ts;
// kernels bind tensors as ranges of them. With tied weights wte's range serves
// as lm_head, and both gradient contributions accumulate into wte's range.
// Every buffer comes from the allocation table of ./allocation.ts.
//
// One training step is one command buffer: a clear of the flat grads, ONE
// compute pass (forward, loss, backward, grad norm, AdamW over the decayed
// range then the rest), and one copy of the loss and grad norm to a staging
// buffer. evalLoss, inspect and forwardPrompt also record one pass each.

import type { Binding, Gpu, Recorder } from '../gpu/runtime';
import { adamw, gradNorm } from '../kernels/adamw';
import { attentionBackward, attentionForward } from '../kernels/attention';
import { crossEntropyBackward, crossEntropyForward, meanLoss } from '../kernels/crossEntropy';
import { DPO_STATS, dpoLoss, sequenceLogProbs, sequenceLogProbsBackward } from '../kernels/dpo';
import { dropoutBackward, dropoutForward } from '../kernels/dropout';
import { embeddingBackward, embeddingForward } from '../kernels/embedding';
import { layerNormBackward, layerNormForward } from '../kernels/layerNorm';
import { rmsNormBackward, rmsNormForward } from '../kernels/rmsNorm';
import { matmul } from '../kernels/matmul';
import { healthTable, tensorHealth, type HealthTable } from '../kernels/tensorHealth';
import { allocationTable, frozenSinkFloats, lensLayerFloats, promptLayerFloats, READOUT_NORM_FLOAT, type AllocationTable } from './allocation';
import { blockBackward, blockForward, type BlockActivations, type BlockLora, type BlockWeights } from './block';
import { DEFAULT_ROPE_THETA, RMS_NORM_EPS, type ModelConfig } from './config';
import { blockDims, blockKind, blockWeightNames, lmHeadName, roleName } from './description';
import { llamaBlockBackward, llamaBlockForward, type LlamaShape } from './llamaBlock';
import { GptDecoder, type WeightRange } from './decoder';
import type { ForwardHooks, HookedForward } from './hooks';
import { gpuToPacked, initParams, packedToGpu, type ParamLayout, type ParamTensor } from './layout';
import { loraBackward, loraScale, LORA_MODULES, type LoraLayout } from './lora';
import { hyperFloats, type StepHyper } from './schedule';

export { stepHyper, type StepHyper } from './schedule';

/** Dropout salt of layer 0's attention probabilities (layer l: + l), apart from the 1 + 2l / 2 + 2l of the branches. */
export const ATTENTION_DROPOUT_SALT = 0x10000;

export interface TokenBatch {
  /** (B*T) input ids */
  x: Int32Array;
  /** (B*T) next-token targets */
  y: Int32Array;
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
  /** With LoRA: the adapters and their moments (flat adapter layout); the base's m and v are then empty. */
  lora?: AdapterState;
}

/** LoRA adapters and their AdamW moments, in the flat adapter layout (lora.ts). */
export interface AdapterState {
  adapters: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

/** S sequences of T positions for DPO: inputs, next-token targets and the response mask, chosen 0..P-1 then rejected. */
export interface SequenceBatch extends TokenBatch {
  /** (S*T) 1 where the target is a response token, 0 on prompt and padding */
  mask: Float32Array;
}

/** What a DPO step reports (rewards are beta (log pi - log pi_ref), before the update). */
export interface DpoStepResult {
  loss: number;
  /** Global gradient norm before clipping (NaN without an update). */
  gradNorm: number;
  /** Means over the pairs: chosen reward, rejected reward, their margin, and the share of pairs ranked right. */
  rewardChosen: number;
  rewardRejected: number;
  margin: number;
  accuracy: number;
  /** (P) each */
  rewardsChosen: Float32Array;
  rewardsRejected: Float32Array;
  /** (S) the policy's sequence log-probs */
  logp: Float32Array;
  /** The gradients when the step did not update (packed, or the adapters' flat layout), else null. */
  grads: Float32Array | null;
}

type LoraModuleName = (typeof LORA_MODULES)[number];

interface LoraBuffers {
  params: GPUBuffer; // (lora.total) adapters, aligned
  grads: GPUBuffer;
  m: GPUBuffer;
  v: GPUBuffer;
  /** per layer, per adapted module: (BT, r) s x A^T saved for backward */
  xa: Array<Partial<Record<LoraModuleName, GPUBuffer>>>;
  dxa: GPUBuffer; // (BT, r) scratch
}

interface DpoBuffers {
  mask: GPUBuffer; // (S*T)
  logp: GPUBuffer; // (S)
  reference: GPUBuffer; // (S)
  stats: GPUBuffer; // (DPO_STATS.count)
  rewards: GPUBuffer; // (S)
  dlogp: GPUBuffer; // (S)
}

const loraRange = (buffer: GPUBuffer, t: { offset: number; size: number }) => ({ buffer, offset: 4 * t.offset, size: 4 * t.size });

/** Activations one layer keeps for backward. */
interface LayerActs extends BlockActivations {
  lse: GPUBuffer; // (B, NH, T) attention logsumexp: backward recomputes the probabilities
}

/** Bytes the step's readout copy moves: the loss at 0, the grad norm at READOUT_NORM_FLOAT. */
const READBACK_BYTES = 4 * (READOUT_NORM_FLOAT + 1);

export class GptModel {
  readonly layout: ParamLayout;
  readonly allocation: AllocationTable;
  readonly paramCount: number;
  /** AdamW steps taken (the t of the last step). */
  stepsTaken = 0;

  private readonly owned: GPUBuffer[] = [];
  private readonly buffers = new Map<string, GPUBuffer>();
  // Flat state (gpuTotal floats each) and the optimizer's small buffers.
  private readonly params: GPUBuffer;
  private readonly grads: GPUBuffer;
  private readonly m: GPUBuffer | null; // null with LoRA: the base is frozen
  private readonly v: GPUBuffer | null;
  private readonly normScratch: GPUBuffer;
  private readonly hyper: GPUBuffer; // f32[8]
  private readonly seed: GPUBuffer; // u32[1]
  private readonly loss: Binding; // f32[1] at float 0 of the readout
  private readonly norm: Binding; // f32[1] at READOUT_NORM_FLOAT of the readout
  private readonly readout: GPUBuffer;
  // Per-layer parameter and gradient ranges, the LayerNorm and head ranges.
  private readonly w: BlockWeights[] = [];
  private readonly dw: BlockWeights[] = [];

  // Activations (training shapes; prompts and evals use a prefix of them).
  private readonly tokens: GPUBuffer; // (BT) i32
  private readonly targets: GPUBuffer; // (BT) i32
  private readonly encoded: GPUBuffer; // (BT, C) the residual stream entering layer 0
  private readonly layers: LayerActs[] = [];
  private readonly lnf: GPUBuffer; // (BT, C)
  private readonly lnfMean: GPUBuffer | null; // (BT) LayerNorm only
  /** The LLaMA block's shape (rotary, RMSNorm); null for the GPT-2 block. */
  private readonly llama: LlamaShape | null;
  private readonly lnfRstd: GPUBuffer; // (BT)
  private readonly logitsBuf: GPUBuffer; // (BT, V)
  private readonly losses: GPUBuffer; // (BT)

  // Scratch shared by all layers; the forward's and the backward's names for one buffer are listed together.
  private readonly proj: GPUBuffer; // (BT, C) embeddings before dropout, projection output before the residual add
  private readonly dC: GPUBuffer; // (BT, C) = proj: d(layernorm output) / d atty
  private readonly projDrop: GPUBuffer | null; // (BT, C) a dropped branch
  private readonly dDrop: GPUBuffer | null; // (BT, C) = projDrop: gradient through a dropout
  private readonly dlogits: GPUBuffer; // (BT, V)
  private readonly dres: GPUBuffer; // (BT, C) gradient of the residual stream
  private readonly d4a: GPUBuffer; // (BT, hidden) d(fch after activation); dqkv (BT, qkv) in the attention backward
  private readonly d4b: GPUBuffer; // (BT, 4C) d fch
  private readonly attDelta: GPUBuffer; // (B, NH, T) attention backward row sums
  private readonly sumScratch: GPUBuffer; // partial column sums of the LayerNorm and bias gradients
  private readonly mmScratch: GPUBuffer; // split-K partial products of the weight gradients (matmulScratchFloats)
  private readonly promptOut: GPUBuffer; // (L, NH, T, T) probabilities at promptLayerFloats strides, then (V) logits
  private readonly lensOut: GPUBuffer; // (L, blockSize, V) logit lens at lensLayerFloats strides
  private readonly probeOut: GPUBuffer; // the probe's readback: lens (L, T, V), attention (L, NH, T, T), losses (T - 1)
  private readonly health: { table: HealthTable; out: GPUBuffer; partial: GPUBuffer; chunks: GPUBuffer; firstChunk: GPUBuffer } | null;

  private readonly staging: GPUBuffer[] = []; // free MAP_READ buffers of READBACK_BYTES
  private readonly decoders = new Set<GptDecoder>(); // live, disposed with the model

  constructor(
    private readonly gpu: Gpu,
    readonly config: ModelConfig,
    readonly batchSize: number,
    options: { params?: Float32Array; seed?: number; lora?: { layout: LoraLayout; adapters?: Float32Array } } = {},
  ) {
    const { nLayer: L } = config;
    this.lora = options.lora?.layout ?? null;
    this.llama = blockKind(config) === 'llama'
      ? { ...blockDims(config), T: config.blockSize, theta: config.ropeTheta ?? DEFAULT_ROPE_THETA, eps: config.rmsNormEps ?? RMS_NORM_EPS }
      : null;
    if (this.llama && this.lora) throw new Error('LoRA adapters run on the GPT-2 block only so far; this model is LLaMA-style.');
    this.allocation = allocationTable(config, batchSize, this.lora);
    this.layout = this.allocation.layout;
    this.paramCount = this.layout.total;
    for (const spec of this.allocation.buffers) this.buffers.set(spec.name, this.alloc(4 * spec.floats, spec.name));
    const b = (name: string) => this.buffers.get(name)!;
    const opt = (name: string) => this.buffers.get(name) ?? null;

    this.params = b('params');
    this.grads = b('grads');
    this.m = opt('adam m');
    this.v = opt('adam v');
    this.normScratch = b('grad norm scratch');
    this.hyper = b('hyper');
    this.seed = b('seed');
    this.readout = b('readout');
    this.loss = { buffer: this.readout, offset: 0, size: 4 };
    this.norm = { buffer: this.readout, offset: 4 * READOUT_NORM_FLOAT, size: 4 };

    this.tokens = b('tokens');
    this.targets = b('targets');
    this.encoded = b('encoded');
    for (let l = 0; l < L; l++) {
      const h = (n: string) => b(`h${l}.${n}`);
      const hOpt = (n: string) => opt(`h${l}.${n}`);
      this.layers.push({
        ln1: h('ln1'), ln1Mean: hOpt('ln1 mean'), ln1Rstd: h('ln1 rstd'), qkv: h('qkv'), lse: h('lse'), atty: h('atty'),
        res2: h('res2'), ln2: h('ln2'), ln2Mean: hOpt('ln2 mean'), ln2Rstd: h('ln2 rstd'), fch: h('fch'), fcha: h('fch act'), out: h('res3'),
      });
      this.w.push(this.blockRanges(this.params, l));
      this.dw.push(this.blockRanges(this.grads, l));
    }
    if (this.lora) this.loraState = this.loraBuffers(this.lora, options.lora!.adapters, b);
    this.lnf = b('ln_f');
    this.lnfMean = opt('ln_f mean');
    this.lnfRstd = b('ln_f rstd');
    this.logitsBuf = b('logits');
    this.losses = b('losses');

    this.proj = this.dC = b('proj | d ln');
    this.projDrop = this.dDrop = opt('dropped | d dropout');
    this.dlogits = b('dlogits');
    this.dres = b('d residual');
    this.d4a = b('d fch act | dqkv'); // also dqkv in the attention backward
    this.d4b = b('d fch');
    this.attDelta = b('attention delta');
    this.sumScratch = b('column sums');
    this.mmScratch = b('matmul scratch');
    this.promptOut = b('prompt readback');
    this.lensOut = b('logit lens');
    this.probeOut = b('probe readback');
    this.dpo = {
      mask: b('dpo mask'), logp: b('dpo logp'), reference: b('dpo reference'), stats: b('dpo stats'), rewards: b('dpo rewards'), dlogp: b('dpo dlogp'),
    };
    const healthSums = opt('health sums');
    if (healthSums) {
      const table = healthTable(this.layout.tensors.map((t) => ({ offset: t.gpuOffset, size: t.size })));
      this.health = { table, out: healthSums, partial: b('health partials'), chunks: b('health chunks'), firstChunk: b('health first chunks') };
      this.gpu.write(this.health.chunks, table.chunks);
      this.gpu.write(this.health.firstChunk, table.firstChunk);
    } else {
      this.health = null;
    }

    this.writeState({
      params: options.params ?? initParams(this.layout, options.seed ?? 1337),
      m: new Float32Array(this.paramCount),
      v: new Float32Array(this.paramCount),
      step: 0,
    });
  }

  // ------------------------------------------------------------------ public API

  /** Record and submit one training step; resolves with its loss and grad norm once the GPU is done. */
  step(batch: TokenBatch, hyper: StepHyper): Promise<StepResult> {
    const { batchSize: B } = this;
    const T = this.config.blockSize;
    this.writeTokens(batch, B * T);
    this.gpu.write(this.hyper, hyperFloats(hyper));
    this.gpu.write(this.seed, Uint32Array.of(hyper.dropoutSeed >>> 0));
    this.stepsTaken = hyper.t;

    const staging = this.takeStaging();
    const encoder = this.gpu.device.createCommandEncoder({ label: 'train step' });
    encoder.clearBuffer(this.grads);
    const pass = encoder.beginComputePass({ label: 'train step' });
    this.recordForward(pass, B, T, this.config.dropout, false, 1);
    this.recordLoss(pass, B * T);
    this.recordBackward(pass, B, T, this.config.dropout);
    this.recordUpdate(pass);
    pass.end();
    encoder.copyBufferToBuffer(this.readout, 0, staging, 0, READBACK_BYTES);
    this.gpu.device.queue.submit([encoder.finish()]);
    // Per-tensor health covers models that train all their weights (a LoRA base has no gradients).
    const health = hyper.health && !this.lora ? this.recordHealth() : null;
    const result = this.readStaging(staging).then(([loss, norm]) => ({ loss, gradNorm: norm, doneAt: performance.now() }));
    // Both readbacks settle together, so a lost device rejects the step once and leaves no unhandled rejection.
    return Promise.all([result, health]).then(([r, h]) => (h ? { ...r, health: h } : r));
  }

  /**
   * Forward and backward of one batch without an update, for tests and
   * inspection: the mean loss, the logits (B*T, V) and the gradients (P),
   * packed in the parameter layout. Dropout only when a seed is given.
   */
  async inspect(batch: TokenBatch, dropoutSeed?: number): Promise<{ loss: number; logits: Float32Array; grads: Float32Array }> {
    const B = this.batchSize;
    const T = this.config.blockSize;
    const BT = B * T;
    this.writeTokens(batch, BT);
    const p = dropoutSeed === undefined ? 0 : this.config.dropout;
    if (dropoutSeed !== undefined) this.gpu.write(this.seed, Uint32Array.of(dropoutSeed >>> 0));
    const encoder = this.gpu.device.createCommandEncoder({ label: 'inspect' });
    encoder.clearBuffer(this.grads);
    const pass = encoder.beginComputePass({ label: 'inspect' });
    this.recordForward(pass, B, T, p, false, 1);
    this.recordLoss(pass, BT);
    this.recordBackward(pass, B, T, p);
    pass.end();
    this.gpu.device.queue.submit([encoder.finish()]);
    const [loss, logits, grads] = await Promise.all([
      this.gpu.readF32(this.readout, 1),
      this.gpu.readF32(this.logitsBuf, BT * this.config.vocabSize),
      // With LoRA, the adapters' gradients (their flat layout): the base has none.
      this.loraState ? this.gpu.readF32(this.loraState.grads, this.lora!.total) : this.gpu.readF32(this.grads, this.layout.gpuTotal),
    ]);
    return { loss: loss[0], logits, grads: this.loraState ? grads : gpuToPacked(this.layout, grads) };
  }

  /** Mean loss on a batch: forward only, no dropout. */
  async evalLoss(batch: TokenBatch): Promise<number> {
    const B = this.batchSize;
    const T = this.config.blockSize;
    this.writeTokens(batch, B * T);
    const staging = this.takeStaging();
    const encoder = this.gpu.device.createCommandEncoder({ label: 'eval' });
    const pass = encoder.beginComputePass({ label: 'eval' });
    // The loss curves follow the trained model: adapters at full strength, whatever the views use.
    this.recordForward(pass, B, T, 0, false, 1);
    this.recordLoss(pass, B * T);
    pass.end();
    encoder.copyBufferToBuffer(this.readout, 0, staging, 0, 4);
    this.gpu.device.queue.submit([encoder.finish()]);
    return (await this.readStaging(staging))[0];
  }

  /**
   * Forward of one sequence (B = 1, T = ids.length): the logits (V) of the last
   * position and, when asked, the attention probabilities (L, NH, T, T).
   */
  async forwardPrompt(ids: Int32Array, opts: { attention?: boolean; interventions?: boolean } = {}): Promise<{ logits: Float32Array; att: Float32Array | null }> {
    const { nLayer: L, nHead: NH, blockSize, vocabSize: V } = this.config;
    const T = ids.length;
    if (T < 1 || T > blockSize) throw new Error(`A prompt must hold 1 to ${blockSize} tokens, got ${T}.`);
    for (const id of ids) if (!(id >= 0 && id < V)) throw new Error(`Token id ${id} is outside the vocabulary (0..${V - 1}).`);
    this.gpu.write(this.tokens, ids);
    const encoder = this.gpu.device.createCommandEncoder({ label: 'prompt forward' });
    const pass = encoder.beginComputePass({ label: 'prompt forward' });
    this.recordForward(pass, 1, T, 0, !!opts.attention, this.loraStrength, opts.interventions === false ? null : this.viewHooks);
    pass.end();
    const stride = promptLayerFloats(this.config);
    const logitsAt = opts.attention ? L * stride : 0;
    encoder.copyBufferToBuffer(this.logitsBuf, 4 * (T - 1) * V, this.promptOut, 4 * logitsAt, 4 * V);
    this.gpu.device.queue.submit([encoder.finish()]);
    const out = new Float32Array(await this.gpu.read(this.promptOut, 0, 4 * (logitsAt + V)));
    let att: Float32Array | null = null;
    if (opts.attention) {
      att = new Float32Array(L * NH * T * T);
      for (let l = 0; l < L; l++) att.set(out.subarray(l * stride, l * stride + NH * T * T), l * NH * T * T);
    }
    return { logits: out.slice(logitsAt), att };
  }

  /** Next-token logits (V) after `ids`. */
  async logits(ids: Int32Array, opts: { interventions?: boolean } = {}): Promise<Float32Array> {
    return (await this.forwardPrompt(ids, opts)).logits;
  }

  /** Attention probabilities (nLayer, nHead, T, T) for `ids`. */
  async attention(ids: Int32Array): Promise<Float32Array> {
    return (await this.forwardPrompt(ids, { attention: true })).att!;
  }

  /**
   * A key/value-cache decoder over this model's weights as of each push (see
   * ./decoder.ts): logits after each pushed token equal logits(prefix).
   */
  decoder(opts: { interventions?: boolean } = {}): GptDecoder {
    if (!this.owned.length) throw new Error('This model was destroyed; it cannot decode.');
    const d = new GptDecoder(this.gpu, this.config, (name) => this.range(this.params, name), (x) => this.decoders.delete(x), (l) => this.blockLora(l, this.loraStrength), () => (opts.interventions === false ? null : this.viewHooks));
    this.decoders.add(d);
    return d;
  }

  // ------------------------------------------------------------------ interpretability probe

  /** Live interventions of the views (prompt forwards and decoders: sampling, attention); training, evaluation and the probe never run them. */
  viewHooks: ForwardHooks | null = null;

  /** Hooked forwards without dropout over this model's buffers, for ./interventions.ts. */
  hooked(): HookedForward {
    return {
      record: (pass, B, T, hooks) => this.recordForward(pass, B, T, 0, false, 1, hooks),
      recordLoss: (pass, BT) => this.recordLoss(pass, BT),
      writeTokens: (x, y) => { this.gpu.write(this.tokens, x); if (y) this.gpu.write(this.targets, y); },
      encoded: this.encoded, acts: this.layers, lnfRstd: this.lnfRstd, logits: this.logitsBuf, loss: this.loss, scratch: this.proj,
      weight: (name) => this.range(this.params, name),
    };
  }

  /**
   * Forward of one sequence (B = 1, T = ids.length <= blockSize) for the
   * inspection views: the logit lens (L, T, V) (ln_f and lm_head applied to the
   * residual stream after each block; its last layer is the model's logits),
   * per-position losses (T-1) in nats (row t predicts ids[t+1]) and the
   * attention probabilities (L, NH, T, T). Our kernels only; one pass, one readback.
   */
  async probe(ids: Int32Array): Promise<ProbeResult> {
    const { nLayer: L, nHead: NH, nEmbd: C, blockSize, vocabSize: V } = this.config;
    const T = ids.length;
    if (T < 1 || T > blockSize) throw new Error(`A prompt must hold 1 to ${blockSize} tokens, got ${T}.`);
    for (const id of ids) if (!(id >= 0 && id < V)) throw new Error(`Token id ${id} is outside the vocabulary (0..${V - 1}).`);
    const { gpu } = this;
    const stride = 4 * lensLayerFloats(this.config); // bytes per layer of lens logits, bindable offsets
    const lens = this.lensOut;
    gpu.write(this.tokens, ids);
    if (T > 1) gpu.write(this.targets, ids.subarray(1));
    const lensFloats = L * T * V;
    const attFloats = L * NH * T * T;
    const lossFloats = T - 1;
    const out = this.probeOut;
    const encoder = gpu.device.createCommandEncoder({ label: 'probe' });
    const pass = encoder.beginComputePass({ label: 'probe' });
    this.recordForward(pass, 1, T, 0, true);
    for (let l = 0; l < L; l++) {
      // ln_f of block l's output into the ln_f scratch (free after the forward), then lm_head into layer l's slot.
      this.finalNormForward(pass, this.layers[l].out, T);
      const slot = { buffer: lens, offset: l * stride, size: T * V * 4 };
      matmul(gpu, pass, { site: 'lens', out: slot, a: this.lnf, b: this.lmHead(this.params), M: T, N: V, K: C, transB: true }); // (T, V)
    }
    if (lossFloats > 0) {
      const last = { buffer: lens, offset: (L - 1) * stride, size: lossFloats * V * 4 };
      crossEntropyForward(gpu, pass, { losses: this.losses, logits: last, targets: this.targets, BT: lossFloats, V });
    }
    pass.end();
    if (lossFloats > 0) encoder.copyBufferToBuffer(this.losses, 0, out, 4 * (lensFloats + attFloats), 4 * lossFloats);
    for (let l = 0; l < L; l++) {
      encoder.copyBufferToBuffer(lens, l * stride, out, 4 * l * T * V, 4 * T * V);
      const probs = this.promptProbs(l, T);
      encoder.copyBufferToBuffer(probs.buffer, probs.offset, out, 4 * (lensFloats + l * NH * T * T), probs.size);
    }
    gpu.device.queue.submit([encoder.finish()]);
    const all = new Float32Array(await gpu.read(out, 0, 4 * (lensFloats + attFloats + lossFloats)));
    return {
      T,
      lens: all.slice(0, lensFloats),
      att: all.slice(lensFloats, lensFloats + attFloats),
      losses: all.slice(lensFloats + attFloats),
    };
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
    if (!this.m || !this.v || !this.health) throw new Error('Per-tensor health covers models that train all their weights; this one trains LoRA adapters on a frozen base.');
    const hb = this.health;
    const encoder = gpu.device.createCommandEncoder({ label: 'tensor health' });
    tensorHealth(gpu, encoder, {
      out: hb.out, partial: hb.partial, chunks: hb.chunks, firstChunk: hb.firstChunk,
      grads: this.grads, params: this.params, m: this.m, v: this.v, hyper: this.hyper,
      nChunks: hb.table.nChunks, nTensors: hb.table.nTensors, decayCount: layout.gpuDecayCount, count: layout.total,
    });
    gpu.device.queue.submit([encoder.finish()]);
    return gpu.readF32(hb.out, 4 * hb.table.nTensors);
  }

  /** Parameters, both AdamW moments and the step count, after all submitted work (packed layout). */
  async readState(): Promise<ModelState> {
    const [params, m, v] = await Promise.all(
      // With LoRA the base has no moments: m and v come back empty (the adapters' are in `lora`).
      [this.params, this.m, this.v].map(async (b) => (b ? gpuToPacked(this.layout, await this.gpu.readF32(b, this.layout.gpuTotal)) : new Float32Array(0))),
    );
    if (!this.loraState) return { params, m, v, step: this.stepsTaken };
    const { adapters, m: am, v: av, step } = await this.readAdapters();
    return { params, m, v, step, lora: { adapters, m: am, v: av } };
  }

  /** Replace the whole training state, packed layout (the moments default to zero, the step to 0). */
  writeState(state: { params: Float32Array; m?: Float32Array; v?: Float32Array; step?: number; lora?: AdapterState }): void {
    const P = this.paramCount;
    // A frozen base has no moments: empty ones are accepted (and ignored) under LoRA.
    const moments = this.lora ? {} : { m: state.m, v: state.v };
    for (const [name, a] of Object.entries({ params: state.params, ...moments })) {
      if (a && a.length !== P) throw new Error(`The ${name} array has ${a.length} values but this model has ${P} parameters.`);
    }
    if (state.lora) {
      if (!this.loraState) throw new Error('This model has no LoRA adapters to write.');
      this.writeAdapters({ adapters: state.lora.adapters, m: state.lora.m, v: state.lora.v });
    }
    const zeros = new Float32Array(this.layout.gpuTotal);
    this.gpu.write(this.params, packedToGpu(this.layout, state.params));
    if (this.m) this.gpu.write(this.m, state.m ? packedToGpu(this.layout, state.m) : zeros);
    if (this.v) this.gpu.write(this.v, state.v ? packedToGpu(this.layout, state.v) : zeros);
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

  /** The range of a named tensor in a flat state buffer (params or grads); null for an absent bias. */
  private range(flat: GPUBuffer, name: string): WeightRange | null {
    const t = this.layout.byName.get(name);
    if (t && this.lora && flat === this.grads) {
      // The frozen base's gradients: only LayerNorm gains and biases are ever written, into the sink's two slots.
      const C = this.config.nEmbd;
      return { buffer: flat, offset: name.endsWith('.bias') ? 2 * frozenSinkFloats(C) : 0, size: 4 * C };
    }
    return t ? { buffer: flat, offset: 4 * t.gpuOffset, size: 4 * t.size } : null;
  }

  private blockRanges(flat: GPUBuffer, l: number): BlockWeights {
    const names = blockWeightNames(this.config, l);
    const get = (n: string | undefined) => (n === undefined ? null : this.range(flat, n));
    return {
      ln1w: get(names.ln1w)!, ln1b: get(names.ln1b),
      attnW: get(names.attnW)!, attnB: get(names.attnB),
      projW: get(names.projW)!, projB: get(names.projB),
      ln2w: get(names.ln2w)!, ln2b: get(names.ln2b),
      fcW: get(names.fcW)!, fcB: get(names.fcB),
      mprojW: get(names.mprojW)!, mprojB: get(names.mprojB),
    };
  }

  /** A named role's range (embeddings, final norm), or null when the model has none. */
  private roleRange(flat: GPUBuffer, role: Parameters<typeof roleName>[1]): WeightRange | null {
    const name = roleName(this.config, role);
    return name === undefined ? null : this.range(flat, name);
  }

  /** The final norm of `inp` (N rows) into ln_f: LayerNorm (GPT-2) or RMSNorm (LLaMA). */
  private finalNormForward(pass: Recorder, inp: Binding, N: number): void {
    const C = this.config.nEmbd;
    const weight = this.roleRange(this.params, 'normF')!;
    if (this.llama) rmsNormForward(this.gpu, pass, { out: this.lnf, rstd: this.lnfRstd, inp, weight, N, C, eps: this.llama.eps });
    else layerNormForward(this.gpu, pass, { out: this.lnf, mean: this.lnfMean!, rstd: this.lnfRstd, inp, weight, bias: this.roleRange(this.params, 'normFBias'), N, C });
  }

  /** lm_head's range in a flat state buffer: wte's when the weights are tied. */
  private lmHead(flat: GPUBuffer): WeightRange {
    return this.range(flat, lmHeadName(this.config))!;
  }

  /** Layer l's attention probabilities (NH, T, T) of a prompt forward: a 256-byte-aligned range of the prompt readback. */
  private promptProbs(l: number, T: number): { buffer: GPUBuffer; offset: number; size: number } {
    const { nHead: NH } = this.config;
    return { buffer: this.promptOut, offset: 4 * l * promptLayerFloats(this.config), size: 4 * NH * T * T };
  }

  /**
   * tokens -> logits (B*T, V). Dropout only when p > 0 (training). With
   * `probs` (the attention views, B = 1) each layer also writes its attention
   * probabilities to promptProbs(l, T); training never stores them. LoRA
   * adapters apply at `strength` (training passes 1).
   */
  private recordForward(pass: Recorder, B: number, T: number, p: number, probs = false, strength = this.loraStrength, hooks: ForwardHooks | null = null): void {
    const { gpu } = this;
    const { nLayer: L, nHead: NH, nEmbd: C, vocabSize: V } = this.config;
    const BT = B * T;
    const drop = p > 0;
    const seed = this.seed;

    const embedded = drop ? this.proj : this.encoded; // (BT, C)
    const wpe = this.roleRange(this.params, 'positionEmbedding');
    embeddingForward(gpu, pass, { out: embedded, tokens: this.tokens, wte: this.roleRange(this.params, 'tokenEmbedding')!, wpe, B, T, C });
    if (drop) dropoutForward(gpu, pass, { out: this.encoded, inp: embedded, n: BT * C, p, salt: 0, seed });
    let resid: Binding = this.encoded; // (BT, C)
    for (let l = 0; l < L; l++) {
      const a = this.layers[l];
      if (this.llama) {
        llamaBlockForward(gpu, pass, {
          inp: resid, acts: a, w: this.w[l], N: BT, shape: { ...this.llama, T }, hooks: hooks?.layer(l),
          attend: (rec) =>
            attentionForward(gpu, rec, {
              out: a.atty, lse: a.lse, qkv: a.qkv, B, T, C, NH, KV: this.llama!.KV, probs: probs ? this.promptProbs(l, T) : null,
            }), // (BT, C)
        });
        resid = a.out;
        continue;
      }
      blockForward(gpu, pass, {
        inp: resid, acts: a, w: this.w[l], proj: this.proj, N: BT, C, activation: this.config.activation,
        attend: (rec) =>
          attentionForward(gpu, rec, {
            out: a.atty, lse: a.lse, qkv: a.qkv, B, T, C, NH, dropout: this.attentionDropout(p, l), probs: probs ? this.promptProbs(l, T) : null,
          }), // (BT, C)
        dropout: drop ? { p, seed, salts: [1 + 2 * l, 2 + 2 * l], scratch: this.projDrop! } : null,
        lora: this.blockLora(l, strength),
        hooks: hooks?.layer(l),
      });
      resid = a.out;
    }
    hooks?.final?.(pass, resid, BT);
    this.finalNormForward(pass, resid, BT);
    matmul(gpu, pass, { site: 'lm_head', out: this.logitsBuf, a: this.lnf, b: this.lmHead(this.params), M: BT, N: V, K: C, transB: true }); // (BT, V)
  }

  /** Per-row cross-entropy and its mean into the readout's loss slot. */
  private recordLoss(pass: Recorder, BT: number): void {
    const V = this.config.vocabSize;
    crossEntropyForward(this.gpu, pass, { losses: this.losses, logits: this.logitsBuf, targets: this.targets, BT, V });
    meanLoss(this.gpu, pass, { out: this.loss, losses: this.losses, n: BT });
  }

  /** Gradients of the mean loss into the flat grads (accumulated; cleared before the pass). */
  private recordBackward(pass: Recorder, B: number, T: number, p: number, dlogitsGiven = false): void {
    const { gpu } = this;
    const { nLayer: L, nHead: NH, nEmbd: C, vocabSize: V } = this.config;
    const BT = B * T;

    if (!dlogitsGiven) crossEntropyBackward(gpu, pass, { dlogits: this.dlogits, logits: this.logitsBuf, targets: this.targets, BT, V }); // (BT, V)
    matmul(gpu, pass, { site: 'lm_head', out: this.dC, a: this.dlogits, b: this.lmHead(this.params), M: BT, N: C, K: V }); // dlnf (BT, C)
    if (!this.lora) matmul(gpu, pass, { site: 'lm_head', out: this.lmHead(this.grads), a: this.dlogits, b: this.lnf, M: V, N: C, K: BT, transA: true, accumulate: true, scratch: this.mmScratch }); // (V, C)
    const lastResid = L > 0 ? this.layers[L - 1].out : this.encoded;
    const normF = { dweight: this.roleRange(this.grads, 'normF')!, weight: this.roleRange(this.params, 'normF')! };
    if (this.llama) {
      rmsNormBackward(gpu, pass, { dinp: this.dres, ...normF, scratch: this.sumScratch, dout: this.dC, inp: lastResid, rstd: this.lnfRstd, N: BT, C, overwrite: true });
    } else {
      layerNormBackward(gpu, pass, {
        dinp: this.dres, ...normF, dbias: this.roleRange(this.grads, 'normFBias'), scratch: this.sumScratch,
        dout: this.dC, inp: lastResid, mean: this.lnfMean!, rstd: this.lnfRstd, N: BT, C, overwrite: true,
      });
    } // the first write of d residual in the step: overwrites it

    for (let l = L - 1; l >= 0; l--) {
      const a = this.layers[l];
      const w = this.w[l];
      const dw = this.dw[l];
      const residIn = l > 0 ? this.layers[l - 1].out : this.encoded;
      if (this.llama) {
        llamaBlockBackward(gpu, pass, {
          dres: this.dres, inp: residIn, acts: a, w, dw, N: BT, shape: { ...this.llama, T }, dC: this.dC, dHidden: this.d4a, dIn: this.d4b,
          sumScratch: this.sumScratch, mmScratch: this.mmScratch,
          attendBackward: (rec, dqkv, datty) =>
            attentionBackward(gpu, rec, { dqkv, delta: this.attDelta, dout: datty, qkv: a.qkv, out: a.atty, lse: a.lse, B, T, C, NH, KV: this.llama!.KV }),
        });
        continue;
      }
      blockBackward(gpu, pass, {
        dres: this.dres, inp: residIn, acts: a, w, dw, frozen: !!this.lora, N: BT, C, activation: this.config.activation,
        dC: this.dC, dHidden: this.d4a, dIn: this.d4b, sumScratch: this.sumScratch, mmScratch: this.mmScratch,
        throughDropout: (rec, site) => this.throughDropout(rec, BT * C, p, site === 0 ? 1 + 2 * l : 2 + 2 * l),
        adapterBackward: (rec, module, dout, inp, dinp) => this.adapterBackward(rec, l, module, dout, inp, dinp, BT),
        attendBackward: (rec, dqkv, datty) =>
          attentionBackward(gpu, rec, { dqkv, delta: this.attDelta, dout: datty, qkv: a.qkv, out: a.atty, lse: a.lse, B, T, C, NH, dropout: this.attentionDropout(p, l) }), // (BT, 3C)
      });
    }
    // resid0 = dropout(wte[x] + wpe[t])
    const demb = this.throughDropout(pass, BT * C, p, 0);
    if (!this.lora) embeddingBackward(gpu, pass, {
      dwte: this.roleRange(this.grads, 'tokenEmbedding')!, dwpe: this.roleRange(this.grads, 'positionEmbedding'), dout: demb, tokens: this.tokens, B, T, C, V,
    });
  }

  /** Layer l's dropout on the attention probabilities, when p > 0 (training). */
  private attentionDropout(p: number, l: number) {
    return p > 0 ? { p, salt: ATTENTION_DROPOUT_SALT + l, seed: this.seed } : null;
  }

  /** d(branch) = dropoutBackward(dres) when dropout is on, else dres itself. */
  private throughDropout(pass: Recorder, n: number, p: number, salt: number): GPUBuffer {
    if (!(p > 0)) return this.dres;
    dropoutBackward(this.gpu, pass, { dinp: this.dDrop!, dout: this.dres, n, p, salt, seed: this.seed });
    return this.dDrop!;
  }

  /** Global grad norm over the flat grads, then AdamW over the decayed range and the rest (padding stays zero). */
  private recordUpdate(pass: Recorder): void {
    const { gpu, layout } = this;
    if (this.loraState) return this.recordAdapterUpdate(pass);
    gradNorm(gpu, pass, { norm: this.norm, grads: this.grads, n: layout.gpuTotal, scratch: this.normScratch });
    const common = { params: this.params, grads: this.grads, m: this.m!, v: this.v!, hyper: this.hyper, norm: this.norm };
    adamw(gpu, pass, { ...common, offset: 0, count: layout.gpuDecayCount, decay: true });
    adamw(gpu, pass, { ...common, offset: layout.gpuDecayCount, count: layout.gpuTotal - layout.gpuDecayCount, decay: false });
  }

  // ------------------------------------------------------------------ fine-tuning: LoRA adapters and DPO

  /** LoRA adapters (./lora.ts): the base is frozen and only they train; null when all weights train. */
  readonly lora: LoraLayout | null;
  /**
   * Adapter strength in prompts, sampling, attention views and evaluation:
   * 0 = the base model, 1 = fully adapted. Training steps always use 1.
   */
  loraStrength = 1;
  private loraState: LoraBuffers | null = null;
  private readonly dpo: DpoBuffers;

  /** The adapters, their AdamW moments (flat adapter layout) and the step count. */
  async readAdapters(): Promise<{ adapters: Float32Array; m: Float32Array; v: Float32Array; step: number }> {
    const st = this.needLora();
    const [adapters, m, v] = await Promise.all([st.params, st.m, st.v].map((b) => this.gpu.readF32(b, this.lora!.total)));
    return { adapters, m, v, step: this.stepsTaken };
  }

  /** Replace the adapters (flat adapter layout); moments default to zero. */
  writeAdapters(state: { adapters: Float32Array; m?: Float32Array; v?: Float32Array; step?: number }): void {
    const st = this.needLora();
    const n = this.lora!.total;
    for (const a of [state.adapters, state.m, state.v]) {
      if (a && a.length !== n) throw new Error(`The adapter arrays must hold ${n} values, got ${a.length}.`);
    }
    this.gpu.write(st.params, state.adapters);
    this.gpu.write(st.m, state.m ?? new Float32Array(n));
    this.gpu.write(st.v, state.v ?? new Float32Array(n));
    if (state.step !== undefined) this.stepsTaken = state.step;
  }

  /**
   * Masked log-probabilities (S = batchSize) of S sequences under the current
   * weights at adapter strength `strength` (DPO's frozen reference: a copy of
   * the model, or the base under LoRA at strength 0). Forward only.
   */
  async sequenceLogProbs(batch: SequenceBatch, strength = this.loraStrength): Promise<Float32Array> {
    const S = this.batchSize;
    const T = this.config.blockSize;
    const d = this.dpo;
    this.writeSequences(batch, d);
    const encoder = this.gpu.device.createCommandEncoder({ label: 'sequence log-probs' });
    const pass = encoder.beginComputePass({ label: 'sequence log-probs' });
    this.recordForward(pass, S, T, 0, false, strength);
    sequenceLogProbs(this.gpu, pass, { logp: d.logp, logits: this.logitsBuf, targets: this.targets, mask: d.mask, S, T, V: this.config.vocabSize });
    pass.end();
    this.gpu.device.queue.submit([encoder.finish()]);
    return this.gpu.readF32(d.logp, S);
  }

  /**
   * One DPO step on S = batchSize sequences (P = S / 2 pairs: chosen 0..P-1,
   * then rejected) against the reference's log-probs (S): forward, log-probs,
   * DPO loss, backward from its logits gradient, grad norm, AdamW (over the
   * adapters under LoRA, else all weights). One command buffer, one pass.
   * With `update: false` nothing is updated and the gradients come back
   * (packed layout, or the adapters' flat layout).
   */
  async dpoStep(batch: SequenceBatch, reference: Float32Array, hyper: StepHyper, beta: number, opts: { update?: boolean } = {}): Promise<DpoStepResult> {
    const S = this.batchSize;
    const T = this.config.blockSize;
    const V = this.config.vocabSize;
    const P = S / 2;
    if (!Number.isInteger(P) || P < 1) throw new Error(`A DPO step needs an even batch of sequences (chosen then rejected), got ${S}.`);
    if (reference.length !== S) throw new Error(`The reference log-probabilities must hold ${S} values, got ${reference.length}.`);
    const update = opts.update ?? true;
    const d = this.dpo;
    this.writeSequences(batch, d);
    this.gpu.write(d.reference, reference);
    this.gpu.write(this.hyper, hyperFloats(hyper));
    if (update) this.stepsTaken = hyper.t;
    const encoder = this.gpu.device.createCommandEncoder({ label: 'dpo step' });
    encoder.clearBuffer(this.grads);
    const pass = encoder.beginComputePass({ label: 'dpo step' });
    this.recordForward(pass, S, T, 0, false, 1);
    const seq = { logits: this.logitsBuf, targets: this.targets, mask: d.mask, S, T, V };
    sequenceLogProbs(this.gpu, pass, { ...seq, logp: d.logp });
    dpoLoss(this.gpu, pass, { stats: d.stats, rewards: d.rewards, dlogp: d.dlogp, policy: d.logp, reference: d.reference, P, beta });
    sequenceLogProbsBackward(this.gpu, pass, { ...seq, dlogits: this.dlogits, dlogp: d.dlogp });
    this.recordBackward(pass, S, T, 0, true);
    if (update) this.recordUpdate(pass);
    pass.end();
    this.gpu.device.queue.submit([encoder.finish()]);
    const gradsBuf = this.loraState ? this.loraState.grads : this.grads;
    const n = this.loraState ? this.lora!.total : this.layout.gpuTotal;
    const [stats, rewards, logp, norm, grads] = await Promise.all([
      this.gpu.readF32(d.stats, DPO_STATS.count),
      this.gpu.readF32(d.rewards, S),
      this.gpu.readF32(d.logp, S),
      update ? this.gpu.readF32(this.readout, 1, READOUT_NORM_FLOAT) : Promise.resolve(new Float32Array([Number.NaN])),
      update ? Promise.resolve(null) : this.gpu.readF32(gradsBuf, n),
    ]);
    return {
      loss: stats[DPO_STATS.loss], gradNorm: norm[0], margin: stats[DPO_STATS.margin], accuracy: stats[DPO_STATS.accuracy],
      rewardChosen: stats[DPO_STATS.rewardChosen], rewardRejected: stats[DPO_STATS.rewardRejected],
      rewardsChosen: rewards.slice(0, P), rewardsRejected: rewards.slice(P), logp,
      grads: grads && (this.loraState ? grads : gpuToPacked(this.layout, grads)),
    };
  }

  private needLora(): LoraBuffers {
    if (!this.loraState) throw new Error('This model has no LoRA adapters.');
    return this.loraState;
  }

  private loraBuffers(lora: LoraLayout, adapters: Float32Array | undefined, b: (name: string) => GPUBuffer): LoraBuffers {
    const st: LoraBuffers = {
      params: b('lora params'), grads: b('lora grads'), m: b('lora m'), v: b('lora v'), dxa: b('lora dxa'),
      xa: lora.adapters.map((mods, l) => Object.fromEntries(Object.keys(mods).map((m) => [m, b(`h${l}.${m} xa`)]))),
    };
    this.loraState = st;
    this.writeAdapters({ adapters: adapters ?? new Float32Array(lora.total) });
    return st;
  }

  /** Layer l's adapters at a strength, for the block forward; null without LoRA. */
  private blockLora(l: number, strength: number): BlockLora | null {
    if (!this.loraState || !this.lora) return null;
    const st = this.loraState;
    const adapters: BlockLora['adapters'] = {};
    for (const module of LORA_MODULES) {
      const ad = this.lora.adapters[l][module];
      if (!ad) continue;
      adapters[module] = { A: loraRange(st.params, ad.A), B: loraRange(st.params, ad.B), r: ad.r, xa: st.xa[l][module]! };
    }
    return { adapters, scale: loraScale(this.lora.lora, strength) };
  }

  /** Layer l's adapter backward on `module` (strength 1): adapter gradients (overwritten), dinp += its share. */
  private adapterBackward(pass: Recorder, l: number, module: LoraModuleName, dout: Binding, inp: Binding, dinp: Binding, N: number): void {
    const ad = this.lora?.adapters[l][module];
    if (!ad || !this.loraState) return;
    const st = this.loraState;
    loraBackward(this.gpu, pass, {
      dinp, dA: loraRange(st.grads, ad.A), dB: loraRange(st.grads, ad.B), dout, inp, xa: st.xa[l][module]!,
      A: loraRange(st.params, ad.A), B: loraRange(st.params, ad.B), dxa: st.dxa, N, IN: ad.IN, OUT: ad.OUT, r: ad.r,
      scale: loraScale(this.lora!.lora, 1), scratch: this.mmScratch, site: module,
    });
  }

  /** Grad norm over the adapters' gradients, then AdamW over the adapters (both A and B are matrices: decayed). */
  private recordAdapterUpdate(pass: Recorder): void {
    const st = this.loraState!;
    const n = this.lora!.total;
    gradNorm(this.gpu, pass, { norm: this.norm, grads: st.grads, n, scratch: this.normScratch });
    adamw(this.gpu, pass, { params: st.params, grads: st.grads, m: st.m, v: st.v, hyper: this.hyper, norm: this.norm, offset: 0, count: n, decay: true });
  }

  private writeSequences(batch: SequenceBatch, d: DpoBuffers): void {
    const BT = this.batchSize * this.config.blockSize;
    this.writeTokens(batch, BT);
    if (batch.mask.length !== BT) throw new Error(`A batch of sequences must hold ${BT} mask values, got ${batch.mask.length}.`);
    this.gpu.write(d.mask, batch.mask);
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
    const f = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    if (this.owned.length) this.staging.push(staging);
    else staging.destroy();
    return [f[0], f[READOUT_NORM_FLOAT]];
  }
}
