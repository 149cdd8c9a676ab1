// The first screen's one-click start: the preset the page chose (and why, on a
// software renderer), a Start button, and as the model learns its loss, a live
// sample (the greedy continuation of each evaluation's snapshot) and an
// attention thumbnail. The other panels are a key away; the keys are listed.
import { useShallow } from 'zustand/react/shallow';
import { Thumbnail } from './AttentionPanel';
import { useConfigOk } from './ModelPanel';
import { useGpu } from './gpuStore';
import { useData } from './stores/data';
import { useFineTune } from './stores/finetune';
import { useFirstRun } from './stores/firstRun';
import { useInsights } from './stores/insights';
import { useInspect } from './stores/inspect';
import { useSetup } from './stores/setup';
import { useTraining } from './stores/training';
import { trainingSeries } from './training/series';
import { presetById } from './url';

/** The loss so far as a small line (SVG), newest on the right. */
function Sparkline({ version }: { version: number }) {
  const { steps, losses } = trainingSeries;
  void version;
  if (losses.length < 2) return null;
  const W = 160;
  const H = 40;
  const lo = Math.min(...losses);
  const hi = Math.max(...losses);
  const x0 = steps[0];
  const dx = Math.max(1, steps[steps.length - 1] - x0);
  const every = Math.max(1, Math.floor(losses.length / 200));
  const kept: number[] = [];
  for (let i = 0; i < losses.length; i += every) kept.push(i);
  if (kept[kept.length - 1] !== losses.length - 1) kept.push(losses.length - 1);
  const points = kept.map((i) => `${(((steps[i] - x0) / dx) * W).toFixed(1)},${(H - ((losses[i] - lo) / Math.max(1e-9, hi - lo)) * H).toFixed(1)}`).join(' ');
  return (
    <svg className="sparkline" width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Loss from ${hi.toFixed(2)} to ${losses[losses.length - 1].toFixed(2)}`}>
      <polyline points={points} fill="none" stroke="var(--accent)" strokeWidth="1.5" />
    </svg>
  );
}

export function QuickStart({ tabs, onNavigate }: { tabs: readonly { id: string; label: string }[]; onNavigate: (id: string) => void }) {
  const t = useTraining(useShallow((s) => ({ state: s.state, step: s.step, maxSteps: s.maxSteps, busy: s.busy, latest: s.latest, lastEval: s.lastEval, problems: s.problems, loaded: s.loaded })));
  const { toggle } = useTraining((s) => s.actions);
  const ready = useGpu((s) => s.phase === 'ready');
  const corpus = useData((s) => s.corpus);
  const loading = useData((s) => s.loading);
  const presetId = useSetup((s) => s.preset);
  const configOk = useConfigOk();
  const dpoRunning = useFineTune((s) => !!s.dpoRun?.running && s.dpoRun.runId === t.loaded?.runId);
  const note = useFirstRun((s) => s.note);
  const warmed = useFirstRun((s) => s.warmed);
  const sample = useInsights((s) => s.timeline.at(-1) ?? null);
  const attention = useInspect((s) => s.attention);

  const preset = presetById(presetId);
  const running = t.state === 'running';
  const canStart = ready && corpus !== null && !loading && configOk && !t.busy && !dpoRunning;
  const primary = running ? 'Pause' : t.state === 'paused' || t.state === 'error' ? 'Resume' : t.state === 'done' ? 'Start again' : 'Start training';
  const onClick = () => {
    // A finished run starts over as a new run with the same setup.
    if (t.state === 'done') void useTraining.getState().actions.command('reset').then(() => useTraining.getState().actions.command('start'));
    else void toggle();
  };
  const corpusName = t.loaded?.corpusName ?? corpus?.name;
  const waiting = !ready ? 'Waiting for the GPU…' : loading ? `Reading ${loading.name}…` : !corpus ? 'Choose a corpus below.' : null;

  return (
    <section className="panel quick-start" aria-label="Quick start" data-testid="quick-start-panel" data-state={t.state} data-step={t.step} data-compiled-ms={warmed ? Math.round(warmed.ms) : undefined}>
      <h2>Train a GPT in one click</h2>
      <p data-testid="quick-setup" data-preset={presetId}>
        {t.loaded ? t.loaded.runName : `${preset?.label ?? 'Custom settings'}${corpusName ? ` on ${corpusName}` : ''}`}
        {!t.loaded && preset ? `: ${preset.description}` : ''}
      </p>
      {note && (
        <p className="note" data-testid="default-note">
          {note}
        </p>
      )}
      <div className="row buttons">
        <button className="primary big" onClick={onClick} disabled={!canStart && !running} data-testid="quick-start">
          {primary} <kbd>Space</kbd>
        </button>
        <span className="tag" aria-live="polite" data-testid="quick-progress">
          {waiting ?? (t.busy && !running ? 'Building the model…' : t.maxSteps > 0 ? `${t.state}, step ${t.step} / ${t.maxSteps}` : t.state === 'empty' ? 'Ready.' : t.state)}
        </span>
      </div>
      {t.problems.map((p, i) => (
        <p key={i} role="alert" className="bad">
          {p}
        </p>
      ))}
      <div className="quick-live">
        <figure data-testid="quick-loss" data-loss={t.latest?.loss} data-val-loss={t.lastEval?.valLoss}>
          <figcaption>Loss</figcaption>
          {t.latest ? (
            <>
              <p className="big-number">{t.latest.loss.toFixed(3)}</p>
              <Sparkline version={t.latest.step} />
              {t.lastEval && <p className="tag">validation {t.lastEval.valLoss.toFixed(3)} at step {t.lastEval.step}</p>}
            </>
          ) : (
            <p className="tag">The training loss appears at the first step.</p>
          )}
        </figure>
        <figure data-testid="quick-sample" data-step={sample?.step}>
          <figcaption>Live sample{sample ? ` (step ${sample.step})` : ''}</figcaption>
          {sample ? (
            <p className="sample-text">
              <span className="prompt">{sample.samplePrompt}</span>
              {sample.sample}
            </p>
          ) : (
            <p className="tag">What the model writes, at every evaluation.</p>
          )}
        </figure>
        <figure data-testid="quick-attention" data-step={attention?.step}>
          <figcaption>Attention{attention ? ` (layer ${attention.nLayer}, head 1)` : ''}</figcaption>
          {attention ? (
            <Thumbnail maps={attention} layer={attention.nLayer - 1} head={0} active={false} onPick={() => onNavigate('attention')} />
          ) : (
            <p className="tag">Which earlier characters each one looks at, at every evaluation.</p>
          )}
        </figure>
      </div>
      <p className="tag" data-testid="quick-keys">
        Every panel is one key away:{' '}
        {tabs.map((tab, i) => (
          <span key={tab.id}>
            {i > 0 && ' · '}
            <kbd>{i + 1}</kbd> {tab.label}
          </span>
        ))}
      </p>
    </section>
  );
}
