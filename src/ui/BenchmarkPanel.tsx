// Times a few training steps of the current config on this GPU.
import { useEffect, useState } from 'react';
import { useGpu } from './gpuStore';
import { useConfigOk } from './ModelPanel';
import { BENCHMARK_STEPS, useBenchmark } from './stores/benchmark';
import { useData } from './stores/data';
import { useTraining } from './stores/training';
import { formatEta } from './TrainingPanel';

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
      {error && (
        <p role="alert" className="bad" data-testid="benchmark-error">
          {error}
        </p>
      )}
    </section>
  );
}
