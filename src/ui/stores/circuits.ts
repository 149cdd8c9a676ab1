// The circuits section's state: the last ablation grid, logit attribution and
// patching result (as the engine computed them), their inputs, and the heads
// zero-ablated live in sampling and the attention views. Live ablations belong
// to the open run: when another run is opened they are cleared, with a note.
import { create } from 'zustand';
import type { CircuitsJob, CircuitsResult, EngineReply } from '../../engine/protocol';
import type { AblationMode } from '../../model/interventions';
import { useGpu } from '../gpuStore';
import { useTraining } from './training';

type Result<W extends CircuitsResult['what']> = Extract<CircuitsResult, { what: W }>;

interface CircuitsState {
  mode: AblationMode;
  grid: Result<'grid'> | null;
  attribution: Result<'attribution'> | null;
  patching: Result<'patching'> | null;
  /** Inputs of the attribution and patching forms. */
  dla: { text: string; pos: string; target: string; other: string };
  patch: { clean: string; corrupted: string; target: string; other: string };
  /** Heads zero-ablated live, as "l.h" keys. */
  live: string[];
  note: string | null;
  busy: CircuitsResult['what'] | 'live' | null;
  error: { where: CircuitsResult['what'] | 'live'; message: string } | null;
  actions: {
    setMode: (mode: AblationMode) => void;
    setDla: (patch: Partial<CircuitsState['dla']>) => void;
    setPatch: (patch: Partial<CircuitsState['patch']>) => void;
    run: (what: CircuitsResult['what']) => Promise<void>;
    toggleLive: (layer: number, head: number) => Promise<void>;
    clearLive: () => Promise<void>;
  };
}

const problem = (reply: EngineReply) =>
  reply.kind === 'error' ? reply.message : reply.kind === 'invalid' ? reply.problems.join(' ') : `Unexpected reply '${reply.kind}'.`;

export const useCircuits = create<CircuitsState>((set, get) => ({
  mode: 'zero',
  grid: null,
  attribution: null,
  patching: null,
  dla: { text: '', pos: '', target: '', other: '' },
  patch: { clean: '', corrupted: '', target: '', other: '' },
  live: [],
  note: null,
  busy: null,
  error: null,
  actions: {
    setMode: (mode) => set({ mode }),
    setDla: (p) => set({ dla: { ...get().dla, ...p } }),
    setPatch: (p) => set({ patch: { ...get().patch, ...p } }),
    async run(what) {
      const engine = useGpu.getState().engine;
      if (!engine || get().busy) return;
      const s = get();
      let job: CircuitsJob;
      if (what === 'grid') job = { what, mode: s.mode };
      else if (what === 'attribution') {
        // An empty position is the prompt's last token, which the engine counts (in tokens, not characters).
        job = { what, text: s.dla.text, ...(s.dla.pos.trim() === '' ? {} : { pos: Number(s.dla.pos) }), target: s.dla.target, ...(s.dla.other ? { other: s.dla.other } : {}) };
      } else job = { what, ...s.patch };
      set({ busy: what, error: null });
      const reply = await engine.request({ kind: 'circuits', job });
      if (reply.kind === 'circuits') set({ [reply.result.what]: reply.result, busy: null } as Partial<CircuitsState>);
      else set({ busy: null, error: { where: what, message: problem(reply) } });
    },
    async toggleLive(layer, head) {
      const key = `${layer}.${head}`;
      const live = get().live.includes(key) ? get().live.filter((k) => k !== key) : [...get().live, key];
      await sendLive(live);
    },
    clearLive: () => sendLive([]),
  },
}));

async function sendLive(live: string[]): Promise<void> {
  const engine = useGpu.getState().engine;
  if (!engine) return;
  useCircuits.setState({ busy: 'live', error: null, note: null });
  const ablations = live.map((k) => {
    const [layer, head] = k.split('.').map(Number);
    return { kind: 'head' as const, layer, head, mode: 'zero' as const };
  });
  const reply = await engine.request({ kind: 'setAblations', ablations });
  if (reply.kind === 'ok') useCircuits.setState({ live, busy: null });
  else useCircuits.setState({ busy: null, error: { where: 'live', message: problem(reply) } });
}

// Another run opened: the engine's new run has no live ablations; say so rather than show stale toggles.
let runId = useTraining.getState().loaded?.runId;
useTraining.subscribe((s) => {
  const id = s.loaded?.runId;
  if (id === runId) return;
  runId = id;
  const had = useCircuits.getState().live.length;
  useCircuits.setState({
    grid: null, attribution: null, patching: null, live: [],
    note: had ? `Another run was opened: its model has no live ablations, so the ${had} head${had > 1 ? 's' : ''} switched off before ${had > 1 ? 'are' : 'is'} on again.` : null,
  });
});
