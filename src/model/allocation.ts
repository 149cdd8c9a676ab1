// Every GPU buffer the model (./gpt.ts) allocates for a config and batch size,
// as one table: the model allocates from it, and the memory estimate shown in
// the UI (./validate.ts memoryEstimate) sums it, so the two cannot disagree.
//
// Roles:
//   state    params, grads, AdamW m and v (one flat buffer each, in the
//            256-byte-aligned layout of ./layout.ts) and the optimizer's small
//            buffers (grad-norm partials, hyper floats, dropout seed, readout)
//   saved    activations the backward pass reads (llm.c's ActivationTensors)
//   scratch  per-step temporaries shared by all layers (gradients of
//            activations, projection outputs, attention-backward row sums,
//            partial column sums of the bias gradients), and the partial
//            sums of a block's weight gradients, kept until the block's one
//            gradient reduce (../kernels/gradReduce.ts)
//   views    what the attention views read back (probabilities of a prompt,
//            each layer's at a 256-byte-aligned promptLayerFloats stride)
//   probes   the inspection and fine-tuning side buffers: the logit lens and
//            the probe's readback, the per-tensor health sums, and a DPO
//            step's masks, log-probabilities and statistics
//
// Tensors and activation widths come from the model description
// (./description.ts), alignment from ./layout.ts.
// The analytic minimum (minimumFloats) is what any implementation of this
// training step must hold: params, grads, m and v (packed, no padding) and the
// activations backward needs with attention recomputed rather than stored (a
// logsumexp per row instead of the (B, NH, T, T) probabilities).

import { gradNormScratchFloats } from '../kernels/adamw';
import { attentionRowFloats } from '../kernels/attention';
import { biasBackwardScratchFloats } from '../kernels/biasBackward';
import { DPO_STATS } from '../kernels/dpo';
import { regionFloats } from '../kernels/gradReduce';
import { layerNormPartialFloats } from '../kernels/layerNorm';
import { matmulScratchFloats } from '../kernels/matmul';
import { rmsNormPartialFloats } from '../kernels/rmsNorm';
import { healthTable } from '../kernels/tensorHealth';
import type { ModelConfig } from './config';
import { blockDims, blockKind, describeParams, finalNormStats, savedBlockActivations } from './description';
import { alignUp, GPU_ALIGN_FLOATS, paramLayout, type ParamLayout } from './layout';
import type { LoraLayout } from './lora';

export type BufferRole = 'state' | 'saved' | 'scratch' | 'views' | 'probes';

export interface BufferSpec {
  /** Key the model fetches it by, e.g. 'params', 'h0.qkv'. */
  name: string;
  floats: number;
  role: BufferRole;
}

export interface AllocationTable {
  layout: ParamLayout;
  batchSize: number;
  buffers: BufferSpec[];
  byName: Map<string, BufferSpec>;
}

/** Float offset of the grad norm in the readout buffer (the loss is at 0): a separately bindable 256-byte slot. */
export const READOUT_NORM_FLOAT = GPU_ALIGN_FLOATS;

/**
 * Floats of the frozen base's gradient sink under LoRA: the LayerNorm backward
 * always writes its gain and bias gradients, so they land in two aligned
 * slots that nothing reads (the base has no gradients or AdamW state).
 */
export const frozenSinkFloats = (C: number) => 2 * alignUp(C);

/**
 * The buffers of one model, in allocation order. With LoRA adapters (./lora.ts)
 * the base is frozen: no base gradients (a LayerNorm sink instead), no base
 * AdamW moments; the adapters get params, grads, m and v of their own and
 * each adapted Linear saves x A^T (BT, r) for backward.
 */
export function allocationTable(config: ModelConfig, batchSize: number, lora?: LoraLayout | null): AllocationTable {
  const { nLayer: L, nHead: NH, nEmbd: C, blockSize: T, vocabSize: V, dropout } = config;
  const dims = blockDims(config);
  const B = batchSize;
  const BT = B * T;
  const drop = dropout > 0;
  const layout = paramLayout(config);
  const P = layout.gpuTotal;
  const buffers: BufferSpec[] = [];
  const add = (role: BufferRole, name: string, floats: number) => buffers.push({ name, floats, role });

  add('state', 'params', P); // (P) aligned
  if (lora) {
    add('state', 'grads', frozenSinkFloats(C)); // LayerNorm gain and bias gradients of the frozen base, never read
    add('state', 'lora params', lora.total); // (A, B per adapted Linear) aligned
    add('state', 'lora grads', lora.total);
    add('state', 'lora m', lora.total);
    add('state', 'lora v', lora.total);
  } else {
    add('state', 'grads', P);
    add('state', 'adam m', P);
    add('state', 'adam v', P);
  }
  add('state', 'grad norm scratch', gradNormScratchFloats(lora ? lora.total : P));
  add('state', 'hyper', 8); // f32[8], the AdamW hyper floats of the step
  add('state', 'seed', 1); // u32[1], the step's dropout seed
  add('state', 'readout', READOUT_NORM_FLOAT + 1); // loss at 0, grad norm at READOUT_NORM_FLOAT

  add('saved', 'tokens', BT); // (BT) i32
  add('saved', 'targets', BT); // (BT) i32
  add('saved', 'encoded', BT * C); // (BT, C) the residual stream entering layer 0 (after dropout)
  const acts = savedBlockActivations(config);
  for (let l = 0; l < L; l++) {
    const h = `h${l}`;
    for (const a of acts) {
      add('saved', `${h}.${a.name}`, BT * a.width); // (BT, width)
      if (a.name === 'qkv') add('saved', `${h}.lse`, attentionRowFloats(B, T, NH)); // (B, NH, T) attention logsumexp
    }
    for (const ad of Object.values(lora?.adapters[l] ?? {})) add('saved', `${h}.${ad.module} xa`, BT * ad.r); // (BT, r) s x A^T
  }
  add('saved', 'ln_f', BT * C); // (BT, C)
  for (const stat of finalNormStats(config)) add('saved', stat, BT); // (BT)
  add('saved', 'logits', BT * V); // (BT, V)
  add('saved', 'losses', BT); // (BT)

  // Scratch, each buffer serving one role in the forward and another in the
  // backward where their lifetimes do not overlap.
  add('scratch', 'proj | d ln', BT * C); // (BT, C) forward: a projection's output before the residual add (a hooked or adapted branch); backward: d(LayerNorm output), d atty
  if (drop) add('scratch', 'dropped | d dropout', BT * C); // (BT, C) forward: a dropped branch; backward: the gradient through a dropout
  add('scratch', 'd residual', BT * C); // (BT, C)
  add('scratch', 'd fch act | dqkv', BT * Math.max(dims.mlpHidden, dims.qkv)); // MLP backward: d(fch after the activation) (BT, hidden); attention backward: dqkv (BT, qkv)
  add('scratch', 'd fch', BT * dims.mlpIn); // (BT, mlpIn)
  add('scratch', 'dlogits', BT * V); // (BT, V)
  add('scratch', 'attention delta', attentionRowFloats(B, T, NH)); // (B, NH, T) attention backward row sums
  // partial column sums of the bias gradients (per block of rows) where a product does not split, shared by every call
  const biasWidths = describeParams(config).filter((t) => t.shape.length === 1).map((t) => t.shape[0]!);
  add('scratch', 'column sums', Math.max(...biasWidths.map((n) => biasBackwardScratchFloats(BT, n))));
  if (lora) add('scratch', 'lora dxa', BT * lora.lora.r); // (BT, r) s dY B
  // (BT, OUT) an adapter's product, or its output gradient's columns, where it covers part of a fused Linear (LLaMA's q_proj of qkv_proj)
  const sliced = (lora?.adapters ?? []).flatMap((mods) => Object.values(mods)).filter((ad) => ad.OUT !== ad.ld);
  if (sliced.length) add('scratch', 'lora slice', BT * Math.max(...sliced.map((ad) => ad.OUT)));
  if (lora) {
    // the adapters' split-K partial products (reduced right away), within the largest base product's;
    // a buffer of its own (the products read their operands while writing it)
    const dW = (out: number, inp: number) => matmulScratchFloats({ M: out, N: inp, K: BT, transA: true }, undefined, undefined, true); // (+ the bias sums)
    const products = describeParams(config).filter((t) => t.shape.length === 2 && t.role !== 'positionEmbedding');
    add('scratch', 'matmul scratch', Math.max(...products.map((t) => dW(t.shape[0]!, t.shape[1]!))));
  } else {
    add('scratch', 'grad partials', gradPartialFloats(config, BT)); // the weight gradients' partial sums of one block's backward (or the tail's)
  }

  add('views', 'prompt readback', L * promptLayerFloats(config) + V); // (L, NH, T, T) probabilities, aligned per layer + (V) last logits

  // The logit lens (L, blockSize, V) at 256-byte-aligned layer strides and the probe's readback: lens, attention, losses.
  add('probes', 'logit lens', L * lensLayerFloats(config));
  add('probes', 'probe readback', L * T * V + L * NH * T * T + T);
  // Per-tensor health: (tensors, 4) sums, (chunks, 4) partials and the chunk table (trained weights only).
  if (!lora) {
    const health = healthTable(layout.tensors.map((t) => ({ offset: t.gpuOffset, size: t.size })));
    add('probes', 'health sums', 4 * health.nTensors);
    add('probes', 'health partials', 4 * health.nChunks);
    add('probes', 'health chunks', health.chunks.length);
    add('probes', 'health first chunks', health.firstChunk.length);
  }
  // A DPO step over S = B sequences: the response mask (S, T), log-probs, the reference's, rewards, d log-probs, statistics.
  add('probes', 'dpo mask', BT);
  for (const name of ['dpo logp', 'dpo reference', 'dpo rewards', 'dpo dlogp']) add('probes', name, B);
  add('probes', 'dpo stats', DPO_STATS.count);

  return { layout, batchSize, buffers, byName: new Map(buffers.map((b) => [b.name, b])) };
}

/**
 * Floats of partial sums the backward over BT rows keeps for one gradient
 * reduce (../kernels/gradReduce.ts), which it records after the tail and after
 * each block: the most any of them takes. A block's are its Linears' split-K
 * partial products (and their bias row sums) and its two norms'
 * per-workgroup gain (and bias) sums; the tail's lm_head's and the final
 * norm's; each region 256-byte aligned, as the backward takes them.
 */
export function gradPartialFloats(config: ModelConfig, BT: number): number {
  const C = config.nEmbd;
  const params = describeParams(config);
  const has = (role: string, layer: number | null) => params.some((t) => t.role === role && t.layer === layer);
  const product = (t: { shape: number[] }, bias: boolean) =>
    regionFloats(matmulScratchFloats({ M: t.shape[0]!, N: t.shape[1]!, K: BT, transA: true }, undefined, undefined, bias));
  const norm = (bias: boolean) => (blockKind(config) === 'llama' ? rmsNormPartialFloats(BT, C) : layerNormPartialFloats(BT, C, bias));
  const lmHead = params.find((t) => t.role === (config.tieWeights ? 'tokenEmbedding' : 'lmHead'))!;
  const windows = [product(lmHead, false) + norm(has('normFBias', null))];
  const linears: Array<[string, string]> = [['qkv', 'qkvBias'], ['attnOut', 'attnOutBias'], ['mlpIn', 'mlpInBias'], ['mlpOut', 'mlpOutBias']];
  for (let l = 0; l < config.nLayer; l++) {
    let floats = 0;
    for (const t of params.filter((x) => x.layer === l)) {
      const pair = linears.find(([w]) => w === t.role);
      if (pair) floats += product(t, has(pair[1], l));
      if (t.role === 'norm1' || t.role === 'norm2') floats += norm(has(`${t.role}Bias`, l));
    }
    windows.push(floats);
  }
  return Math.max(...windows);
}

/**
 * Floats between two layers' attention probabilities (NH, T, T) in the prompt
 * readback: each layer's range starts 256-byte aligned, so the attention
 * kernel writes it in place.
 */
export function promptLayerFloats(config: ModelConfig): number {
  const { nHead: NH, blockSize: T } = config;
  return alignUp(NH * T * T);
}

/** Floats between two layers' logits (blockSize, V) in the logit lens: each layer's range starts 256-byte aligned. */
export const lensLayerFloats = (config: ModelConfig): number => alignUp(config.blockSize * config.vocabSize);

/** Bytes the runtime allocates for a buffer of `floats` (Gpu.buffer: at least 16, a multiple of 4). */
export const bufferBytes = (floats: number) => Math.max(16, 4 * Math.ceil(floats));

/** Sum of the table's bytes, optionally of one role. */
export function tableBytes(table: AllocationTable, role?: BufferRole): number {
  return table.buffers.filter((b) => !role || b.role === role).reduce((s, b) => s + bufferBytes(b.floats), 0);
}

/**
 * Floats any implementation of the training step must hold: params, grads, m, v
 * (packed) and llm.c's saved activations with attention recomputed (a
 * logsumexp (B, NH, T) per layer instead of the probabilities).
 */
export function minimumFloats(config: ModelConfig, batchSize: number, paramCount: number): number {
  const { nLayer: L, nHead: NH, nEmbd: C, blockSize: T, vocabSize: V } = config;
  const BT = batchSize * T;
  const perLayer = savedBlockActivations(config).reduce((s, a) => s + BT * a.width, 0) + batchSize * NH * T; // + attention logsumexp (B, NH, T)
  const outer =
    2 * BT + // tokens, targets
    BT * C + // encoded (BT, C)
    BT * C + finalNormStats(config).length * BT + // ln_f (BT, C) and its statistics
    BT * V + // logits (BT, V)
    BT; // per-row losses
  return 4 * paramCount + L * perLayer + outer;
}
