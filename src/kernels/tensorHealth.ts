import code from '../../shaders/tensor_health.wgsl?raw';
import { grid, type Binding, type Gpu, type Recorder } from '../gpu/runtime';

/** Floats per chunk of the first pass (a chunk never crosses a tensor boundary). */
export const HEALTH_CHUNK = 4096;

/** The chunk table of a flat layout: which ranges the first pass reduces, and which chunks belong to each tensor. */
export interface HealthTable {
  /** (nChunks, 2) [start, end) in floats */
  chunks: Uint32Array;
  /** (nTensors + 1): tensor t owns chunks [firstChunk[t], firstChunk[t + 1]) */
  firstChunk: Uint32Array;
  nChunks: number;
  nTensors: number;
}

/** Chunks of at most `chunk` floats over each tensor's range (offset, size in floats) of the flat buffers. */
export function healthTable(tensors: ReadonlyArray<{ offset: number; size: number }>, chunk = HEALTH_CHUNK): HealthTable {
  const chunks: number[] = [];
  const firstChunk = [0];
  for (const t of tensors) {
    for (let s = t.offset; s < t.offset + t.size; s += chunk) chunks.push(s, Math.min(s + chunk, t.offset + t.size));
    firstChunk.push(chunks.length / 2);
  }
  return { chunks: Uint32Array.from(chunks), firstChunk: Uint32Array.from(firstChunk), nChunks: chunks.length / 2, nTensors: tensors.length };
}

export interface TensorHealthArgs {
  /** (nTensors, 4) written: sum g^2, sum w_old^2, sum du^2, 0 per tensor */
  out: Binding;
  /** (nChunks, 4) scratch between the two passes */
  partial: Binding;
  /** healthTable's chunks and firstChunk, uploaded */
  chunks: Binding;
  firstChunk: Binding;
  /** The flat buffers after an AdamW step (P floats each): raw gradients, new weights, both moments. */
  grads: Binding;
  params: Binding;
  m: Binding;
  v: Binding;
  /** The step's f32[8] AdamW hyper-parameters (adamwHyper) */
  hyper: Binding;
  nChunks: number;
  nTensors: number;
  /** Elements below this index were weight-decayed. */
  decayCount: number;
  /** Floats covered by the chunks (for the dispatch's byte count). */
  count: number;
}

/** Record the per-tensor gradient, weight and update sums of squares of the AdamW step just recorded. */
export function tensorHealth(gpu: Gpu, encoder: Recorder, a: TensorHealthArgs): void {
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint: 'partials' }), {
    params: [a.nChunks, a.decayCount],
    buffers: [a.partial, a.chunks, a.grads, a.params, a.m, a.v, a.hyper],
    workgroups: grid(a.nChunks),
    kernel: 'tensor_health_partials',
    workgroupSize: 64,
    // Adam direction (about 8), old weight and update (about 6), three squares and sums (6)
    flops: 20 * a.count,
    bytes: 16 * a.count + 8 * a.nChunks + 32 + 16 * a.nChunks,
  });
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint: 'finish' }), {
    params: [a.nTensors, 0],
    buffers: [a.out, a.partial, a.firstChunk],
    workgroups: Math.ceil(a.nTensors / 64),
    kernel: 'tensor_health_finish',
    workgroupSize: 64,
    flops: 4 * a.nChunks,
    bytes: 16 * a.nChunks + 4 * (a.nTensors + 1) + 16 * a.nTensors,
  });
}
