// Adapter and device acquisition. Works with the browser's navigator.gpu and
// with Dawn's Node binding (the `webgpu` package) alike: callers pass the GPU.

export type GpuFailure = 'no-webgpu' | 'no-adapter' | 'device-failed';

/** A reason the app cannot use WebGPU, phrased for a person. */
export class GpuUnavailableError extends Error {
  constructor(
    readonly reason: GpuFailure,
    message: string,
  ) {
    super(message);
    this.name = 'GpuUnavailableError';
  }
}

export const GPU_HELP: Record<GpuFailure, string> = {
  'no-webgpu':
    'This browser does not offer WebGPU. Open the app in a recent Chrome or Edge (version 113 or later) on a desktop. ' +
    'On Linux, start Chrome with --enable-unsafe-webgpu (or enable chrome://flags/#enable-unsafe-webgpu) and make sure Vulkan drivers are installed.',
  'no-adapter':
    'WebGPU is present but no GPU adapter was offered. Check that hardware acceleration is on (chrome://settings/system), ' +
    'that your GPU is not blocklisted (chrome://gpu), and update your graphics driver.',
  'device-failed':
    'The GPU adapter refused to create a device. Close other GPU-heavy tabs, reload the page, or restart the browser.',
};

/** The limits our kernels and the reference model want; each is clamped to what the adapter offers. */
export const WANTED_LIMITS = {
  maxStorageBufferBindingSize: 1 << 30,
  maxBufferSize: 1 << 30,
  maxStorageBuffersPerShaderStage: 10,
  maxComputeWorkgroupStorageSize: 32768,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupsPerDimension: 65535,
} as const;

export type WantedLimits = Partial<Record<keyof typeof WANTED_LIMITS, number>>;

/** Optional features requested whenever the adapter offers them (timestamp-query: per-kernel GPU time). */
export const WANTED_FEATURES: readonly GPUFeatureName[] = ['timestamp-query'];

export interface GpuInfo {
  vendor: string;
  architecture: string;
  description: string;
  device: string;
  /** True for a software implementation such as SwiftShader. */
  software: boolean;
  limits: Record<string, number>;
}

export interface GpuHandle {
  adapter: GPUAdapter;
  device: GPUDevice;
  info: GpuInfo;
}

export interface AcquireOptions {
  wanted?: WantedLimits;
  powerPreference?: GPUPowerPreference;
  /** Called once when the device is lost, with a sentence for the user. */
  onLost?: (message: string, reason: string) => void;
  /** Called for every uncaptured validation or out-of-memory error. */
  onError?: (message: string) => void;
}

const REPORTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
] as const;

/** Clamp each wanted limit to what the adapter supports (never ask for more than it has). */
export function clampLimits(wanted: WantedLimits, supported: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(wanted)) {
    const max = supported[name];
    if (typeof max === 'number' && typeof value === 'number') out[name] = Math.min(value, max);
  }
  return out;
}

export async function acquireGpu(gpu: GPU | undefined | null, options: AcquireOptions = {}): Promise<GpuHandle> {
  if (!gpu) throw new GpuUnavailableError('no-webgpu', GPU_HELP['no-webgpu']);
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  } catch {
    adapter = null;
  }
  if (!adapter) throw new GpuUnavailableError('no-adapter', GPU_HELP['no-adapter']);

  const supported: Record<string, number> = {};
  for (const name of REPORTED_LIMITS) supported[name] = Number(adapter.limits[name]);
  const requiredLimits = clampLimits(options.wanted ?? WANTED_LIMITS, supported);

  let device: GPUDevice;
  try {
    const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (e) {
    throw new GpuUnavailableError('device-failed', `${GPU_HELP['device-failed']} (${(e as Error).message})`);
  }

  device.lost.then((lost) => {
    if (lost.reason === 'destroyed' && !options.onLost) return;
    options.onLost?.(
      `The GPU device was lost (${lost.reason || 'unknown'}${lost.message ? `: ${lost.message}` : ''}). ` +
        'This happens when the driver resets or another program takes the GPU.',
      lost.reason,
    );
  });
  device.addEventListener('uncapturederror', (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    const kind = typeof GPUOutOfMemoryError !== 'undefined' && error instanceof GPUOutOfMemoryError ? 'The GPU ran out of memory' : 'A GPU error occurred';
    options.onError?.(`${kind}: ${error.message}`);
  });

  const ai = adapter.info;
  const limits: Record<string, number> = {};
  for (const name of REPORTED_LIMITS) limits[name] = Number(device.limits[name]);
  const info: GpuInfo = {
    vendor: ai?.vendor ?? '',
    architecture: ai?.architecture ?? '',
    description: ai?.description ?? '',
    device: ai?.device ?? '',
    software: /swiftshader|llvmpipe|lavapipe|warp|software/i.test(
      `${ai?.vendor} ${ai?.architecture} ${ai?.description}`,
    ),
    limits,
  };
  return { adapter, device, info };
}

/** A one-line name for the adapter, for status bars and benchmark tables. */
export function adapterName(info: GpuInfo): string {
  const parts = [info.vendor, info.architecture, info.description].filter((s) => s && s.length > 0);
  return parts.length ? parts.join(' / ') : 'unknown adapter';
}
