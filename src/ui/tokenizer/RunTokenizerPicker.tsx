// The Dataset tab's choice of what the next run reads: the corpus's characters,
// its trained BPE, or an OpenAI encoding; with how many of the tokenizer's
// tokens the corpus uses and what the model's vocabulary and size become.
import { useEffect } from 'react';
import type { TokenizerKind } from '../../model/runTokenizer';
import { paramCount } from '../../model/validate';
import { useBpe } from '../stores/bpe';
import { useData } from '../stores/data';
import { choiceKey, useRunTokenizer } from '../stores/runTokenizer';
import { useSetup } from '../stores/setup';

// The trained BPE of the loaded corpus, mirrored into the run-tokenizer store.
useBpe.subscribe((s) => {
  const c = s.current;
  const next = c ? { key: c.key, name: c.corpusName, model: c.model, savedAt: c.savedAt } : null;
  const had = useRunTokenizer.getState().bpe;
  if (had?.key !== next?.key || had?.savedAt !== next?.savedAt) useRunTokenizer.getState().actions.setBpe(next);
});

const n = (x: number) => x.toLocaleString('en-US');

export function RunTokenizerPicker() {
  const corpus = useData((s) => s.corpus);
  const { kind, bpe, usage, counting, error, actions } = useRunTokenizer();
  const model = useSetup((s) => s.model);
  const showCorpus = useBpe((s) => s.actions.showCorpus);

  useEffect(() => {
    void showCorpus(corpus);
  }, [corpus, showCorpus]);
  useEffect(() => {
    void actions.count();
  }, [corpus, kind, bpe, actions]);

  if (!corpus) return null;
  const fresh = usage && usage.key === choiceKey(corpus, kind, bpe) ? usage : null;
  const options: { id: TokenizerKind; label: string; disabled?: boolean }[] = [
    { id: 'char', label: `characters (${n(corpus.stats.vocab.length)})` },
    { id: 'bpe', label: bpe ? `this corpus's BPE (${n(bpe.model.tokens.length)} tokens)` : "this corpus's BPE (train one in the Tokenizer tab)", disabled: !bpe },
    { id: 'cl100k_base', label: 'cl100k_base (GPT-4)' },
    { id: 'o200k_base', label: 'o200k_base (GPT-4o)' },
  ];
  return (
    <fieldset className="run-tokenizer" data-testid="run-tokenizer" data-kind={kind}>
      <legend>The model reads</legend>
      {options.map((o) => (
        <label key={o.id} className={o.disabled ? 'tag' : undefined}>
          <input
            type="radio"
            name="run-tokenizer"
            checked={kind === o.id}
            disabled={o.disabled}
            onChange={() => actions.choose(o.id)}
            data-testid={`run-tokenizer-${o.id}`}
          />{' '}
          {o.label}
        </label>
      ))}
      {counting && <p className="tag">Counting the corpus&apos;s tokens…</p>}
      {error && (
        <p role="alert" className="bad" data-testid="run-tokenizer-error">
          {error}
        </p>
      )}
      {fresh && !counting && (
        <p
          className="tag"
          data-testid="run-tokenizer-usage"
          data-used={fresh.used}
          data-full={fresh.fullSize}
          data-vocab={fresh.modelVocab}
          data-params={paramCount({ ...model, vocabSize: fresh.modelVocab })}
        >
          The corpus uses {n(fresh.used)} of the tokenizer&apos;s {n(fresh.fullSize)} tokens
          {kind === 'char' ? '' : ` (${(fresh.chars / (fresh.trainTokens + fresh.valTokens)).toFixed(2)} characters per token)`}. The model&apos;s
          vocabulary: {n(fresh.modelVocab)} tokens
          {kind === 'cl100k_base' || kind === 'o200k_base' ? ' (only those the corpus uses, renumbered by rank)' : ''}, so{' '}
          {n(paramCount({ ...model, vocabSize: fresh.modelVocab }))} parameters; {n(fresh.trainTokens)} training / {n(fresh.valTokens)} validation
          tokens.
        </p>
      )}
    </fieldset>
  );
}
