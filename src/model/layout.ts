// The flat parameter buffer as a table of named tensors (llm.c's
// ParameterTensors), laid out from the model description (./description.ts).
// Gradients and both AdamW moments share this layout.
//
// Order: every tensor with 2+ dims (weight-decayed in nanoGPT's
// configure_optimizers) comes first, then every 1-D tensor, so AdamW is two
// dispatches: one over the decayed range with decay, one over the rest without.
//
// Two offsets per tensor, from the same table:
//   offset     packed (no gaps): files, exports, readState / writeState, tests;
//   gpuOffset  in the GPU buffers, a multiple of GPU_ALIGN_FLOATS (256 bytes,
//              WebGPU's minStorageBufferOffsetAlignment) so every kernel can bind
//              a tensor as a range of the one flat buffer. The gaps are zero in
//              params, grads, m and v, and stay zero under AdamW (zero gradient,
//              zero moments, zero weight: a zero update).
//
// Files (nanoGPT and Hugging Face safetensors) are read and written by ./files.ts.

import type { ModelConfig } from './config';
import { describeParams, type InitKind, type ParamSpec } from './description';
import { SeededRng } from './sampling';

export type { InitKind };

export interface ParamTensor extends ParamSpec {
  /** Offset in floats into the packed flat array (files, exports, readState). */
  offset: number;
  /** Offset in floats into the GPU's flat buffers (a multiple of GPU_ALIGN_FLOATS). */
  gpuOffset: number;
  /** Number of floats. */
  size: number;
}

export interface ParamLayout {
  config: ModelConfig;
  tensors: ParamTensor[];
  byName: Map<string, ParamTensor>;
  /** Total floats (= paramCount(config)). */
  total: number;
  /** Decayed tensors occupy [0, decayCount); the rest [decayCount, total). */
  decayCount: number;
  /** Floats of each GPU flat buffer (params, grads, m, v), padding included. */
  gpuTotal: number;
  /** In the GPU buffers decayed tensors occupy [0, gpuDecayCount); the rest [gpuDecayCount, gpuTotal). */
  gpuDecayCount: number;
}

/** Floats between tensor starts in the GPU buffers: 64 floats = 256 bytes. */
export const GPU_ALIGN_FLOATS = 64;

/** n floats rounded up to the next tensor start in a GPU buffer. */
export const alignUp = (n: number) => Math.ceil(n / GPU_ALIGN_FLOATS) * GPU_ALIGN_FLOATS;

export function paramLayout(config: ModelConfig): ParamLayout {
  const all = describeParams(config);
  const ordered = [...all.filter((t) => t.decay), ...all.filter((t) => !t.decay)];
  const tensors: ParamTensor[] = [];
  let offset = 0;
  let gpuOffset = 0;
  let decayCount = 0;
  let gpuDecayCount = 0;
  for (const t of ordered) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    tensors.push({ ...t, offset, gpuOffset, size });
    offset += size;
    gpuOffset = alignUp(gpuOffset + size);
    if (t.decay) {
      decayCount = offset;
      gpuDecayCount = gpuOffset;
    }
  }
  return {
    config, tensors, byName: new Map(tensors.map((t) => [t.name, t])),
    total: offset, decayCount, gpuTotal: gpuOffset, gpuDecayCount,
  };
}

/** The packed array (P) spread into the GPU layout (gpuTotal), gaps zero. */
export function packedToGpu(layout: ParamLayout, packed: Float32Array): Float32Array {
  if (packed.length !== layout.total) throw new Error(`Expected ${layout.total} packed values, got ${packed.length}.`);
  const out = new Float32Array(layout.gpuTotal);
  for (const t of layout.tensors) out.set(packed.subarray(t.offset, t.offset + t.size), t.gpuOffset);
  return out;
}

/** The GPU layout (gpuTotal) gathered back into the packed array (P). */
export function gpuToPacked(layout: ParamLayout, aligned: Float32Array): Float32Array {
  if (aligned.length !== layout.gpuTotal) throw new Error(`Expected ${layout.gpuTotal} GPU-layout values, got ${aligned.length}.`);
  const out = new Float32Array(layout.total);
  for (const t of layout.tensors) out.set(aligned.subarray(t.gpuOffset, t.gpuOffset + t.size), t.offset);
  return out;
}

/** nanoGPT's init from a seeded generator: N(0, 0.02), c_proj N(0, 0.02/sqrt(2L)), zero biases, norm gains ones (LLaMA: N(0, 0.02) everywhere, as Hugging Face). */
export function initParams(layout: ParamLayout, seed: number): Float32Array {
  const rng = new SeededRng(seed);
  const normal = () => {
    const u = Math.max(rng.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
  };
  const out = new Float32Array(layout.total);
  const projStd = 0.02 / Math.sqrt(2 * layout.config.nLayer);
  for (const t of layout.tensors) {
    const view = out.subarray(t.offset, t.offset + t.size);
    if (t.init === 'ones') view.fill(1);
    else if (t.init === 'normal') for (let i = 0; i < t.size; i++) view[i] = 0.02 * normal();
    else if (t.init === 'residualProj') for (let i = 0; i < t.size; i++) view[i] = projStd * normal();
  }
  return out;
}

