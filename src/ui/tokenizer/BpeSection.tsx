import { useEffect, useRef, useState, type UIEvent } from 'react';
import { MAX_VOCAB, MIN_VOCAB, type BpeModel, type Merge } from '../../tokenizer/model';
import { NumberInput } from '../NumberInput';
import { etaSeconds, useBpe } from '../stores/bpe';
import { useData } from '../stores/data';
import { showWhitespace } from './spans';

const strict = new TextDecoder('utf-8', { fatal: true });

/** A token for people: its text with whitespace shown, or its bytes in hex when they are not whole characters. */
export function tokenLabel(bytes: Uint8Array): string {
  try {
    return JSON.stringify(showWhitespace(strict.decode(bytes))).slice(1, -1).replace(/\\"/g, '"');
  } catch {
    return `⟨${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ')}⟩`;
  }
}

function formatSeconds(s: number): string {
  if (s < 1) return 'under a second';
  if (s < 90) return `${Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** Train a BPE on the loaded corpus, or import one; its merges in order; export. */
export function BpeSection() {
  const corpus = useData((s) => s.corpus);
  const { current, training, vocabSize, error, notice } = useBpe();
  const actions = useBpe((s) => s.actions);
  const fileInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    void actions.showCorpus(corpus);
  }, [corpus, actions]);

  const done = training ? training.tokens - 256 : 0;
  const target = training ? training.vocabSize - 256 : 0;
  const eta = training ? etaSeconds(training) : null;

  return (
    <section className="bpe-section" aria-label="Your own BPE" data-testid="bpe-section">
      <h3>Your own BPE, trained on this corpus</h3>
      <p className="tag">
        Byte-level BPE as minbpe trains it: the text is cut with cl100k_base's pattern, each piece starts as its UTF-8 bytes (ids 0–255), and each
        round merges the most frequent adjacent pair into a new token (ties: the pair that occurs first). It trains on the training split (the
        first 90%), so the validation split below measures it fairly.
      </p>
      <div className="row">
        <label htmlFor="bpe-vocab">Vocabulary size</label>
        <NumberInput id="bpe-vocab" value={vocabSize} onValue={actions.setVocabSize} min={MIN_VOCAB} max={MAX_VOCAB} step={1} testId="bpe-vocab" disabled={!!training} />
        {training ? (
          <button onClick={actions.cancel} data-testid="bpe-cancel">
            Cancel
          </button>
        ) : (
          <button onClick={actions.train} disabled={!corpus} data-testid="bpe-train">
            Train
          </button>
        )}
        <button onClick={() => fileInput.current?.click()} disabled={!corpus || !!training} data-testid="bpe-import-button" title="A .tiktoken rank file, with its .tiktoken.json sidecar if you have it">
          Import…
        </button>
        <input
          ref={fileInput}
          type="file"
          multiple
          accept=".tiktoken,.json,text/plain,application/json"
          hidden
          onChange={(e) => {
            const files = [...(e.target.files ?? [])];
            e.target.value = '';
            if (files.length > 0) void actions.importFiles(files);
          }}
          data-testid="bpe-import"
        />
        <button onClick={actions.exportRanks} disabled={!current} data-testid="bpe-export" title="One line per token: base64 of its bytes, space, rank">
          Export .tiktoken
        </button>
        <button onClick={actions.exportSidecar} disabled={!current} data-testid="bpe-export-sidecar" title="The split pattern and the merges with their counts">
          Export sidecar (.json)
        </button>
      </div>
      {training && (
        <div className="progress-line" data-testid="bpe-progress" data-done={done} data-target={target}>
          <progress value={done} max={target} aria-label="BPE training progress" />
          <span>
            {done.toLocaleString('en-US')} / {target.toLocaleString('en-US')} merges
            {eta !== null ? `, about ${formatSeconds(eta)} left` : ''}
          </span>
        </div>
      )}
      {error && (
        <p className="bad" role="alert" data-testid="bpe-error">
          {error} <button onClick={actions.dismiss}>Dismiss</button>
        </p>
      )}
      {notice && !error && (
        <p className="tag" data-testid="bpe-notice">
          {notice}
        </p>
      )}
      {current ? (
        <>
          <p data-testid="bpe-summary" data-tokens={current.model.tokens.length} data-source={current.source}>
            {current.source === 'trained'
              ? `Trained on the training split of ${current.corpusName}: ${current.model.tokens.length.toLocaleString('en-US')} tokens, ${current.model.merges.length.toLocaleString('en-US')} merges${current.trainMs !== undefined ? ` in ${(current.trainMs / 1000).toFixed(1)} s` : ''}.`
              : `Imported from ${current.fileName}: ${current.model.tokens.length.toLocaleString('en-US')} tokens, ${current.model.merges.length.toLocaleString('en-US')} merges.`}
          </p>
          <MergeList model={current.model} />
        </>
      ) : (
        !training && <p className="tag">No BPE for this corpus yet: pick a size and train one (a few seconds for Tiny Shakespeare at 4,096).</p>
      )}
    </section>
  );
}

const ROW = 24;
const VISIBLE = 14;

/** Every merge in order, with its count: a scrolling list that draws only the rows in view. */
function MergeList({ model }: { model: BpeModel }) {
  const [top, setTop] = useState(0);
  const merges = model.merges;
  const first = Math.max(0, Math.floor(top / ROW) - 4);
  const last = Math.min(merges.length, first + VISIBLE + 8);
  const rows: Merge[] = merges.slice(first, last);
  const onScroll = (e: UIEvent<HTMLDivElement>) => setTop(e.currentTarget.scrollTop);
  return (
    <div className="merge-list" style={{ height: ROW * VISIBLE }} onScroll={onScroll} data-testid="bpe-merges" data-count={merges.length} tabIndex={0} aria-label="Merges in order">
      <div style={{ height: merges.length * ROW, position: 'relative' }}>
        {rows.map((m, i) => (
          <div key={first + i} className="merge-row" style={{ top: (first + i) * ROW, height: ROW }} data-testid="bpe-merge" data-rank={first + i + 1} data-merge={`${m.left} ${m.right} ${m.id} ${m.count ?? ''}`}>
            <span className="merge-n">{first + i + 1}.</span>
            <code>{tokenLabel(model.tokens[m.left]!)}</code> + <code>{tokenLabel(model.tokens[m.right]!)}</code> → <code className="merge-new">{tokenLabel(model.tokens[m.id]!)}</code>
            <span className="merge-id">id {m.id}</span>
            <span className="merge-count">{m.count === null ? '' : `×${m.count.toLocaleString('en-US')}`}</span>
          </div>
        ))}
      </div>
    </div>
  );
}
