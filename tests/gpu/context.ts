// A real WebGPU device in Node: Dawn (the `webgpu` package) on whatever Vulkan
// driver VK_ICD_FILENAMES names (SwiftShader on machines without a GPU).
// No adapter is a failure, never a skip.
import { create, globals } from 'webgpu';
import { acquireGpu, adapterName, kernelVariantFor, type GpuHandle } from '../../src/gpu/device';
import { Gpu } from '../../src/gpu/runtime';

Object.assign(globalThis, globals);

/** Uncaptured GPU errors so far; `checked` fails a test that produced any. */
export const uncaptured: string[] = [];

let instance: GPU | null = null;
let handle: Promise<{ gpu: Gpu; handle: GpuHandle }> | null = null;

export function testGpu(): Promise<{ gpu: Gpu; handle: GpuHandle }> {
  if (!handle) {
    handle = (async () => {
      // Keep the instance reachable: if it is garbage-collected, Dawn tears down under the device.
      instance = create([]) as unknown as GPU;
      const navigatorGpu = instance;
      const h = await acquireGpu(navigatorGpu, { onError: (m) => uncaptured.push(m) });
      // The app's choice for this adapter, or KERNELS=gpu|cpu to run the suite on one variant (SUBGROUPS=0: without subgroups).
      const gpu = new Gpu(h.device, {
        kernels: kernelVariantFor(h.info, process.env.KERNELS),
        ...(process.env.SUBGROUPS === '0' ? { subgroups: false } : {}),
      });
      console.log(`[gpu] adapter: ${adapterName(h.info)}; kernels: ${gpu.kernels}${gpu.subgroups ? ', subgroups' : ''}`);
      return { gpu, handle: h };
    })();
  }
  return handle;
}

/**
 * Run `fn` and fail loudly on any GPU error it caused. (Dawn's Node binding
 * aborts the process on popErrorScope, so errors are collected from the
 * device's uncapturederror events, flushed by waiting for the queue.)
 */
export async function checked<T>(gpu: Gpu, fn: () => Promise<T> | T): Promise<T> {
  uncaptured.length = 0;
  const result = await fn();
  await gpu.finish();
  await new Promise((r) => setTimeout(r, 0));
  if (uncaptured.length) throw new Error(`GPU error: ${uncaptured.splice(0).join('; ')}`);
  return result;
}

/** A buffer pre-filled with NaN, so an element the kernel never wrote shows up. */
export function poisoned(gpu: Gpu, count: number, label = 'out'): GPUBuffer {
  const data = new Float32Array(count).fill(Number.NaN);
  return gpu.upload(data, label);
}

/** The kernel variants: CPU-shaped; GPU-shaped with workgroup-memory reductions; GPU-shaped with subgroup reductions. */
export const VARIANTS = ['cpu', 'gpu', 'gpu+subgroups'] as const;
export type VariantName = (typeof VARIANTS)[number];

/**
 * Run fn with the Gpu switched to one kernel variant, restoring the previous
 * one after. 'gpu+subgroups' needs the device feature, which acquireGpu
 * requests whenever the adapter offers it (Dawn on SwiftShader does): an
 * adapter that offers it and a device without it is a failure.
 */
export async function withVariant<T>(gpu: Gpu, variant: VariantName, fn: () => Promise<T>): Promise<T> {
  const subgroups = variant === 'gpu+subgroups';
  if (subgroups && !gpu.device.features.has('subgroups')) {
    throw new Error('The subgroup variant needs the device feature "subgroups", which this device was not created with.');
  }
  const saved = { kernels: gpu.kernels, subgroups: gpu.subgroups };
  gpu.kernels = variant === 'cpu' ? 'cpu' : 'gpu';
  gpu.subgroups = subgroups;
  try {
    return await fn();
  } finally {
    gpu.kernels = saved.kernels;
    gpu.subgroups = saved.subgroups;
  }
}
