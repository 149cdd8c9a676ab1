// The small layer every kernel goes through: a pipeline cache (one compile per
// shader + override constants), buffer helpers, cached uniform and bind-group
// objects, and a one-call dispatch.
//
// Binding convention for every shader in shaders/: @group(0) @binding(0) is a
// uniform `Params` struct (the shape of the call, 4-byte fields); storage
// buffers follow at bindings 1, 2, ... in the order the kernel's header lists.

export type Workgroups = number | [number, number?, number?];

/** A whole buffer, or a byte range of one (offset a multiple of minStorageBufferOffsetAlignment, 256). */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset: number; size: number };

/**
 * Where a dispatch is recorded: a command encoder (the dispatch gets a compute
 * pass of its own) or an open compute pass (dispatches share it).
 */
export type Recorder = GPUCommandEncoder | GPUComputePassEncoder;

/** WebGPU's default (and most common) limit on workgroups per dispatch dimension. */
export const MAX_WORKGROUPS_PER_DIMENSION = 65535;

/**
 * Fold a 1-D count of workgroups into (x, y) so that neither exceeds 65535.
 * Shaders linearise it back as `wg.y * num_workgroups.x + wg.x` and bounds-check,
 * since x * y may exceed `workgroups` by up to x - 1.
 */
export function grid(workgroups: number): [number, number] {
  if (workgroups <= MAX_WORKGROUPS_PER_DIMENSION) return [workgroups, 1];
  const y = Math.ceil(workgroups / MAX_WORKGROUPS_PER_DIMENSION);
  return [Math.ceil(workgroups / y), y];
}

export interface DispatchSpec {
  /** Uniform words for binding 0 (u32 unless the shader declares otherwise). */
  params: ArrayLike<number> | Uint32Array | Float32Array | ArrayBuffer;
  /** Storage buffers (or ranges of them), bound at 1, 2, ... */
  buffers: Binding[];
  workgroups: Workgroups;
  /** Kernel name for step plans and profiles, e.g. 'matmul', 'layernorm_forward'. */
  kernel?: string;
  /** Invocations per workgroup (the shader's @workgroup_size product). */
  workgroupSize?: number;
  /** Floating-point operations this dispatch performs. */
  flops?: number;
  /** Bytes it must move at least (each input read once, each output written once). */
  bytes?: number;
  /** What the call site computes, for profiles, e.g. 'attn.c_attn fwd' (a matmul's Linear and direction). */
  label?: string;
}

/** What a dispatch listener sees (step plans, profilers). */
export interface DispatchRecord {
  kernel: string;
  workgroups: [number, number, number];
  workgroupSize: number;
  flops: number;
  bytes: number;
  /** The call site's label when it gave one (DispatchSpec.label). */
  label?: string;
}

/** True for an open compute pass, false for a command encoder. */
export function isPass(recorder: Recorder): recorder is GPUComputePassEncoder {
  return typeof (recorder as GPUComputePassEncoder).dispatchWorkgroups === 'function';
}

function bindingBuffer(b: Binding): GPUBuffer {
  return 'buffer' in b ? b.buffer : b;
}

/** Bytes a binding covers: its range, or the whole buffer. */
export function bindingBytes(b: Binding): number {
  return b.size;
}

export interface KernelOptions {
  constants?: Record<string, number>;
  entryPoint?: string;
}

/** Pack mixed u32 / f32 / i32 uniform fields into one ArrayBuffer (each 4 bytes, padded to 16). */
export function packParams(fields: Array<number | { f32: number } | { i32: number }>): ArrayBuffer {
  const words = Math.max(4, Math.ceil(fields.length / 4) * 4);
  const buf = new ArrayBuffer(words * 4);
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  const i = new Int32Array(buf);
  fields.forEach((v, k) => {
    if (typeof v === 'number') u[k] = v >>> 0;
    else if ('f32' in v) f[k] = v.f32;
    else i[k] = v.i32;
  });
  return buf;
}

let nextBufferId = 1;

/**
 * Which shape of kernels to record: 'gpu' for real GPUs (many workgroups, tree
 * reductions in workgroup memory or subgroups), 'cpu' for CPU adapters such as
 * SwiftShader, where barriers and workgroup memory are dear and long serial
 * loops cheap. Both compute the same results and pass the same tests.
 */
export type KernelVariant = 'gpu' | 'cpu';

export interface GpuOptions {
  /** Kernel shapes (default 'gpu'); device.ts `kernelVariantFor` picks one from the adapter. */
  kernels?: KernelVariant;
  /** Use subgroup operations in reductions; default: whenever the device was created with 'subgroups'. */
  subgroups?: boolean;
}

export class Gpu {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly uniforms = new Map<string, GPUBuffer>();
  private readonly bindGroups = new WeakMap<GPUComputePipeline, Map<string, GPUBindGroup>>();
  /** For each buffer id, the cached bind groups that reference it, so destroy() can drop them. */
  private readonly groupsOfBuffer = new Map<number, Set<GPUBindGroup>>();
  private readonly groupEntries = new Map<GPUBindGroup, { groups: Map<string, GPUBindGroup>; key: string; ids: number[] }>();
  private readonly ids = new WeakMap<GPUBuffer, number>();
  private readonly live = new Map<GPUBuffer, number>();

  /** Kernel shapes the wrappers record (a variant is selected at pipeline creation). */
  kernels: KernelVariant;
  /** True when the GPU-shaped reductions use subgroup operations (needs the device feature 'subgroups'). */
  subgroups: boolean;

  constructor(
    readonly device: GPUDevice,
    options: GpuOptions = {},
  ) {
    this.kernels = options.kernels ?? 'gpu';
    const offered = device.features.has('subgroups');
    if (options.subgroups && !offered) throw new Error('Subgroup kernels need a device created with the feature "subgroups".');
    this.subgroups = options.subgroups ?? offered;
  }

  /** Compile (once) the shader with these override constants. */
  pipeline(code: string, options: KernelOptions = {}): GPUComputePipeline {
    const entryPoint = options.entryPoint ?? 'main';
    const constants = options.constants ?? {};
    const constKey = Object.keys(constants)
      .sort()
      .map((k) => `${k}=${constants[k]}`)
      .join(',');
    let module = this.modules.get(code);
    if (!module) {
      module = this.device.createShaderModule({ code });
      this.modules.set(code, module);
    }
    const key = `${this.idOfModule(code)}|${entryPoint}|${constKey}`;
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      pipeline = this.device.createComputePipeline({
        layout: 'auto',
        compute: { module, entryPoint, constants },
      });
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  /** How many distinct pipelines have been compiled on this device. */
  pipelineCount(): number {
    return this.pipelines.size;
  }

  private readonly moduleIds = new Map<string, number>();
  private idOfModule(code: string): number {
    let id = this.moduleIds.get(code);
    if (id === undefined) {
      id = this.moduleIds.size + 1;
      this.moduleIds.set(code, id);
    }
    return id;
  }

  /** Called for every dispatch recorded (step plans, profilers); null when nobody listens. */
  onDispatch: ((record: DispatchRecord) => void) | null = null;

  /** Record one compute dispatch (bind group created once per pipeline + bindings). */
  dispatch(recorder: Recorder, pipeline: GPUComputePipeline, spec: DispatchSpec): void {
    const uniform = this.uniform(spec.params);
    const key = [uniform, ...spec.buffers].map((b) => this.keyOf(b)).join(',');
    let groups = this.bindGroups.get(pipeline);
    if (!groups) {
      groups = new Map();
      this.bindGroups.set(pipeline, groups);
    }
    let group = groups.get(key);
    if (!group) {
      group = this.device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: uniform } },
          ...spec.buffers.map((b, i) => ({
            binding: i + 1,
            resource: b === bindingBuffer(b) ? { buffer: b as GPUBuffer } : { ...(b as { buffer: GPUBuffer; offset: number; size: number }) },
          })),
        ],
      });
      groups.set(key, group);
      const ids = spec.buffers.map((b) => this.idOf(bindingBuffer(b)));
      this.groupEntries.set(group, { groups, key, ids });
      for (const id of ids) {
        let refs = this.groupsOfBuffer.get(id);
        if (!refs) this.groupsOfBuffer.set(id, (refs = new Set()));
        refs.add(group);
      }
    }
    const [x, y = 1, z = 1] = typeof spec.workgroups === 'number' ? [spec.workgroups] : spec.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    this.onDispatch?.({
      kernel: spec.kernel ?? pipeline.label ?? 'kernel',
      workgroups: [x, y, z],
      workgroupSize: spec.workgroupSize ?? 0,
      flops: spec.flops ?? 0,
      bytes: spec.bytes ?? 0,
      ...(spec.label ? { label: spec.label } : {}),
    });
    if (isPass(recorder)) {
      recorder.setPipeline(pipeline);
      recorder.setBindGroup(0, group);
      recorder.dispatchWorkgroups(x, y, z);
      return;
    }
    const pass = recorder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
  }

  /** A uniform buffer holding these bytes; identical contents share one buffer. */
  uniform(params: DispatchSpec['params']): GPUBuffer {
    const bytes = toBytes(params);
    const key = Array.from(new Uint32Array(bytes)).join(',');
    let buffer = this.uniforms.get(key);
    if (!buffer) {
      buffer = this.device.createBuffer({
        size: bytes.byteLength,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        label: 'params',
      });
      this.device.queue.writeBuffer(buffer, 0, bytes);
      this.uniforms.set(key, buffer);
    }
    return buffer;
  }

  /** A storage buffer of `size` bytes (rounded up to 4), optionally filled. */
  buffer(size: number, label = '', extraUsage = 0): GPUBuffer {
    const bytes = Math.max(16, Math.ceil(size / 4) * 4);
    const buffer = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage,
      label,
    });
    this.live.set(buffer, bytes);
    return buffer;
  }

  /** A storage buffer initialised from typed data. */
  upload(data: Float32Array | Int32Array | Uint32Array, label = ''): GPUBuffer {
    const buffer = this.buffer(data.byteLength, label);
    this.write(buffer, data);
    return buffer;
  }

  write(buffer: GPUBuffer, data: Float32Array | Int32Array | Uint32Array, offsetBytes = 0): void {
    this.device.queue.writeBuffer(buffer, offsetBytes, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Copy a buffer (or a byte range of it) back to the CPU. */
  async read(buffer: GPUBuffer, byteOffset = 0, byteLength = buffer.size - byteOffset): Promise<ArrayBuffer> {
    const size = Math.ceil(byteLength / 4) * 4;
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, byteOffset, staging, 0, size);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const copy = staging.getMappedRange().slice(0, byteLength);
    staging.unmap();
    staging.destroy();
    return copy;
  }

  async readF32(buffer: GPUBuffer, count?: number, offset = 0): Promise<Float32Array> {
    const len = (count ?? buffer.size / 4 - offset) * 4;
    return new Float32Array(await this.read(buffer, offset * 4, len));
  }

  private zeroBuffer: GPUBuffer | null = null;
  /** A small zero-filled buffer to bind where a kernel's optional input is absent. */
  zeros(): GPUBuffer {
    if (!this.zeroBuffer) this.zeroBuffer = this.buffer(256, 'zeros');
    return this.zeroBuffer;
  }

  destroy(buffer: GPUBuffer): void {
    this.live.delete(buffer);
    const id = this.ids.get(buffer);
    if (id !== undefined) {
      for (const group of this.groupsOfBuffer.get(id) ?? []) {
        const entry = this.groupEntries.get(group);
        if (!entry) continue;
        entry.groups.delete(entry.key);
        this.groupEntries.delete(group);
        for (const other of entry.ids) if (other !== id) this.groupsOfBuffer.get(other)?.delete(group);
      }
      this.groupsOfBuffer.delete(id);
    }
    buffer.destroy();
  }

  /** Cached bind groups still held (they must not grow without bound over a long session). */
  cachedBindGroups(): number {
    return this.groupEntries.size;
  }

  /** Live storage buffers made through this object: count and bytes. */
  liveBuffers(): { count: number; bytes: number } {
    let bytes = 0;
    for (const size of this.live.values()) bytes += size;
    return { count: this.live.size, bytes };
  }

  /** Run a recording function in one command buffer and submit it. */
  submit(record: (encoder: GPUCommandEncoder) => void): void {
    const encoder = this.device.createCommandEncoder();
    record(encoder);
    this.device.queue.submit([encoder.finish()]);
  }

  async finish(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
  }

  /** Bind-group cache key of a binding: the buffer's id, and its range when it is one. */
  private keyOf(b: Binding): string {
    const buffer = bindingBuffer(b);
    const id = this.idOf(buffer);
    return b === buffer ? `${id}` : `${id}@${(b as { offset: number }).offset}+${(b as { size: number }).size}`;
  }

  private idOf(buffer: GPUBuffer): number {
    let id = this.ids.get(buffer);
    if (id === undefined) {
      id = nextBufferId++;
      this.ids.set(buffer, id);
    }
    return id;
  }
}

function toBytes(params: DispatchSpec['params']): ArrayBuffer {
  if (params instanceof ArrayBuffer) return params;
  if (params instanceof Uint32Array || params instanceof Float32Array) {
    const words = Math.max(4, Math.ceil(params.length / 4) * 4);
    const out = new ArrayBuffer(words * 4);
    new Uint8Array(out).set(new Uint8Array(params.buffer, params.byteOffset, params.byteLength));
    return out;
  }
  const words = Math.max(4, Math.ceil(params.length / 4) * 4);
  const u = new Uint32Array(words);
  for (let i = 0; i < params.length; i++) u[i] = params[i] >>> 0;
  return u.buffer;
}
