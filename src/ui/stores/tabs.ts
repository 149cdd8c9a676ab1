// The open run as other tabs of this browser change it: a run another tab has
// open is shown here read-only, follows that tab's checkpoints and renames
// live, and can be copied into a run of this tab ("Duplicate to train here").
import { create } from 'zustand';
import type { EngineEvent } from '../../engine/protocol';
import { openRun } from './checkpoints';
import { useRuns } from './runs';
import { useTraining } from './training';

interface TabsState {
  /** The step the owning tab saved last (null before it saves while this tab looks). */
  otherStep: number | null;
  duplicating: boolean;
  error: string | null;
  actions: {
    /** Copy the open run (as last stored) to a new run and open it here. */
    duplicateHere: () => Promise<void>;
  };
}

export const useTabs = create<TabsState>((set, get) => ({
  otherStep: null,
  duplicating: false,
  error: null,
  actions: {
    async duplicateHere() {
      const loaded = useTraining.getState().loaded;
      if (!loaded || get().duplicating) return;
      await useRuns.getState().actions.refresh();
      const run = useRuns.getState().runs.find((r) => r.id === loaded.runId);
      if (!run) {
        set({ error: 'The other tab has not stored this run yet: wait for its first checkpoint, then duplicate it.' });
        return;
      }
      set({ duplicating: true, error: null });
      try {
        const problem = await openRun(run, { duplicate: true });
        set({ error: problem, otherStep: null });
        await useRuns.getState().actions.refresh();
      } finally {
        set({ duplicating: false });
      }
    },
  },
}));

/** News from other tabs about stored runs; training started here makes the open run this tab's. */
export function handleTabsEvent(event: EngineEvent): void {
  const loaded = useTraining.getState().loaded;
  if (event.kind === 'trainState' && event.state === 'running' && loaded?.readOnly) {
    useTraining.setState({ loaded: { ...loaded, readOnly: false } });
    void useRuns.getState().actions.refresh();
    return;
  }
  if (event.kind !== 'runNews') return;
  void useRuns.getState().actions.refresh();
  if (!loaded || loaded.runId !== event.id) return;
  if (event.what === 'renamed' && event.name) useTraining.setState({ loaded: { ...loaded, runName: event.name } });
  if (event.what === 'saved' && event.step !== undefined) useTabs.setState({ otherStep: event.step });
}

// A newly opened run starts without news from other tabs.
useTraining.subscribe((s, prev) => {
  if (s.loaded?.runId !== prev.loaded?.runId) useTabs.setState({ otherStep: null, error: null });
});
