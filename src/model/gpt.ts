// The GPT (nanoGPT's architecture, or the LLaMA-style block) on WebGPU, built
// from the kernels in src/kernels. llm.c's structure: every buffer is
// allocated once per (config, batch size); one training step (zero grads,
// forward, backward, global grad norm, AdamW) is recorded into ONE command
// encoder and submitted once; nothing is read back inside the step.
//
// The class is assembled in layers, each a file:
//   ./gptGraph.ts   buffers, parameter groups, forward / loss / backward / update recordings
//   ./gptProbes.ts  prompt forward, logit lens, per-tensor health
//   ./gptDpo.ts     DPO sequence log-probs and step
//   ./gpt.ts        (this file) training step, evaluation, state I/O, decoder, lifetime
// with ./gptTypes.ts (shared types), ./head.ts (ln_f + lm_head) and
// ./loraState.ts (the adapters' parameter group).
//
// API (driven by the engine worker):
//   const model = new GptModel(gpu, config, batchSize, { params?, seed?, lora? });
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
//   model.sequenceLogProbs / dpoStep: DPO (./gptDpo.ts)
//   model.decoder()              -> a KV-cache decoder (./decoder.ts): push(id) -> logits (V)
//                                   of the next token, one row of work per token, up to
//                                   blockSize positions; dispose() frees its buffers
//   model.readState() / writeState({ params, m, v, step }): the whole training
//       state as packed flat Float32Arrays (./layout.ts offsets, no padding)
//   model.readAdapters() / writeAdapters(...): a LoRA model's adapters (flat adapter layout)
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

import type { Gpu } from '../gpu/runtime';
import type { ModelConfig } from './config';
import { GptDecoder } from './decoder';
import { GptDpo } from './gptDpo';
import { READBACK_BYTES, type GraphOptions } from './gptGraph';
import type { AdapterState, ModelState, StepResult, TokenBatch } from './gptTypes';
import { initParams, packedToGpu, gpuToPacked, type ParamTensor } from './layout';
import { hyperFloats, type StepHyper } from './schedule';

export { stepHyper, type StepHyper } from './schedule';
export {
  ATTENTION_DROPOUT_SALT,
  type AdapterState, type DpoStepResult, type ModelState, type ProbeResult, type SequenceBatch, type StepResult, type TokenBatch,
} from './gptTypes';

export class GptModel extends GptDpo {
  private readonly decoders = new Set<GptDecoder>(); // live, disposed with the model

  constructor(gpu: Gpu, config: ModelConfig, batchSize: number, options: GraphOptions & { params?: Float32Array; seed?: number } = {}) {
    super(gpu, config, batchSize, options);
    this.writeState({
      params: options.params ?? initParams(this.layout, options.seed ?? 1337),
      m: new Float32Array(this.paramCount),
      v: new Float32Array(this.paramCount),
      step: 0,
    });
  }

  // ------------------------------------------------------------------ training and evaluation

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
    this.recordLossAndGrad(pass, B * T);
    this.recordBackward(pass, B, T, this.config.dropout);
    this.recordUpdate(pass);
    pass.end();
    encoder.copyBufferToBuffer(this.readout, 0, staging, 0, READBACK_BYTES);
    this.gpu.device.queue.submit([encoder.finish()]);
    // Per-tensor health covers models that train all their weights (a frozen base has no health buffers).
    const health = hyper.health && this.health ? this.recordHealth() : null;
    const result = this.readStaging(staging).then(([loss, norm]) => ({ loss, gradNorm: norm, doneAt: performance.now() }));
    // Both readbacks settle together, so a lost device rejects the step once and leaves no unhandled rejection.
    return Promise.all([result, health]).then(([r, h]) => (h ? { ...r, health: h } : r));
  }

  /**
   * Forward and backward of one batch without an update, for tests and
   * inspection: the mean loss, the logits (B*T, V) and the gradients (P),
   * packed in the parameter layout (with LoRA: the adapters' flat layout).
   * Dropout only when a seed is given.
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
    this.recordLossAndGrad(pass, BT);
    this.recordBackward(pass, B, T, p);
    pass.end();
    this.gpu.device.queue.submit([encoder.finish()]);
    const [loss, logits, grads] = await Promise.all([
      this.gpu.readF32(this.readout, 1),
      this.gpu.readF32(this.logitsBuf, BT * this.config.vocabSize),
      this.readGrads(),
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
   * A key/value-cache decoder over this model's weights as of each push (see
   * ./decoder.ts): logits after each pushed token equal logits(prefix).
   */
  decoder(opts: { interventions?: boolean } = {}): GptDecoder {
    if (!this.owned.length) throw new Error('This model was destroyed; it cannot decode.');
    const d = new GptDecoder(this.gpu, this.config, (name) => this.range(this.params, name), (x) => this.decoders.delete(x), (l) => this.adapters.forward(l, this.loraStrength), () => (opts.interventions === false ? null : this.viewHooks));
    this.decoders.add(d);
    return d;
  }

  // ------------------------------------------------------------------ state

  /** Parameters, both AdamW moments and the step count, after all submitted work (packed layout). */
  async readState(): Promise<ModelState> {
    const [params, m, v] = await Promise.all(
      // A frozen base has no moments: m and v come back empty (the adapters' are in `lora`).
      [this.params, this.m, this.v].map(async (b) => (b ? gpuToPacked(this.layout, await this.gpu.readF32(b, this.layout.gpuTotal)) : new Float32Array(0))),
    );
    if (!this.loraState) return { params, m, v, step: this.stepsTaken };
    return { params, m, v, step: this.stepsTaken, lora: await this.loraState.read() };
  }

  /** Replace the whole training state, packed layout (the moments default to zero, the step to 0). */
  writeState(state: { params: Float32Array; m?: Float32Array; v?: Float32Array; step?: number; lora?: AdapterState }): void {
    const P = this.paramCount;
    // A frozen base has no moments: empty ones are accepted (and ignored).
    const moments = this.m ? { m: state.m, v: state.v } : {};
    for (const [name, a] of Object.entries({ params: state.params, ...moments })) {
      if (a && a.length !== P) throw new Error(`The ${name} array has ${a.length} values but this model has ${P} parameters.`);
    }
    if (state.lora && !this.loraState) throw new Error('This model has no LoRA adapters to write.');
    if (state.lora) this.writeAdapters({ adapters: state.lora.adapters, m: state.lora.m, v: state.lora.v });
    const zeros = new Float32Array(this.layout.gpuTotal);
    this.gpu.write(this.params, packedToGpu(this.layout, state.params));
    if (this.m) this.gpu.write(this.m, state.m ? packedToGpu(this.layout, state.m) : zeros);
    if (this.v) this.gpu.write(this.v, state.v ? packedToGpu(this.layout, state.v) : zeros);
    this.stepsTaken = state.step ?? 0;
  }

  /** The adapters, their AdamW moments (flat adapter layout) and the step count. */
  async readAdapters(): Promise<AdapterState & { step: number }> {
    if (!this.loraState) throw new Error('This model has no LoRA adapters.');
    return { ...(await this.loraState.read()), step: this.stepsTaken };
  }

  /** Replace the adapters (flat adapter layout); moments default to zero. */
  writeAdapters(state: { adapters: Float32Array; m?: Float32Array; v?: Float32Array; step?: number }): void {
    if (!this.loraState) throw new Error('This model has no LoRA adapters.');
    this.loraState.write(state);
    if (state.step !== undefined) this.stepsTaken = state.step;
  }

  /** The parameter tensors under nanoGPT names (tied lm_head listed once, as transformer.wte.weight). */
  tensors(): ParamTensor[] {
    return this.layout.tensors;
  }

  finish(): Promise<void> {
    return this.gpu.finish();
  }

  destroy(): void {
    for (const d of [...this.decoders]) d.dispose();
    this.freeBuffers();
  }
}
