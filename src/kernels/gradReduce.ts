// Deferred parameter gradients (shaders/grad_reduce.wgsl): the producers of a
// backward pass leave partial sums in one buffer and register where they go;
// one dispatch at the end adds every gradient's partials into it. A split-K
// weight-gradient product (./matmul.ts) leaves its K-slice partial products
// and per-slice bias row sums; a LayerNorm or RMSNorm backward (./layerNorm.ts,
// ./rmsNorm.ts) its per-workgroup gain and bias column sums. Weight gradients
// are read only by the optimizer after the backward, so nothing waits on them.
import code from '../../shaders/grad_reduce.wgsl?raw';
import { type Binding, type Gpu, type Recorder, grid } from '../gpu/runtime';

/** Floats between two regions of the partials buffer: 256 bytes, so each region binds at an aligned offset. */
const REGION_ALIGN = 64;
/** Elements of a gradient per workgroup of the reduce (shaders/grad_reduce.wgsl E). */
const ELEMENTS = 64;
/** u32 words per segment in the table. */
const WORDS = 8;

/** Floats a region of `floats` takes in the partials buffer (rounded up to the alignment). */
export const regionFloats = (floats: number) => Math.ceil(floats / REGION_ALIGN) * REGION_ALIGN;

/** S rows of `len` partial floats, row s at `src + s * stride` (floats into the partials buffer), summed into `dst`. */
export interface GradSegment {
  src: number;
  stride: number;
  count: number;
  len: number;
  /** (len) the gradient, accumulated; a 4-byte-aligned range of a buffer */
  dst: Binding;
}

/** Table buffers by content, per device (like uniforms: created once, never written again). */
const tables = new WeakMap<Gpu, Map<string, GPUBuffer>>();

function tableBuffer(gpu: Gpu, words: Uint32Array): GPUBuffer {
  let byKey = tables.get(gpu);
  if (!byKey) tables.set(gpu, (byKey = new Map()));
  const key = words.join(',');
  let buffer = byKey.get(key);
  if (!buffer) {
    buffer = gpu.device.createBuffer({ size: Math.max(16, words.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, label: 'grad reduce table' });
    gpu.device.queue.writeBuffer(buffer, 0, words.buffer as ArrayBuffer, 0, words.byteLength);
    byKey.set(key, buffer);
  }
  return buffer;
}

/**
 * The partial sums of one backward pass and the gradients they finish. `take`
 * hands out aligned regions of the partials buffer, `add` registers a
 * segment, `record` dispatches the reduce (one dispatch per gradient buffer:
 * one for a model, whose gradients share a flat buffer) and starts over.
 */
export class GradReduce {
  private cursor = 0;
  private segments: GradSegment[] = [];

  /** `partials`: a buffer (or range) of at least the floats the pass takes, distinct from the gradients. */
  constructor(readonly partials: Binding) {}

  /** Floats the partials binding holds. */
  get capacity(): number {
    return this.partials.size / 4;
  }

  /** A fresh region of `floats` partials: its binding and its float offset in the partials binding. */
  take(floats: number): { binding: Binding; at: number } {
    const at = this.cursor;
    const size = regionFloats(floats);
    if (at + size > this.capacity) {
      throw new Error(`The gradient partials buffer holds ${this.capacity} floats; this backward needs more than ${at + size}.`);
    }
    this.cursor = at + size;
    const base = 'buffer' in this.partials ? this.partials : { buffer: this.partials as GPUBuffer, offset: 0 };
    return { binding: { buffer: base.buffer, offset: base.offset + 4 * at, size: 4 * floats }, at };
  }

  add(segment: GradSegment): void {
    if (segment.len > 0 && segment.count > 0) this.segments.push(segment);
  }

  /** Floats taken so far. */
  get used(): number {
    return this.cursor;
  }

  /** Record the reduce of every segment added since the last record, then start over. */
  record(gpu: Gpu, rec: Recorder): void {
    const byBuffer = new Map<GPUBuffer, GradSegment[]>();
    for (const s of this.segments) {
      const buffer = 'buffer' in s.dst ? s.dst.buffer : (s.dst as GPUBuffer);
      byBuffer.set(buffer, [...(byBuffer.get(buffer) ?? []), s]);
    }
    for (const [grads, segs] of byBuffer) gradReduce(gpu, rec, { grads, partials: this.partials, segments: segs });
    this.segments = [];
    this.cursor = 0;
  }
}

export interface GradReduceArgs {
  /** The gradients' buffer: every segment's dst is a range of it. */
  grads: GPUBuffer;
  /** The partials (segment src offsets count from its start). */
  partials: Binding;
  segments: GradSegment[];
}

/** Record grads[dst + i] += sum_s partials[src + s * stride + i] for every segment, in one dispatch. */
export function gradReduce(gpu: Gpu, rec: Recorder, args: GradReduceArgs): void {
  // Longest rows first: their workgroups start first and their tails overlap the rest.
  const segs = args.segments.map((s, k) => ({ s, k })).sort((a, b) => b.s.count - a.s.count || a.k - b.k).map((x) => x.s);
  if (!segs.length) return;
  const words = new Uint32Array(segs.length * WORDS);
  let first = 0;
  let flops = 0;
  let bytes = 0;
  segs.forEach((s, k) => {
    const offset = 'buffer' in s.dst ? s.dst.offset : 0;
    if (offset % 4) throw new Error('A gradient range must start at a whole float.');
    words.set([s.src, s.stride, s.count, s.len, offset / 4, first, 0, 0], k * WORDS);
    first += Math.ceil(s.len / ELEMENTS);
    flops += s.count * s.len;
    bytes += 4 * (s.count * s.len + 2 * s.len) + 4 * WORDS;
  });
  gpu.dispatch(rec, gpu.pipeline(code), {
    params: [segs.length, first],
    buffers: [args.grads, args.partials, tableBuffer(gpu, words)],
    workgroups: grid(first),
    kernel: 'grad_reduce',
    workgroupSize: 256,
    flops,
    bytes,
  });
}
