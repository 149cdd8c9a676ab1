// The GPU device: acquiring it (with the kernel shapes for its adapter),
// losing it (training stops at once, the page is told), and rebuilding the
// open run on a new device from its last finite snapshot. Also the requests
// about the device itself: init, the kernel self-check, live-buffer stats and
// the test hooks that lose the device or block storage.
import { ablationHooks } from '../../model/interventions';
import { acquireGpu, GpuUnavailableError, kernelVariantFor, type GpuInfo } from '../../gpu/device';
import { GpuProfiler } from '../../gpu/profiler';
import { Gpu, type KernelVariant } from '../../gpu/runtime';
import { CheckpointStore } from '../checkpointStore';
import type { Engine } from '../engine';
import { createGpuModel } from '../gpuModel';
import type { EngineReply, EngineRequest } from '../protocol';
import { runSelfCheck } from '../selfCheck';

type Request<K extends EngineRequest['kind']> = Extract<EngineRequest, { kind: K }>;

/** The WebGPU device the engine computes on, acquired on first use and again after a loss. */
export class Device {
  gpu: Gpu | null = null;
  /** Times kernels for the benchmark; `gpu` records through its device. */
  profiler: GpuProfiler | null = null;
  info: GpuInfo | null = null;
  /** Kernel shapes forced by the page (URL parameter `kernels`), or null to choose from the adapter. */
  forcedKernels: KernelVariant | null = null;
  /** True from a device loss until a new device has taken over the run. */
  lost = false;

  constructor(
    private readonly api: GPU | undefined,
    private readonly hooks: { onLost(message: string): void; onError(message: string): void },
  ) {}

  async ensure(): Promise<Gpu> {
    if (this.gpu) return this.gpu;
    const handle = await acquireGpu(this.api, {
      onLost: (message) => {
        this.gpu = null;
        this.lost = true;
        this.hooks.onLost(message);
      },
      onError: (message) => this.hooks.onError(message),
    });
    this.profiler = new GpuProfiler(handle.device);
    this.gpu = new Gpu(this.profiler.device, { kernels: kernelVariantFor(handle.info, this.forcedKernels) });
    this.info = handle.info;
    return this.gpu;
  }
}

/** The device is gone: stop generating and training, and say from which step training can continue. */
export function deviceLost(engine: Engine, message: string): void {
  engine.generation?.stop();
  engine.serial.reset();
  engine.emit({ kind: 'deviceLost', message });
  const run = engine.run;
  if (!run) return;
  const trainer = run.trainer;
  trainer.abort();
  void trainer.settle().then(() => {
    const at = trainer.lastGood?.step ?? 0;
    engine.emit({
      kind: 'trainState',
      state: 'error',
      step: trainer.step,
      maxSteps: trainer.setup.train.maxSteps,
      message: `The GPU was lost. Start or resume training to continue on a new device from step ${at}, the last checkpoint.`,
    });
  });
}

/** After a device loss: a new device, the same model rebuilt on it from the last checkpoint. */
export async function recover(engine: Engine): Promise<void> {
  const run = engine.run;
  if (!engine.device.lost || !run) return;
  const g = await engine.device.ensure();
  const lora = run.lora ? { layout: run.lora, adapters: run.initialAdapters! } : undefined;
  const model = createGpuModel(g, run.layout, run.trainer.setup.train.batchSize, run.initialParams, lora);
  if (run.lora) model.loraStrength = run.strength;
  // The run's live ablations, rebuilt over the new model's buffers.
  if (run.ablations?.length && model.hooked) model.viewHooks = ablationHooks(g, run.config, run.ablations, model.hooked().scratch);
  engine.serial.reset();
  run.trainer.adoptModel(model);
  engine.device.lost = false;
}

export async function init(engine: Engine, request: Request<'init'>): Promise<EngineReply> {
  const device = engine.device;
  if (request.kernels) device.forcedKernels = request.kernels;
  try {
    const g = await device.ensure();
    return { kind: 'ready', info: device.info!, kernels: g.kernels, subgroups: g.subgroups };
  } catch (e) {
    if (e instanceof GpuUnavailableError) return { kind: 'gpuUnavailable', reason: e.reason, message: e.message };
    throw e;
  }
}

export async function selfCheck(engine: Engine, request: Request<'selfCheck'>): Promise<EngineReply> {
  const g = await engine.device.ensure();
  return { kind: 'selfCheck', result: await engine.serial.run(() => runSelfCheck(g, request.M, request.N, request.K, request.seed)) };
}

export function stats(engine: Engine): EngineReply {
  const gpu = engine.device.gpu;
  const live = gpu?.liveBuffers() ?? { count: 0, bytes: 0 };
  return { kind: 'stats', liveBuffers: live.count, liveBytes: live.bytes, bindGroups: gpu?.cachedBindGroups() ?? 0, step: engine.run?.trainer.step ?? 0 };
}

/** Test hooks: lose the device, or save runs nowhere (as a browser that blocks storage). */
export function debug(engine: Engine, request: Request<'debug'>): EngineReply {
  if (request.action === 'loseDevice') {
    if (!engine.device.gpu) return { kind: 'error', message: 'There is no GPU device to lose.' };
    engine.device.gpu.device.destroy();
  } else if (request.action === 'blockStorage') {
    engine.store = new CheckpointStore(null);
  }
  return { kind: 'ok' };
}
