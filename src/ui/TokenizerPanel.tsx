import { memo, useEffect, useMemo, useState } from 'react';
import { useData, validationText } from './stores/data';
import { useBpe } from './stores/bpe';
import { BpeSection } from './tokenizer/BpeSection';
import { Compression } from './tokenizer/Compression';
import { BPE_NAMES, loadBpe, type BpeEncoder, type BpeName } from './tokenizer/openai';
import { charSpans, codePointCount, groupBpeTokens, hexBytes, showWhitespace, type TokenSpan } from './tokenizer/spans';

/** Most spans drawn per view; counts always cover the whole text. */
const MAX_SPANS = 3000;
const PALETTE = 10;

type ViewName = 'char' | BpeName | 'bpe';

const TITLES: Record<ViewName, string> = {
  char: 'Our model: characters',
  cl100k_base: 'cl100k_base (GPT-4)',
  o200k_base: 'o200k_base (GPT-4o)',
  bpe: 'Your BPE',
};

/** The same text through our character tokenizer and two BPE encodings, side by side. */
export function TokenizerPanel() {
  const corpus = useData((s) => s.corpus);
  const [text, setText] = useState<string | null>(null);
  const [whitespace, setWhitespace] = useState(true);
  const [encoders, setEncoders] = useState<Partial<Record<BpeName, BpeEncoder>>>({});
  const [loadError, setLoadError] = useState<string | null>(null);
  const ours = useBpe((s) => s.encoder);

  useEffect(() => {
    let live = true;
    for (const name of BPE_NAMES) {
      loadBpe(name).then(
        (enc) => live && setEncoders((e) => ({ ...e, [name]: enc })),
        (err: Error) => live && setLoadError(`${name} could not be loaded: ${err.message}`),
      );
    }
    return () => {
      live = false;
    };
  }, []);

  const defaultText = corpus ? validationText(corpus).slice(0, 300) : 'Call me Ishmael. Some years ago—never mind how long precisely—';
  const value = text ?? defaultText;
  const chars = codePointCount(value);

  const views = useMemo(() => {
    const out: { name: ViewName; spans: TokenSpan[] | null; tokens: number }[] = [];
    if (corpus) {
      const spans = charSpans(value, corpus.tokenizer);
      out.push({ name: 'char', spans, tokens: chars });
    }
    for (const name of BPE_NAMES) {
      const enc = encoders[name];
      if (!enc) {
        out.push({ name, spans: null, tokens: 0 });
        continue;
      }
      const ids = enc.encode(value);
      out.push({ name, spans: groupBpeTokens(value, ids, enc.tokenBytes), tokens: ids.length });
    }
    if (ours) {
      const ids = ours.encode(value);
      out.push({ name: 'bpe', spans: groupBpeTokens(value, ids, (id) => ours.tokenBytes(id)), tokens: ids.length });
    }
    return out;
  }, [value, corpus, encoders, chars, ours]);

  return (
    <section className="panel" aria-label="Tokenizer" data-testid="tokenizer-panel">
      <h2>Tokenizer</h2>
      <p className="tag">
        Our model reads one character at a time; GPT-4-class models read byte-pair tokens. Hover a token to see its id and bytes.
      </p>
      <textarea
        className="token-input"
        value={value}
        onChange={(e) => setText(e.target.value)}
        rows={5}
        aria-label="Text to tokenize"
        data-testid="tokenizer-input"
      />
      <div className="row">
        <label>
          <input type="checkbox" checked={whitespace} onChange={(e) => setWhitespace(e.target.checked)} data-testid="whitespace-toggle" /> Show
          whitespace (· space, → tab, ↵ newline)
        </label>
        {text !== null && corpus && <button onClick={() => setText(null)}>Back to the corpus excerpt</button>}
      </div>
      <table className="counts">
        <thead>
          <tr>
            <th>Tokenizer</th>
            <th>Characters</th>
            <th>Tokens</th>
            <th>Characters per token</th>
          </tr>
        </thead>
        <tbody>
          {views.map((v) => (
            <tr key={v.name}>
              <td>{TITLES[v.name]}</td>
              <td>{chars}</td>
              <td data-testid={`token-count-${v.name}`} data-count={v.spans ? v.tokens : undefined}>
                {v.spans ? v.tokens : 'loading…'}
              </td>
              <td>{v.spans && v.tokens > 0 ? (chars / v.tokens).toFixed(2) : '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {loadError && <p className="bad">{loadError}</p>}
      {corpus && <Compression corpus={corpus} openai={encoders} ours={ours} />}
      {!corpus && <p className="tag">Load a corpus to see our character tokens.</p>}
      <BpeSection />
      <div className="token-views">
        {views.map((v) =>
          v.spans ? <TokenView key={v.name} name={v.name} spans={v.spans} whitespace={whitespace} /> : null,
        )}
      </div>
    </section>
  );
}

const TokenView = memo(function TokenView({ name, spans, whitespace }: { name: ViewName; spans: TokenSpan[]; whitespace: boolean }) {
  const [hover, setHover] = useState<number | null>(null);
  const shown = spans.slice(0, MAX_SPANS);
  const hovered = hover !== null ? shown[hover] : null;
  const hoveredIds = new Set(hovered?.ids ?? []);
  const unknown = name === 'char' ? spans.filter((s) => s.unknown).length : 0;
  return (
    <div className="token-view" data-testid={`token-view-${name}`}>
      <h3>{TITLES[name]}</h3>
      <p className="token-info" data-testid={`token-info-${name}`}>
        {hovered
          ? `${JSON.stringify(hovered.text)} → id${hovered.ids.length > 1 ? 's' : ''} ${hovered.ids.map((i) => (i < 0 ? 'none (not in the vocabulary)' : i)).join(', ')}; bytes ${hexBytes(hovered.bytes)}`
          : unknown > 0
            ? `${unknown} character${unknown > 1 ? 's are' : ' is'} outside the model's vocabulary (marked).`
            : 'Hover a token.'}
      </p>
      <div className="tokens" tabIndex={0} role="region" aria-label={`${TITLES[name]} tokens`} onMouseLeave={() => setHover(null)}>
        {shown.map((s, i) => (
          <span
            key={i}
            className={`tok c${i % PALETTE}${s.unknown ? ' unknown' : ''}${hover === i ? ' hover' : ''}${s.ids.length > 1 && name !== 'char' ? ' grouped' : ''}`}
            onMouseEnter={() => setHover(i)}
            title={s.unknown ? 'Not in the model vocabulary' : undefined}
          >
            {whitespace ? showWhitespace(s.text) : s.text}
          </span>
        ))}
        {spans.length > MAX_SPANS && <span className="tag"> … {spans.length - MAX_SPANS} more</span>}
      </div>
      <div className="ids" tabIndex={0} role="region" aria-label={`${TITLES[name]} ids`}>
        {shown.map((s, i) => (
          <span key={i} className={s.ids.some((id) => hoveredIds.has(id)) ? 'id hit' : 'id'} onMouseEnter={() => setHover(i)}>
            {s.ids.map((id) => (id < 0 ? '?' : id)).join(' ')}
          </span>
        ))}
      </div>
    </div>
  );
});
