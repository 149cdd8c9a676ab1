// Which tokenizer the next run reads its corpus with, and what that means for
// the corpus: how many of the tokenizer's tokens it uses, and the model's
// vocabulary (the embedding's rows). The corpus's trained BPE is mirrored here
// from the BPE store (RunTokenizerPicker subscribes), so this store imports no
// other store that could import it back.
import { create } from 'zustand';
import { RunTokenizer, type TokenizerChoice, type TokenizerKind } from '../../model/runTokenizer';
import type { BpeModel } from '../../tokenizer/model';
import { useData, type Corpus } from './data';

export interface TokenizerUsage {
  /** The corpus and choice it was counted for. */
  key: string;
  /** Distinct tokens of the tokenizer that occur in the corpus. */
  used: number;
  /** Tokens of the whole tokenizer. */
  fullSize: number;
  /** The model's vocabulary: the whole tokenizer, or (cl100k_base, o200k_base) only the tokens the corpus uses. */
  modelVocab: number;
  trainTokens: number;
  valTokens: number;
  chars: number;
}

export interface CorpusBpe {
  /** The corpus it belongs to (bpeStorage's key). */
  key: string;
  name: string;
  model: BpeModel;
  savedAt: number;
}

interface RunTokenizerState {
  kind: TokenizerKind;
  /** The trained BPE of the loaded corpus, if there is one. */
  bpe: CorpusBpe | null;
  usage: TokenizerUsage | null;
  counting: boolean;
  error: string | null;
  actions: {
    choose: (kind: TokenizerKind) => void;
    setBpe: (bpe: CorpusBpe | null) => void;
    /** Counts the corpus's tokens for the current choice (once per corpus and choice). */
    count: () => Promise<void>;
  };
}

/** Identifies a corpus, a choice and (for a BPE) the tokenizer trained on it. */
export function choiceKey(corpus: Corpus | null, kind: TokenizerKind, bpe: CorpusBpe | null): string {
  return JSON.stringify([corpus?.name, corpus?.stats.bytes, corpus?.stats.chars, kind, kind === 'bpe' ? (bpe?.savedAt ?? null) : null]);
}

/** The choice to send with a new run, or a sentence when it cannot be made. */
export function runTokenizerChoice(): TokenizerChoice | string {
  const { kind, bpe } = useRunTokenizer.getState();
  if (kind !== 'bpe') return { kind };
  if (!bpe) return 'The run is set to read with this corpus\'s BPE tokenizer, but none is trained yet: train one in the Tokenizer tab, or choose another tokenizer in the Dataset tab.';
  return { kind: 'bpe', name: bpe.name, model: bpe.model };
}

export const useRunTokenizer = create<RunTokenizerState>((set, get) => ({
  kind: 'char',
  bpe: null,
  usage: null,
  counting: false,
  error: null,
  actions: {
    choose: (kind) => set({ kind, error: null }),
    setBpe: (bpe) => set({ bpe }),
    async count() {
      const corpus = useData.getState().corpus;
      const { kind, bpe, usage, counting } = get();
      const key = choiceKey(corpus, kind, bpe);
      if (!corpus || counting || usage?.key === key) return;
      if (kind === 'char') {
        const n = corpus.stats.vocab.length;
        set({ usage: { key, used: n, fullSize: n, modelVocab: n, trainTokens: corpus.stats.trainChars, valTokens: corpus.stats.valChars, chars: corpus.stats.chars }, error: null });
        return;
      }
      const choice = runTokenizerChoice();
      if (typeof choice === 'string') {
        set({ usage: null, error: choice });
        return;
      }
      set({ counting: true, error: null });
      // Let the page paint "Counting…" before the encoding takes the thread.
      await new Promise((r) => setTimeout(r, 30));
      try {
        const { tokenizer, splits } = await RunTokenizer.forCorpus(choice, corpus.text);
        const seen = new Set<number>();
        for (const id of splits.train) seen.add(id);
        for (const id of splits.val) seen.add(id);
        set({
          usage: {
            key,
            used: seen.size,
            fullSize: tokenizer.fullSize,
            modelVocab: tokenizer.size,
            trainTokens: splits.train.length,
            valTokens: splits.val.length,
            chars: splits.trainChars + splits.valChars,
          },
        });
      } catch (e) {
        set({ usage: null, error: (e as Error).message });
      } finally {
        set({ counting: false });
      }
      // The choice may have changed while counting.
      if (choiceKey(useData.getState().corpus, get().kind, get().bpe) !== key) void get().actions.count();
    },
  },
}));

/** The model's vocabulary size for the current choice, when counted; the corpus's characters otherwise. */
export function useModelVocabSize(): number | null {
  const corpus = useData((s) => s.corpus);
  const { usage, kind, bpe } = useRunTokenizer();
  return usage && usage.key === choiceKey(corpus, kind, bpe) ? usage.modelVocab : (corpus?.stats.vocab.length ?? null);
}
