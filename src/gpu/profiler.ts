// Per-kernel GPU time from timestamp queries, and the kernel groups a step's
// time is reported in.
//
// A GpuProfiler stands between the code that records a step and the device:
// build the Gpu on `profiler.device`. Outside `profile()` that device is the
// real one in all but name. Inside, every compute pass the step opens is split
// into one pass per dispatch, each with timestampWrites at its beginning and
// end (WebGPU times passes, not dispatches), so a step that normally records
// one pass is timed dispatch by dispatch. Splitting adds the cost of a pass per
// dispatch; the shares between groups are what the profile is for.

import type { DispatchRecord, Gpu } from './runtime';

/** The Linear layers of a GPT block and the head, as matmul call sites name them. */
export const LINEAR_SITES = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj', 'lm_head'] as const;
export const MATMUL_DIRECTIONS = ['fwd', 'dX', 'dW'] as const;

/** Every group a training step's time is reported in, in display order. */
export const KERNEL_GROUPS: string[] = [
  ...LINEAR_SITES.flatMap((site) => MATMUL_DIRECTIONS.map((dir) => `matmul ${site} ${dir}`)),
  'attention forward',
  'attention backward',
  'LayerNorm',
  'cross-entropy',
  'AdamW + grad norm',
  'embedding',
  'other',
];

/** The group of one dispatch: a matmul by its call site's label, other kernels by name. */
export function kernelGroup(d: Pick<DispatchRecord, 'kernel' | 'label'>): string {
  const k = d.kernel;
  // A Linear's product, and any reduction of it (split-K) under the same label.
  const linear = `matmul ${d.label ?? ''}`;
  if (d.label && KERNEL_GROUPS.includes(linear)) return linear;
  if (k.startsWith('attention_forward')) return 'attention forward';
  if (k.startsWith('attention_backward')) return 'attention backward';
  if (k.startsWith('layernorm')) return 'LayerNorm';
  if (k.startsWith('cross_entropy')) return 'cross-entropy';
  if (k.startsWith('adamw') || k.startsWith('grad_norm')) return 'AdamW + grad norm';
  if (k.startsWith('embedding')) return 'embedding';
  return 'other';
}

/** One dispatch as timed. */
export interface TimedDispatch extends DispatchRecord {
  /** GPU time between the start and the end of its pass, in ms. */
  ms: number;
}

/** A group's share of a profiled step. */
export interface GroupTime {
  group: string;
  ms: number;
  /** ms / the step's total, in [0, 1] */
  share: number;
  dispatches: number;
}

/** Sum timed dispatches into groups (every group of KERNEL_GROUPS present, in order, then any other). */
export function groupTimes(timed: TimedDispatch[]): GroupTime[] {
  const total = timed.reduce((s, d) => s + d.ms, 0);
  const by = new Map<string, GroupTime>(KERNEL_GROUPS.map((g) => [g, { group: g, ms: 0, share: 0, dispatches: 0 }]));
  for (const d of timed) {
    const g = by.get(kernelGroup(d))!;
    g.ms += d.ms;
    g.dispatches++;
  }
  for (const g of by.values()) g.share = total > 0 ? g.ms / total : 0;
  return [...by.values()];
}

/** The sentence shown where the adapter cannot time kernels. */
export const NO_TIMESTAMPS =
  "This GPU adapter does not offer the 'timestamp-query' feature, so the time of each kernel cannot be measured here; the step's total time is still measured.";

/** Dispatches one profile can time (two queries each; 4096 queries is WebGPU's limit per query set). */
const MAX_TIMED = 2048;

export class GpuProfiler {
  /** The device to record through (a stand-in for the real one). */
  readonly device: GPUDevice;
  readonly supported: boolean;
  private active: { records: DispatchRecord[]; slots: number } | null = null;
  private querySet: GPUQuerySet | null = null;

  constructor(readonly real: GPUDevice) {
    this.supported = real.features.has('timestamp-query');
    const forwardTo = <T extends object>(target: T, override: (key: PropertyKey) => unknown): T =>
      new Proxy(target, {
        get(t, key) {
          const o = override(key);
          if (o !== undefined) return o;
          const v = Reflect.get(t, key, t);
          return typeof v === 'function' ? v.bind(t) : v;
        },
      });
    this.device = forwardTo(real, (key) => {
      if (key !== 'createCommandEncoder' || !this.active) return undefined;
      return (descriptor?: GPUCommandEncoderDescriptor) => {
        const encoder = real.createCommandEncoder(descriptor);
        return forwardTo(encoder, (k) => (k === 'beginComputePass' ? () => this.splittingPass(encoder) : undefined));
      };
    });
  }

  /**
   * Run `fn` (which records and submits through `gpu`, a Gpu built on this
   * profiler's device, and resolves once its work is done) with every dispatch
   * timed; returns each dispatch with its time. Null without timestamp queries.
   */
  async profile(gpu: Gpu, fn: () => Promise<unknown>): Promise<TimedDispatch[] | null> {
    if (!this.supported) return null;
    if (this.active) throw new Error('A profile is already running.');
    const querySet = (this.querySet ??= this.real.createQuerySet({ type: 'timestamp', count: 2 * MAX_TIMED, label: 'profiler' }));
    const records: DispatchRecord[] = [];
    const previous = gpu.onDispatch;
    gpu.onDispatch = (d) => {
      records.push(d);
      previous?.(d);
    };
    this.active = { records, slots: 0 };
    let slots = 0;
    try {
      await fn();
    } finally {
      slots = this.active.slots;
      this.active = null;
      gpu.onDispatch = previous;
    }
    if (slots === 0) return [];
    const bytes = 16 * slots;
    const resolved = this.real.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'profiler resolve' });
    const readback = this.real.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'profiler readback' });
    try {
      const encoder = this.real.createCommandEncoder({ label: 'profiler resolve' });
      encoder.resolveQuerySet(querySet, 0, 2 * slots, resolved, 0);
      encoder.copyBufferToBuffer(resolved, 0, readback, 0, bytes);
      this.real.queue.submit([encoder.finish()]);
      await readback.mapAsync(GPUMapMode.READ);
      const t = new BigUint64Array(readback.getMappedRange().slice(0));
      readback.unmap();
      return records.slice(0, slots).map((d, i) => {
        const ns = t[2 * i + 1]! > t[2 * i]! ? Number(t[2 * i + 1]! - t[2 * i]!) : 0;
        return { ...d, ms: ns / 1e6 };
      });
    } finally {
      resolved.destroy();
      readback.destroy();
    }
  }

  /** A stand-in compute pass that records each dispatch into a pass of its own, timed. */
  private splittingPass(encoder: GPUCommandEncoder): GPUComputePassEncoder {
    let pipeline: GPUComputePipeline | null = null;
    const groups = new Map<number, [GPUBindGroup | null, Iterable<number> | undefined]>();
    const timed = (record: (pass: GPUComputePassEncoder) => void) => {
      const a = this.active!;
      const slot = a.slots < MAX_TIMED ? a.slots++ : -1;
      const pass = encoder.beginComputePass(
        slot >= 0 ? { timestampWrites: { querySet: this.querySet!, beginningOfPassWriteIndex: 2 * slot, endOfPassWriteIndex: 2 * slot + 1 } } : {},
      );
      if (pipeline) pass.setPipeline(pipeline);
      for (const [i, [g, offsets]] of groups) pass.setBindGroup(i, g, offsets);
      record(pass);
      pass.end();
    };
    const stand = {
      label: 'profiled pass',
      setPipeline(p: GPUComputePipeline) {
        pipeline = p;
      },
      setBindGroup(i: number, g: GPUBindGroup | null, offsets?: Iterable<number>) {
        groups.set(i, [g, offsets]);
      },
      dispatchWorkgroups(x: number, y?: number, z?: number) {
        timed((pass) => pass.dispatchWorkgroups(x, y, z));
      },
      dispatchWorkgroupsIndirect(buffer: GPUBuffer, offset: number) {
        timed((pass) => pass.dispatchWorkgroupsIndirect(buffer, offset));
      },
      pushDebugGroup() {},
      popDebugGroup() {},
      insertDebugMarker() {},
      end() {},
    };
    return stand as unknown as GPUComputePassEncoder;
  }
}
