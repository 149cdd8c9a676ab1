// Keeping a run: the run saved in this browser (offered for resuming after a
// reload), the status of the automatic checkpoints, and export / import of the
// weights as a .safetensors file.
import { create } from 'zustand';
import type { EngineEvent, SavedRunSummary } from '../../engine/protocol';
import { formatBytes } from '../../data/corpus';
import { builtinCorpus } from '../../data/readCorpus';
import { BUILTIN_CORPUS_IDS, type CorpusId } from '../../model/config';
import { buildBundle } from '../../engine/nanogptBundle';
import { tokenDataOf } from '../tokenizer/tokenData';
import { useGpu } from '../gpuStore';
import { useData } from './data';
import { useSetup } from './setup';
import { presetForRun } from '../runPreset';
import { useTraining } from './training';

/** The built-in corpus a saved run names (by label or id), if any. */
export function builtinIdFor(corpusName: string): CorpusId | null {
  for (const id of BUILTIN_CORPUS_IDS) if (id === corpusName || builtinCorpus(id).label === corpusName) return id;
  return null;
}

/** "3 minutes ago", "yesterday at 14:05", ...: when a run was saved, for people. */
export function describeSavedAt(savedAt: number, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - savedAt) / 1000));
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? '' : 's'} ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} hour${hours === 1 ? '' : 's'} ago`;
  return `on ${new Date(savedAt).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' })}`;
}

/** The offer's sentence: "Resume training from step 120 of Moby Dick — saved 3 minutes ago". */
export function describeSavedRun(run: SavedRunSummary, now = Date.now()): string {
  const id = run.builtIn ? builtinIdFor(run.corpusName) : null;
  const corpus = id ? builtinCorpus(id).label : run.corpusName;
  // A finished run is opened to look at (or train on with Continue), not resumed.
  if (run.step >= run.train.maxSteps) return `Open the finished run “${run.name}” (step ${run.step} of ${corpus}) — saved ${describeSavedAt(run.savedAt, now)}`;
  return `Resume training from step ${run.step} of ${corpus} — saved ${describeSavedAt(run.savedAt, now)}`;
}

export interface CheckpointStatus {
  step: number;
  saved: boolean;
  /** The engine's sentence when it was not saved. */
  message: string | null;
  at: number;
}

interface CheckpointState {
  /** The run saved in this browser, offered until resumed, discarded or replaced. */
  offer: SavedRunSummary | null;
  /** Resume or discard in progress. */
  resuming: boolean;
  offerError: string | null;
  last: CheckpointStatus | null;
  /** Export or import in progress. */
  transfer: 'export' | 'import' | 'bundle' | null;
  /** How far the import in progress is (0..1) and what it is doing, from the engine's events; it outlives the reply while the engine evaluates in the background. */
  importProgress: { fraction: number; stage: string } | null;
  /** Sentence about the last export or import (problems are shown as alerts). */
  transferNote: string | null;
  /** SHA-256 (hex) of the file last exported or imported, to tell files apart. */
  transferHash: string | null;
  transferError: string | null;
  actions: {
    checkSaved: () => Promise<void>;
    resume: () => Promise<void>;
    discard: () => Promise<void>;
    /** withOptimizer (default) adds AdamW's state so an import continues exactly; off gives nanoGPT's plain state_dict. */
    /** huggingFace: a LLaMA run as model.safetensors + config.json in one zip. */
    exportWeights: (withOptimizer?: boolean, huggingFace?: boolean) => Promise<void>;
    /** One model file, or a Hugging Face model.safetensors with its config.json picked together. */
    importWeights: (files: File | File[]) => Promise<void>;
    /** The zip that continues the open run with nanoGPT's train.py (after the person agreed the corpus goes into it). */
    exportCluster: () => Promise<void>;
  };
}

/** Wait until the data store is not reading a text. */
function dataIdle(): Promise<void> {
  if (!useData.getState().loading) return Promise.resolve();
  return new Promise((resolve) => {
    const stop = useData.subscribe((s) => {
      if (s.loading) return;
      stop();
      resolve();
    });
  });
}

async function sha256(bytes: ArrayBuffer): Promise<string | null> {
  try {
    const digest = await crypto.subtle.digest('SHA-256', bytes);
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  } catch {
    return null; // no WebCrypto (not a secure context): the note goes without it
  }
}

function fingerprint(hash: string | null): string {
  return hash ? `SHA-256 ${hash.slice(0, 12)}…` : '';
}

/** Hand bytes to the browser as a file download (made in the page: no request leaves it). */
export function download(bytes: ArrayBuffer, fileName: string): void {
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The download has its own copy once started.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export const useCheckpoints = create<CheckpointState>((set, get) => ({
  offer: null,
  resuming: false,
  offerError: null,
  last: null,
  transfer: null,
  importProgress: null,
  transferNote: null,
  transferHash: null,
  transferError: null,
  actions: {
    async checkSaved() {
      const engine = useGpu.getState().engine;
      if (!engine) return;
      const reply = await engine.request({ kind: 'savedRun' });
      // A run loaded meanwhile will replace the saved one at its first checkpoint.
      if (reply.kind === 'savedRun' && reply.run && !useTraining.getState().loaded) set({ offer: reply.run });
    },
    async resume() {
      const run = get().offer;
      if (!run || get().resuming) return;
      set({ resuming: true, offerError: null });
      try {
        const problem = await openRun(run);
        if (problem) {
          set({ offerError: problem });
          return;
        }
        set({ offer: null, last: { step: useTraining.getState().step, saved: true, message: null, at: run.savedAt } });
        // The offer said "resume training": carry on from the saved step.
        if (useTraining.getState().step < run.train.maxSteps) await useTraining.getState().actions.command('resume');
      } finally {
        set({ resuming: false });
      }
    },
    async discard() {
      const engine = useGpu.getState().engine;
      const run = get().offer;
      if (!engine || get().resuming) return;
      set({ resuming: true });
      const reply = await engine.request({ kind: 'discardSavedRun', id: run?.id });
      set({ resuming: false, offer: null, offerError: reply.kind === 'error' ? reply.message : null });
    },
    async exportWeights(withOptimizer = true, huggingFace = false) {
      const engine = useGpu.getState().engine;
      if (!engine || get().transfer) return;
      set({ transfer: 'export', transferError: null, transferNote: null, transferHash: null });
      try {
        // The open run is exported as it is; a model is created only when there is none.
        if (!useTraining.getState().loaded && !(await useTraining.getState().actions.ensureLoaded())) {
          set({ transferError: 'There is no model to export yet: load a corpus and a valid configuration first.' });
          return;
        }
        // With AdamW's moments and the step an import continues training exactly; without them the
        // file holds exactly nanoGPT's state_dict keys, for load_state_dict(strict=True).
        const reply = await engine.request({ kind: 'exportCheckpoint', withOptimizer: withOptimizer && !huggingFace, huggingFace });
        if (reply.kind !== 'exported') {
          set({ transferError: reply.kind === 'error' ? reply.message : `The export failed (reply '${reply.kind}').` });
          return;
        }
        const hash = await sha256(reply.bytes);
        download(reply.bytes, reply.fileName);
        set({ transferHash: hash, transferNote: `Exported ${reply.fileName} (${[formatBytes(reply.bytes.byteLength), fingerprint(hash)].filter(Boolean).join(', ')}).` });
      } finally {
        set({ transfer: null });
      }
    },
    async exportCluster() {
      const engine = useGpu.getState().engine;
      const loaded = useTraining.getState().loaded;
      const corpus = useData.getState().corpus;
      if (!engine || get().transfer) return;
      if (!loaded || !corpus) {
        set({ transferError: 'Train a model first: the zip continues the open run.' });
        return;
      }
      set({ transfer: 'bundle', transferError: null, transferNote: null, transferHash: null });
      try {
        const reply = await engine.request({ kind: 'exportCheckpoint', withOptimizer: true });
        if (reply.kind !== 'exported') {
          set({ transferError: reply.kind === 'error' ? reply.message : `The export failed (reply '${reply.kind}').` });
          return;
        }
        const stem = reply.fileName.replace(/-step\d+\.checkpoint\.safetensors$/, '');
        const tokens = await tokenDataOf(new Uint8Array(reply.bytes), corpus.text);
        const zip = buildBundle({
          ...(tokens ? { tokens } : {}),
          stem,
          runName: loaded.runName,
          text: corpus.text,
          vocab: loaded.vocab,
          model: loaded.config,
          train: useSetup.getState().train,
          step: reply.step,
          checkpoint: new Uint8Array(reply.bytes),
        });
        const name = `${stem}-step${reply.step}.nanogpt-run.zip`;
        const bytes = zip.buffer.slice(zip.byteOffset, zip.byteOffset + zip.byteLength) as ArrayBuffer;
        download(bytes, name);
        set({ transferNote: `Downloaded ${name} (${formatBytes(bytes.byteLength)}): unzip it into nanoGPT and follow its README.` });
      } finally {
        set({ transfer: null });
      }
    },
    async importWeights(picked) {
      const engine = useGpu.getState().engine;
      if (!engine || get().transfer) return;
      const list = Array.isArray(picked) ? picked : [picked];
      const jsonFile = list.length > 1 ? list.find((f) => /\.json$/i.test(f.name)) : undefined;
      const file = list.find((f) => f !== jsonFile) ?? list[0]!;
      set({ transfer: 'import', importProgress: { fraction: 0, stage: 'reading the file' }, transferError: null, transferNote: null, transferHash: null });
      let ok = false;
      try {
        if (!useData.getState().corpus) {
          set({ transferError: 'Load the text the model was trained on first (Dataset tab): its characters are the model\'s vocabulary.' });
          return;
        }
        let bytes: ArrayBuffer;
        try {
          bytes = await file.arrayBuffer();
        } catch (e) {
          set({ transferError: `${file.name} could not be read: ${(e as Error).message}` });
          return;
        }
        let configJson: string | undefined;
        if (list.length > 2 || (list.length === 2 && !jsonFile)) {
          set({ transferError: 'Pick one model file, or a model.safetensors together with its config.json.' });
          return;
        }
        if (jsonFile) {
          try {
            configJson = await jsonFile.text();
          } catch (e) {
            set({ transferError: `${jsonFile.name} could not be read: ${(e as Error).message}` });
            return;
          }
        }
        const hash = await sha256(bytes);
        const corpus = useData.getState().corpus!;
        const reply = await engine.request(
          {
            kind: 'importCheckpoint',
            bytes,
            fileName: file.name,
            corpusName: corpus.name,
            text: corpus.text,
            builtIn: corpus.source === 'builtin',
            train: useSetup.getState().train,
            configJson,
          },
          [bytes],
        );
        if (reply.kind !== 'loaded') {
          const why = reply.kind === 'error' ? reply.message : reply.kind === 'invalid' ? reply.problems.join(' ') : `unexpected reply '${reply.kind}'`;
          set({ transferError: `${file.name} was not imported: ${why} The model loaded before is unchanged.` });
          return;
        }
        const { vocabSize: _v, ...shape } = reply.config;
        void _v;
        useSetup.getState().actions.setModel(shape);
        useTraining.getState().actions.adopt(reply, corpus.name);
        const step = reply.imported?.step ?? reply.step ?? 0;
        ok = true;
        set({
          transferHash: hash,
          transferNote: `Imported ${file.name}${hash ? ` (${fingerprint(hash)})` : ''} as the run "${reply.runName}": the model is at step ${step}.`,
        });
      } finally {
        // A loaded file keeps its progress line while the engine evaluates it in the background.
        set(ok ? { transfer: null } : { transfer: null, importProgress: null });
      }
    },
  },
}));

/**
 * Open a stored run: its setup goes into the form, its corpus is loaded (a
 * built-in one by name; the user's own comes from storage), and the engine
 * continues it paused at its step. A sentence when it cannot be opened.
 */
/** Open a stored run (or, with `duplicate`, a copy of it as a new run this tab owns); a sentence when it cannot be. */
export async function openRun(run: SavedRunSummary, opts: { duplicate?: boolean } = {}): Promise<string | null> {
  const engine = useGpu.getState().engine;
  if (!engine) return 'The GPU is not ready yet.';
  let text: string | undefined;
  let corpusName = run.corpusName;
  if (run.builtIn) {
    const id = builtinIdFor(run.corpusName);
    if (!id) return `The run trained on "${run.corpusName}", which this version of the app does not have.`;
    await dataIdle();
    if (useData.getState().corpus?.builtin !== id) await useData.getState().actions.loadBuiltin(id);
    await dataIdle();
    const corpus = useData.getState().corpus;
    if (corpus?.builtin !== id) return useData.getState().error ?? `${builtinCorpus(id).label} could not be loaded.`;
    text = corpus.text;
    corpusName = corpus.name;
  }
  await dataIdle();
  const reply = await engine.request(opts.duplicate ? { kind: 'duplicateRun', id: run.id, text } : { kind: 'resume', id: run.id, text });
  if (reply.kind !== 'loaded') {
    return reply.kind === 'error' ? reply.message : reply.kind === 'invalid' ? reply.problems.join(' ') : `Unexpected reply '${reply.kind}'.`;
  }
  const { vocabSize: _v, ...shape } = reply.config;
  void _v;
  const setup = useSetup.getState().actions;
  setup.setModel(shape);
  setup.setTrain({ lrDecaySteps: undefined, ...reply.train });
  // The picker, its description and the link name the run's preset (or the one its custom settings started from).
  useSetup.setState({ preset: presetForRun(shape, reply.train, run.preset).id });
  if (!run.builtIn) {
    // The user's own text comes back from storage with the run.
    const own = useData.getState().corpus;
    if (own?.name !== run.corpusName) await useData.getState().actions.loadText(reply.corpusText ?? '', run.corpusName);
  }
  useTraining.getState().actions.adopt(reply, corpusName);
  useCheckpoints.setState({ offer: null, last: { step: reply.step ?? run.step, saved: true, message: null, at: run.savedAt } });
  return null;
}

/** Checkpoint events become the status line; a new load retires the offer. */
export function handleCheckpointEvent(event: EngineEvent): void {
  if (event.kind === 'importProgress' && useCheckpoints.getState().importProgress) {
    useCheckpoints.setState({ importProgress: event.fraction >= 1 ? null : { fraction: event.fraction, stage: event.stage } });
    if (event.fraction >= 1 && event.stage !== 'done') useCheckpoints.setState({ transferError: `The imported run is loaded, but ${event.stage}` });
  }
  if (event.kind === 'checkpoint') {
    useCheckpoints.setState({ last: { step: event.step, saved: event.saved, message: event.message ?? null, at: Date.now() } });
  }
  // A new or reset run has no checkpoint yet; the line about the one before goes.
  if (event.kind === 'history' && event.lossHistory.length === 0) useCheckpoints.setState({ last: null, transferNote: null, transferError: null });
}

// Loading another run replaces the saved one at its first checkpoint: the offer no longer applies.
useTraining.subscribe((s, prev) => {
  if (s.loaded && s.loaded !== prev.loaded && !useCheckpoints.getState().resuming) useCheckpoints.setState({ offer: null });
});
