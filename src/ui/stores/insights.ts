// What the model learned, as the page shows it: the timeline of snapshots taken
// at every evaluation (mirrored from the engine, thinned the same way) and the
// latest inspection asked for by hand, plus which of them the views show.
import { create } from 'zustand';
import { appendThinned } from '../../engine/checkpointStore';
import { MAX_SNAPSHOTS } from '../../engine/insights';
import type { EngineEvent, HealthStats, Insights } from '../../engine/protocol';
import { useGpu } from '../gpuStore';

interface InsightsState {
  /** Snapshots at evaluations, oldest first. */
  timeline: Insights[];
  /** Index into the timeline the views show; null follows the latest snapshot. */
  selected: number | null;
  /** The last inspection asked for from the page (a text of the person's choosing). */
  requested: Insights | null;
  /** Which the views show: a timeline snapshot, or the requested inspection. */
  showing: 'timeline' | 'request';
  /** Text to inspect; null = the start of the validation split. */
  text: string | null;
  busy: boolean;
  error: string | null;
  /** Per-tensor training health readings, oldest first (older half thinned past MAX_HEALTH). */
  health: HealthStats[];
  actions: {
    setText: (text: string | null) => void;
    /** Inspect the current weights on the text now. */
    inspect: () => Promise<void>;
    /** Show the snapshot at this timeline index. */
    select: (index: number) => void;
  };
}

export const useInsights = create<InsightsState>((set, get) => ({
  timeline: [],
  selected: null,
  requested: null,
  showing: 'timeline',
  text: null,
  busy: false,
  error: null,
  health: [],
  actions: {
    setText: (text) => set({ text }),
    async inspect() {
      const engine = useGpu.getState().engine;
      if (!engine || get().busy) return;
      set({ busy: true, error: null });
      const text = get().text;
      const reply = await engine.request({ kind: 'insights', ...(text === null ? {} : { text }) });
      if (reply.kind === 'insights') set({ requested: reply.insights, showing: 'request', busy: false });
      else set({ busy: false, error: reply.kind === 'error' ? reply.message : reply.kind === 'invalid' ? reply.problems.join(' ') : `Unexpected reply '${reply.kind}'.` });
    },
    select: (index) => {
      const n = get().timeline.length;
      set({ selected: index >= n - 1 ? null : Math.max(0, index), showing: 'timeline' });
    },
  },
}));

/** Health readings kept on the page. */
export const MAX_HEALTH = 400;

/** What the views show now. */
export function shownInsights(s: Pick<InsightsState, 'timeline' | 'selected' | 'requested' | 'showing'>): Insights | null {
  if (s.showing === 'request' && s.requested) return s.requested;
  if (!s.timeline.length) return s.requested;
  return s.timeline[s.selected ?? s.timeline.length - 1] ?? null;
}

/** Snapshots stream in at evaluations; a reload, reset or rollback replaces or trims the timeline. */
export function handleInsightsEvent(event: EngineEvent): void {
  const s = useInsights.getState();
  if (event.kind === 'snapshot') {
    const timeline = appendThinned(
      s.timeline.filter((x) => x.step < event.insights.step),
      event.insights,
      MAX_SNAPSHOTS,
    );
    useInsights.setState({ timeline, selected: s.selected !== null && s.selected < timeline.length - 1 ? s.selected : null });
  } else if (event.kind === 'health') {
    const health = appendThinned(
      s.health.filter((x) => x.step < event.stats.step),
      event.stats,
      MAX_HEALTH,
    );
    useInsights.setState({ health });
  } else if (event.kind === 'timeline') {
    useInsights.setState({
      timeline: event.snapshots,
      selected: null,
      ...(event.snapshots.length ? {} : { requested: null, showing: 'timeline' as const, health: [] }),
    });
  } else if (event.kind === 'history') {
    // A rollback: snapshots after the last step still on the curve are gone.
    const last = event.lossHistory.at(-1)?.step ?? 0;
    if (s.timeline.some((x) => x.step > last)) useInsights.setState({ timeline: s.timeline.filter((x) => x.step <= last), selected: null });
    if (s.health.some((x) => x.step > last)) useInsights.setState({ health: s.health.filter((x) => x.step <= last) });
  }
}
