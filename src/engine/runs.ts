// The run manager: what a run is in the engine (a model on a corpus with its
// trainer), building one from text and configs, naming it, opening it (fresh,
// from storage, or made from the open run), and the stored runs' lifecycle
// over checkpointStore.ts: list, rename, delete, resume.
import { BUILTIN_CORPUS_IDS, type ModelConfig, type ModelShape, type TrainConfig } from '../model/config';
import { splitCorpus } from '../model/data';
import { vocabularyProblem } from '../model/dpo';
import { initParams, paramLayout, type ParamLayout } from '../model/layout';
import { initLora, loraLayout, type LoraLayout } from '../model/lora';
import { RunTokenizer, tokenSplitProblem } from '../model/runTokenizer';
import { memoryEstimate, validateConfig } from '../model/validate';
import type { Ablation } from '../model/interventions';
import { appendThinned, type CorpusIdentity, type RunCheckpoint, type RunIdentity } from './checkpointStore';
import type { Engine } from './engine';
import { createGpuModel } from './gpuModel';
import { runKey } from './insights';
import { snapshotAt } from './jobs/insights';
import type { DpoRecord, EngineReply, EngineRequest, FineTuneInfo, HealthStats, ToyExample } from './protocol';
import { DpoHead } from './stepHeads';
import { toyAccuracy } from './toyEval';
import { Trainer } from './trainer';

type Request<K extends EngineRequest['kind']> = Extract<EngineRequest, { kind: K }>;
type Loaded = Extract<EngineReply, { kind: 'loaded' }>;

const BUILT_IN_CORPORA = new Set<string>(BUILTIN_CORPUS_IDS);
/** Training-health readings kept per run (older half thinned past this). */
const MAX_HEALTH = 400;

export interface Run {
  config: ModelConfig;
  layout: ParamLayout;
  tokenizer: RunTokenizer;
  trainer: Trainer;
  initialParams: Float32Array;
  /** LoRA runs: the adapter layout and the adapters the run started from (the base is frozen). */
  lora: LoraLayout | null;
  initialAdapters: Float32Array | null;
  /** Adapter strength in the views (sampling, attention, inspection). */
  strength: number;
  /** Heads zero-ablated in the views (./jobs/circuits.ts); never in training. */
  ablations?: Ablation[];
  /** Training-health readings so far, saved with every checkpoint. */
  health: HealthStats[];
}

/** A run just built, with the sizes of its token splits. */
export interface BuiltRun {
  run: Run;
  trainTokens: number;
  valTokens: number;
}

/** How a run is built beyond its text and configs (fine-tunes and forks of the open run). */
export interface BuildOptions {
  /** The vocabulary to keep (a fine-tune reads with its base's); default: the text's characters. */
  vocab?: string[];
  /** Starting weights (packed); default: a fresh initialisation from the seed. */
  params?: Float32Array;
  /** The token splits to reuse (a fork of the open run on the same corpus), with their characters when not one per token. */
  splits?: { train: Int32Array; val: Int32Array; trainChars?: number; valChars?: number };
  /** A tokenizer other than the text's characters (its splits come with it or are encoded here). */
  tokenizer?: RunTokenizer;
  lora?: { layout: LoraLayout; adapters: Float32Array };
  fineTune?: FineTuneInfo;
  /** A toy task's held-out examples, scored at every evaluation. */
  toyEval?: ToyExample[];
  /** Training-health readings the run already has (a stored run). */
  health?: HealthStats[];
  /** The story carried over from the run these weights come from (a merge): its step, sampler and curves. */
  carry?: Pick<RunCheckpoint, 'step' | 'samplerState' | 'lossHistory' | 'evalHistory' | 'wallMs' | 'tokensPerSec'>;
}

/** A new run's identity: a fresh id, and a name not yet taken ("Tiny on Moby Dick 2"). */
export async function newIdentity(engine: Engine, base: string, preset: string): Promise<RunIdentity> {
  const taken = new Set((await engine.store.list()).map((r) => r.name));
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base} ${n}`;
  const id = `run-${Date.now().toString(36)}-${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
  return { id, name, preset, createdAt: Date.now(), notes: '' };
}

/** "tiny-on-moby-dick-2": a run's name as part of a file name. */
export function fileStem(name: string): string {
  const stem = name
    .normalize('NFKD')
    .replace(/[^\w\s-]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, '-')
    .slice(0, 60);
  return stem || 'run';
}

export function corpusIdentity(name: string, text: string, builtIn?: boolean): CorpusIdentity {
  const b = builtIn ?? BUILT_IN_CORPORA.has(name);
  return b ? { name, builtIn: b } : { name, builtIn: b, text };
}

export function sameVocab(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((ch, i) => ch === b[i]);
}

/** A model config's shape: everything but the vocabulary size (which comes from the text). */
export function shapeOf(config: ModelConfig): ModelShape {
  const { vocabSize: _v, ...shape } = config;
  void _v;
  return shape;
}

function shapeProblems(engine: Engine, config: ModelConfig, train: TrainConfig): string[] {
  const limits = engine.device.info?.limits ?? {};
  return validateConfig(config, train, {
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    maxBufferSize: limits.maxBufferSize,
  }).map((p) => p.message);
}

/** A DPO run's head: its pairs read with the run's vocabulary, its statistics to the page. */
function dpoHead(record: DpoRecord, tokenizer: RunTokenizer, config: ModelConfig, engine: Engine, trainer: () => Trainer): DpoHead {
  const encode = (text: string) => Array.from(tokenizer.encode(text).ids);
  return new DpoHead({ record, encode, blockSize: config.blockSize, steps: () => trainer().setup.train.maxSteps, emit: engine.emit });
}

/** Close the open run: generation stopped, training paused, its model freed. */
async function stopRun(engine: Engine): Promise<void> {
  engine.generation?.stop();
  const run = engine.run;
  if (!run) return;
  await run.trainer.action('pause');
  run.trainer.model.destroy();
  engine.run = null;
}

/** Build a run from text and configs (closing the open one); a list of sentences when it cannot be built. */
export async function buildRun(
  engine: Engine,
  identity: RunIdentity,
  corpus: CorpusIdentity,
  text: string,
  shape: ModelShape,
  train: TrainConfig,
  opts: BuildOptions = {},
): Promise<BuiltRun | { problems: string[] }> {
  const g = await engine.device.ensure();
  engine.device.lost = false;
  const tokenizer = opts.tokenizer ?? (opts.vocab ? RunTokenizer.chars(opts.vocab) : RunTokenizer.charsOf(text));
  const config: ModelConfig = { ...shape, vocabSize: tokenizer.size };
  const problems = shapeProblems(engine, config, train);
  if (problems.length) return { problems };
  let splits = opts.splits;
  if (!splits) {
    const unknown = opts.vocab ? vocabularyProblem(text, opts.vocab) : null;
    if (unknown) return { problems: [unknown] };
    try {
      if (tokenizer.kind === 'char') splits = splitCorpus(tokenizer.encode(text).ids, config.blockSize);
      else {
        splits = tokenizer.splitCorpus(text);
        const short = tokenSplitProblem({ trainChars: 0, valChars: 0, ...splits }, config.blockSize, tokenizer.label);
        if (short) return { problems: [short] };
      }
    } catch (e) {
      return { problems: [(e as Error).message] };
    }
  } else if (tokenizer.kind !== 'char') {
    const short = tokenSplitProblem({ trainChars: 0, valChars: 0, ...splits }, config.blockSize, tokenizer.label);
    if (short) return { problems: [short] };
  }
  // Characters per split: a character run has one token per character.
  const chars = { trainChars: splits.trainChars ?? splits.train.length, valChars: splits.valChars ?? splits.val.length };
  await stopRun(engine);
  // This tab becomes the run's writer unless another tab has it open (then the run is read-only here).
  await engine.owners.claim(identity.id);
  const layout = paramLayout(config);
  const initialParams = opts.params ?? initParams(layout, train.seed);
  const model = createGpuModel(g, layout, train.batchSize, initialParams, opts.lora);
  let health: HealthStats[] = opts.health ?? [];
  const trainer: Trainer = new Trainer(
    model,
    {
      run: identity, corpus, vocab: tokenizer.vocab, train, trainTokens: splits.train, valTokens: splits.val,
      ...chars,
      ...(tokenizer.kind !== 'char' ? { tokenizer: tokenizer.spec() } : {}),
      ...(opts.fineTune ? { fineTune: opts.fineTune } : {}),
      ...(opts.fineTune?.dpo ? { head: dpoHead(opts.fineTune.dpo, tokenizer, config, engine, () => trainer) } : {}),
    },
    engine.serial,
    {
      emit: (event) => {
        if (event.kind === 'health') health = appendThinned(health.filter((h) => h.step < event.stats.step), event.stats, MAX_HEALTH);
        engine.emit(event);
      },
      save: async (r) => {
        const saved = await engine.owners.save(engine.store, { ...r, healthHistory: health.filter((h) => h.step <= r.step) });
        if (saved.saved) await engine.timelineStore.save(runKey(r), engine.timeline.upTo(r.step));
        return saved;
      },
      afterEval: (stats) => snapshotAt(engine, stats.step),
      ...(opts.toyEval?.length ? { toyAccuracy: () => toyAccuracy(trainer.model, engine.serial, tokenizer, opts.toyEval!) } : {}),
    },
  );
  const lora = opts.lora ?? null;
  if (opts.carry && !lora) {
    const n = initialParams.length;
    trainer.restore({ ...opts.carry, params: initialParams, m: new Float32Array(n), v: new Float32Array(n) });
  }
  return {
    run: {
      config,
      layout,
      tokenizer,
      trainer,
      initialParams,
      lora: lora?.layout ?? null,
      initialAdapters: lora?.adapters ?? null,
      strength: 1,
      get health() {
        return health;
      },
    },
    trainTokens: splits.train.length,
    valTokens: splits.val.length,
  };
}

/** The page's view of an opened run. */
export function loadedReply(r: Run, trainTokens: number, valTokens: number): Loaded {
  const t = r.trainer;
  return {
    kind: 'loaded',
    config: r.config,
    vocab: r.tokenizer.vocab,
    tokenizer: r.tokenizer.info(),
    trainChars: t.setup.trainChars,
    valChars: t.setup.valChars,
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

/** A new run made from the open one is opened: its first evaluation and checkpoint, its events. */
export async function openNewRun(engine: Engine, built: BuiltRun, opts: { evaluate: boolean }): Promise<EngineReply> {
  const run = (engine.run = built.run);
  engine.clearTimeline();
  const t = run.trainer;
  t.emitHistory();
  if (opts.evaluate) await t.evaluate();
  // Stored at once: a fine-tune survives a reload before it trains.
  await t.checkpoint();
  engine.emit({ kind: 'trainState', state: t.state, step: t.step, maxSteps: t.setup.train.maxSteps });
  return loadedReply(run, built.trainTokens, built.valTokens);
}

/** A fork of the open run on its own corpus and splits, with other weights or adapters. */
export async function forkRun(
  engine: Engine,
  base: Run,
  name: string,
  preset: string,
  opts: Omit<BuildOptions, 'vocab' | 'splits'>,
  evaluate: boolean,
  train: TrainConfig = base.trainer.setup.train,
): Promise<EngineReply> {
  const t = base.trainer;
  const identity = await newIdentity(engine, name, preset);
  const built = await buildRun(engine, identity, t.setup.corpus, '', shapeOf(base.config), train, {
    ...opts,
    vocab: base.tokenizer.vocab,
    tokenizer: base.tokenizer,
    splits: { train: t.setup.trainTokens, val: t.setup.valTokens, trainChars: t.setup.trainChars, valChars: t.setup.valChars },
  });
  if ('problems' in built) return { kind: 'invalid', problems: built.problems };
  return openNewRun(engine, built, { evaluate });
}

// ---------------------------------------------------------------- requests

/** A new run on a corpus, from a fresh initialisation. */
export async function load(engine: Engine, request: Request<'load'>): Promise<EngineReply> {
  const busy = engine.dpoBusy();
  if (busy) return busy;
  const corpus = corpusIdentity(request.corpusName, request.text, request.builtIn);
  const identity = await newIdentity(engine, request.runName || `Run on ${request.corpusName}`, request.preset ?? '');
  const opts: BuildOptions = { toyEval: request.toyEval };
  if (request.tokenizer && request.tokenizer.kind !== 'char') {
    try {
      const { tokenizer, splits } = await RunTokenizer.forCorpus(request.tokenizer, request.text);
      Object.assign(opts, { tokenizer, splits });
    } catch (e) {
      return { kind: 'invalid', problems: [(e as Error).message] };
    }
  }
  const built = await buildRun(engine, identity, corpus, request.text, request.model, request.train, opts);
  if ('problems' in built) return { kind: 'invalid', problems: built.problems };
  const run = (engine.run = built.run);
  engine.clearTimeline();
  await run.trainer.snapshot();
  run.trainer.emitHistory();
  engine.emit({ kind: 'trainState', state: 'ready', step: 0, maxSteps: request.train.maxSteps });
  return loadedReply(run, built.trainTokens, built.valTokens);
}

/** The run saved last that no other tab has open, offered after a reload. */
export async function savedRun(engine: Engine): Promise<EngineReply> {
  const elsewhere = new Set(await engine.owners.heldElsewhere());
  const latest = (await engine.store.list()).find((r) => !elsewhere.has(r.id));
  return { kind: 'savedRun', run: latest ?? null };
}

export async function listRuns(engine: Engine): Promise<EngineReply> {
  const elsewhere = await engine.owners.heldElsewhere();
  return { kind: 'runs', runs: await engine.store.list(), openId: engine.run?.trainer.setup.run.id ?? null, elsewhere };
}

export async function runCorpus(engine: Engine, request: Request<'runCorpus'>): Promise<EngineReply> {
  const saved = await engine.store.load(request.id);
  if (!saved) return { kind: 'error', message: 'That run is not stored in this browser (any more).' };
  return { kind: 'runCorpus', name: saved.corpus.name, builtIn: saved.corpus.builtIn, text: saved.corpus.text };
}

export async function renameRun(engine: Engine, request: Request<'renameRun'>): Promise<EngineReply> {
  const name = request.name.trim().slice(0, 120);
  if (!name) return { kind: 'error', message: 'A run needs a name: type at least one character.' };
  const patch = request.notes === undefined ? { name } : { name, notes: request.notes.slice(0, 4000) };
  const run = engine.run;
  if (run && run.trainer.setup.run.id === request.id) run.trainer.setup = { ...run.trainer.setup, run: { ...run.trainer.setup.run, ...patch } };
  if (!(await engine.store.update(request.id, patch)) && engine.run?.trainer.setup.run.id !== request.id) {
    return { kind: 'error', message: 'That run is no longer stored in this browser.' };
  }
  engine.owners.announce({ id: request.id, what: 'renamed', ...patch });
  return { kind: 'ok' };
}

/** Open a stored run (the latest without an id) where its last checkpoint left it. */
export async function resume(engine: Engine, request: Request<'resume'>): Promise<EngineReply> {
  const store = engine.store;
  const saved = request.id ? await store.load(request.id) : await store.latest();
  if (!saved) return { kind: 'error', message: 'That run is not stored in this browser (any more), so it cannot be opened.' };
  const text = saved.corpus.builtIn ? request.text : saved.corpus.text;
  if (!text) return { kind: 'error', message: `The saved run trained on the built-in corpus "${saved.corpus.name}": pass its text to resume.` };
  const ft = saved.fineTune;
  let opts: BuildOptions = {};
  if (saved.tokenizer && saved.tokenizer.kind !== 'char') {
    // A run on tokens reads its text with the tokenizer it was saved with.
    try {
      const tokenizer = await RunTokenizer.fromSpec(saved.tokenizer);
      if (!sameVocab(tokenizer.vocab, saved.vocab)) throw new Error("The saved run's tokenizer does not match its vocabulary.");
      opts = { tokenizer, splits: tokenizer.splitCorpus(text) };
    } catch (e) {
      return { kind: 'error', message: `${(e as Error).message} The run cannot be resumed on this text.` };
    }
  } else if (ft ? vocabularyProblem(text, saved.vocab) : !sameVocab(RunTokenizer.charsOf(text).vocab, saved.vocab)) {
    // A fine-tune reads its text with its base's vocabulary; any other run's vocabulary is its text's.
    return { kind: 'error', message: 'The corpus text is not the one the saved run trained on (its characters differ), so the run cannot be resumed.' };
  }
  if (ft) {
    const layout = ft.lora && ft.info.lora ? loraLayout(saved.model, ft.info.lora) : null;
    opts = { ...opts, vocab: saved.vocab, params: saved.params, fineTune: ft.info, ...(layout ? { lora: { layout, adapters: initLora(layout, saved.train.seed) } } : {}) };
  }
  const busy = engine.dpoBusy();
  if (busy) return busy;
  const health = (saved.healthHistory ?? []).filter((h) => h.step <= saved.step);
  const built = await buildRun(engine, saved.run!, saved.corpus, text, shapeOf(saved.model), saved.train, { ...opts, health });
  if ('problems' in built) return { kind: 'invalid', problems: built.problems };
  const run = (engine.run = built.run);
  const t = run.trainer;
  engine.owners.setRevision(saved.run!.id, saved.revision ?? 0);
  await engine.serial.run(() => t.restore(saved));
  engine.emit({ kind: 'trainState', state: t.state, step: t.step, maxSteps: t.setup.train.maxSteps });
  t.emitHistory();
  engine.timeline.replace((await engine.timelineStore.load(runKey(saved))).filter((x) => x.step <= t.step));
  engine.emit({ kind: 'timeline', snapshots: engine.timeline.snapshots.slice() });
  for (const stats of health) engine.emit({ kind: 'health', stats });
  const readOnly = !engine.owners.owns(saved.run!.id);
  return { ...loadedReply(run, built.trainTokens, built.valTokens), ...(saved.corpus.builtIn ? {} : { corpusText: text }), ...(readOnly ? { readOnly } : {}) };
}

/** Delete a stored run (the latest without an id) and its timeline; never the open one. */
export async function discardSavedRun(engine: Engine, request: Request<'discardSavedRun'>): Promise<EngineReply> {
  const id = request.id ?? (await engine.store.list())[0]?.id;
  if (!id) return { kind: 'ok' };
  if (engine.run && engine.run.trainer.setup.run.id === id) {
    return { kind: 'error', message: 'This run is open: start or open another run before deleting it.' };
  }
  if ((await engine.owners.heldElsewhere()).includes(id)) {
    return { kind: 'error', message: 'Another tab of this browser has this run open: close it there (or open another run there) before deleting it.' };
  }
  await engine.store.remove(id);
  await engine.timelineStore.remove(id);
  engine.owners.announce({ id, what: 'deleted' });
  return { kind: 'ok' };
}
