// The BPE tokenizer of the loaded corpus: trained in a worker (progress, ETA,
// cancel), imported from a .tiktoken file, kept in IndexedDB per corpus. A
// cancelled training or a refused file leaves the previous tokenizer in place.
import { create } from 'zustand';
import { BpeEncoder } from '../../tokenizer/encoder';
import { vocabSizeProblem } from '../../tokenizer/model';
import { parseTiktoken, toSidecar, toTiktoken } from '../../tokenizer/tiktokenFile';
import { corpusKey, readStoredBpe, storeBpe, type StoredBpe } from '../tokenizer/bpeStorage';
import type { TrainJob, TrainWorkerMessage } from '../tokenizer/trainWorker';
import { download } from './checkpoints';
import { useData, type Corpus } from './data';

export interface BpeTraining {
  key: string;
  vocabSize: number;
  /** Tokens in the vocabulary so far (256 before the first merge). */
  tokens: number;
  startedAt: number;
  /** When the last progress came (for the ETA). */
  at: number;
}

interface BpeState {
  /** The key of the corpus the state below belongs to. */
  key: string | null;
  current: StoredBpe | null;
  encoder: BpeEncoder | null;
  training: BpeTraining | null;
  vocabSize: number;
  error: string | null;
  notice: string | null;
  actions: {
    setVocabSize: (n: number) => void;
    /** Reads the stored tokenizer of the corpus, when the corpus changes. */
    showCorpus: (corpus: Corpus | null) => Promise<void>;
    train: () => void;
    cancel: () => void;
    importFiles: (files: File[]) => Promise<void>;
    exportRanks: () => void;
    exportSidecar: () => void;
    dismiss: () => void;
  };
}

/** The text a tokenizer trains on: the training split, so the validation split measures it fairly. */
export function trainingText(corpus: Corpus): string {
  return corpus.text.slice(0, corpus.stats.splitIndex);
}

export function keyOf(corpus: Corpus): string {
  return corpusKey(corpus.name, corpus.text);
}

/** Merges still to go, in seconds, from the pace so far; null before there is a pace. */
export function etaSeconds(t: BpeTraining): number | null {
  const done = t.tokens - 256;
  if (done <= 0) return null;
  return ((t.at - t.startedAt) / done) * (t.vocabSize - t.tokens) / 1000;
}

let worker: Worker | null = null;

function stem(name: string): string {
  return name.replace(/\.[a-z0-9]+$/i, '').replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').toLowerCase() || 'corpus';
}

export const useBpe = create<BpeState>((set, get) => {
  function adopt(record: StoredBpe | null, extra: Partial<BpeState> = {}) {
    let encoder: BpeEncoder | null = null;
    if (record) {
      try {
        encoder = new BpeEncoder(record.model);
      } catch (e) {
        set({ error: (e as Error).message });
        return;
      }
    }
    set({ current: record, encoder, ...extra });
  }

  function fileName(ext: string): string {
    const c = get().current!;
    return `bpe-${c.model.tokens.length}-${stem(c.corpusName)}${ext}`;
  }

  return {
    key: null,
    current: null,
    encoder: null,
    training: null,
    vocabSize: 1024,
    error: null,
    notice: null,
    actions: {
      setVocabSize: (n) => set({ vocabSize: n }),

      async showCorpus(corpus) {
        const key = corpus ? keyOf(corpus) : null;
        if (key === get().key) return;
        set({ key, current: null, encoder: null, notice: null, error: null });
        if (!key) return;
        let record: StoredBpe | null = null;
        try {
          record = await readStoredBpe(key);
        } catch {
          record = null; // no storage: nothing was kept
        }
        if (get().key === key && record) adopt(record);
      },

      train() {
        const corpus = useData.getState().corpus;
        if (!corpus || get().training) return;
        const { vocabSize } = get();
        const problem = vocabSizeProblem(vocabSize);
        if (problem) {
          set({ error: problem });
          return;
        }
        const key = keyOf(corpus);
        const now = performance.now();
        set({ training: { key, vocabSize, tokens: 256, startedAt: now, at: now }, error: null, notice: null });
        const w = new Worker(new URL('../tokenizer/trainWorker.ts', import.meta.url), { type: 'module', name: 'bpe-train' });
        worker = w;
        const finish = () => {
          w.terminate();
          if (worker === w) worker = null;
        };
        w.onmessage = (e: MessageEvent<TrainWorkerMessage>) => {
          const m = e.data;
          if (m.kind === 'progress') {
            const t = get().training;
            if (t) set({ training: { ...t, tokens: m.tokens, at: performance.now() } });
            return;
          }
          finish();
          if (m.kind === 'error') {
            set({ training: null, error: m.message });
            return;
          }
          const record: StoredBpe = {
            key,
            corpusName: corpus.name,
            model: m.model,
            note: m.note,
            source: 'trained',
            vocabSize,
            trainMs: m.ms,
            savedAt: Date.now(),
          };
          set({ training: null });
          if (get().key === key) adopt(record, { notice: m.note });
          void storeBpe(record).then((problem) => problem && set({ error: problem }));
        };
        w.onerror = (e) => {
          finish();
          set({ training: null, error: `Training failed: ${e.message}` });
        };
        w.postMessage({ text: trainingText(corpus), vocabSize } satisfies TrainJob);
      },

      cancel() {
        worker?.terminate();
        worker = null;
        const had = get().current !== null;
        set({ training: null, notice: had ? 'Training cancelled; the previous tokenizer is kept.' : 'Training cancelled.' });
      },

      async importFiles(files) {
        const corpus = useData.getState().corpus;
        if (!corpus) {
          set({ error: 'Load a corpus first: an imported tokenizer is kept with the corpus it is shown for.' });
          return;
        }
        const sidecars = files.filter((f) => /\.json$/i.test(f.name));
        const ranks = files.filter((f) => !/\.json$/i.test(f.name));
        if (ranks.length !== 1 || sidecars.length > 1) {
          set({ error: 'Choose one .tiktoken file, and optionally its .tiktoken.json sidecar (the pattern and merge counts).' });
          return;
        }
        const file = ranks[0]!;
        const r = parseTiktoken(file.name, await file.text(), sidecars[0] ? await sidecars[0].text() : undefined);
        if (!r.ok) {
          set({ error: r.message });
          return;
        }
        const key = keyOf(corpus);
        const record: StoredBpe = {
          key,
          corpusName: corpus.name,
          model: r.model,
          note: r.note,
          source: 'imported',
          vocabSize: r.model.tokens.length,
          fileName: file.name,
          savedAt: Date.now(),
        };
        set({ key, error: null });
        adopt(record, { notice: r.note ?? `Imported ${file.name}: ${r.model.tokens.length.toLocaleString('en-US')} tokens.` });
        const problem = await storeBpe(record);
        if (problem) set({ error: problem });
      },

      exportRanks() {
        const c = get().current;
        if (!c) return;
        download(new TextEncoder().encode(toTiktoken(c.model)).buffer as ArrayBuffer, fileName('.tiktoken'));
      },

      exportSidecar() {
        const c = get().current;
        if (!c) return;
        download(new TextEncoder().encode(toSidecar(c.model, c.corpusName)).buffer as ArrayBuffer, fileName('.tiktoken.json'));
      },

      dismiss: () => set({ error: null, notice: null }),
    },
  };
});
