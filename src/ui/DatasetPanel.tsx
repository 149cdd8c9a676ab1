import { useRef, useState, type DragEvent } from 'react';
import { BUILTIN_CORPORA } from '../data/readCorpus';
import { CORPUS_LIMITS, formatBytes } from '../data/corpus';
import { useData } from './stores/data';
import { RunTokenizerPicker } from './tokenizer/RunTokenizerPicker';
import { showWhitespace } from './tokenizer/spans';
import { ToyTaskForm } from './ToyTaskForm';

const PREVIEW_CHARS = 1200;

/** Built-in corpora, the user's own text (file, drop or paste), and what the model will see. */
export function DatasetPanel() {
  const corpus = useData((s) => s.corpus);
  const loading = useData((s) => s.loading);
  const error = useData((s) => s.error);
  const { loadBuiltin, loadFile, loadText, dismissError } = useData((s) => s.actions);
  const [dragging, setDragging] = useState(false);
  const [pasted, setPasted] = useState('');
  const fileInput = useRef<HTMLInputElement>(null);

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    const file = e.dataTransfer.files[0];
    if (file) void loadFile(file);
  };

  return (
    <section className="panel" aria-label="Dataset" data-testid="dataset-panel">
      <h2>Dataset</h2>
      <div className="dataset-grid">
        <div>
          <h3>Built-in</h3>
          <div className="choices" role="radiogroup" aria-label="Built-in corpora">
            {BUILTIN_CORPORA.map((c) => (
              <button
                key={c.id}
                role="radio"
                aria-checked={corpus?.builtin === c.id}
                className={corpus?.builtin === c.id ? 'choice active' : 'choice'}
                onClick={() => void loadBuiltin(c.id)}
                disabled={!!loading}
                data-testid={`corpus-builtin-${c.id}`}
              >
                <strong>{c.label}</strong>
                <span>{c.description}</span>
              </button>
            ))}
          </div>
          <ToyTaskForm />
          <h3>Your own text</h3>
          <div
            className={dragging ? 'dropzone dragging' : 'dropzone'}
            onDragOver={(e) => {
              e.preventDefault();
              setDragging(true);
            }}
            onDragLeave={() => setDragging(false)}
            onDrop={onDrop}
            data-testid="corpus-dropzone"
          >
            <p>
              Drop a UTF-8 text file here or{' '}
              <button onClick={() => fileInput.current?.click()} disabled={!!loading}>
                choose a file
              </button>
            </p>
            <p className="tag">
              Up to {formatBytes(CORPUS_LIMITS.maxBytes)} and {CORPUS_LIMITS.maxVocab} distinct characters. The text stays in this tab.
            </p>
            <input
              ref={fileInput}
              type="file"
              accept=".txt,.md,.csv,.json,text/*"
              hidden
              data-testid="corpus-file"
              onChange={(e) => {
                const file = e.target.files?.[0];
                if (file) void loadFile(file);
                e.target.value = '';
              }}
            />
          </div>
          <label className="paste">
            <span>or paste text</span>
            <textarea value={pasted} onChange={(e) => setPasted(e.target.value)} rows={4} data-testid="corpus-paste" />
          </label>
          <button onClick={() => void loadText(pasted)} disabled={!!loading || pasted.length === 0} data-testid="corpus-paste-use">
            Use the pasted text
          </button>
          {loading && (
            <div className="loading" data-testid="corpus-loading">
              Reading {loading.name}…
              <progress max={loading.total || 1} value={loading.done} data-testid="corpus-progress" />
            </div>
          )}
          {error && (
            <p role="alert" className="bad" data-testid="corpus-error">
              {error} <button onClick={dismissError}>Dismiss</button>
            </p>
          )}
        </div>
        <div>
          {corpus ? (
            <>
              <h3>
                Current: <span data-testid="corpus-name">{corpus.name}</span>
              </h3>
              <dl className="limits">
                <dt>Size</dt>
                <dd data-testid="corpus-bytes" data-bytes={corpus.stats.bytes}>
                  {formatBytes(corpus.stats.bytes)}
                </dd>
                <dt>Characters</dt>
                <dd data-testid="corpus-chars" data-chars={corpus.stats.chars}>
                  {corpus.stats.chars.toLocaleString('en-US')}
                </dd>
                <dt>Vocabulary</dt>
                <dd data-testid="corpus-vocab" data-vocab={corpus.stats.vocab.length}>
                  {corpus.stats.vocab.length} distinct characters
                </dd>
                <dt>Train / validation</dt>
                <dd data-testid="corpus-split">
                  {corpus.stats.trainChars.toLocaleString('en-US')} / {corpus.stats.valChars.toLocaleString('en-US')} characters (90% / 10%)
                </dd>
              </dl>
              <p className="vocab" tabIndex={0} role="region" aria-label="Vocabulary">
                {corpus.stats.vocab.slice(0, 400).map((ch) => (
                  <span key={ch} title={`U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`}>
                    {showWhitespace(ch).replace('\n', '')}
                  </span>
                ))}
                {corpus.stats.vocab.length > 400 && <span>…</span>}
              </p>
              <RunTokenizerPicker />
              <pre className="preview" tabIndex={0} role="region" aria-label="Corpus preview" data-testid="corpus-preview">
                {corpus.text.slice(0, PREVIEW_CHARS)}
                {corpus.text.length > PREVIEW_CHARS && '…'}
              </pre>
            </>
          ) : (
            <p className="tag">{loading ? 'Loading…' : 'No corpus yet: choose one on the left.'}</p>
          )}
        </div>
      </div>
    </section>
  );
}
