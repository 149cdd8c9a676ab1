// Times a few training steps of the current config on this GPU, and shows the
// GPU time of each kernel group of one step (table and bar chart).
import { useEffect, useState } from 'react';
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { KernelGroupTime } from '../engine/protocol';
import { useGpu } from './gpuStore';
import { useConfigOk } from './ModelPanel';
import { BENCHMARK_STEPS, useBenchmark } from './stores/benchmark';
import { useData } from './stores/data';
import { useTraining } from './stores/training';
import { formatEta } from './TrainingPanel';
import { TOOLTIP_STYLE } from './chartStyle';

/** Elapsed time and ETA of the running benchmark, redrawn twice a second. */
function BenchmarkProgress({ startedAt, expectedMs }: { startedAt: number; expectedMs: number | null }) {
  const [now, setNow] = useState(() => performance.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(performance.now()), 500);
    return () => clearInterval(timer);
  }, []);
  const elapsed = now - startedAt;
  return (
    <div className="progress-line" data-testid="benchmark-progress">
      {expectedMs ? <progress max={expectedMs} value={Math.min(elapsed, expectedMs)} aria-label="Benchmark progress" /> : <progress aria-label="Benchmark progress" />}
      <span className="tag">
        {(elapsed / 1000).toFixed(0)} s · ETA {expectedMs ? formatEta(Math.max(0, expectedMs - elapsed) / 1000) : '–'}
      </span>
    </div>
  );
}

/** Each kernel group's GPU time and share of the step: a table and a horizontal bar chart. */
function KernelTimes({ kernels, note }: { kernels: KernelGroupTime[] | null; note: string }) {
  if (!kernels) {
    return (
      <p className="tag" data-testid="kernel-times-unavailable">
        {note}
      </p>
    );
  }
  const total = kernels.reduce((s, k) => s + k.ms, 0);
  const chart = kernels.map((k) => ({ group: k.group, share: Math.round(1000 * k.share) / 10 }));
  return (
    <div data-testid="kernel-times" data-total-ms={total}>
      <h3>GPU time per kernel group</h3>
      <p className="tag">{note}</p>
      <div className="chart">
        <ResponsiveContainer width="100%" height={22 * chart.length + 40}>
          <BarChart data={chart} layout="vertical" margin={{ top: 4, right: 16, bottom: 4, left: 8 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
            <XAxis type="number" unit="%" stroke="var(--muted)" />
            <YAxis type="category" dataKey="group" width={190} stroke="var(--muted)" interval={0} tick={{ fontSize: 12 }} />
            <Tooltip {...TOOLTIP_STYLE} formatter={(v) => `${v}% of the step`} />
            <Bar dataKey="share" name="share of the step" fill="var(--accent)" isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      </div>
      <table className="kernel-times">
        <thead>
          <tr>
            <th>kernel group</th>
            <th>dispatches</th>
            <th>GPU ms</th>
            <th>share</th>
          </tr>
        </thead>
        <tbody>
          {kernels.map((k) => (
            <tr key={k.group} data-testid="kernel-time" data-group={k.group} data-ms={k.ms} data-share={k.share} data-dispatches={k.dispatches}>
              <td>{k.group}</td>
              <td>{k.dispatches}</td>
              <td>{k.ms.toFixed(2)}</td>
              <td>{(100 * k.share).toFixed(1)}%</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function BenchmarkPanel() {
  const { running, startedAt, expectedMs, result, error } = useBenchmark();
  const { run } = useBenchmark((s) => s.actions);
  const training = useTraining((s) => s.state === 'running');
  const busy = useTraining((s) => s.busy);
  const loadedKey = useTraining((s) => s.loaded?.key);
  const ready = useGpu((s) => s.phase === 'ready');
  const hasCorpus = useData((s) => s.corpus !== null);
  const configOk = useConfigOk();
  const disabled = !ready || !hasCorpus || !configOk || training || busy || running;

  return (
    <section className="panel" aria-label="Benchmark" data-testid="benchmark-panel">
      <h2>Benchmark</h2>
      <div className="row">
        <button onClick={() => void run()} disabled={disabled} data-testid="benchmark-run" title={training ? 'Pause training first' : undefined}>
          {running ? 'Timing…' : `Benchmark ${BENCHMARK_STEPS} steps`}
        </button>
        <span className="tag">{training ? 'Pause training to benchmark.' : 'Times training steps of this config; the weights are left as they were.'}</span>
      </div>
      {running && startedAt !== null && <BenchmarkProgress startedAt={startedAt} expectedMs={expectedMs} />}
      {result && (
        <p
          data-testid="benchmark-result"
          data-ms-per-step={result.msPerStep}
          data-tokens-per-sec={result.tokensPerSec}
          data-tokens-per-step={result.tokensPerStep}
          data-steps={result.steps}
          className={result.key === loadedKey ? undefined : 'tag'}
        >
          <strong>{result.msPerStep.toFixed(1)} ms/step</strong>, <strong>{Math.round(result.tokensPerSec).toLocaleString('en-US')} tokens/s</strong> ({result.tokensPerStep} tokens a
          step, {result.steps} steps) on <span data-testid="benchmark-adapter">{result.adapter}</span>
          {result.key !== loadedKey && ' — measured for an earlier configuration'}.
        </p>
      )}
      {result && <KernelTimes kernels={result.kernels} note={result.kernelNote} />}
      {error && (
        <p role="alert" className="bad" data-testid="benchmark-error">
          {error}
        </p>
      )}
    </section>
  );
}
