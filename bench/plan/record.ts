// Records the commands of one training step without executing it: a device
// whose command encoders only count (compute passes, copies, clears) and whose
// queue drops submissions, while pipelines and bind groups are still created on
// the real device (so every dispatch is validated). The dispatches come from
// gpu.onDispatch.

import { Gpu, type DispatchRecord } from '../../src/gpu/runtime';
import type { StepCommands } from './model';

class CountingPass {
  label = 'recorded pass';
  constructor(private readonly onDispatch: () => void) {}
  setPipeline(): void {}
  setBindGroup(): void {}
  dispatchWorkgroups(): void {
    this.onDispatch();
  }
  dispatchWorkgroupsIndirect(): void {
    this.onDispatch();
  }
  pushDebugGroup(): void {}
  popDebugGroup(): void {}
  insertDebugMarker(): void {}
  end(): void {}
}

class CountingEncoder {
  label = 'recorded step';
  constructor(private readonly c: StepCommands & { dispatchCommands: number }) {}
  beginComputePass(): GPUComputePassEncoder {
    this.c.passes++;
    return new CountingPass(() => this.c.dispatchCommands++) as unknown as GPUComputePassEncoder;
  }
  clearBuffer(buffer: GPUBuffer, offset = 0, size?: number): void {
    this.c.clears++;
    this.c.clearBytes += size ?? buffer.size - offset;
  }
  copyBufferToBuffer(...args: unknown[]): void {
    this.c.copies++;
    // (src, srcOffset, dst, dstOffset, size) or (src, dst, size?)
    const size = args.length >= 5 ? (args[4] as number) : ((args[2] as number | undefined) ?? (args[0] as GPUBuffer).size);
    this.c.copyBytes += size;
  }
  copyBufferToTexture(): void {}
  copyTextureToBuffer(): void {}
  resolveQuerySet(): void {}
  pushDebugGroup(): void {}
  popDebugGroup(): void {}
  insertDebugMarker(): void {}
  finish(): GPUCommandBuffer {
    return { label: 'recorded' } as GPUCommandBuffer;
  }
}

/** Forward every property of a native object, binding its methods to it (Dawn's natives need their own `this`). */
function forward<T extends object>(target: T, overrides: (key: PropertyKey) => unknown): T {
  return new Proxy(target, {
    get(t, key) {
      const o = overrides(key);
      if (o !== undefined) return o;
      const v = Reflect.get(t, key, t);
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
}

export interface StepRecorder {
  /** A Gpu on the counting device: build the model on it. */
  gpu: Gpu;
  /** Record what `fn` submits: its dispatches and commands (nothing runs on the GPU). */
  record(fn: () => unknown): Promise<{ dispatches: DispatchRecord[]; commands: StepCommands & { dispatchCommands: number; submits: number } }>;
}

export function stepRecorder(device: GPUDevice): StepRecorder {
  let counts: (StepCommands & { dispatchCommands: number; submits: number }) | null = null;
  const queue = forward(device.queue, (key) => {
    if (key !== 'submit' || !counts) return undefined;
    return () => {
      counts!.submits++;
    };
  });
  const counting = forward(device, (key) => {
    if (key === 'queue') return queue;
    if (key === 'createCommandEncoder' && counts) return () => new CountingEncoder(counts!);
    return undefined;
  });
  const gpu = new Gpu(counting);
  return {
    gpu,
    async record(fn) {
      const dispatches: DispatchRecord[] = [];
      const c = (counts = { passes: 0, copies: 0, clears: 0, copyBytes: 0, clearBytes: 0, dispatchCommands: 0, submits: 0 });
      const previous = gpu.onDispatch;
      gpu.onDispatch = (d) => dispatches.push(d);
      try {
        const result = fn();
        // The step's recording happens before its first await; its readback never resolves with real data.
        if (result instanceof Promise) void result.catch(() => {});
        await new Promise((r) => setTimeout(r, 0));
      } finally {
        gpu.onDispatch = previous;
        counts = null;
      }
      return { dispatches, commands: c };
    },
  };
}
