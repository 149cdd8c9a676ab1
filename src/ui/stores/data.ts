// The training text: a built-in corpus or the user's own, checked in the corpus
// worker. A rejected text leaves the previous one in place.
import { create } from 'zustand';
import type { CorpusId, PresetId } from '../../model/config';
import { CharTokenizer } from '../../model/tokenizer';
import { minCorpusChars, type CorpusCheck, type CorpusStats } from '../../data/corpus';
import { builtinCorpus, fetchBuiltin, readCorpus } from '../../data/readCorpus';
import { toyTask, type ToyTaskData, type ToyTaskSpec } from '../../data/toyTasks';
import { presetById } from '../url';
import { rememberPreset } from '../firstVisit';
import { useSetup } from './setup';

export interface Corpus {
  name: string;
  source: 'builtin' | 'file' | 'paste' | 'toy';
  builtin?: CorpusId;
  /** A toy task's spec and held-out examples (source 'toy'). */
  toy?: ToyTaskData;
  text: string;
  stats: CorpusStats;
  tokenizer: CharTokenizer;
}

interface DataState {
  corpus: Corpus | null;
  /** A text being read: name and progress in bytes. */
  loading: { name: string; done: number; total: number } | null;
  /** Why the last text was rejected. */
  error: string | null;
  actions: {
    loadBuiltin: (id: CorpusId) => Promise<void>;
    loadFile: (file: File) => Promise<void>;
    loadText: (text: string, name?: string) => Promise<void>;
    /** Generate a toy task's corpus from its spec (checked against the model's context). */
    loadToy: (spec: ToyTaskSpec) => Promise<void>;
    dismissError: () => void;
  };
}

export const useData = create<DataState>((set, get) => {
  async function check(name: string, blob: Blob, source: Corpus['source'], builtin?: CorpusId, toy?: ToyTaskData): Promise<void> {
    if (get().loading) return;
    set({ loading: { name, done: 0, total: blob.size }, error: null });
    const minChars = minCorpusChars(useSetup.getState().model.blockSize);
    let result: CorpusCheck;
    try {
      result = await readCorpus(name, blob, minChars, (done, total) => set({ loading: { name, done, total } }));
    } catch (e) {
      result = { ok: false, message: (e as Error).message };
    }
    if (!result.ok) {
      set({ loading: null, error: result.message });
      return;
    }
    const tokenizer = new CharTokenizer(result.stats.vocab);
    set({ loading: null, error: null, corpus: { name, source, builtin, toy, text: result.text, stats: result.stats, tokenizer } });
    if (builtin) useSetup.getState().actions.setCorpus(builtin);
  }

  return {
    corpus: null,
    loading: null,
    error: null,
    actions: {
      async loadBuiltin(id) {
        const corpus = builtinCorpus(id);
        let blob: Blob;
        try {
          set({ loading: { name: corpus.label, done: 0, total: 0 }, error: null });
          blob = await fetchBuiltin(corpus);
        } catch (e) {
          set({ loading: null, error: (e as Error).message });
          return;
        }
        set({ loading: null });
        await check(corpus.label, blob, 'builtin', corpus.id);
      },
      loadFile: (file) => check(file.name || 'The file', file, 'file'),
      loadText: (text, name = 'The pasted text') => check(name, new Blob([text], { type: 'text/plain' }), 'paste'),
      async loadToy(spec) {
        if (get().loading) return;
        const made = toyTask(spec, useSetup.getState().model.blockSize);
        if ('problem' in made) {
          set({ error: made.problem });
          return;
        }
        await check(made.name, new Blob([made.text], { type: 'text/plain' }), 'toy', undefined, made);
      },
      dismissError: () => set({ error: null }),
    },
  };
});

/** The validation split: the last 10% of the text. */
export function validationText(corpus: Corpus): string {
  return corpus.text.slice(corpus.stats.splitIndex);
}

/**
 * Choose a preset: its config, and its corpus. A preset whose published losses
 * were measured on a text we do not ship keeps a text the person loaded
 * themselves (that text is how they reproduce the figure).
 */
export async function choosePreset(id: PresetId): Promise<void> {
  const preset = presetById(id);
  if (!preset) return;
  useSetup.getState().actions.applyPreset(preset.id);
  rememberPreset(preset.id);
  const { corpus, actions } = useData.getState();
  if (preset.toy) {
    if (corpus?.toy && JSON.stringify(corpus.toy.spec) === JSON.stringify(preset.toy)) return;
    await actions.loadToy(preset.toy);
    return;
  }
  // A toy task is not the person's own text: a preset without one goes back to its built-in corpus.
  const own = corpus !== null && corpus.source !== 'builtin' && corpus.source !== 'toy';
  if (own && preset.publishedOn) return;
  if (corpus?.builtin === preset.corpus && !own) return;
  await actions.loadBuiltin(preset.corpus);
}

/** The corpus a page opens with: the setup's preset's toy task, else its built-in corpus. */
export async function loadStartCorpus(): Promise<void> {
  const { preset, corpus } = useSetup.getState();
  const toy = presetById(preset)?.toy;
  if (toy) await useData.getState().actions.loadToy(toy);
  else await useData.getState().actions.loadBuiltin(corpus);
}
