// The first minutes of a page: the default setup for a first visit (see
// ../firstVisit.ts), the corpus it needs, and compiling ahead: while the person
// reads, the engine compiles the GPU pipelines of the run Start would build.
import { create } from 'zustand';
import type { EngineClient } from '../../engine/client';
import { firstVisitPreset, isPresetSetup, linkHasSetup, rememberedPreset, SOFTWARE_DEFAULT_NOTE } from '../firstVisit';
import { useGpu } from '../gpuStore';
import { loadStartCorpus, useData } from './data';
import { useRunTokenizer } from './runTokenizer';
import { useSetup } from './setup';
import { useTraining } from './training';

/** The query string the page opened with (the page rewrites its own link as the setup changes). */
const OPENED_WITH = typeof location === 'undefined' ? '' : location.search;

interface FirstRunState {
  /** Why this page picked its default preset (a software renderer), or null. */
  note: string | null;
  /** The shape compiled ahead last and how long the engine took (ms; 0 when it was warm already). */
  warmed: { key: string; ms: number; pipelines: number } | null;
}

export const useFirstRun = create<FirstRunState>(() => ({ note: null, warmed: null }));

/** True when the page must learn its adapter before it knows its setup (and so its corpus). */
export function setupWaitsForAdapter(): boolean {
  return !linkHasSetup(OPENED_WITH) && rememberedPreset() === null;
}

/**
 * Once the adapter is known: switch a first visit to its adapter's default
 * preset (Tiny on a software renderer), then read the setup's corpus.
 */
let settled = false;

export async function settleStartSetup(engine: EngineClient, software: boolean): Promise<void> {
  if (settled) return;
  settled = true;
  if (setupWaitsForAdapter()) {
    const reply = await engine.request({ kind: 'savedRun' });
    const preset = firstVisitPreset({
      search: OPENED_WITH,
      software,
      runOpen: useTraining.getState().loaded !== null,
      savedRun: reply.kind === 'savedRun' && reply.run !== null,
      remembered: rememberedPreset(),
    });
    if (preset && useTraining.getState().loaded === null) {
      useSetup.getState().actions.applyPreset(preset);
      if (software) useFirstRun.setState({ note: SOFTWARE_DEFAULT_NOTE });
    }
  }
  const { corpus, loading } = useData.getState();
  if (!corpus && !loading) await loadStartCorpus();
}

let pending: ReturnType<typeof setTimeout> | null = null;
let asked = '';

/** Ask the engine to compile the pipelines of the run Start would build now, if that setup is a preset's. */
function warmSoon(): void {
  if (pending) clearTimeout(pending);
  // A moment after the page has drawn what changed (a big text's statistics), so the compiler competes with nothing on screen.
  pending = setTimeout(() => {
    pending = null;
    const { engine, phase } = useGpu.getState();
    const { corpus, loading } = useData.getState();
    const { preset, model, train } = useSetup.getState();
    if (!engine || phase !== 'ready' || !corpus || loading || useTraining.getState().loaded) return;
    // Only a preset's shape (not every value typed on the way to another) and a run on characters.
    if (useRunTokenizer.getState().kind !== 'char' || !isPresetSetup(preset, model, train)) return;
    const request = { kind: 'warmUp' as const, model, batchSize: train.batchSize, vocabSize: corpus.stats.vocab.length };
    const key = JSON.stringify(request);
    if (key === asked) return;
    asked = key;
    void engine.request(request).then((reply) => {
      if (reply.kind === 'warmedUp') useFirstRun.setState({ warmed: { key, ms: reply.ms, pipelines: reply.pipelines } });
      else asked = '';
    });
  }, 1500);
}

/** Compile ahead whenever the page settles on a new preset's setup with no run open; returns the unsubscriber. */
export function compileAhead(): () => void {
  const stops = [useGpu.subscribe(warmSoon), useData.subscribe(warmSoon), useSetup.subscribe(warmSoon), useTraining.subscribe((s, p) => s.loaded !== p.loaded && warmSoon())];
  warmSoon();
  return () => stops.forEach((stop) => stop());
}
