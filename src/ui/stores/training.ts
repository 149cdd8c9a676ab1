// The training run as the page sees it: what the engine loaded, its state, and
// a few-times-a-second snapshot of the latest numbers. The per-step series is
// in trainingSeries, outside React.
import { create } from 'zustand';
import type { EngineEvent, EvalStats, MemoryEstimate, StepStats, TrainAction, TrainState } from '../../engine/protocol';
import type { ModelConfig } from '../../model/config';
import { trainingSeries } from '../training/series';
import { useGpu } from '../gpuStore';
import { useData } from './data';
import { useSetup } from './setup';

export interface LoadedModel {
  config: ModelConfig;
  vocab: string[];
  paramCount: number;
  memory: MemoryEstimate;
  trainTokens: number;
  valTokens: number;
  /** What was loaded: the model is stale once the setup or corpus differs. */
  key: string;
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
  actions: {
    load: () => Promise<boolean>;
    command: (action: TrainAction) => Promise<void>;
    /** Space: start, pause or resume, whichever applies. */
    toggle: () => Promise<void>;
  };
}

function setupKey(): string {
  const { model, train } = useSetup.getState();
  const corpus = useData.getState().corpus;
  return JSON.stringify([model, train, corpus?.name, corpus?.stats.bytes, corpus?.stats.chars]);
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
  actions: {
    async load() {
      const engine = useGpu.getState().engine;
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
      const key = setupKey();
      set({ busy: true, problems: [], message: null });
      const reply = await engine.request({ kind: 'load', corpusName: corpus.name, text: corpus.text, model, train });
      set({ busy: false });
      if (reply.kind === 'loaded') {
        trainingSeries.clear();
        set({
          loaded: { ...reply, key },
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
    async command(action) {
      const engine = useGpu.getState().engine;
      if (!engine || get().busy) return;
      const stale = !get().loaded || get().loaded!.key !== setupKey();
      if ((action === 'start' || action === 'step') && stale) {
        if (!(await get().actions.load())) return;
      }
      if (action === 'reset') trainingSeries.clear();
      set({ busy: true });
      const reply = await engine.request({ kind: 'train', action });
      set({ busy: false });
      if (reply.kind === 'error') set({ problems: [reply.message] });
      else if (reply.kind === 'invalid') set({ problems: reply.problems });
      if (action === 'reset') set({ step: 0, latest: null, lastEval: null, msPerStep: null });
    },
    async toggle() {
      const s = get().state;
      if (s === 'running') return get().actions.command('pause');
      if (s === 'paused') return get().actions.command('resume');
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
      useTraining.setState({ message: event.message });
      break;
    default:
      break;
  }
}
