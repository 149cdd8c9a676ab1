// Compiling ahead: before the person presses Start, a scratch model of the
// run's shape takes one evaluation, one training step (with the health
// readings of the first step), one timeline snapshot and one attention map on
// random tokens, then is freed. Every pipeline those create stays in the
// engine's Gpu cache (src/gpu/runtime.ts), so the real run's first step,
// evaluation and snapshot find them compiled. Each piece takes its own turn on
// the GPU queue, so a Start pressed meanwhile waits for one piece, not all.
import { DEFAULT_TRAIN, type ModelConfig } from '../../model/config';
import { initParams, paramLayout } from '../../model/layout';
import { SeededRng } from '../../model/sampling';
import { stepHyper } from '../../model/schedule';
import { validateConfig } from '../../model/validate';
import type { Gpu } from '../../gpu/runtime';
import type { Engine } from '../engine';
import { createGpuModel } from '../gpuModel';
import { inContextLearning, inspectModel, PROBE_CHARS } from '../insights';
import { canProbe, type EngineModel } from '../model';
import type { EngineReply, EngineRequest } from '../protocol';
import { Serial } from '../serial';

/** The shapes already warm on each device (a new device after a loss starts cold). */
const warm = new WeakMap<Gpu, Set<string>>();

/** Thrown between turns when a run is open. */
class Superseded extends Error {}

/** The engine's GPU queue, refusing every turn while a run is open or once one was. */
class UntilRunOpens extends Serial {
  private readonly opened: Engine['run'];
  constructor(private readonly engine: Engine) {
    super();
    this.opened = engine.run;
  }

  override run<T>(fn: () => T | Promise<T>): Promise<T> {
    // A run open (already when the warm-up was asked, during its load, or since): it compiles what it needs itself,
    // on its own turns, rather than waiting behind a scratch model's.
    if (this.engine.run !== null || this.opened !== null) return Promise.reject(new Superseded());
    return this.engine.serial.run(fn);
  }
}

function randomIds(rng: SeededRng, n: number, V: number): Int32Array {
  return Int32Array.from({ length: n }, () => Math.min(V - 1, Math.floor(rng.next() * V)));
}

export async function warmUp(engine: Engine, request: Extract<EngineRequest, { kind: 'warmUp' }>): Promise<EngineReply> {
  const config: ModelConfig = { ...request.model, vocabSize: request.vocabSize };
  const train = { ...DEFAULT_TRAIN, batchSize: request.batchSize };
  const gpu = await engine.device.ensure();
  const limits = engine.device.info?.limits ?? {};
  const problems = validateConfig(config, train, { maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize, maxBufferSize: limits.maxBufferSize });
  if (problems.length > 0 || request.vocabSize < 2) return { kind: 'invalid', problems: problems.length ? problems.map((p) => p.message) : ['A vocabulary needs at least two tokens.'] };
  const key = JSON.stringify([config, request.batchSize, gpu.kernels]);
  const done = warm.get(gpu) ?? new Set<string>();
  warm.set(gpu, done);
  if (done.has(key)) return { kind: 'warmedUp', ms: 0, pipelines: 0, total: gpu.pipelineCount() };
  done.add(key);

  const t0 = performance.now();
  const before = gpu.pipelineCount();
  const { blockSize: T, vocabSize: V } = config;
  const rng = new SeededRng(7);
  const batch = { x: randomIds(rng, request.batchSize * T, V), y: randomIds(rng, request.batchSize * T, V) };
  let model: EngineModel | null = null;
  // A run opened meanwhile (Start pressed) needs the GPU queue now: the rest is compiled by the run itself.
  const queue = new UntilRunOpens(engine);
  const turn = <T>(fn: () => T | Promise<T>): Promise<T> => queue.run(fn);
  try {
    const layout = paramLayout(config);
    model = await turn(() => createGpuModel(gpu, layout, request.batchSize, initParams(layout, 1)));
    const m = model;
    await turn(() => m.evalLoss(batch));
    await turn(() => m.step(batch, { ...stepHyper(train, 0), health: true }));
    if (canProbe(m)) {
      const vocab = Array.from({ length: V }, (_, i) => String.fromCodePoint(0x61 + (i % 26)));
      // The snapshot's pieces, each its own turn (as an evaluation's snapshot takes them).
      await inspectModel(m, queue, vocab, randomIds(rng, Math.min(T, PROBE_CHARS), V), { step: 0, source: 'request', cropped: 0, unknown: [] });
      await inContextLearning(m, queue, randomIds(rng, 4 * (T + 1), V));
    }
    await turn(() => m.attention(randomIds(rng, Math.min(T, 48), V)));
    await turn(() => m.finish());
  } catch (e) {
    if (e instanceof Superseded) {
      done.delete(key);
      return { kind: 'warmedUp', ms: performance.now() - t0, pipelines: gpu.pipelineCount() - before, total: gpu.pipelineCount(), stopped: true };
    }
    // A device lost meanwhile: the next device starts cold, and the run compiles what it needs itself.
    done.delete(key);
    return { kind: 'error', message: `Compiling ahead stopped: ${(e as Error).message}` };
  } finally {
    model?.destroy();
  }
  return { kind: 'warmedUp', ms: performance.now() - t0, pipelines: gpu.pipelineCount() - before, total: gpu.pipelineCount() };
}
