// The runs stored in this browser, for the runs table: list, rename, delete,
// duplicate with changes, and which runs the comparison chart overlays.
import { create } from 'zustand';
import type { RunSummary } from '../../engine/protocol';
import { useGpu } from '../gpuStore';
import { builtinIdFor, openRun } from './checkpoints';
import { useData } from './data';
import { useSetup } from './setup';
import { useTraining } from './training';
import { otherBlockShape } from '../../model/otherBlock';
import { paramCount } from '../../model/validate';

export type CompareAxis = 'steps' | 'tokens' | 'time' | 'flops';

export interface StorageUse {
  usage: number;
  quota: number;
}

interface RunsState {
  runs: RunSummary[];
  /** The run the engine has open (it is saved under this id). */
  openId: string | null;
  /** Runs another tab of this browser has open (it alone writes them). */
  elsewhere: string[];
  storage: StorageUse | null;
  /** Ids of the runs the comparison chart overlays. */
  selected: string[];
  axis: CompareAxis;
  /** A sentence about the last action that did not work. */
  error: string | null;
  /** A sentence about the last action that did. */
  note: string | null;
  busy: boolean;
  actions: {
    refresh: () => Promise<void>;
    toggleSelected: (id: string) => void;
    setAxis: (axis: CompareAxis) => void;
    rename: (id: string, name: string, notes?: string) => Promise<boolean>;
    remove: (id: string) => Promise<void>;
    open: (id: string) => Promise<boolean>;
    duplicate: (id: string) => Promise<boolean>;
    /** A new run like this one with the other block (GPT-2 or LLaMA) at nearly its parameter count, compared with it. */
    compareOtherBlock: (id: string) => Promise<boolean>;
  };
}

function problemOf(reply: { kind: string; message?: string; problems?: string[] }): string {
  return reply.message ?? reply.problems?.join(' ') ?? `Unexpected reply '${reply.kind}'.`;
}

export const useRuns = create<RunsState>((set, get) => ({
  runs: [],
  openId: null,
  elsewhere: [],
  storage: null,
  selected: [],
  axis: 'steps',
  error: null,
  note: null,
  busy: false,
  actions: {
    async refresh() {
      const engine = useGpu.getState().engine;
      if (!engine) return;
      const reply = await engine.request({ kind: 'listRuns' });
      if (reply.kind === 'runs') {
        // The open run stays selected before its first checkpoint stores it.
        const ids = new Set([...reply.runs.map((r) => r.id), ...(reply.openId ? [reply.openId] : [])]);
        set({ runs: reply.runs, openId: reply.openId, elsewhere: reply.elsewhere ?? [], selected: get().selected.filter((id) => ids.has(id)) });
      }
      try {
        const estimate = await navigator.storage?.estimate?.();
        if (estimate) set({ storage: { usage: estimate.usage ?? 0, quota: estimate.quota ?? 0 } });
      } catch {
        set({ storage: null });
      }
    },
    toggleSelected(id) {
      const selected = get().selected;
      set({ selected: selected.includes(id) ? selected.filter((x) => x !== id) : [...selected, id] });
    },
    setAxis: (axis) => set({ axis }),
    async rename(id, name, notes) {
      const engine = useGpu.getState().engine;
      if (!engine) return false;
      const reply = await engine.request({ kind: 'renameRun', id, name, notes });
      if (reply.kind !== 'ok') {
        set({ error: problemOf(reply), note: null });
        return false;
      }
      set({ error: null, note: null });
      await get().actions.refresh();
      return true;
    },
    async remove(id) {
      const engine = useGpu.getState().engine;
      if (!engine) return;
      const name = get().runs.find((r) => r.id === id)?.name ?? 'The run';
      const reply = await engine.request({ kind: 'discardSavedRun', id });
      if (reply.kind !== 'ok') set({ error: problemOf(reply), note: null });
      else set({ error: null, note: `Deleted "${name}".` });
      await get().actions.refresh();
    },
    async open(id) {
      const run = get().runs.find((r) => r.id === id);
      if (!run || get().busy) return false;
      set({ busy: true, error: null, note: null });
      try {
        const problem = await openRun(run);
        if (problem) set({ error: problem });
        else set({ note: `Opened "${run.name}" at step ${run.step}.` });
        await get().actions.refresh();
        return !problem;
      } finally {
        set({ busy: false });
      }
    },
    async duplicate(id) {
      const run = get().runs.find((r) => r.id === id);
      const engine = useGpu.getState().engine;
      if (!run || !engine || get().busy) return false;
      set({ busy: true, error: null, note: null });
      try {
        // The run's corpus first (its vocabulary decides the model's), then its setup in the form.
        const builtin = run.builtIn ? builtinIdFor(run.corpusName) : null;
        const data = useData.getState();
        if (builtin) {
          if (data.corpus?.builtin !== builtin) await data.actions.loadBuiltin(builtin);
        } else if (data.corpus?.name !== run.corpusName) {
          const reply = await engine.request({ kind: 'runCorpus', id });
          if (reply.kind !== 'runCorpus' || reply.text === undefined) {
            set({ error: reply.kind === 'error' ? reply.message : 'The text of that run is not stored.' });
            return false;
          }
          await data.actions.loadText(reply.text, reply.name);
        }
        const { vocabSize: _v, ...shape } = run.model;
        void _v;
        const setup = useSetup.getState().actions;
        setup.setModel(shape);
        const { lrDecaySteps: _d, ...train } = run.train;
        void _d;
        setup.setTrain({ ...train, lrDecaySteps: undefined });
        set({ note: `The form holds the setup of "${run.name}": change what you like and press Start for a new run; "${run.name}" stays as it is.` });
        return true;
      } finally {
        set({ busy: false });
      }
    },
    async compareOtherBlock(id) {
      const run = get().runs.find((r) => r.id === id);
      if (!run || !(await get().actions.duplicate(id))) return false;
      const { vocabSize, ...shape } = run.model;
      const other = otherBlockShape(shape, vocabSize);
      useSetup.getState().actions.setModel({ nKvHead: undefined, ffnHidden: undefined, ropeTheta: undefined, rmsNormEps: undefined, ...other });
      set({ busy: true });
      try {
        if (!(await useTraining.getState().actions.load())) {
          set({ error: `The matching run could not be made: ${useTraining.getState().problems.join(' ')}`, note: null });
          return false;
        }
        const newId = useTraining.getState().loaded?.runId;
        const name = other.block === 'llama' ? 'LLaMA' : 'GPT-2';
        set({
          selected: newId ? [id, newId] : [id],
          note: `A ${name}-block run like "${run.name}" is open (same layers, heads, context, corpus and training; width ${other.nEmbd}${other.block === 'llama' ? `, MLP ${other.ffnHidden}` : ''}): press Train, and the comparison below overlays both from its first checkpoint.`,
        });
        await get().actions.refresh();
        return true;
      } finally {
        set({ busy: false });
      }
    },
  },
}));

/** A point of a run's curve on the chosen x axis; null when the run did not record it (wall time of old runs). */
export function xOf(run: Pick<RunSummary, 'train' | 'model'>, point: { step: number; time?: number }, axis: CompareAxis): number | null {
  if (axis === 'steps') return point.step;
  if (axis === 'tokens') return point.step * run.train.batchSize * run.model.blockSize;
  // Training compute as Kaplan et al. count it: 6 FLOPs per parameter per token (forward 2, backward 4).
  if (axis === 'flops') return point.step * 6 * paramCount(run.model) * run.train.batchSize * run.model.blockSize;
  return point.time ?? null;
}
