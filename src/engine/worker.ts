/// <reference lib="webworker" />
// The engine worker: owns the WebGPU device and the run (model, trainer,
// generation), and answers the page's requests (protocol.ts). GPU work from
// every request takes turns on one queue (Serial), so generation, attention
// maps and exports are served between training steps on the current weights.
import { acquireGpu, GpuUnavailableError, type GpuInfo } from '../gpu/device';
import { GpuProfiler, groupTimes, NO_TIMESTAMPS } from '../gpu/profiler';
import { Gpu } from '../gpu/runtime';
import type { ModelConfig, ModelShape, TrainConfig } from '../model/config';
import { BatchSampler, splitCorpus } from '../model/data';
import { exportSafetensors, importSafetensors, initParams, paramLayout, type ParamLayout } from '../model/layout';
import { nonFiniteTensors, readSafetensors } from '../model/safetensors';
import { CharTokenizer } from '../model/tokenizer';
import { memoryEstimate, validateConfig } from '../model/validate';
import { CheckpointStore, type CorpusIdentity, type RunCheckpoint } from './checkpointStore';
import { Generation } from './generator';
import { canProbe, inspectModel, PROBE_CHARS, runKey, Timeline, TimelineStore } from './insights';
import { createGpuModel } from './gpuModel';
import type { EngineModel } from './model';
import type { EngineEvent, EngineReply, EngineRequest, FromWorker, SavedRunSummary, ToWorker } from './protocol';
import { runSelfCheck } from './selfCheck';
import { Serial } from './serial';
import { Trainer } from './trainer';

declare const self: DedicatedWorkerGlobalScope;

const BUILT_IN_CORPORA = new Set(['moby-dick', 'names']);

interface Run {
  config: ModelConfig;
  layout: ParamLayout;
  tokenizer: CharTokenizer;
  trainer: Trainer;
  initialParams: Float32Array;
}

let gpu: Gpu | null = null;
/** Times kernels for the benchmark; `gpu` records through its device. */
let profiler: GpuProfiler | null = null;
let gpuInfo: GpuInfo | null = null;
/** True from a device loss until a new device has taken over the run. */
let lost = false;
let run: Run | null = null;
let generation: Generation | null = null;
const serial = new Serial();
let store = new CheckpointStore(self.indexedDB ?? null);
// The inspection timeline of the current run, saved beside its checkpoints.
const timeline = new Timeline();
const timelineStore = new TimelineStore(self.indexedDB ?? null);

function emit(event: EngineEvent): void {
  self.postMessage({ id: null, event } satisfies FromWorker);
}

function onDeviceLost(message: string): void {
  gpu = null;
  lost = true;
  generation?.stop();
  serial.reset();
  emit({ kind: 'deviceLost', message });
  if (run) {
    const trainer = run.trainer;
    trainer.abort();
    void trainer.settle().then(() => {
      const at = trainer.lastGood?.step ?? 0;
      emit({
        kind: 'trainState',
        state: 'error',
        step: trainer.step,
        maxSteps: trainer.setup.train.maxSteps,
        message: `The GPU was lost. Start or resume training to continue on a new device from step ${at}, the last checkpoint.`,
      });
    });
  }
}

async function ensureGpu(): Promise<Gpu> {
  if (gpu) return gpu;
  const handle = await acquireGpu(self.navigator.gpu, {
    onLost: (message) => onDeviceLost(message),
    onError: (message) => emit({ kind: 'gpuError', message }),
  });
  profiler = new GpuProfiler(handle.device);
  gpu = new Gpu(profiler.device);
  gpuInfo = handle.info;
  return gpu;
}

/** After a device loss: a new device, the same model rebuilt on it from the last checkpoint. */
async function recover(): Promise<void> {
  if (!lost || !run) return;
  const g = await ensureGpu();
  const model = createGpuModel(g, run.layout, run.trainer.setup.train.batchSize, run.initialParams);
  serial.reset();
  run.trainer.adoptModel(model);
  lost = false;
}

function shapeProblems(config: ModelConfig, train: TrainConfig): string[] {
  const limits = gpuInfo?.limits ?? {};
  return validateConfig(config, train, {
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    maxBufferSize: limits.maxBufferSize,
  }).map((p) => p.message);
}

async function stopRun(): Promise<void> {
  generation?.stop();
  if (!run) return;
  await run.trainer.action('pause');
  run.trainer.model.destroy();
  run = null;
}

/** Build a run from text and configs; a list of sentences when it cannot be built. */
async function buildRun(
  corpus: CorpusIdentity,
  text: string,
  shape: ModelShape,
  train: TrainConfig,
): Promise<{ run: Run; trainTokens: number; valTokens: number } | { problems: string[] }> {
  const g = await ensureGpu();
  lost = false;
  const tokenizer = CharTokenizer.fromText(text);
  const config: ModelConfig = { ...shape, vocabSize: tokenizer.size };
  const problems = shapeProblems(config, train);
  if (problems.length) return { problems };
  let splits;
  try {
    splits = splitCorpus(tokenizer.encode(text).ids, config.blockSize);
  } catch (e) {
    return { problems: [(e as Error).message] };
  }
  await stopRun();
  const layout = paramLayout(config);
  const initialParams = initParams(layout, train.seed);
  const model = createGpuModel(g, layout, train.batchSize, initialParams);
  const trainer = new Trainer(
    model,
    { corpus, vocab: tokenizer.vocab, train, trainTokens: splits.train, valTokens: splits.val },
    serial,
    {
      emit,
      save: async (r) => {
        const saved = await store.save(r);
        if (saved.saved) await timelineStore.save(runKey(r.corpus.name, r.model, r.train), timeline.upTo(r.step));
        return saved;
      },
      afterEval: (stats) => snapshotAt(stats.step),
    },
  );
  return { run: { config, layout, tokenizer, trainer, initialParams }, trainTokens: splits.train.length, valTokens: splits.val.length };
}

function loadedReply(r: Run, trainTokens: number, valTokens: number): EngineReply {
  const t = r.trainer;
  return {
    kind: 'loaded',
    config: r.config,
    vocab: r.tokenizer.vocab,
    paramCount: r.layout.total,
    memory: memoryEstimate(r.config, t.setup.train.batchSize),
    trainTokens,
    valTokens,
    step: t.step,
    lossHistory: t.lossHistory.slice(),
    evalHistory: t.evalHistory.slice(),
  };
}

function summary(c: RunCheckpoint): SavedRunSummary {
  return {
    corpusName: c.corpus.name,
    builtIn: c.corpus.builtIn,
    model: c.model,
    train: c.train,
    step: c.step,
    savedAt: c.savedAt,
    lossHistory: c.lossHistory,
    evalHistory: c.evalHistory,
  };
}

function sameVocab(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((ch, i) => ch === b[i]);
}

function describe(c: ModelConfig): string {
  return `${c.nLayer} layers, ${c.nHead} heads, ${c.nEmbd} wide, context ${c.blockSize}, ${c.vocabSize} characters`;
}

function sameConfig(a: ModelConfig, b: ModelConfig): boolean {
  return (
    a.nLayer === b.nLayer &&
    a.nHead === b.nHead &&
    a.nEmbd === b.nEmbd &&
    a.blockSize === b.blockSize &&
    a.vocabSize === b.vocabSize &&
    a.bias === b.bias &&
    a.tieWeights === b.tieWeights &&
    a.activation === b.activation
  );
}

const NOT_LOADED: EngineReply = { kind: 'error', message: 'Load a corpus and a model first.' };

async function handle(request: EngineRequest): Promise<EngineReply> {
  switch (request.kind) {
    case 'init': {
      try {
        await ensureGpu();
        return { kind: 'ready', info: gpuInfo! };
      } catch (e) {
        if (e instanceof GpuUnavailableError) return { kind: 'gpuUnavailable', reason: e.reason, message: e.message };
        throw e;
      }
    }
    case 'selfCheck': {
      const g = await ensureGpu();
      return { kind: 'selfCheck', result: await serial.run(() => runSelfCheck(g, request.M, request.N, request.K, request.seed)) };
    }
    case 'load': {
      const builtIn = request.builtIn ?? BUILT_IN_CORPORA.has(request.corpusName);
      const corpus: CorpusIdentity = builtIn ? { name: request.corpusName, builtIn } : { name: request.corpusName, builtIn, text: request.text };
      const built = await buildRun(corpus, request.text, request.model, request.train);
      if ('problems' in built) return { kind: 'invalid', problems: built.problems };
      run = built.run;
      timeline.clear();
      emit({ kind: 'timeline', snapshots: [] });
      await run.trainer.snapshot();
      run.trainer.emitHistory();
      emit({ kind: 'trainState', state: 'ready', step: 0, maxSteps: request.train.maxSteps });
      return loadedReply(run, built.trainTokens, built.valTokens);
    }
    case 'savedRun': {
      const saved = await store.load();
      return { kind: 'savedRun', run: saved ? summary(saved) : null };
    }
    case 'resume': {
      const saved = await store.load();
      if (!saved) return { kind: 'error', message: 'There is no saved run in this browser to resume.' };
      const text = saved.corpus.builtIn ? request.text : saved.corpus.text;
      if (!text) return { kind: 'error', message: `The saved run trained on the built-in corpus "${saved.corpus.name}": pass its text to resume.` };
      if (!sameVocab(CharTokenizer.fromText(text).vocab, saved.vocab)) {
        return { kind: 'error', message: 'The corpus text is not the one the saved run trained on (its characters differ), so the run cannot be resumed.' };
      }
      const { vocabSize: _v, ...shape } = saved.model;
      void _v;
      const built = await buildRun(saved.corpus, text, shape, saved.train);
      if ('problems' in built) return { kind: 'invalid', problems: built.problems };
      run = built.run;
      await serial.run(() => run!.trainer.restore(saved));
      const t = run.trainer;
      emit({ kind: 'trainState', state: t.state, step: t.step, maxSteps: t.setup.train.maxSteps });
      t.emitHistory();
      timeline.replace((await timelineStore.load(runKey(saved.corpus.name, saved.model, saved.train))).filter((x) => x.step <= t.step));
      emit({ kind: 'timeline', snapshots: timeline.snapshots.slice() });
      return loadedReply(run, built.trainTokens, built.valTokens);
    }
    case 'discardSavedRun':
      await store.clear();
      return { kind: 'ok' };
    case 'train': {
      if (!run) return NOT_LOADED;
      await recover();
      if (request.action === 'reset') {
        await run.trainer.reset(run.initialParams);
        timeline.clear();
        emit({ kind: 'timeline', snapshots: [] });
        return { kind: 'ok' };
      }
      const problem = await run.trainer.action(request.action, request.steps);
      return problem ? { kind: 'error', message: problem } : { kind: 'ok' };
    }
    case 'evaluate': {
      if (!run) return NOT_LOADED;
      await recover();
      const stats = await run.trainer.evaluate();
      return stats ? { kind: 'evaluated', stats } : { kind: 'error', message: 'The evaluation gave a non-finite loss; the weights were rolled back.' };
    }
    case 'attention': {
      if (!run) return NOT_LOADED;
      await recover();
      const r = run;
      const { ids, unknown } = r.tokenizer.encode(request.prompt);
      if (!ids.length) return { kind: 'error', message: 'Type a prompt with characters from the corpus to see its attention.' };
      const T = Math.min(ids.length, r.config.blockSize);
      const cropped = ids.length - T;
      const window = ids.subarray(cropped);
      const probs = await serial.run(() => r.trainer.model.attention(window));
      return {
        kind: 'attention',
        step: r.trainer.step,
        tokens: Array.from(window, (id) => r.tokenizer.vocab[id]),
        nLayer: r.config.nLayer,
        nHead: r.config.nHead,
        T,
        probs,
        unknown,
        cropped,
      };
    }
    case 'generate': {
      if (!run) return NOT_LOADED;
      await recover();
      generation?.stop();
      const g = new Generation(run.trainer.model, run.tokenizer, serial, emit, request.sampling);
      generation = g;
      try {
        const result = await g.run(request.requestId, request.prompt, Math.max(0, Math.floor(request.maxNewTokens)));
        return { kind: 'generated', requestId: request.requestId, text: result.text, stopped: result.stopped, unknown: result.unknown };
      } finally {
        if (generation === g) generation = null;
      }
    }
    case 'setSampling':
      generation?.setSettings(request.sampling);
      return { kind: 'ok' };
    case 'stopGenerate':
      generation?.stop();
      return { kind: 'ok' };
    case 'exportCheckpoint': {
      if (!run) return NOT_LOADED;
      await recover();
      const r = run;
      const state = await serial.run(() => r.trainer.model.readState());
      // While training runs, the weights may be one step ahead of the last reported step.
      const adam = request.withOptimizer ? { m: state.m, v: state.v, step: state.step ?? r.trainer.step } : undefined;
      const bytes = exportSafetensors(r.layout, state.params, r.tokenizer.vocab, adam);
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      const c = r.config;
      return { kind: 'exported', bytes: buffer, fileName: `gpt-${c.nLayer}L-${c.nHead}H-${c.nEmbd}C-step${state.step ?? r.trainer.step}.safetensors` };
    }
    case 'importCheckpoint': {
      if (!run) return NOT_LOADED;
      const r = run;
      let imported;
      try {
        const file = readSafetensors(request.bytes);
        const bad = nonFiniteTensors(file);
        if (bad.length) return { kind: 'error', message: `The file holds non-finite values in ${bad.slice(0, 3).join(', ')}${bad.length > 3 ? ' and more' : ''}; it cannot be loaded.` };
        imported = importSafetensors(file);
      } catch (e) {
        return { kind: 'error', message: (e as Error).message };
      }
      if (!sameConfig(imported.layout.config, r.config)) {
        return {
          kind: 'error',
          message: `This file holds a different model (${describe(imported.layout.config)}) from the one loaded (${describe(r.config)}). Load a matching model first.`,
        };
      }
      if (!sameVocab(imported.vocab, r.tokenizer.vocab)) {
        return { kind: 'error', message: 'This file was trained on a corpus with different characters from the one loaded, so its token ids would not match.' };
      }
      await recover();
      if (r.trainer.running) await r.trainer.action('pause');
      const n = imported.params.length;
      const step = imported.adam?.step ?? 0;
      await r.trainer.reset(r.initialParams);
      r.trainer.restore({
        step,
        params: imported.params,
        m: imported.adam?.m ?? new Float32Array(n),
        v: imported.adam?.v ?? new Float32Array(n),
        samplerState: r.trainer.samplerState,
        lossHistory: [],
        evalHistory: [],
      });
      emit({ kind: 'trainState', state: r.trainer.state, step, maxSteps: r.trainer.setup.train.maxSteps });
      return { kind: 'imported', config: r.config, step };
    }
    case 'benchmark': {
      if (!run) return NOT_LOADED;
      await recover();
      if (run.trainer.running) return { kind: 'error', message: 'Pause training before running the benchmark.' };
      return benchmark(run, Math.max(1, Math.floor(request.steps)));
    }
    case 'stats': {
      const live = gpu?.liveBuffers() ?? { count: 0, bytes: 0 };
      return { kind: 'stats', liveBuffers: live.count, liveBytes: live.bytes, bindGroups: gpu?.cachedBindGroups() ?? 0, step: run?.trainer.step ?? 0 };
    }
    case 'debug': {
      if (request.action === 'loseDevice') {
        if (!gpu) return { kind: 'error', message: 'There is no GPU device to lose.' };
        gpu.device.destroy();
      } else if (request.action === 'blockStorage') {
        store = new CheckpointStore(null);
      }
      return { kind: 'ok' };
    }
    case 'insights': {
      if (!run) return NOT_LOADED;
      await recover();
      const r = run;
      if (!canProbe(r.trainer.model)) return { kind: 'error', message: 'This model cannot be inspected.' };
      let ids: Int32Array;
      let unknown: string[] = [];
      if (request.text === undefined) ids = probeIds(r);
      else {
        const enc = r.tokenizer.encode(request.text);
        ids = enc.ids;
        unknown = enc.unknown;
      }
      if (!ids.length) return { kind: 'error', message: 'Type a text with characters from the corpus to inspect it.' };
      const T = Math.min(ids.length, r.config.blockSize);
      const insights = await inspectModel(r.trainer.model, serial, r.tokenizer.vocab, ids.slice(0, T), {
        step: r.trainer.step,
        source: 'request',
        cropped: ids.length - T,
        unknown,
      });
      return { kind: 'insights', insights };
    }
    default:
      return { kind: 'error', message: `The engine cannot handle '${(request as { kind: string }).kind}'.` };
  }
}

/** The timeline's probe: the start of the validation split, as long as the context allows. */
function probeIds(r: Run): Int32Array {
  return r.trainer.setup.valTokens.slice(0, Math.min(r.config.blockSize, PROBE_CHARS));
}

/** A timeline snapshot of the current run at `step` (called after each evaluation, weights at that step). */
async function snapshotAt(step: number): Promise<void> {
  const r = run;
  if (!r || !canProbe(r.trainer.model)) return;
  const insights = await inspectModel(r.trainer.model, serial, r.tokenizer.vocab, probeIds(r), { step, source: 'eval', cropped: 0, unknown: [] });
  timeline.add(insights);
  emit({ kind: 'snapshot', insights });
}

/** Time N training steps of the current config (after one warm-up step), then put the weights back. */
async function benchmark(r: Run, steps: number): Promise<EngineReply> {
  const model: EngineModel = r.trainer.model;
  const train = r.trainer.setup.train;
  const saved = await serial.run(() => model.readState());
  const sampler = new BatchSampler(r.trainer.setup.trainTokens, train.batchSize, r.config.blockSize, train.seed ^ 0xbe4c);
  const hyper = (t: number) => ({
    lr: train.learningRate,
    beta1: train.beta1,
    beta2: train.beta2,
    eps: train.eps,
    weightDecay: train.weightDecay,
    gradClip: train.gradClip,
    t,
    dropoutSeed: t,
  });
  try {
    return await serial.run(async () => {
      await model.step(sampler.next(), hyper(1));
      await model.finish();
      const t0 = performance.now();
      let last: Promise<unknown> = Promise.resolve();
      for (let i = 0; i < steps; i++) last = model.step(sampler.next(), hyper(i + 2));
      await last;
      await model.finish();
      const ms = (performance.now() - t0) / steps;
      // One more step, each dispatch timed in a pass of its own.
      const timed = gpu && profiler ? await profiler.profile(gpu, () => model.step(sampler.next(), hyper(steps + 2))) : null;
      return {
        kind: 'benchmark',
        steps,
        msPerStep: ms,
        tokensPerSec: (train.batchSize * r.config.blockSize * 1000) / ms,
        kernels: timed ? groupTimes(timed) : null,
        kernelNote: timed
          ? `GPU time of each of one step's ${timed.length} dispatches (timestamp queries, one compute pass per dispatch while profiling), summed by group.`
          : NO_TIMESTAMPS,
      } as EngineReply;
    });
  } finally {
    await serial.run(() => model.writeState(saved));
  }
}

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const { id, request } = e.data;
  let reply: EngineReply;
  try {
    reply = await handle(request);
  } catch (err) {
    const message = (err as Error)?.message ?? String(err);
    reply = { kind: 'error', message: lost ? `The GPU was lost while working (${message}). Try again to continue on a new device.` : message };
  }
  const transfer: Transferable[] = [];
  if (reply.kind === 'exported') transfer.push(reply.bytes);
  if (reply.kind === 'attention') transfer.push(reply.probs.buffer);
  self.postMessage({ id, reply } satisfies FromWorker, transfer);
};
