// The inspection side of GptModel (./gpt.ts): the prompt forward (logits of
// the last position, attention probabilities), the logit-lens probe and the
// per-tensor training health. Each records the same forward as training
// (./gptGraph.ts) into one pass and reads back once.

import { crossEntropyForward } from '../kernels/crossEntropy';
import { healthTable, tensorHealth, type HealthTable } from '../kernels/tensorHealth';
import { lensLayerFloats, promptLayerFloats } from './allocation';
import { GptGraph } from './gptGraph';
import type { ProbeResult } from './gptTypes';

interface HealthBuffers {
  table: HealthTable;
  out: GPUBuffer;
  partial: GPUBuffer;
  chunks: GPUBuffer;
  firstChunk: GPUBuffer;
}

export class GptProbes extends GptGraph {
  private readonly lensOut = this.buf('logit lens'); // (L, blockSize, V) logit lens at lensLayerFloats strides
  private readonly probeOut = this.buf('probe readback'); // lens (L, T, V), attention (L, NH, T, T), losses (T - 1)
  /** Per-tensor health buffers: present when the base weights train. */
  protected readonly health: HealthBuffers | null = this.healthBuffers();

  /**
   * Forward of one sequence (B = 1, T = ids.length): the logits (V) of the last
   * position and, when asked, the attention probabilities (L, NH, T, T).
   */
  async forwardPrompt(ids: Int32Array, opts: { attention?: boolean; interventions?: boolean } = {}): Promise<{ logits: Float32Array; att: Float32Array | null }> {
    const { nLayer: L, nHead: NH, vocabSize: V } = this.config;
    const T = this.checkPrompt(ids);
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
   * Forward of one sequence (B = 1, T = ids.length <= blockSize) for the
   * inspection views: the logit lens (L, T, V) (ln_f and lm_head applied to the
   * residual stream after each block; its last layer is the model's logits),
   * per-position losses (T-1) in nats (row t predicts ids[t+1]) and the
   * attention probabilities (L, NH, T, T). Our kernels only; one pass, one readback.
   */
  async probe(ids: Int32Array): Promise<ProbeResult> {
    const { nLayer: L, nHead: NH, vocabSize: V } = this.config;
    const T = this.checkPrompt(ids);
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
      // The tail on block l's output (ln_f's scratch is free after the forward), into layer l's slot: (T, V).
      this.recordHead(pass, this.layers[l].out, { buffer: lens, offset: l * stride, size: T * V * 4 }, T);
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
  protected recordHealth(): Promise<Float32Array> {
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

  /** T of a prompt, after checking its length and ids. */
  private checkPrompt(ids: Int32Array): number {
    const { blockSize, vocabSize: V } = this.config;
    const T = ids.length;
    if (T < 1 || T > blockSize) throw new Error(`A prompt must hold 1 to ${blockSize} tokens, got ${T}.`);
    for (const id of ids) if (!(id >= 0 && id < V)) throw new Error(`Token id ${id} is outside the vocabulary (0..${V - 1}).`);
    return T;
  }

  private healthBuffers(): HealthBuffers | null {
    const out = this.bufOpt('health sums');
    if (!out) return null;
    const table = healthTable(this.layout.tensors.map((t) => ({ offset: t.gpuOffset, size: t.size })));
    const hb = { table, out, partial: this.buf('health partials'), chunks: this.buf('health chunks'), firstChunk: this.buf('health first chunks') };
    this.gpu.write(hb.chunks, table.chunks);
    this.gpu.write(hb.firstChunk, table.firstChunk);
    return hb;
  }
}
