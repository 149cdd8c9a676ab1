// The training run as the page sees it: what the engine loaded, its state, and
// a few-times-a-second snapshot of the latest numbers. The per-step series is
// in trainingSeries, outside React.
import { create } from 'zustand';
import type { EngineEvent, EngineReply, EvalStats, FineTuneInfo, MemoryEstimate, StepStats, TrainAction, TrainState } from '../../engine/protocol';
import type { ModelConfig, TrainConfig } from '../../model/config';
import { trainingSeries } from '../training/series';
import { useGpu } from '../gpuStore';
import { useData } from './data';
import type { TokenizerInfo } from '../../model/runTokenizer';
import { presetById } from '../url';
import { runTokenizerChoice, useRunTokenizer } from './runTokenizer';
import { useSetup } from './setup';

export interface LoadedModel {
  config: ModelConfig;
  vocab: string[];
  paramCount: number;
  memory: MemoryEstimate;
  trainTokens: number;
  valTokens: number;
  /** Characters of each split, and the run's tokenizer (runs on tokens). */
  trainChars?: number;
  valChars?: number;
  tokenizer?: TokenizerInfo;
  /** What was loaded: the model is stale once the setup or corpus differs. */
  key: string;
  /** The corpus the run trains on, as people know it. */
  corpusName: string;
  /** The run it is, as the runs table shows it. */
  runId: string;
  runName: string;
  /** The training settings the run continues with. */
  train?: TrainConfig;
  /** Set for a fine-tune (LoRA or DPO) of another run. */
  fineTune?: FineTuneInfo;
  /** The adapter strength in use (LoRA runs). */
  loraStrength?: number;
  /** Another tab had this run open when it was opened here: this tab shows it read-only. */
  readOnly?: boolean;
}

interface TrainingState {
  state: TrainState;
  step: number;
  maxSteps: number;
  /** Sentence from the engine about the state (finished, stopped on NaN, ...). */
  message: string | null;
  loaded: LoadedModel | null;
  /** Problems the engine found with the config. */
  problems: string[];
  busy: boolean;
  latest: StepStats | null;
  lastEval: EvalStats | null;
  /** Wall-clock milliseconds per step, averaged over the recent steps. */
  msPerStep: number | null;
  /** The engine's sentence about a NaN or infinity, until training is started again. */
  nonFinite: string | null;
  actions: {
    load: () => Promise<boolean>;
    /** Load the current setup unless it is loaded already. */
    ensureLoaded: () => Promise<boolean>;
    /** Take over a run the engine has loaded by other means (a resumed saved run). */
    adopt: (reply: LoadedReply, corpusName: string) => void;
    /** After a device loss: continue on a new device from the last checkpoint. */
    recover: () => Promise<void>;
    command: (action: TrainAction) => Promise<void>;
    /** Space: start, pause or resume, whichever applies. */
    toggle: () => Promise<void>;
    /** Train this many more steps on a finished (or paused) run, continuing it exactly. */
    continueRun: (steps: number) => Promise<void>;
  };
}

export type LoadedReply = Extract<EngineReply, { kind: 'loaded' }>;

export function setupKey(): string {
  const { model, train } = useSetup.getState();
  const corpus = useData.getState().corpus;
  const tok = useRunTokenizer.getState();
  return JSON.stringify([model, train, corpus?.name, corpus?.stats.bytes, corpus?.stats.chars, tok.kind, tok.kind === 'bpe' ? (tok.bpe?.savedAt ?? null) : null]);
}

export const useTraining = create<TrainingState>((set, get) => ({
  state: 'empty',
  step: 0,
  maxSteps: 0,
  message: null,
  loaded: null,
  problems: [],
  busy: false,
  latest: null,
  lastEval: null,
  msPerStep: null,
  nonFinite: null,
  actions: {
    async load() {
      const engine = useGpu.getState().engine;
      // A text still being read (a preset's corpus, a dropped file) is the one the run is for.
      if (useData.getState().loading) {
        await new Promise<void>((done) => {
          const stop = useData.subscribe((d) => {
            if (d.loading) return;
            stop();
            done();
          });
        });
      }
      const corpus = useData.getState().corpus;
      if (!engine || useGpu.getState().phase !== 'ready') {
        set({ problems: ['The GPU is not ready yet.'] });
        return false;
      }
      if (!corpus) {
        set({ problems: ['Choose a corpus first (Dataset panel).'] });
        return false;
      }
      const { model, train } = useSetup.getState();
      const tokenizer = runTokenizerChoice();
      if (typeof tokenizer === 'string') {
        set({ problems: [tokenizer] });
        return false;
      }
      const key = setupKey();
      set({ busy: true, problems: [], message: null, nonFinite: null });
      const preset = presetById(useSetup.getState().preset);
      const label = preset ? preset.label.replace(/ \(.*\)$/, '') : 'Custom';
      const changed = !preset || JSON.stringify(preset.model) !== JSON.stringify(model) || JSON.stringify(preset.train) !== JSON.stringify(train);
      const reply = await engine.request({
        kind: 'load',
        corpusName: corpus.name,
        text: corpus.text,
        model,
        train,
        builtIn: corpus.source === 'builtin',
        runName: `${label}${changed ? ' (changed)' : ''} on ${corpus.name}`,
        preset: preset?.label ?? '',
        ...(corpus.toy ? { toyEval: corpus.toy.heldOut } : {}),
        ...(tokenizer.kind !== 'char' ? { tokenizer } : {}),
      });
      set({ busy: false });
      if (reply.kind === 'loaded') {
        trainingSeries.clear();
        set({
          loaded: { ...reply, key, corpusName: corpus.name },
          step: 0,
          maxSteps: train.maxSteps,
          latest: null,
          lastEval: null,
          msPerStep: null,
          state: get().state === 'empty' ? 'ready' : get().state,
        });
        return true;
      }
      if (reply.kind === 'invalid') set({ problems: reply.problems });
      else set({ problems: ['message' in reply ? String(reply.message) : `Unexpected reply '${reply.kind}'.`] });
      return false;
    },
    async ensureLoaded() {
      const loaded = get().loaded;
      if (loaded && loaded.key === setupKey()) return true;
      return get().actions.load();
    },
    adopt(reply, corpusName) {
      set({
        loaded: { ...reply, key: setupKey(), corpusName },
        step: reply.step ?? 0,
        maxSteps: useSetup.getState().train.maxSteps,
        latest: null,
        lastEval: reply.evalHistory?.at(-1) ?? null,
        msPerStep: null,
        problems: [],
        nonFinite: null,
      });
      trainingSeries.replace(reply.lossHistory ?? [], reply.evalHistory ?? []);
    },
    async recover() {
      const engine = useGpu.getState().engine;
      if (!engine) return;
      if (!get().loaded) {
        // No run to restore: a new device is all that is needed.
        const reply = await engine.request({ kind: 'init' });
        if (reply.kind === 'ready') useGpu.setState({ lost: null, info: reply.info });
        else set({ problems: ['message' in reply ? String(reply.message) : 'The GPU could not be acquired again. Reload the page.'] });
        return;
      }
      await get().actions.command('resume');
      if (get().state !== 'error') useGpu.setState({ lost: null });
    },
    async command(action) {
      const engine = useGpu.getState().engine;
      if (!engine || get().busy) return;
      if (action === 'start' || action === 'step') {
        if (!(await get().actions.ensureLoaded())) return;
      }
      if (action === 'reset') trainingSeries.clear();
      if (action !== 'pause' && action !== 'stop') set({ nonFinite: null });
      set({ busy: true });
      const reply = await engine.request({ kind: 'train', action });
      set({ busy: false });
      if (reply.kind === 'error') set({ problems: [reply.message] });
      else if (reply.kind === 'invalid') set({ problems: reply.problems });
      // A reset run starts clean: no sentence about the run before it survives.
      if (action === 'reset') set({ step: 0, latest: null, lastEval: null, msPerStep: null, problems: reply.kind === 'error' ? get().problems : [], message: null, nonFinite: null });
    },
    async continueRun(steps) {
      const engine = useGpu.getState().engine;
      const loaded = get().loaded;
      if (!engine || !loaded || get().busy) return;
      const train = useSetup.getState().train;
      const maxSteps = get().step + Math.floor(steps);
      // The form and the link follow the run, so Start and Step keep training this run, not a new one.
      useSetup.getState().actions.setTrain({ maxSteps, lrDecaySteps: train.lrDecaySteps ?? train.maxSteps });
      set({ loaded: { ...loaded, key: setupKey() }, problems: [], message: null, nonFinite: null, busy: true });
      const reply = await engine.request({ kind: 'continueRun', steps });
      set({ busy: false });
      if (reply.kind === 'error') set({ problems: [reply.message] });
    },
    async toggle() {
      const s = get().state;
      if (s === 'running') return get().actions.command('pause');
      if (s === 'paused' || s === 'error') return get().actions.command('resume');
      return get().actions.command('start');
    },
  },
}));

// Step events arrive at any rate; the store takes a snapshot at most 4 times a second.
let pendingSnapshot = false;
let lastStepAt = 0;
let lastStepNumber = 0;
let msAverage: number | null = null;

function scheduleSnapshot(): void {
  if (pendingSnapshot) return;
  pendingSnapshot = true;
  setTimeout(() => {
    pendingSnapshot = false;
    const latest = trainingSeries.latest;
    useTraining.setState({ latest, step: latest ? latest.step : useTraining.getState().step, msPerStep: msAverage });
  }, 250);
}

/** Feeds the engine's training events into the series and the store. */
export function handleTrainingEvent(event: EngineEvent): void {
  switch (event.kind) {
    case 'trainState':
      if (event.state !== 'running') lastStepAt = 0;
      useTraining.setState({
        state: event.state,
        step: event.step,
        maxSteps: event.maxSteps,
        message: event.message ?? null,
      });
      break;
    case 'step': {
      const now = performance.now();
      if (lastStepAt > 0 && event.stats.step > lastStepNumber) {
        const per = (now - lastStepAt) / (event.stats.step - lastStepNumber);
        msAverage = msAverage === null ? per : 0.9 * msAverage + 0.1 * per;
      }
      lastStepAt = now;
      lastStepNumber = event.stats.step;
      trainingSeries.addStep(event.stats);
      scheduleSnapshot();
      break;
    }
    case 'eval':
      trainingSeries.addEval(event.stats);
      useTraining.setState({ lastEval: event.stats });
      break;
    case 'nonFinite':
      useTraining.setState({ nonFinite: event.message });
      break;
    case 'history':
      trainingSeries.replace(event.lossHistory, event.evalHistory);
      useTraining.setState({ latest: trainingSeries.latest, lastEval: trainingSeries.evals.at(-1) ?? null });
      break;
    default:
      break;
  }
}
