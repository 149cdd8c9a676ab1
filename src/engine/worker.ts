/// <reference lib="webworker" />
// The engine worker: owns the WebGPU device and the run (model, trainer,
// generation), and answers the page's requests (protocol.ts). GPU work from
// every request takes turns on one queue (Serial), so generation, attention
// maps and exports are served between training steps on the current weights.
import { acquireGpu, GpuUnavailableError, kernelVariantFor, type GpuInfo } from '../gpu/device';
import { GpuProfiler, groupTimes, NO_TIMESTAMPS } from '../gpu/profiler';
import { Gpu, type KernelVariant } from '../gpu/runtime';
import type { ModelConfig, ModelShape, TrainConfig } from '../model/config';
import { BatchSampler, splitCorpus } from '../model/data';
import { exportSafetensors, importSafetensors, initParams, nanoGptComputes, paramLayout, type ParamLayout } from '../model/layout';
import { nonFiniteTensors, readSafetensors } from '../model/safetensors';
import { CharTokenizer } from '../model/tokenizer';
import { memoryEstimate, paramCount, validateConfig } from '../model/validate';
import { allocationTable, tableBytes } from '../model/allocation';
import { GptModel, type SequenceBatch } from '../model/gpt';
import { exportAdapter, importAdapter, initLora, loraLayout, loraTrainableLine, mergeAdapters, validateLoraConfig, type LoraConfig, type LoraLayout } from '../model/lora';
import { pairBatch, vocabularyProblem, type PreferencePair } from '../model/dpo';
import { CheckpointStore, type CorpusIdentity, type RunIdentity } from './checkpointStore';
import { Generation } from './generator';
import { canProbe, inspectModel, PROBE_CHARS, runKey, Timeline, TimelineStore } from './insights';
import { createGpuModel } from './gpuModel';
import type { EngineModel } from './model';
import type { DpoStats, ToyExample, EngineEvent, EngineReply, EngineRequest, FineTuneInfo, FromWorker, ToWorker } from './protocol';
import { runSelfCheck } from './selfCheck';
import { Serial } from './serial';
import { Trainer } from './trainer';
import { toyAccuracy } from './toyEval';

declare const self: DedicatedWorkerGlobalScope;

const BUILT_IN_CORPORA = new Set(['moby-dick', 'names']);

interface Run {
  config: ModelConfig;
  layout: ParamLayout;
  tokenizer: CharTokenizer;
  trainer: Trainer;
  initialParams: Float32Array;
  /** LoRA runs: the adapter layout and the adapters the run started from (the base is frozen). */
  lora: LoraLayout | null;
  initialAdapters: Float32Array | null;
  /** Adapter strength in the views (sampling, attention, inspection). */
  strength: number;
}

/** How a run is built beyond its text and configs (fine-tunes and forks of the open run). */
interface BuildOptions {
  /** The vocabulary to keep (a fine-tune reads with its base's); default: the text's characters. */
  vocab?: string[];
  /** Starting weights (packed); default: a fresh initialisation from the seed. */
  params?: Float32Array;
  /** The token splits to reuse (a fork of the open run on the same corpus). */
  splits?: { train: Int32Array; val: Int32Array };
  lora?: { layout: LoraLayout; adapters: Float32Array };
  fineTune?: FineTuneInfo;
  /** A toy task's held-out examples, scored at every evaluation. */
  toyEval?: ToyExample[];
}

let gpu: Gpu | null = null;
/** Times kernels for the benchmark; `gpu` records through its device. */
let profiler: GpuProfiler | null = null;
let gpuInfo: GpuInfo | null = null;
/** Kernel shapes forced by the page (URL parameter `kernels`), or null to choose from the adapter. */
let forcedKernels: KernelVariant | null = null;
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
  gpu = new Gpu(profiler.device, { kernels: kernelVariantFor(handle.info, forcedKernels) });
  gpuInfo = handle.info;
  return gpu;
}

/** After a device loss: a new device, the same model rebuilt on it from the last checkpoint. */
async function recover(): Promise<void> {
  if (!lost || !run) return;
  const g = await ensureGpu();
  const lora = run.lora ? { layout: run.lora, adapters: run.initialAdapters! } : undefined;
  const model = createGpuModel(g, run.layout, run.trainer.setup.train.batchSize, run.initialParams, lora);
  if (model instanceof GptModel) model.loraStrength = run.strength;
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

/** A new run's identity: a fresh id, and a name not yet taken ("Tiny on Moby Dick 2"). */
async function newIdentity(base: string, preset: string): Promise<RunIdentity> {
  const taken = new Set((await store.list()).map((r) => r.name));
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base} ${n}`;
  const id = `run-${Date.now().toString(36)}-${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
  return { id, name, preset, createdAt: Date.now(), notes: '' };
}

/** "tiny-on-moby-dick-2": a run's name as part of a file name. */
function fileStem(name: string): string {
  const stem = name
    .normalize('NFKD')
    .replace(/[^\w\s-]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, '-')
    .slice(0, 60);
  return stem || 'run';
}

/** Build a run from text and configs; a list of sentences when it cannot be built. */
async function buildRun(
  identity: RunIdentity,
  corpus: CorpusIdentity,
  text: string,
  shape: ModelShape,
  train: TrainConfig,
  opts: BuildOptions = {},
): Promise<{ run: Run; trainTokens: number; valTokens: number } | { problems: string[] }> {
  const g = await ensureGpu();
  lost = false;
  const tokenizer = opts.vocab ? new CharTokenizer(opts.vocab) : CharTokenizer.fromText(text);
  const config: ModelConfig = { ...shape, vocabSize: tokenizer.size };
  const problems = shapeProblems(config, train);
  if (problems.length) return { problems };
  let splits = opts.splits;
  if (!splits) {
    const unknown = opts.vocab ? vocabularyProblem(text, opts.vocab) : null;
    if (unknown) return { problems: [unknown] };
    try {
      splits = splitCorpus(tokenizer.encode(text).ids, config.blockSize);
    } catch (e) {
      return { problems: [(e as Error).message] };
    }
  }
  await stopRun();
  const layout = paramLayout(config);
  const initialParams = opts.params ?? initParams(layout, train.seed);
  const model = createGpuModel(g, layout, train.batchSize, initialParams, opts.lora);
  const trainer: Trainer = new Trainer(
    model,
    { run: identity, corpus, vocab: tokenizer.vocab, train, trainTokens: splits.train, valTokens: splits.val, ...(opts.fineTune ? { fineTune: opts.fineTune } : {}) },
    serial,
    {
      emit,
      save: async (r) => {
        const saved = await store.save(r);
        if (saved.saved) await timelineStore.save(runKey(r), timeline.upTo(r.step));
        return saved;
      },
      afterEval: (stats) => snapshotAt(stats.step),
      ...(opts.toyEval?.length ? { toyAccuracy: () => toyAccuracy(trainer.model, serial, tokenizer, opts.toyEval!) } : {}),
    },
  );
  const lora = opts.lora ?? null;
  return {
    run: { config, layout, tokenizer, trainer, initialParams, lora: lora?.layout ?? null, initialAdapters: lora?.adapters ?? null, strength: 1 },
    trainTokens: splits.train.length,
    valTokens: splits.val.length,
  };
}

function loadedReply(r: Run, trainTokens: number, valTokens: number): Extract<EngineReply, { kind: 'loaded' }> {
  const t = r.trainer;
  return {
    kind: 'loaded',
    config: r.config,
    vocab: r.tokenizer.vocab,
    paramCount: r.layout.total,
    memory: memoryEstimate(r.config, t.setup.train.batchSize),
    trainTokens,
    valTokens,
    runId: t.setup.run.id,
    runName: t.setup.run.name,
    step: t.step,
    train: t.setup.train,
    lossHistory: t.lossHistory.slice(),
    evalHistory: t.evalHistory.slice(),
    ...(t.setup.fineTune ? { fineTune: t.setup.fineTune } : {}),
    ...(r.lora ? { loraStrength: r.strength } : {}),
    // A fine-tune's own text (the page may not have it open); built-in corpora the page has.
    ...(t.setup.fineTune && !t.setup.corpus.builtIn ? { corpusText: t.setup.corpus.text } : {}),
  };
}

function corpusIdentity(name: string, text: string, builtIn?: boolean): CorpusIdentity {
  const b = builtIn ?? BUILT_IN_CORPORA.has(name);
  return b ? { name, builtIn: b } : { name, builtIn: b, text };
}

function sameVocab(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((ch, i) => ch === b[i]);
}

const NOT_LOADED: EngineReply = { kind: 'error', message: 'Load a corpus and a model first.' };

const NANOGPT_ONLY =
  "nanoGPT's model.py always uses GELU and ties lm_head to the token embedding, so it would compute a different function with this model. Choose GELU and tied embeddings to export for nanoGPT.";

async function handle(request: EngineRequest): Promise<EngineReply> {
  switch (request.kind) {
    case 'init': {
      if (request.kernels) forcedKernels = request.kernels;
      try {
        const g = await ensureGpu();
        return { kind: 'ready', info: gpuInfo!, kernels: g.kernels, subgroups: g.subgroups };
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
      if (dpoJob) return { kind: 'error', message: DPO_BUSY };
      const corpus = corpusIdentity(request.corpusName, request.text, request.builtIn);
      const identity = await newIdentity(request.runName || `Run on ${request.corpusName}`, request.preset ?? '');
      const built = await buildRun(identity, corpus, request.text, request.model, request.train, { toyEval: request.toyEval });
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
      const [latest] = await store.list();
      return { kind: 'savedRun', run: latest ?? null };
    }
    case 'listRuns':
      return { kind: 'runs', runs: await store.list(), openId: run?.trainer.setup.run.id ?? null };
    case 'runCorpus': {
      const saved = await store.load(request.id);
      if (!saved) return { kind: 'error', message: 'That run is not stored in this browser (any more).' };
      return { kind: 'runCorpus', name: saved.corpus.name, builtIn: saved.corpus.builtIn, text: saved.corpus.text };
    }
    case 'renameRun': {
      const name = request.name.trim().slice(0, 120);
      if (!name) return { kind: 'error', message: 'A run needs a name: type at least one character.' };
      const patch = request.notes === undefined ? { name } : { name, notes: request.notes.slice(0, 4000) };
      if (run && run.trainer.setup.run.id === request.id) run.trainer.setup = { ...run.trainer.setup, run: { ...run.trainer.setup.run, ...patch } };
      if (!(await store.update(request.id, patch)) && run?.trainer.setup.run.id !== request.id) {
        return { kind: 'error', message: 'That run is no longer stored in this browser.' };
      }
      return { kind: 'ok' };
    }
    case 'resume': {
      const saved = request.id ? await store.load(request.id) : await store.latest();
      if (!saved) return { kind: 'error', message: 'That run is not stored in this browser (any more), so it cannot be opened.' };
      const text = saved.corpus.builtIn ? request.text : saved.corpus.text;
      if (!text) return { kind: 'error', message: `The saved run trained on the built-in corpus "${saved.corpus.name}": pass its text to resume.` };
      const ft = saved.fineTune;
      // A fine-tune reads its text with its base's vocabulary; any other run's vocabulary is its text's.
      if (ft ? vocabularyProblem(text, saved.vocab) : !sameVocab(CharTokenizer.fromText(text).vocab, saved.vocab)) {
        return { kind: 'error', message: 'The corpus text is not the one the saved run trained on (its characters differ), so the run cannot be resumed.' };
      }
      const { vocabSize: _v, ...shape } = saved.model;
      void _v;
      let opts: BuildOptions = {};
      if (ft) {
        const layout = ft.lora && ft.info.lora ? loraLayout(saved.model, ft.info.lora) : null;
        opts = { vocab: saved.vocab, params: saved.params, fineTune: ft.info, ...(layout ? { lora: { layout, adapters: initLora(layout, saved.train.seed) } } : {}) };
      }
      if (dpoJob) return { kind: 'error', message: DPO_BUSY };
      const built = await buildRun(saved.run!, saved.corpus, text, shape, saved.train, opts);
      if ('problems' in built) return { kind: 'invalid', problems: built.problems };
      run = built.run;
      await serial.run(() => run!.trainer.restore(saved));
      const t = run.trainer;
      emit({ kind: 'trainState', state: t.state, step: t.step, maxSteps: t.setup.train.maxSteps });
      t.emitHistory();
      timeline.replace((await timelineStore.load(runKey(saved))).filter((x) => x.step <= t.step));
      emit({ kind: 'timeline', snapshots: timeline.snapshots.slice() });
      return { ...loadedReply(run, built.trainTokens, built.valTokens), ...(saved.corpus.builtIn ? {} : { corpusText: text }) };
    }
    case 'discardSavedRun': {
      const id = request.id ?? (await store.list())[0]?.id;
      if (!id) return { kind: 'ok' };
      if (run && run.trainer.setup.run.id === id) {
        return { kind: 'error', message: 'This run is open: start or open another run before deleting it.' };
      }
      await store.remove(id);
      await timelineStore.remove(id);
      return { kind: 'ok' };
    }
    case 'continueRun': {
      if (!run) return NOT_LOADED;
      if (dpoJob) return { kind: 'error', message: DPO_BUSY };
      await recover();
      const problem = await run.trainer.extend(request.steps);
      return problem ? { kind: 'error', message: problem } : { kind: 'ok' };
    }
    case 'train': {
      if (!run) return NOT_LOADED;
      if (dpoJob && request.action !== 'pause' && request.action !== 'stop') return { kind: 'error', message: DPO_BUSY };
      await recover();
      if (request.action === 'reset') {
        // The run trained so far stays stored as it is: a reset run is a new run with the same setup.
        const t = run.trainer;
        await t.reset(run.initialParams, run.initialAdapters);
        if (t.savedStepOf() >= 0) t.setup = { ...t.setup, run: await newIdentity(t.setup.run.name.replace(/ \d+$/, ''), t.setup.run.preset) };
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
      const r = run;
      if (!request.withOptimizer && !nanoGptComputes(r.config)) {
        return { kind: 'error', message: NANOGPT_ONLY };
      }
      await recover();
      const state = await serial.run(() => r.trainer.model.readState());
      // While training runs, the weights may be one step ahead of the last reported step.
      const step = state.step ?? r.trainer.step;
      // A LoRA run exports its adapted model: the adapters merged into the base (which has no moments).
      const params = r.lora && state.lora ? mergeAdapters(r.layout, state.params, r.lora, state.lora.adapters, 1) : state.params;
      const adam = request.withOptimizer && !r.lora ? { m: state.m, v: state.v, step } : undefined;
      const bytes = exportSafetensors(r.layout, params, r.tokenizer.vocab, adam);
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      const kind = request.withOptimizer ? 'checkpoint' : 'nanogpt';
      return { kind: 'exported', bytes: buffer, step, fileName: `${fileStem(r.trainer.setup.run.name)}-step${step}.${kind}.safetensors` };
    }
    case 'importCheckpoint': {
      if (dpoJob) return { kind: 'error', message: DPO_BUSY };
      let imported;
      try {
        const file = readSafetensors(request.bytes);
        const bad = nonFiniteTensors(file);
        if (bad.length) return { kind: 'error', message: `The file holds non-finite values in ${bad.slice(0, 3).join(', ')}${bad.length > 3 ? ' and more' : ''}; it cannot be loaded.` };
        imported = importSafetensors(file);
      } catch (e) {
        return { kind: 'error', message: (e as Error).message };
      }
      const tokenizer = CharTokenizer.fromText(request.text);
      if (!sameVocab(imported.vocab, tokenizer.vocab)) {
        return {
          kind: 'error',
          message: `This file was trained on a text with different characters (${imported.vocab.length}) from ${request.corpusName} (${tokenizer.size}), so its token ids would not match. Load the text it was trained on first.`,
        };
      }
      const { vocabSize: _v, ...shape } = imported.layout.config;
      void _v;
      const stem = request.fileName.replace(/\.safetensors$/i, '');
      const identity = await newIdentity(`Imported ${stem}`, '');
      const built = await buildRun(identity, corpusIdentity(request.corpusName, request.text, request.builtIn), request.text, shape, request.train);
      if ('problems' in built) return { kind: 'invalid', problems: built.problems };
      run = built.run;
      const t = run.trainer;
      const n = imported.params.length;
      const step = imported.adam?.step ?? 0;
      await serial.run(() =>
        t.restore({
          step,
          params: imported.params,
          m: imported.adam?.m ?? new Float32Array(n),
          v: imported.adam?.v ?? new Float32Array(n),
          samplerState: t.samplerState,
          lossHistory: [],
          evalHistory: [],
        }),
      );
      t.emitHistory();
      // A first point on the curve, and the run stored at once: an import survives a reload.
      await t.evaluate();
      await t.checkpoint();
      emit({ kind: 'trainState', state: t.state, step, maxSteps: t.setup.train.maxSteps });
      return { ...loadedReply(run, built.trainTokens, built.valTokens), imported: { fileName: request.fileName, step } };
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
    case 'startLora':
      return startLora(request);
    case 'setLoraStrength': {
      if (!run?.lora) return { kind: 'error', message: 'The open run has no LoRA adapters.' };
      // Whole hundredths: each strength is a cached uniform of its own.
      const strength = Math.round(Math.min(1, Math.max(0, request.strength)) * 100) / 100;
      if (!Number.isFinite(strength)) return { kind: 'error', message: 'The adapter strength must be a number from 0 to 1.' };
      run.strength = strength;
      const model = run.trainer.model;
      if (model instanceof GptModel) model.loraStrength = strength;
      return { kind: 'ok' };
    }
    case 'mergeLora':
      return mergeLora();
    case 'exportAdapter': {
      if (!run?.lora) return { kind: 'error', message: 'The open run has no LoRA adapters to export.' };
      const r = run;
      await recover();
      const state = await serial.run(() => r.trainer.model.readState());
      const bytes = exportAdapter(r.lora!, state.lora!.adapters, r.tokenizer.vocab);
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      const step = r.trainer.step;
      return { kind: 'exported', bytes: buffer, step, fileName: `${fileStem(r.trainer.setup.run.name)}-step${step}.adapter.safetensors` };
    }
    case 'importAdapter':
      return importAdapterRun(request.bytes, request.fileName);
    case 'startDpo':
      return startDpo(request);
    case 'stopDpo':
      if (dpoJob) dpoJob.stop = true;
      return { kind: 'ok' };
    default:
      return { kind: 'error', message: `The engine cannot handle '${(request as { kind: string }).kind}'.` };
  }
}

// ---------------------------------------------------------------- fine-tuning

const DPO_BUSY = 'DPO is training this run: stop it (or let it finish) first.';

/** The DPO loop in progress, if any; `stop` asks it to end after the step in flight. */
let dpoJob: { stop: boolean } | null = null;

/** The open run's weights now (training paused), for a fine-tune or fork built from it. */
async function baseState(r: Run) {
  await recover();
  await r.trainer.action('pause');
  return serial.run(() => r.trainer.model.readState());
}

/** What a fine-tune of `base` records about it; `lora` null for a full-weight fine-tune. */
function fineTuneInfo(kind: FineTuneInfo['kind'], base: Run, lora: LoraLayout | null, batchSize: number): FineTuneInfo {
  const t = base.trainer;
  const all = paramCount(base.config);
  const full = tableBytes(allocationTable(base.config, batchSize));
  return {
    kind,
    baseRunId: t.setup.run.id,
    baseRunName: t.setup.run.name,
    baseStep: t.step,
    baseLossHistory: t.lossHistory.slice(),
    baseEvalHistory: t.evalHistory.slice(),
    ...(lora ? { lora: lora.lora, peftLine: loraTrainableLine(lora) } : {}),
    trainable: lora ? lora.count : all,
    allParams: all + (lora ? lora.count : 0),
    gpuBytes: lora ? tableBytes(allocationTable(base.config, batchSize, lora)) : full,
    fullGpuBytes: full,
  };
}

/** A new run made from the open one is opened: its first evaluation and checkpoint, its events. */
async function openNewRun(built: { run: Run; trainTokens: number; valTokens: number }, opts: { evaluate: boolean }): Promise<EngineReply> {
  run = built.run;
  timeline.clear();
  emit({ kind: 'timeline', snapshots: [] });
  const t = run.trainer;
  t.emitHistory();
  if (opts.evaluate) await t.evaluate();
  // Stored at once: a fine-tune survives a reload before it trains.
  await t.checkpoint();
  emit({ kind: 'trainState', state: t.state, step: t.step, maxSteps: t.setup.train.maxSteps });
  return loadedReply(run, built.trainTokens, built.valTokens);
}

function loraProblems(base: Run, lora: LoraConfig): string[] {
  const problems = validateLoraConfig(lora);
  if (base.lora) problems.push('The open run is a LoRA fine-tune already: merge its adapters into a new run, then fine-tune that.');
  return problems;
}

async function startLora(request: Extract<EngineRequest, { kind: 'startLora' }>): Promise<EngineReply> {
  if (!run) return NOT_LOADED;
  if (dpoJob) return { kind: 'error', message: DPO_BUSY };
  const base = run;
  const problems = loraProblems(base, request.lora);
  const unknown = vocabularyProblem(request.text, base.tokenizer.vocab, 'The target text');
  if (unknown) problems.push(unknown);
  if (problems.length) return { kind: 'invalid', problems };
  const state = await baseState(base);
  const layout = loraLayout(base.config, request.lora);
  const info = fineTuneInfo('lora', base, layout, request.train.batchSize);
  const identity = await newIdentity(request.runName || `LoRA of ${base.trainer.setup.run.name} on ${request.corpusName}`, 'lora');
  const { vocabSize: _v, ...shape } = base.config;
  void _v;
  const built = await buildRun(identity, corpusIdentity(request.corpusName, request.text, request.builtIn), request.text, shape, request.train, {
    vocab: base.tokenizer.vocab,
    params: state.params,
    lora: { layout, adapters: initLora(layout, request.train.seed) },
    fineTune: info,
  });
  if ('problems' in built) return { kind: 'invalid', problems: built.problems };
  // Step 0's evaluation is the base model on the target text (B starts at zero).
  return openNewRun(built, { evaluate: true });
}

/** A fork of the open run on its own corpus and splits, with other weights or adapters. */
async function forkRun(base: Run, name: string, preset: string, opts: Omit<BuildOptions, 'vocab' | 'splits'>, evaluate: boolean): Promise<EngineReply> {
  const t = base.trainer;
  const identity = await newIdentity(name, preset);
  const { vocabSize: _v, ...shape } = base.config;
  void _v;
  const built = await buildRun(identity, t.setup.corpus, '', shape, t.setup.train, {
    ...opts,
    vocab: base.tokenizer.vocab,
    splits: { train: t.setup.trainTokens, val: t.setup.valTokens },
  });
  if ('problems' in built) return { kind: 'invalid', problems: built.problems };
  return openNewRun(built, { evaluate });
}

async function mergeLora(): Promise<EngineReply> {
  if (!run?.lora) return { kind: 'error', message: 'The open run has no LoRA adapters to merge.' };
  if (dpoJob) return { kind: 'error', message: DPO_BUSY };
  const r = run;
  const state = await baseState(r);
  const merged = mergeAdapters(r.layout, state.params, r.lora!, state.lora!.adapters, 1);
  return forkRun(r, `Merged ${r.trainer.setup.run.name}`, 'merged', { params: merged }, true);
}

async function importAdapterRun(bytes: ArrayBuffer, fileName: string): Promise<EngineReply> {
  if (!run) return NOT_LOADED;
  if (dpoJob) return { kind: 'error', message: DPO_BUSY };
  const base = run;
  if (base.lora) return { kind: 'error', message: 'The open run has adapters of its own: open the base run (one without adapters) to import an adapter onto it.' };
  let imported;
  try {
    imported = importAdapter(bytes, base.config);
  } catch (e) {
    return { kind: 'error', message: (e as Error).message };
  }
  const state = await baseState(base);
  const info = fineTuneInfo('lora', base, imported.layout, base.trainer.setup.train.batchSize);
  const stem = fileName.replace(/\.safetensors$/i, '');
  return forkRun(base, `${stem} on ${base.trainer.setup.run.name}`, 'lora', { params: state.params, lora: { layout: imported.layout, adapters: imported.flat }, fineTune: info }, true);
}

async function startDpo(request: Extract<EngineRequest, { kind: 'startDpo' }>): Promise<EngineReply> {
  if (!run) return NOT_LOADED;
  if (dpoJob) return { kind: 'error', message: DPO_BUSY };
  const base = run;
  const S = base.trainer.setup.train.batchSize;
  const P = Math.floor(S / 2);
  const problems: string[] = [];
  const pairs = request.pairs;
  if (!pairs.length) problems.push('Collect at least one preference pair first.');
  if (P < 1) problems.push('DPO needs a batch of at least 2 sequences (a chosen and a rejected one): raise the batch size.');
  if (!(request.beta > 0) || !Number.isFinite(request.beta)) problems.push('beta must be a positive number (DPO papers use 0.1).');
  if (!(request.learningRate > 0) || !Number.isFinite(request.learningRate)) problems.push('The learning rate must be a positive number.');
  if (!Number.isInteger(request.steps) || request.steps < 1) problems.push('Train at least one DPO step.');
  pairs.forEach((p, i) => {
    if (!p.prompt) problems.push(`Pair ${i + 1} has no prompt.`);
    const bad = vocabularyProblem(p.prompt + p.chosen + p.rejected, base.tokenizer.vocab, `Pair ${i + 1}`);
    if (bad) problems.push(bad);
  });
  if (request.target === 'lora') {
    if (!request.lora && !base.lora) problems.push('Choose the LoRA adapters (rank, alpha, modules) to train.');
    else if (request.lora && !base.lora) problems.push(...validateLoraConfig(request.lora));
  }
  if (problems.length) return { kind: 'invalid', problems };

  const state = await baseState(base);
  // The policy starts as the open model; 'all' on a LoRA run trains its merged weights.
  let params = state.params;
  let lora: { layout: LoraLayout; adapters: Float32Array } | undefined;
  if (request.target === 'lora') {
    lora = base.lora ? { layout: base.lora, adapters: state.lora!.adapters } : undefined;
    if (!lora) {
      const layout = loraLayout(base.config, request.lora!);
      lora = { layout, adapters: initLora(layout, base.trainer.setup.train.seed) };
    }
  } else if (base.lora) {
    params = mergeAdapters(base.layout, state.params, base.lora, state.lora!.adapters, 1);
  }
  const dpo = { beta: request.beta, learningRate: request.learningRate, target: request.target, pairs: pairs.slice(), pairsPerStep: P, history: [] as DpoStats[], judge: request.judge ?? '' };
  const info: FineTuneInfo = { ...fineTuneInfo('dpo', base, lora?.layout ?? null, S), dpo };
  const reply = await forkRun(base, request.runName || `DPO of ${base.trainer.setup.run.name}`, 'dpo', { params, ...(lora ? { lora } : {}), fineTune: info }, false);
  if (reply.kind !== 'loaded') return reply;
  const job = { stop: false };
  dpoJob = job;
  void runDpo(run!, info, request.steps, job).finally(() => {
    if (dpoJob === job) dpoJob = null;
  });
  return reply;
}

/** The batch of DPO step k: pairs k*P .. k*P+P-1 of the list, cycled. */
function dpoBatch(r: Run, pairs: PreferencePair[], k: number, P: number): { batch: SequenceBatch; index: number[] } {
  const index = Array.from({ length: P }, (_, i) => (k * P + i) % pairs.length);
  const encode = (text: string) => Array.from(r.tokenizer.encode(text).ids);
  return { batch: pairBatch(index.map((i) => pairs[i]), encode, r.config.blockSize), index };
}

/**
 * DPO against a frozen reference: the reference's log-probabilities of every
 * pair are taken once, before any update (the policy is the reference then);
 * step 0 measures the statistics without an update; steps 1..N train.
 */
async function runDpo(r: Run, info: FineTuneInfo, steps: number, job: { stop: boolean }): Promise<void> {
  const dpo = info.dpo!;
  const { pairs, pairsPerStep: P, beta } = dpo;
  const train = r.trainer.setup.train;
  let message: string | undefined;
  try {
    const model = r.trainer.model;
    if (!(model instanceof GptModel)) throw new Error('This model cannot be trained with DPO.');
    const refChosen = new Float32Array(pairs.length);
    const refRejected = new Float32Array(pairs.length);
    for (let k = 0; k * P < pairs.length; k++) {
      const { batch, index } = dpoBatch(r, pairs, k, P);
      const logp = await serial.run(() => model.sequenceLogProbs(batch, 1));
      index.forEach((i, j) => {
        refChosen[i] = logp[j];
        refRejected[i] = logp[P + j];
      });
    }
    const reference = (index: number[]) => Float32Array.from([...index.map((i) => refChosen[i]), ...index.map((i) => refRejected[i])]);
    for (let step = 0; step <= steps && !job.stop && run === r; step++) {
      const { batch, index } = dpoBatch(r, pairs, Math.max(0, step - 1), P);
      const hyper = { lr: dpo.learningRate, beta1: train.beta1, beta2: train.beta2, eps: train.eps, weightDecay: 0, gradClip: 1, t: step, dropoutSeed: step };
      const res = await serial.run(() => model.dpoStep(batch, reference(index), hyper, beta, { update: step > 0 }));
      if (![res.loss, res.margin, res.rewardChosen, res.rewardRejected].every(Number.isFinite) || (step > 0 && !Number.isFinite(res.gradNorm))) {
        const snap = r.trainer.lastGood;
        if (snap) await serial.run(() => model.writeState(snap.state));
        message = `DPO step ${step} gave a non-finite loss or gradient; the weights were put back as they were at the last saved DPO step. Lower the learning rate or beta and start again.`;
        break;
      }
      const stats: DpoStats = {
        step, loss: res.loss, rewardChosen: res.rewardChosen, rewardRejected: res.rewardRejected,
        margin: res.margin, accuracy: res.accuracy, gradNorm: step > 0 ? res.gradNorm : 0,
      };
      dpo.history.push(stats);
      emit({ kind: 'dpoStep', stats, steps });
    }
    if (run === r) await r.trainer.checkpoint();
  } catch (e) {
    message = `DPO stopped: ${(e as Error).message}`;
  }
  emit({ kind: 'dpoDone', history: dpo.history.slice(), stopped: job.stop, ...(message ? { message } : {}) });
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
