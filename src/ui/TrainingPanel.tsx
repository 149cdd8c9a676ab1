import { useEffect, useRef, useState } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import type { EvalStats } from '../engine/protocol';
import { perplexity } from '../model/inspect';
import { useGpu } from './gpuStore';
import { useConfigOk, formatMiB } from './ModelPanel';
import { useData } from './stores/data';
import { useFineTune } from './stores/finetune';
import { useTraining } from './stores/training';
import { downsample, smooth, trainingSeries } from './training/series';
import { trainBpc, valBpc } from './training/bpc';
import { TOOLTIP_STYLE, legendText } from './chartStyle';

/** Most points drawn per line, however long the run. */
export const MAX_CHART_POINTS = 1000;
/** Charts redraw at most this often. */
const REDRAW_MS = 250;

/** Loss ticks: two decimals, or an exponent for a run that is blowing up. */
function formatTick(v: number): string {
  return Math.abs(v) >= 1000 ? v.toExponential(0) : v.toFixed(2);
}

export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** Start / Pause / Resume / Step / Reset, progress, live numbers. */
export function TrainingControls() {
  const t = useTraining(
    useShallow((s) => ({ state: s.state, step: s.step, maxSteps: s.maxSteps, busy: s.busy, message: s.message, problems: s.problems, latest: s.latest, lastEval: s.lastEval, msPerStep: s.msPerStep, loaded: s.loaded, nonFinite: s.nonFinite })),
  );
  const { command, toggle, continueRun } = useTraining((s) => s.actions);
  const [more, setMore] = useState(100);
  const ready = useGpu((s) => s.phase === 'ready');
  const hasCorpus = useData((s) => s.corpus !== null);
  const configOk = useConfigOk();
  // While DPO trains the open run (Fine-tune tab), ordinary training waits.
  const dpoRunning = useFineTune((s) => !!s.dpoRun?.running && s.dpoRun.runId === t.loaded?.runId);
  const canStart = ready && hasCorpus && configOk && !t.busy && !dpoRunning;
  const running = t.state === 'running';
  const primary = running ? 'Pause' : t.state === 'paused' || t.state === 'error' ? 'Resume' : 'Start';
  const eta = t.msPerStep && t.maxSteps > t.step ? ((t.maxSteps - t.step) * t.msPerStep) / 1000 : NaN;

  return (
    <section className="panel" aria-label="Training" data-testid="training-panel" data-state={t.state} data-step={t.step}>
      <h2>Training</h2>
      <div className="row buttons">
        <button className="primary" onClick={() => void toggle()} disabled={!canStart && !running} data-testid="train-toggle">
          {primary} <kbd>Space</kbd>
        </button>
        <button onClick={() => void command('step')} disabled={!canStart || running} data-testid="train-step">
          Step <kbd>S</kbd>
        </button>
        <button onClick={() => void command('reset')} disabled={!ready || t.busy || t.state === 'empty'} data-testid="train-reset">
          Reset <kbd>R</kbd>
        </button>
        <span className="tag" data-testid="train-state">
          {t.busy ? 'working…' : dpoRunning ? 'DPO training (Fine-tune tab)' : t.state}
        </span>
      </div>
      {t.loaded && t.state === 'done' && (
        <div className="row" data-testid="continue">
          <label>
            Train{' '}
            <input
              type="number"
              min={1}
              max={1_000_000}
              value={more}
              onChange={(e) => setMore(Math.max(1, Math.min(1_000_000, Math.floor(Number(e.target.value) || 1))))}
              data-testid="continue-steps"
              aria-label="Steps to add"
            />{' '}
            more steps
          </label>
          <button className="primary" onClick={() => void continueRun(more)} disabled={t.busy} data-testid="continue-run">
            Continue
          </button>
          <span className="tag">The step count, the learning-rate schedule and the batch sampler carry on from step {t.step}.</span>
        </div>
      )}
      {!hasCorpus && <p className="tag">Load a corpus first.</p>}
      {t.problems.map((p, i) => (
        <p key={i} role="alert" className="bad" data-testid="train-problem">
          {p}
        </p>
      ))}
      {t.message && t.message !== t.nonFinite && <p className="tag" data-testid="train-message">{t.message}</p>}
      <div className="progress-line">
        <progress max={t.maxSteps || 1} value={t.step} aria-label="Training progress" />
        <span data-testid="train-progress">
          step {t.step} / {t.maxSteps || '–'} · ETA {running ? formatEta(eta) : '–'}
        </span>
      </div>
      <dl className="stats">
        <div>
          <dt>loss</dt>
          <dd>{t.latest ? t.latest.loss.toFixed(4) : '–'}</dd>
        </div>
        <div>
          <dt>perplexity</dt>
          <dd>{t.latest ? perplexity(t.latest.loss).toFixed(3) : '–'}</dd>
        </div>
        <div>
          <dt>bits/char</dt>
          <dd>{t.latest ? trainBpc(t.latest.loss, t.loaded).toFixed(4) : '–'}</dd>
        </div>
        <div>
          <dt>val loss</dt>
          <dd data-testid="val-loss" data-value={t.lastEval?.valLoss}>{t.lastEval ? t.lastEval.valLoss.toFixed(4) : '–'}</dd>
        </div>
        <div>
          <dt>val perplexity</dt>
          <dd data-testid="val-perplexity" data-value={t.lastEval ? perplexity(t.lastEval.valLoss) : undefined}>
            {t.lastEval ? perplexity(t.lastEval.valLoss).toFixed(3) : '–'}
          </dd>
        </div>
        <div>
          <dt>val bits/char</dt>
          <dd data-testid="val-bpc" data-value={t.lastEval ? valBpc(t.lastEval, t.loaded) : undefined}>
            {t.lastEval ? valBpc(t.lastEval, t.loaded).toFixed(4) : '–'}
          </dd>
        </div>
        <div>
          <dt>tokens/s</dt>
          <dd data-testid="tokens-per-sec">{t.latest ? Math.round(t.latest.tokensPerSec).toLocaleString('en-US') : '–'}</dd>
        </div>
        <div>
          <dt>ms/step</dt>
          <dd>{t.latest ? t.latest.ms.toFixed(1) : '–'}</dd>
        </div>
        <div>
          <dt>lr</dt>
          <dd>{t.latest ? t.latest.lr.toExponential(2) : '–'}</dd>
        </div>
        <div>
          <dt>grad norm</dt>
          <dd>{t.latest ? t.latest.gradNorm.toFixed(3) : '–'}</dd>
        </div>
      </dl>
      {t.loaded && (
        <p className="tag" data-testid="loaded-model" data-val-tokens={t.loaded.valTokens} data-val-chars={t.loaded.valChars ?? t.loaded.valTokens}>
          Loaded: {t.loaded.paramCount.toLocaleString('en-US')} parameters, {formatMiB(t.loaded.memory.totalBytes)} on the GPU,{' '}
          {t.loaded.trainTokens.toLocaleString('en-US')} training / {t.loaded.valTokens.toLocaleString('en-US')} validation tokens
          {t.loaded.tokenizer && t.loaded.tokenizer.kind !== 'char' && (
            <span data-testid="loaded-tokenizer" data-kind={t.loaded.tokenizer.kind} data-vocab={t.loaded.tokenizer.size}>
              {' '}
              of {t.loaded.tokenizer.label} ({t.loaded.tokenizer.size.toLocaleString('en-US')} in the model&apos;s vocabulary)
            </span>
          )}
          .
        </p>
      )}
    </section>
  );
}

interface ChartData {
  points: { step: number; loss?: number; raw?: number; val?: number }[];
  held: number;
  trainLoss: number | null;
  valLoss: number | null;
  firstStep: number | null;
  lastStep: number | null;
  /** The first validation point (nanoGPT evaluates the untrained model at step 0). */
  firstVal: EvalStats | null;
  contiguous: boolean;
  /** Non-finite values in the series or the drawn points (never expected). */
  nonFinite: number;
}

/** What the loss chart plots: the loss in nats, or the same as perplexity or bits per character. */
export type ChartMetric = 'loss' | 'perplexity' | 'bpc';
const METRIC: Record<ChartMetric, { label: string; of: (lossNats: number) => number }> = {
  loss: { label: 'Loss', of: (x) => x },
  perplexity: { label: 'Perplexity', of: perplexity },
  // Per token -> per character with the open run's split sizes (a character run: loss / ln 2).
  bpc: { label: 'Bits per character', of: (x) => trainBpc(x, useTraining.getState().loaded) },
};

function buildChart(smoothing: number, metric: ChartMetric = 'loss'): ChartData {
  const s = trainingSeries;
  const f = METRIC[metric].of;
  // Smoothed in loss space, then converted (the mean of perplexities is not a perplexity).
  const smoothed = smooth(s.losses, smoothing);
  const line = downsample(s.steps, smoothed, MAX_CHART_POINTS);
  const raw = downsample(s.steps, s.losses, MAX_CHART_POINTS);
  const points: ChartData['points'] = line.x.map((step, i) => ({ step, loss: f(line.y[i]), raw: f(raw.y[i]) }));
  const valOf = (e: EvalStats) => (metric === 'bpc' ? valBpc(e, useTraining.getState().loaded) : f(e.valLoss));
  for (const e of s.evals.slice(-MAX_CHART_POINTS)) points.push({ step: e.step, val: valOf(e) });
  points.sort((a, b) => a.step - b.step);
  let drawnNonFinite = 0;
  for (const p of points) for (const v of [p.loss, p.raw, p.val]) if (v !== undefined && !Number.isFinite(v)) drawnNonFinite++;
  return {
    points,
    held: s.losses.length,
    trainLoss: s.lastLoss,
    valLoss: s.evals.length ? s.evals[s.evals.length - 1].valLoss : null,
    firstStep: s.steps.length ? s.steps[0] : null,
    firstVal: s.evals[0] ?? null,
    lastStep: s.steps.length ? s.steps[s.steps.length - 1] : null,
    contiguous: s.contiguous,
    nonFinite: s.nonFiniteCount + drawnNonFinite,
  };
}

/** Training loss per step (smoothed) and validation loss per evaluation, on the same axes. */
export function LossChart() {
  const [smoothing, setSmoothing] = useState(0.6);
  const [logScale, setLogScale] = useState(false);
  const [metric, setMetric] = useState<ChartMetric>('loss');
  const [data, setData] = useState<ChartData>(() => buildChart(0.6));
  const drawn = useRef({ version: -1, smoothing: 0.6, metric: 'loss' as ChartMetric });

  useEffect(() => {
    const tick = () => {
      const d = drawn.current;
      if (d.version === trainingSeries.version && d.smoothing === smoothing && d.metric === metric) return;
      drawn.current = { version: trainingSeries.version, smoothing, metric };
      setData(buildChart(smoothing, metric));
    };
    tick();
    const timer = setInterval(tick, REDRAW_MS);
    return () => clearInterval(timer);
  }, [smoothing, metric]);

  return (
    <section className="panel" aria-label="Loss curves" data-testid="loss-chart">
      <h2>{METRIC[metric].label}</h2>
      <div className="row">
        <label>
          Show{' '}
          <select value={metric} onChange={(e) => setMetric(e.target.value as ChartMetric)} data-testid="chart-metric">
            <option value="loss">loss (nats)</option>
            <option value="perplexity">perplexity</option>
            <option value="bpc">bits per character</option>
          </select>
        </label>
        <label>
          Smoothing{' '}
          <input type="range" min={0} max={0.99} step={0.01} value={smoothing} onChange={(e) => setSmoothing(Number(e.target.value))} aria-label="Smoothing" />{' '}
          {smoothing.toFixed(2)}
        </label>
        <label>
          <input type="checkbox" checked={logScale} onChange={(e) => setLogScale(e.target.checked)} data-testid="log-scale" /> Log scale
        </label>
        <span
          className="tag"
          data-testid="chart-points"
          data-points={data.held}
          data-train-loss={data.trainLoss ?? undefined}
          data-val-loss={data.valLoss ?? undefined}
          data-first-step={data.firstStep ?? undefined}
          data-first-val-step={data.firstVal?.step}
          data-first-val-loss={data.firstVal?.valLoss}
          data-val-points={data.points.filter((p) => p.val !== undefined).length}
          data-last-step={data.lastStep ?? undefined}
          data-contiguous={String(data.contiguous)}
          data-nonfinite={data.nonFinite}
        >
          {data.held} training points held, at most {MAX_CHART_POINTS} drawn
        </span>
      </div>
      <div className="chart">
        {data.points.length === 0 ? (
          <p className="tag empty-chart">The curves appear here once training starts.</p>
        ) : (
          <ResponsiveContainer width="100%" height={280}>
            <LineChart data={data.points} margin={{ top: 8, right: 16, bottom: 4, left: 0 }} title={`${METRIC[metric].label} per step`} desc="Focus the chart and use the left and right arrows to read each point.">
              <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
              <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} stroke="var(--muted)" />
              <YAxis scale={logScale ? 'log' : 'auto'} domain={['auto', 'auto']} stroke="var(--muted)" allowDataOverflow width={48} tickFormatter={formatTick} />
              <Tooltip {...TOOLTIP_STYLE} formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))} />
              <Legend formatter={legendText} />
              <Line dataKey="raw" name="train (raw)" stroke="var(--accent)" strokeOpacity={0.25} dot={false} isAnimationActive={false} connectNulls />
              <Line dataKey="loss" name="train" stroke="var(--accent)" strokeWidth={2} dot={false} isAnimationActive={false} connectNulls />
              <Line dataKey="val" name="validation" stroke="var(--val)" strokeWidth={2} dot={{ r: 3 }} isAnimationActive={false} connectNulls />
            </LineChart>
          </ResponsiveContainer>
        )}
      </div>
      <ChartLatest data={data} metric={metric} />
    </section>
  );
}

/** The chart's latest values as text, for screen readers and anyone who wants the numbers. */
function ChartLatest({ data, metric }: { data: ChartData; metric: ChartMetric }) {
  if (data.lastStep === null || data.trainLoss === null) return null;
  const { label, of } = METRIC[metric];
  const smoothed = [...data.points].reverse().find((p) => p.loss !== undefined)?.loss;
  const lastVal = [...data.points].reverse().find((p) => p.val !== undefined);
  const digits = metric === 'perplexity' ? 3 : 4;
  return (
    <p className="tag" data-testid="chart-latest" data-step={data.lastStep}>
      Latest {label.toLowerCase()} at step {data.lastStep}: train {of(data.trainLoss).toFixed(digits)}
      {smoothed !== undefined && ` (smoothed ${smoothed.toFixed(digits)})`}
      {lastVal?.val !== undefined ? `, validation ${lastVal.val.toFixed(digits)} at step ${lastVal.step}.` : ', no validation yet.'}
    </p>
  );
}
