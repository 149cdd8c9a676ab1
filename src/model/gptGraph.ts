// The recorded graph of GptModel (./gpt.ts): every buffer of the allocation
// table, the parameter groups, and the forward / loss / backward / update
// recordings over the blocks (./block.ts blockForward / blockBackward, or the
// LLaMA pair of ./llamaBlock.ts) and the tail (./head.ts), written once for
// every kind of run. Fine-tuning changes data, not code paths: a frozen base
// is a parameter group without gradients or moments (its gradient ranges are
// null, the norms' point at a sink), LoRA adapters are hooks on the Linears
// (./loraState.ts; a model without them gets hooks that record nothing), and
// AdamW updates whichever group trains.

import type { Binding, Gpu, Recorder } from '../gpu/runtime';
import { adamw, gradNorm } from '../kernels/adamw';
import { attentionBackward, attentionForward } from '../kernels/attention';
import { crossEntropyForward, crossEntropyLossAndGrad, meanLoss } from '../kernels/crossEntropy';
import { dropoutBackward } from '../kernels/dropout';
import { embeddingBackward, embeddingForward } from '../kernels/embedding';
import { GradReduce } from '../kernels/gradReduce';
import { allocationTable, frozenSinkFloats, promptLayerFloats, READOUT_NORM_FLOAT, type AllocationTable } from './allocation';
import { blockBackward, blockForward, type BlockGrads, type BlockWeights } from './block';
import { DEFAULT_ROPE_THETA, RMS_NORM_EPS, type ModelConfig } from './config';
import { blockDims, blockKind, blockWeightNames, describeParams, lmHeadName, roleName, type ParamRole } from './description';
import type { WeightRange } from './decoder';
import { ATTENTION_DROPOUT_SALT, type LayerActs, type TokenBatch, type TrainableGroup } from './gptTypes';
import { headBackward, headForward, type HeadActs, type HeadShape, type HeadWeights } from './head';
import { llamaBlockBackward, llamaBlockForward, type LlamaShape } from './llamaBlock';
import { gpuToPacked, type ParamLayout } from './layout';
import type { LoraLayout } from './lora';
import { LoraState, NO_ADAPTERS, type BlockAdapters } from './loraState';
import type { ForwardHooks, HookedForward } from './hooks';

/** Bytes the step's readout copy moves: the loss at 0, the grad norm at READOUT_NORM_FLOAT. */
export const READBACK_BYTES = 4 * (READOUT_NORM_FLOAT + 1);

/** Where a frozen base's norm gradients land (nothing reads them): gains at slot 0, biases at slot 1. */
const SINK_SLOT: Partial<Record<ParamRole, 0 | 1>> = { norm1: 0, norm2: 0, normF: 0, norm1Bias: 1, norm2Bias: 1, normFBias: 1 };

export interface GraphOptions {
  /** LoRA adapters (initially `adapters`, else zeros): the base is then a frozen group and only they train. */
  lora?: { layout: LoraLayout; adapters?: Float32Array };
}

export class GptGraph {
  readonly layout: ParamLayout;
  readonly allocation: AllocationTable;
  readonly paramCount: number;
  /** AdamW steps taken (the t of the last step). */
  stepsTaken = 0;
  /** LoRA adapters (./lora.ts): the base is frozen and only they train; null when all weights train. */
  readonly lora: LoraLayout | null;
  /**
   * Adapter strength in prompts, sampling, attention views and evaluation:
   * 0 = the base model, 1 = fully adapted. Training steps always use 1.
   */
  loraStrength = 1;

  protected readonly owned: GPUBuffer[] = [];
  private readonly buffers = new Map<string, GPUBuffer>();
  // Flat state (gpuTotal floats each) and the optimizer's small buffers.
  protected readonly params: GPUBuffer;
  protected readonly grads: GPUBuffer; // a frozen base's: the norm sink
  protected readonly m: GPUBuffer | null; // null for a frozen base
  protected readonly v: GPUBuffer | null;
  /** The adapters' state, or null. */
  protected readonly loraState: LoraState | null;
  /** The hooks the blocks call on their Linears: the adapters, or NO_ADAPTERS. */
  protected readonly adapters: BlockAdapters;
  /** The group AdamW updates: the base, or the adapters. */
  protected readonly trained: TrainableGroup;
  private readonly gradRanges: (name: string) => WeightRange | null;
  private readonly normScratch: GPUBuffer;
  protected readonly hyper: GPUBuffer; // f32[8]
  protected readonly seed: GPUBuffer; // u32[1]
  private readonly loss: Binding; // f32[1] at float 0 of the readout
  private readonly norm: Binding; // f32[1] at READOUT_NORM_FLOAT of the readout
  protected readonly readout: GPUBuffer;
  // Per-layer parameter and gradient ranges.
  private readonly w: BlockWeights[] = [];
  private readonly dw: BlockGrads[] = [];

  // Activations (training shapes; prompts and evals use a prefix of them).
  protected readonly tokens: GPUBuffer; // (BT) i32
  protected readonly targets: GPUBuffer; // (BT) i32
  private readonly encoded: GPUBuffer; // (BT, C) the residual stream entering layer 0
  protected readonly layers: LayerActs[] = [];
  private readonly headActs: HeadActs; // ln_f (BT, C), its mean (LayerNorm) and rstd (BT)
  /** The LLaMA block's shape (rotary, RMSNorm); null for the GPT-2 block. */
  private readonly llama: LlamaShape | null;
  protected readonly logitsBuf: GPUBuffer; // (BT, V)
  protected readonly losses: GPUBuffer; // (BT)

  // Scratch shared by all layers; the forward's and the backward's names for one buffer are listed together.
  private readonly proj: GPUBuffer; // (BT, C) a projection's output before the residual add (a hooked or adapted branch)
  private readonly dC: GPUBuffer; // (BT, C) = proj: d(layernorm output) / d atty
  private readonly projDrop: GPUBuffer | null; // (BT, C) a dropped branch
  private readonly dDrop: GPUBuffer | null; // (BT, C) = projDrop: gradient through a dropout
  protected readonly dlogits: GPUBuffer; // (BT, V)
  private readonly dres: GPUBuffer; // (BT, C) gradient of the residual stream
  private readonly d4a: GPUBuffer; // (BT, hidden) d(fch after activation); dqkv (BT, qkv) in the attention backward
  private readonly d4b: GPUBuffer; // (BT, 4C) d fch
  private readonly attDelta: GPUBuffer; // (B, NH, T) attention backward row sums
  private readonly sumScratch: GPUBuffer; // partial column sums of a bias gradient whose product does not split
  private readonly mmScratch: GPUBuffer | null; // split-K partial products of the adapters' weight gradients (LoRA)
  /** The base's weight gradients, finished by one reduce after the tail and after each block; null for a frozen base. */
  private readonly gradReduce: GradReduce | null;
  protected readonly promptOut: GPUBuffer; // (L, NH, T, T) probabilities at promptLayerFloats strides, then (V) logits

  private readonly staging: GPUBuffer[] = []; // free MAP_READ buffers of READBACK_BYTES

  constructor(
    protected readonly gpu: Gpu,
    readonly config: ModelConfig,
    readonly batchSize: number,
    options: GraphOptions = {},
  ) {
    const { nLayer: L } = config;
    this.lora = options.lora?.layout ?? null;
    this.llama = blockKind(config) === 'llama'
      ? { ...blockDims(config), T: config.blockSize, theta: config.ropeTheta ?? DEFAULT_ROPE_THETA, eps: config.rmsNormEps ?? RMS_NORM_EPS }
      : null;
    this.allocation = allocationTable(config, batchSize, this.lora);
    this.layout = this.allocation.layout;
    this.paramCount = this.layout.total;
    for (const spec of this.allocation.buffers) this.buffers.set(spec.name, this.alloc(4 * spec.floats, spec.name));
    const b = (name: string) => this.buf(name);
    const opt = (name: string) => this.bufOpt(name);

    this.params = b('params');
    this.grads = b('grads');
    this.m = opt('adam m');
    this.v = opt('adam v');
    this.mmScratch = opt('matmul scratch');
    // The parameter groups: the base trains unless adapters do (then it has no moments and a gradient sink).
    const layout = this.layout;
    this.loraState = options.lora ? new LoraState(gpu, options.lora.layout, b, this.mmScratch!, options.lora.adapters) : null;
    this.adapters = this.loraState ?? NO_ADAPTERS;
    const base = this.m && this.v
      ? { params: this.params, grads: this.grads, m: this.m, v: this.v, count: layout.gpuTotal, decayCount: layout.gpuDecayCount, unpack: (f: Float32Array) => gpuToPacked(layout, f) }
      : null;
    this.trained = base ?? this.loraState!.group;
    this.gradRanges = base ? (name) => this.range(this.grads, name) : this.sinkRanges();
    this.gradReduce = base ? new GradReduce(b('grad partials')) : null;
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
      this.w.push(this.blockRanges(l, (n) => this.range(this.params, n)) as BlockWeights);
      this.dw.push(this.blockRanges(l, this.gradRanges) as BlockGrads);
    }
    this.headActs = { lnf: b('ln_f'), mean: opt('ln_f mean'), rstd: b('ln_f rstd') };
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
    this.promptOut = b('prompt readback');
  }

  /** Bytes of the GPU buffers this model holds (staging ring included). */
  liveBytes(): number {
    return [...this.owned, ...this.staging].reduce((s, buf) => s + buf.size, 0);
  }

  // ------------------------------------------------------------------ ranges

  /** A buffer of the allocation table, by name. */
  protected buf(name: string): GPUBuffer {
    const buffer = this.buffers.get(name);
    if (!buffer) throw new Error(`No buffer named "${name}" in this model's allocation table.`);
    return buffer;
  }

  /** A buffer of the allocation table, or null when this model has none of that name. */
  protected bufOpt(name: string): GPUBuffer | null {
    return this.buffers.get(name) ?? null;
  }

  /** The range of a named tensor in a flat state buffer laid out like params; null for an absent bias. */
  protected range(flat: GPUBuffer, name: string): WeightRange | null {
    const t = this.layout.byName.get(name);
    return t ? { buffer: flat, offset: 4 * t.gpuOffset, size: 4 * t.size } : null;
  }

  /** A frozen base's gradient ranges: the norms write theirs into the sink's two slots; every other weight has none. */
  private sinkRanges(): (name: string) => WeightRange | null {
    const C = this.config.nEmbd;
    const roles = new Map(describeParams(this.config).map((t) => [t.name, t.role]));
    return (name) => {
      const slot = SINK_SLOT[roles.get(name)!];
      return slot === undefined || !this.layout.byName.has(name) ? null : { buffer: this.grads, offset: slot * 2 * frozenSinkFloats(C), size: 4 * C };
    };
  }

  private blockRanges(l: number, get: (name: string) => WeightRange | null): BlockGrads {
    const names = blockWeightNames(this.config, l);
    const r = (n: string | undefined) => (n === undefined ? null : get(n));
    return {
      ln1w: r(names.ln1w)!, ln1b: r(names.ln1b), attnW: r(names.attnW), attnB: r(names.attnB),
      projW: r(names.projW), projB: r(names.projB), ln2w: r(names.ln2w)!, ln2b: r(names.ln2b),
      fcW: r(names.fcW), fcB: r(names.fcB), mprojW: r(names.mprojW), mprojB: r(names.mprojB),
    };
  }

  /** A named role's range (embeddings, final norm, head) through `get`, or null when the model has none. */
  private role(role: ParamRole, get: (name: string) => WeightRange | null): WeightRange | null {
    const name = roleName(this.config, role);
    return name === undefined ? null : get(name);
  }

  /** The tail's weights: the final norm and lm_head (wte's range when the weights are tied). */
  protected headWeights(): HeadWeights {
    const p = (n: string) => this.range(this.params, n);
    return { normW: this.role('normF', p)!, normB: this.role('normFBias', p), lmHead: p(lmHeadName(this.config))! };
  }

  protected headShape(N: number): HeadShape {
    return { N, C: this.config.nEmbd, V: this.config.vocabSize, rmsEps: this.llama ? this.llama.eps : null };
  }

  /** The tail over N rows of `inp`: the final norm into ln_f, then lm_head into `logits`. */
  protected recordHead(pass: Recorder, inp: Binding, logits: Binding, N: number): void {
    headForward(this.gpu, pass, { logits, inp, acts: this.headActs, w: this.headWeights(), shape: this.headShape(N) });
  }

  /** Layer l's attention probabilities (NH, T, T) of a prompt forward: a 256-byte-aligned range of the prompt readback. */
  protected promptProbs(l: number, T: number): { buffer: GPUBuffer; offset: number; size: number } {
    const { nHead: NH } = this.config;
    return { buffer: this.promptOut, offset: 4 * l * promptLayerFloats(this.config), size: 4 * NH * T * T };
  }

  // ------------------------------------------------------------------ interventions

  /** Live interventions of the views (prompt forwards and decoders: sampling, attention); training, evaluation and the probe never run them. */
  viewHooks: ForwardHooks | null = null;

  /** Hooked forwards without dropout over this model's buffers, for ./interventions.ts. */
  hooked(): HookedForward {
    return {
      record: (pass, B, T, hooks) => this.recordForward(pass, B, T, 0, false, 1, hooks),
      recordLoss: (pass, BT) => this.recordLoss(pass, BT),
      writeTokens: (x, y) => { this.gpu.write(this.tokens, x); if (y) this.gpu.write(this.targets, y); },
      encoded: this.encoded, acts: this.layers, lnfRstd: this.buf('ln_f rstd'), logits: this.logitsBuf, loss: this.loss, scratch: this.proj,
      weight: (name) => this.range(this.params, name),
    };
  }

  // ------------------------------------------------------------------ recording

  /**
   * tokens -> logits (B*T, V). Dropout only when p > 0 (training). With
   * `probs` (the attention views, B = 1) each layer also writes its attention
   * probabilities to promptProbs(l, T); training never stores them. LoRA
   * adapters apply at `strength` (training passes 1).
   */
  protected recordForward(pass: Recorder, B: number, T: number, p: number, probs = false, strength = this.loraStrength, hooks: ForwardHooks | null = null): void {
    const { gpu } = this;
    const { nLayer: L, nHead: NH, nEmbd: C } = this.config;
    const BT = B * T;
    const drop = p > 0;
    const seed = this.seed;
    const params = (n: string) => this.range(this.params, n);

    // resid0 = dropout(wte[x] + wpe[t]), the dropout in the embedding kernel
    const dropout = drop ? { p, salt: 0, seed } : null;
    embeddingForward(gpu, pass, { out: this.encoded, tokens: this.tokens, wte: this.role('tokenEmbedding', params)!, wpe: this.role('positionEmbedding', params), B, T, C, dropout }); // (BT, C)
    let resid: Binding = this.encoded; // (BT, C)
    for (let l = 0; l < L; l++) {
      const a = this.layers[l];
      const att = { out: a.atty, lse: a.lse, qkv: a.qkv, B, T, C, NH, probs: probs ? this.promptProbs(l, T) : null };
      if (this.llama) {
        llamaBlockForward(gpu, pass, {
          inp: resid, acts: a, w: this.w[l], N: BT, shape: { ...this.llama, T },
          attend: (rec) => attentionForward(gpu, rec, { ...att, KV: this.llama!.KV }), // (BT, C)
          lora: this.adapters.forward(l, strength),
          hooks: hooks?.layer(l),
        });
      } else {
        blockForward(gpu, pass, {
          inp: resid, acts: a, w: this.w[l], proj: this.proj, N: BT, C, activation: this.config.activation,
          attend: (rec) => attentionForward(gpu, rec, { ...att, dropout: this.attentionDropout(p, l) }), // (BT, C)
          dropout: drop ? { p, seed, salts: [1 + 2 * l, 2 + 2 * l], scratch: this.projDrop! } : null,
          lora: this.adapters.forward(l, strength),
          hooks: hooks?.layer(l),
        });
      }
      resid = a.out;
    }
    hooks?.final?.(pass, resid, BT);
    this.recordHead(pass, resid, this.logitsBuf, BT); // (BT, V)
  }

  /** Per-row cross-entropy and its mean into the readout's loss slot. */
  protected recordLoss(pass: Recorder, BT: number): void {
    const V = this.config.vocabSize;
    crossEntropyForward(this.gpu, pass, { losses: this.losses, logits: this.logitsBuf, targets: this.targets, BT, V });
    meanLoss(this.gpu, pass, { out: this.loss, losses: this.losses, n: BT });
  }

  /** A training pass's loss: per-row cross-entropy and its gradient dlogits together, then the mean into the readout's loss slot. */
  protected recordLossAndGrad(pass: Recorder, BT: number): void {
    const V = this.config.vocabSize;
    crossEntropyLossAndGrad(this.gpu, pass, { losses: this.losses, dlogits: this.dlogits, logits: this.logitsBuf, targets: this.targets, BT, V });
    meanLoss(this.gpu, pass, { out: this.loss, losses: this.losses, n: BT });
  }

  /** Gradients of dlogits (recordLossAndGrad's, or a DPO step's) into the trained group's grads (accumulated; cleared before the pass). */
  protected recordBackward(pass: Recorder, B: number, T: number, p: number): void {
    const { gpu } = this;
    const { nLayer: L, nHead: NH, nEmbd: C, vocabSize: V } = this.config;
    const BT = B * T;
    const grads = this.gradRanges;

    // the first write of d residual in the step: overwrites it
    headBackward(gpu, pass, {
      dinp: this.dres, dlogits: this.dlogits, inp: L > 0 ? this.layers[L - 1].out : this.encoded, acts: this.headActs, w: this.headWeights(),
      dw: { normW: this.role('normF', grads)!, normB: this.role('normFBias', grads), lmHead: grads(lmHeadName(this.config)) },
      shape: this.headShape(BT), dC: this.dC, reduce: this.gradReduce,
    });
    // The tail's and then each block's weight gradients (split-K partials, the norms' sums) in one dispatch each.
    this.gradReduce?.record(gpu, pass);

    for (let l = L - 1; l >= 0; l--) {
      const a = this.layers[l];
      const common = { dres: this.dres, inp: l > 0 ? this.layers[l - 1].out : this.encoded, acts: a, w: this.w[l], dw: this.dw[l], N: BT };
      const scratch = { dC: this.dC, dHidden: this.d4a, dIn: this.d4b, reduce: this.gradReduce };
      const att = { delta: this.attDelta, qkv: a.qkv, out: a.atty, lse: a.lse, B, T, C, NH };
      if (this.llama) {
        llamaBlockBackward(gpu, pass, {
          ...common, ...scratch, shape: { ...this.llama, T },
          adapterBackward: (rec, module, dout, inp, dinp) => this.adapters.backward(rec, l, module, dout, inp, dinp, BT),
          attendBackward: (rec, dqkv, datty) => attentionBackward(gpu, rec, { ...att, dqkv, dout: datty, KV: this.llama!.KV }),
        });
      } else {
        blockBackward(gpu, pass, {
          ...common, ...scratch, sumScratch: this.sumScratch, C, activation: this.config.activation,
          throughDropout: (rec, site) => this.throughDropout(rec, BT * C, p, site === 0 ? 1 + 2 * l : 2 + 2 * l),
          branchDropout: (site) => (p > 0 ? { p, salt: site === 0 ? 1 + 2 * l : 2 + 2 * l, seed: this.seed, scratch: this.dDrop! } : null),
          adapterBackward: (rec, module, dout, inp, dinp) => this.adapters.backward(rec, l, module, dout, inp, dinp, BT),
          adapted: (module) => !!this.adapters.forward(l, 1)?.adapters[module],
          attendBackward: (rec, dqkv, datty) => attentionBackward(gpu, rec, { ...att, dqkv, dout: datty, dropout: this.attentionDropout(p, l) }), // (BT, 3C)
        });
      }
      this.gradReduce?.record(gpu, pass);
    }
    // resid0 = dropout(wte[x] + wpe[t]): the embedding gradients read d resid0 through the dropout
    const dwte = this.role('tokenEmbedding', grads);
    const dropout = p > 0 ? { p, salt: 0, seed: this.seed } : null;
    if (dwte) embeddingBackward(gpu, pass, { dwte, dwpe: this.role('positionEmbedding', grads), dout: this.dres, tokens: this.tokens, B, T, C, V, dropout });
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

  /** Global grad norm over the trained group's grads, then AdamW over its decayed range and the rest (padding stays zero). */
  protected recordUpdate(pass: Recorder): void {
    const g = this.trained;
    gradNorm(this.gpu, pass, { norm: this.norm, grads: g.grads, n: g.count, scratch: this.normScratch });
    const common = { params: g.params, grads: g.grads, m: g.m, v: g.v, hyper: this.hyper, norm: this.norm };
    adamw(this.gpu, pass, { ...common, offset: 0, count: g.decayCount, decay: true });
    if (g.count > g.decayCount) adamw(this.gpu, pass, { ...common, offset: g.decayCount, count: g.count - g.decayCount, decay: false });
  }

  /** The trained group's gradients after a recorded backward (packed, or the adapters' flat layout). */
  protected async readGrads(): Promise<Float32Array> {
    const g = this.trained;
    return g.unpack(await this.gpu.readF32(g.grads, g.count));
  }

  // ------------------------------------------------------------------ buffers and readback

  private alloc(bytes: number, label: string): GPUBuffer {
    const buffer = this.gpu.buffer(bytes, label);
    this.owned.push(buffer);
    return buffer;
  }

  protected writeTokens(batch: TokenBatch, BT: number): void {
    if (batch.x.length !== BT || batch.y.length !== BT) {
      throw new Error(`A batch must hold ${BT} inputs and targets, got ${batch.x.length} and ${batch.y.length}.`);
    }
    this.gpu.write(this.tokens, batch.x);
    this.gpu.write(this.targets, batch.y);
  }

  protected takeStaging(): GPUBuffer {
    return (
      this.staging.pop() ??
      this.gpu.device.createBuffer({ size: READBACK_BYTES, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'step readback' })
    );
  }

  protected async readStaging(staging: GPUBuffer): Promise<[number, number]> {
    await staging.mapAsync(GPUMapMode.READ);
    const f = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    if (this.owned.length) this.staging.push(staging);
    else staging.destroy();
    return [f[0], f[READOUT_NORM_FLOAT]];
  }

  /** Free every buffer (the staging ring included). */
  protected freeBuffers(): void {
    for (const buffer of this.owned) this.gpu.destroy(buffer);
    for (const buffer of this.staging) buffer.destroy();
    this.owned.length = 0;
    this.staging.length = 0;
  }
}
