import { useEffect, useMemo, useState } from 'react';
import { Explain, scoreAxisMax, scoreTick, scoreTicks, type TextUnit } from './insightsText';
import { CartesianGrid, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import { MAX_SNAPSHOTS, snapshotBytes } from '../engine/insights';
import { LENS_TOP, type Insights } from '../engine/protocol';
import { headBadges } from '../model/inspect';
import { AttentionCanvas, colour, textOn, Thumbnail } from './AttentionPanel';
import { HealthPanel } from './HealthPanel';
import { CircuitsSection } from './insights/CircuitsSection';
import { IclChart } from './insights/IclChart';
import { useInsights, shownInsights } from './stores/insights';
import { useInspect, type AttentionMaps } from './stores/inspect';
import { useTraining } from './stores/training';
import { showWhitespace } from './tokenizer/spans';
import { TOOLTIP_STYLE, legendText } from './chartStyle';

const MEASURES = ['previous', 'first', 'self', 'induction'] as const;
// 'induction' is Anthropic's prefix-matching score (attention from the second copy of a repeat to the token after the first occurrence).
const MEASURE_LABEL = { previous: 'previous token', first: 'first token', self: 'self', induction: 'prefix matching' } as const;

function headScore(s: Insights, l: number, h: number, m: (typeof MEASURES)[number]): number {
  return s.heads[(l * s.nHead + h) * 4 + MEASURES.indexOf(m)];
}

const show = (ch: string) => showWhitespace(ch).replace('\n', '');
const pct = (p: number) => `${(100 * p).toFixed(1)}%`;

function formatKiB(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** White (no surprise) to red (8 bits or more), at most 60% opaque so that the text on it stays readable. */
function surpriseColour(bits: number): string {
  return `rgba(224, 49, 49, ${(0.6 * Math.max(0, Math.min(1, bits / 8))).toFixed(3)})`;
}

function topList(vocab: (id: number) => string, ids: ArrayLike<number>, probs: ArrayLike<number>, from: number, n: number): string {
  return Array.from({ length: n }, (_, k) => `${JSON.stringify(vocab(ids[from + k]))} ${pct(probs[from + k])}`).join(', ');
}

/** Surprisal of each character (or token) of the text, hover for the top-5 predictions there. */
function SurprisalView({ s, vocab, unit }: { s: Insights; vocab: (id: number) => string; unit: TextUnit }) {
  const [hover, setHover] = useState<number | null>(null);
  const L = s.nLayer;
  // The last lens row is the model's own prediction: row t predicts token t + 1.
  const top = (t: number) => ((L - 1) * s.T + t) * LENS_TOP;
  const rows = useMemo(() => {
    const acc = new Map<string, { sum: number; n: number }>();
    for (let t = 1; t < s.T; t++) {
      const a = acc.get(s.tokens[t]) ?? { sum: 0, n: 0 };
      a.sum += s.bits[t - 1];
      a.n++;
      acc.set(s.tokens[t], a);
    }
    return [...acc].map(([ch, a]) => ({ ch, bits: a.sum / a.n, n: a.n })).sort((a, b) => a.bits - b.bits || (a.ch < b.ch ? -1 : 1));
  }, [s]);
  const total = s.T > 1 ? s.bits.reduce((a, b) => a + b, 0) : NaN;
  const mean = total / (s.T - 1);
  // A run on tokens: the same bits over the characters those tokens spell (comparable with a character run).
  const predictedChars = s.predictedChars ?? [...s.tokens.slice(1).join('')].length;
  const p = hover !== null ? 2 ** -s.bits[hover - 1] : null;
  const info =
    hover !== null
      ? `${JSON.stringify(s.tokens[hover])} at position ${hover}: p = ${p!.toFixed(4)} (${s.bits[hover - 1].toFixed(2)} bits). Top ${LENS_TOP}: ${topList(vocab, s.lensIds, s.lensProbs, top(hover - 1), LENS_TOP)}`
      : s.T > 1
        ? `Hover a ${unit} for its probability and the top predictions there. The first ${unit} has no context, so no surprisal.`
        : `A single ${unit} has nothing before it to predict from.`;
  return (
    <div data-testid="surprisal">
      <h3>Surprisal</h3>
      <Explain view="surprisal" unit={unit} />
      <p className="token-info" aria-live="polite" data-testid="surprisal-info" data-prob={p ?? undefined} data-pos={hover ?? undefined}>
        {info}
      </p>
      <pre
        className="generated surprisal-text"
        tabIndex={0}
        role="region"
        aria-label={`Text coloured by surprisal: left and right arrows read each ${unit}`}
        onMouseLeave={() => setHover(null)}
        onKeyDown={(e) => {
          const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
          if (!step || s.T < 2) return;
          e.preventDefault();
          setHover(Math.max(1, Math.min(s.T - 1, (hover ?? 0) + step)));
        }}
      >
        {s.tokens.map((ch, t) => (
          <span
            key={t}
            data-testid={`surprisal-char-${t}`}
            data-bits={t > 0 ? s.bits[t - 1] : undefined}
            style={t > 0 ? { background: surpriseColour(s.bits[t - 1]) } : undefined}
            onMouseEnter={() => setHover(t > 0 ? t : null)}
          >
            {ch}
          </span>
        ))}
      </pre>
      {rows.length > 0 && (
        <p className="tag" data-testid="surprisal-summary" data-mean-bits={mean} data-unit={unit} data-bits-per-char={unit === 'token' ? total / predictedChars : mean}>
          Mean {mean.toFixed(3)} bits per {unit}
          {unit === 'token' && ` (${(total / predictedChars).toFixed(3)} bits per character over the ${predictedChars} characters they spell)`}. Easiest: {rows.slice(0, 3).map((r) => `${JSON.stringify(r.ch)} ${r.bits.toFixed(2)}`).join(', ')}. Hardest:{' '}
          {rows.slice(-3).reverse().map((r) => `${JSON.stringify(r.ch)} ${r.bits.toFixed(2)}`).join(', ')} (bits, mean over the text).
        </p>
      )}
    </div>
  );
}

/** Layers x positions: the likeliest next character (or token) after each block, coloured by its probability. */
function LensGrid({ s, vocab, unit }: { s: Insights; vocab: (id: number) => string; unit: TextUnit }) {
  const [hover, setHover] = useState<{ l: number; t: number } | null>(null);
  const cell = (l: number, t: number) => (l * s.T + t) * LENS_TOP;
  const info = hover
    ? `After block ${hover.l + 1}, at ${JSON.stringify(s.tokens[hover.t])} (position ${hover.t}): ${topList(vocab, s.lensIds, s.lensProbs, cell(hover.l, hover.t), LENS_TOP)}`
    : 'Hover a cell for the top 5 predictions. Rows: the residual stream after each block through ln_f and lm_head; the last row is the model\'s real prediction.';
  return (
    <div data-testid="lens">
      <h3>Logit lens</h3>
      <Explain view="lens" unit={unit} />
      <p className="token-info" aria-live="polite" data-testid="lens-info">
        {info}
      </p>
      <div
        className="lens-scroll"
        tabIndex={0}
        role="region"
        aria-label="Logit lens table: arrows read each cell"
        onKeyDown={(e) => {
          const move = { ArrowRight: [0, 1], ArrowLeft: [0, -1], ArrowDown: [1, 0], ArrowUp: [-1, 0] }[e.key];
          if (!move) return;
          e.preventDefault();
          const at = hover ?? { l: s.nLayer - 1, t: -move[1] };
          setHover({ l: Math.max(0, Math.min(s.nLayer - 1, at.l + move[0])), t: Math.max(0, Math.min(s.T - 1, at.t + move[1])) });
        }}
      >
        <table className="lens" onMouseLeave={() => setHover(null)}>
          <thead>
            <tr>
              <td />
              {s.tokens.map((ch, t) => (
                <th key={t}>{show(ch)}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {Array.from({ length: s.nLayer }, (_, l) => (
              <tr key={l} data-testid={`lens-row-${l}`}>
                <th>{l === s.nLayer - 1 ? 'output' : `block ${l + 1}`}</th>
                {s.tokens.map((_, t) => {
                  const id = s.lensIds[cell(l, t)];
                  const p = s.lensProbs[cell(l, t)];
                  return (
                    <td
                      key={t}
                      data-testid={`lens-cell-${l}-${t}`}
                      data-char={vocab(id)}
                      data-prob={p}
                      style={{ background: colour(p), color: textOn(p) }}
                      onMouseEnter={() => setHover({ l, t })}
                    >
                      {show(vocab(id))}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/** Every head's scores and badges, with its attention map on the text. */
function HeadRoles({ s, unit }: { s: Insights; unit: TextUnit }) {
  const [pick, setPick] = useState({ layer: 0, head: 0 });
  const layer = Math.min(pick.layer, s.nLayer - 1);
  const head = Math.min(pick.head, s.nHead - 1);
  const maps: AttentionMaps = { step: s.step, tokens: s.tokens, nLayer: s.nLayer, nHead: s.nHead, T: s.T, probs: s.att };
  return (
    <div data-testid="head-roles">
      <h3>Head roles</h3>
      <Explain view="roles" unit={unit} />
      {s.nLayer < 2 && (
        <p className="tag" data-testid="induction-note">
          A one-layer model has no induction circuit to find (an induction head needs a previous-token head in an earlier layer); its prefix-matching scores are shown only for comparison.
        </p>
      )}
      {s.inductionLength === 0 && <p className="tag">The context is too short for the induction probe (it needs at least 4 {unit}s).</p>}
      {s.T < 2 && <p className="tag">The text is a single {unit}: previous-token, first-token and self scores need at least two.</p>}
      <div className="attention-layout">
        <table className="heads">
          <thead>
            <tr>
              <td />
              {Array.from({ length: s.nHead }, (_, h) => (
                <th key={h}>head {h + 1}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {Array.from({ length: s.nLayer }, (_, l) => (
              <tr key={l}>
                <th>layer {l + 1}</th>
                {Array.from({ length: s.nHead }, (_, h) => {
                  const sc = { previous: headScore(s, l, h, 'previous'), first: headScore(s, l, h, 'first'), self: headScore(s, l, h, 'self') };
                  const ind = s.inductionLength ? headScore(s, l, h, 'induction') : null;
                  return (
                    <td key={h} data-testid={`head-${l}-${h}`} data-previous={sc.previous} data-induction={ind ?? undefined} className={l === layer && h === head ? 'active' : undefined}>
                      <button className="head-cell" onClick={() => setPick({ layer: l, head: h })}>
                        {MEASURES.map((m) => (
                          <span key={m}>
                            {MEASURE_LABEL[m]} {Number.isFinite(headScore(s, l, h, m)) ? headScore(s, l, h, m).toFixed(2) : '–'}
                          </span>
                        ))}
                        {headBadges(sc, ind).map((b) => (
                          <span key={b} className="badge">
                            {b}
                          </span>
                        ))}
                      </button>
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
        <AttentionCanvas maps={maps} layer={layer} head={head} />
        <div className="thumbs" style={{ gridTemplateColumns: `repeat(${s.nHead}, 66px)` }} aria-label="All layers and heads">
          {Array.from({ length: s.nLayer }, (_, l) =>
            Array.from({ length: s.nHead }, (_, h) => (
              <Thumbnail key={`${l}-${h}`} maps={maps} layer={l} head={h} active={l === layer && h === head} onPick={() => setPick({ layer: l, head: h })} />
            )),
          )}
        </div>
      </div>
    </div>
  );
}

const HEAD_COLOURS = ['#3b5bdb', '#e8590c', '#2f9e44', '#ae3ec9', '#f08c00', '#1098ad', '#c2255c', '#5c940d'];

/** Each head's prefix-matching (or previous-token) score at every snapshot. */
function HeadScoreChart({ timeline, step }: { timeline: Insights[]; step: number | null }) {
  const [measure, setMeasure] = useState<'induction' | 'previous'>('induction');
  if (!timeline.length) return null;
  const { nLayer, nHead } = timeline[timeline.length - 1];
  const keys: string[] = [];
  for (let l = 0; l < nLayer; l++) for (let h = 0; h < nHead; h++) keys.push(`L${l + 1}H${h + 1}`);
  const points = timeline
    .filter((s) => s.nLayer === nLayer && s.nHead === nHead)
    .map((s) => {
      const row: Record<string, number> = { step: s.step };
      for (let l = 0; l < nLayer; l++) for (let h = 0; h < nHead; h++) {
        const v = headScore(s, l, h, measure);
        if (Number.isFinite(v)) row[`L${l + 1}H${h + 1}`] = v;
      }
      return row;
    });
  const counts = Object.fromEntries(keys.map((k) => [k, points.filter((p) => k in p).length]));
  const values = Object.fromEntries(keys.map((k) => [k, points.map((p) => p[k] ?? null)]));
  const top = scoreAxisMax(points.flatMap((p) => keys.map((k) => p[k] ?? 0)));
  return (
    <div data-testid="head-chart" data-y-max={top} data-measure={measure} data-counts={JSON.stringify(counts)} data-values={JSON.stringify(values)} data-steps={JSON.stringify(points.map((p) => p.step))}>
      <div className="row">
        <h3>Head scores over training</h3>
        <label>
          <input type="radio" checked={measure === 'induction'} onChange={() => setMeasure('induction')} data-testid="head-chart-induction" /> prefix matching
        </label>
        <label>
          <input type="radio" checked={measure === 'previous'} onChange={() => setMeasure('previous')} data-testid="head-chart-previous" /> previous token
        </label>
      </div>
      <Explain view="chart" />
      <ResponsiveContainer width="100%" height={220}>
        <LineChart data={points} margin={{ top: 8, right: 16, bottom: 4, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
          <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} allowDecimals={false} stroke="var(--muted)" />
          <YAxis domain={[0, top]} ticks={scoreTicks(top)} tickFormatter={scoreTick} allowDataOverflow stroke="var(--muted)" width={48} />
          <Tooltip {...TOOLTIP_STYLE} formatter={(v) => (typeof v === 'number' ? v.toFixed(3) : String(v))} />
          <Legend formatter={legendText} />
          {step !== null && <ReferenceLine x={step} stroke="var(--muted)" strokeDasharray="4 2" />}
          {keys.map((k, i) => (
            <Line key={k} dataKey={k} stroke={HEAD_COLOURS[i % HEAD_COLOURS.length]} dot={{ r: 2 }} isAnimationActive={false} connectNulls />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}

/** Surprisal, logit lens, head roles and a timeline of them over training. */
export function InsightsPanel() {
  const st = useInsights(useShallow((s) => ({ timeline: s.timeline, selected: s.selected, requested: s.requested, showing: s.showing, text: s.text, busy: s.busy, error: s.error })));
  const { setText, inspect, select } = useInsights((s) => s.actions);
  const loaded = useTraining((s) => s.loaded);
  const generated = useInspect((s) => s.generation);
  const shown = shownInsights(st);
  const vocabList = loaded?.vocab;
  const vocab = (id: number) => vocabList?.[id] ?? '?';
  // A run on tokens reads (and the views show) tokens, not characters.
  const unit: TextUnit = loaded?.tokenizer && loaded.tokenizer.kind !== 'char' ? 'token' : 'character';
  const index = st.selected ?? st.timeline.length - 1;
  const perSnapshot = st.timeline.length ? snapshotBytes(st.timeline[st.timeline.length - 1]) : 0;

  useEffect(() => {
    // Nothing shown yet for a loaded model: inspect it once on the default text.
    if (loaded && !shown && !st.busy && !st.error) void inspect();
  }, [loaded, shown, st.busy, st.error, inspect]);

  return (
    <section className="panel" aria-label="Insights" data-testid="insights-panel">
      <h2>What the model learned</h2>
      {!loaded && <p className="tag">Start or step training to create a model; a snapshot is taken at every evaluation.</p>}
      <div className="row">
        <label className="grow">
          Text{' '}
          <textarea
            className="wide"
            rows={2}
            value={st.text ?? ''}
            placeholder="The start of the validation split"
            onChange={(e) => setText(e.target.value === '' ? null : e.target.value)}
            data-testid="insights-text"
          />
        </label>
        <button onClick={() => void inspect()} disabled={!loaded || st.busy} data-testid="insights-inspect">
          {st.busy ? 'Inspecting…' : 'Inspect now'}
        </button>
        <button
          onClick={() => setText(generated.prompt + generated.chars.map((c) => c.char).join(''))}
          disabled={!generated.chars.length}
          title="The text last generated in the Sampling panel"
        >
          Use the generated text
        </button>
      </div>
      {st.error && (
        <p className="bad" role="alert">
          {st.error}
        </p>
      )}
      <div className="row" data-testid="timeline" data-count={st.timeline.length} data-index={st.showing === 'timeline' ? index : -1}>
        <label className="grow">
          Timeline{' '}
          <input
            type="range"
            min={0}
            max={Math.max(0, st.timeline.length - 1)}
            value={Math.max(0, index)}
            disabled={st.timeline.length === 0}
            onChange={(e) => select(Number(e.target.value))}
            data-testid="timeline-slider"
            aria-label="Snapshot"
          />
        </label>
        <span className="tag">
          {st.timeline.length
            ? `${st.timeline.length} snapshots (one per evaluation), about ${formatKiB(perSnapshot)} each; at most ${MAX_SNAPSHOTS} are kept, older ones thinned.`
            : 'No snapshots yet: one is taken at every evaluation.'}
        </span>
      </div>
      {shown && (
        <p className="tag" data-testid="insights-shown" data-step={shown.step} data-source={shown.source} data-unit={unit}>
          Showing step {shown.step} ({shown.source === 'eval' ? 'snapshot at an evaluation' : 'inspected on request'}), {shown.T} {unit}s.
          {shown.cropped > 0 && ` The text is longer than the context of ${shown.T} ${unit}s: the last ${shown.cropped} are not shown.`}
          {shown.unknown.length > 0 && ` Left out, never seen in the corpus: ${shown.unknown.map((c) => JSON.stringify(c)).join(' ')}.`}
        </p>
      )}
      <HeadScoreChart timeline={st.timeline} step={st.showing === 'timeline' && shown ? shown.step : null} />
      <IclChart timeline={st.timeline} step={st.showing === 'timeline' && shown ? shown.step : null} />
      {shown && vocabList && (
        <>
          <SurprisalView s={shown} vocab={vocab} unit={unit} />
          <LensGrid s={shown} vocab={vocab} unit={unit} />
          <HeadRoles s={shown} unit={unit} />
          <h3>Greedy sample</h3>
          <Explain view="sample" />
          <pre className="generated sample-short" tabIndex={0} role="region" aria-label="Greedy sample" data-testid="insights-sample">
            <span className="prompt-text">{shown.samplePrompt}</span>
            {shown.sample}
          </pre>
        </>
      )}
      <CircuitsSection />
      <HealthPanel />
    </section>
  );
}
