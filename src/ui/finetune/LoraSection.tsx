// LoRA: adapt the open run to a target text with low-rank adapters (PEFT's
// LoraConfig), train them with the normal train actions, and compare the
// fine-tune's curves with the base run's.
import { useEffect, useState } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import type { EvalStats, LossPoint } from '../../engine/protocol';
import { formatBytes } from '../../data/corpus';
import { vocabularyProblem } from '../../model/dpo';
import { loraModulesOf, MAX_LORA_RANK } from '../../model/lora';
import { formatEta } from '../TrainingPanel';
import { useGpu } from '../gpuStore';
import { loraProblems, useFineTune, type LoraTarget } from '../stores/finetune';
import { useTraining } from '../stores/training';
import { downsample, trainingSeries } from '../training/series';
import { NumField } from './fields';
import { LoraStrength } from './LoraStrength';
import { TOOLTIP_STYLE, legendText } from '../chartStyle';

const TARGETS: { id: LoraTarget; label: string }[] = [
  { id: 'names', label: 'First names (built in)' },
  { id: 'moby-dick', label: 'Moby Dick (built in)' },
  { id: 'own', label: 'Your own text (upload or paste)' },
];

const MiB = (bytes: number) => (bytes / 1024 ** 2).toFixed(bytes < 10 * 1024 ** 2 ? 2 : 1);

/** Loss ticks as the training chart writes them. */
const formatTick = (v: number) => (Math.abs(v) >= 1000 ? v.toExponential(0) : v.toFixed(2));

interface CurvePoint {
  step: number;
  train?: number;
  val?: number;
}

function curvePoints(steps: number[], losses: number[], evals: EvalStats[]): CurvePoint[] {
  const line = downsample(steps, losses, 500);
  const points: CurvePoint[] = line.x.map((step, i) => ({ step, train: line.y[i] }));
  for (const e of evals) points.push({ step: e.step, val: e.valLoss });
  return points.sort((a, b) => a.step - b.step);
}

function basePoints(loss: LossPoint[], evals: EvalStats[]): CurvePoint[] {
  return curvePoints(
    loss.map((p) => p.step),
    loss.map((p) => p.loss),
    evals,
  );
}

/** Train and validation loss of one run, on the training chart's axes. */
function CurveChart({ title, points, domain, testId }: { title: string; points: CurvePoint[]; domain: [number, number] | null; testId: string }) {
  const vals = points.filter((p) => p.val !== undefined);
  return (
    <figure className="curve" data-testid={testId} data-points={points.length - vals.length} data-val-points={vals.length} data-last-val={vals.at(-1)?.val}>
      <figcaption>{title}</figcaption>
      {points.length === 0 ? (
        <p className="tag empty-chart">No points yet.</p>
      ) : (
        <ResponsiveContainer width="100%" height={240}>
          <LineChart data={points} margin={{ top: 8, right: 16, bottom: 4, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
            <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} stroke="var(--muted)" />
            <YAxis domain={domain ?? ['auto', 'auto']} stroke="var(--muted)" allowDataOverflow width={48} tickFormatter={formatTick} />
            <Tooltip {...TOOLTIP_STYLE} formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))} />
            <Legend formatter={legendText} />
            <Line dataKey="train" name="train" stroke="var(--accent)" strokeWidth={2} dot={false} isAnimationActive={false} connectNulls />
            <Line dataKey="val" name="validation" stroke="var(--val)" strokeWidth={2} dot={{ r: 3 }} isAnimationActive={false} connectNulls />
          </LineChart>
        </ResponsiveContainer>
      )}
    </figure>
  );
}

/** The fine-tune's curves (the training series) beside the base run's (kept with the fine-tune), on one loss scale. */
function FineTuneCurves() {
  const ft = useTraining((s) => s.loaded?.fineTune);
  const corpus = useTraining((s) => s.loaded?.corpusName);
  const [version, setVersion] = useState(trainingSeries.version);
  useEffect(() => {
    const timer = setInterval(() => setVersion((v) => (v === trainingSeries.version ? v : trainingSeries.version)), 250);
    return () => clearInterval(timer);
  }, []);
  if (!ft) return null;
  void version;
  const mine = curvePoints(trainingSeries.steps, trainingSeries.losses, trainingSeries.evals);
  const base = basePoints(ft.baseLossHistory, ft.baseEvalHistory);
  const ys = [...mine, ...base].flatMap((p) => [p.train, p.val]).filter((y): y is number => y !== undefined && Number.isFinite(y));
  const domain: [number, number] | null = ys.length ? [Math.floor(Math.min(...ys) * 10) / 10, Math.ceil(Math.max(...ys) * 10) / 10] : null;
  return (
    <div className="curves-beside">
      <CurveChart title={`Base: "${ft.baseRunName}" (its own corpus, up to step ${ft.baseStep})`} points={base} domain={domain} testId="lora-base-curves" />
      <CurveChart title={`Fine-tune on ${corpus ?? 'the target text'}`} points={mine} domain={domain} testId="lora-curves" />
    </div>
  );
}

/** Train / pause the open LoRA run, with its progress. */
function LoraTraining() {
  const t = useTraining(useShallow((s) => ({ state: s.state, step: s.step, maxSteps: s.maxSteps, busy: s.busy, msPerStep: s.msPerStep, lastEval: s.lastEval })));
  const { toggle } = useTraining((s) => s.actions);
  const running = t.state === 'running';
  const label = running ? 'Pause' : t.state === 'paused' || t.state === 'error' ? 'Resume' : t.state === 'done' ? 'Finished' : 'Train';
  const eta = t.msPerStep && t.maxSteps > t.step ? ((t.maxSteps - t.step) * t.msPerStep) / 1000 : NaN;
  // The fine-tune's step-0 evaluation is the base model on the target text (the adapters start at zero).
  const first = trainingSeries.evals[0];
  const baseOnTarget = first && first.step === 0 ? first.valLoss : null;
  return (
    <>
      <div className="row buttons">
        <button className="primary" onClick={() => void toggle()} disabled={t.busy || t.state === 'done'} data-testid="lora-train">
          {label} <kbd>Space</kbd>
        </button>
        <span className="tag" data-testid="lora-state" data-state={t.state}>
          {t.state}
        </span>
      </div>
      <div className="progress-line">
        <progress max={t.maxSteps || 1} value={t.step} aria-label="Fine-tune progress" />
        <span data-testid="lora-progress" data-step={t.step} data-max-steps={t.maxSteps}>
          step {t.step} of {t.maxSteps || '–'} · ETA {running ? formatEta(eta) : '–'}
        </span>
      </div>
      <dl className="pairs-dl">
        <dt>Validation loss on the target</dt>
        <dd data-testid="lora-val-loss" data-value={t.lastEval?.valLoss} data-step={t.lastEval?.step}>
          {t.lastEval ? `${t.lastEval.valLoss.toFixed(4)} at step ${t.lastEval.step}` : '– (evaluated when training starts)'}
        </dd>
        <dt>Base model on the target (step 0)</dt>
        <dd data-testid="lora-base-val-loss" data-value={baseOnTarget ?? undefined}>
          {baseOnTarget !== null ? baseOnTarget.toFixed(4) : '–'}
        </dd>
      </dl>
    </>
  );
}

/** What the open LoRA run is: PEFT's line, memory against a full fine-tune, its base, curves, strength and files. */
function OpenLoraRun() {
  const loaded = useTraining((s) => s.loaded);
  const busy = useFineTune((s) => s.loraBusy);
  const { merge, exportAdapter } = useFineTune((s) => s.actions);
  const ft = loaded?.fineTune;
  if (!loaded || ft?.kind !== 'lora') return null;
  const less = ft.fullGpuBytes > 0 ? (100 * (ft.fullGpuBytes - ft.gpuBytes)) / ft.fullGpuBytes : 0;
  return (
    <div className="open-lora" data-testid="lora-open">
      <h3>The open LoRA run: “{loaded.runName}”</h3>
      <p className="mono" data-testid="lora-peft-line">
        {ft.peftLine}
      </p>
      <p data-testid="lora-memory" data-bytes={ft.gpuBytes} data-full-bytes={ft.fullGpuBytes}>
        GPU memory: {MiB(ft.gpuBytes)} MiB with LoRA vs {MiB(ft.fullGpuBytes)} MiB for a full fine-tune ({less.toFixed(0)}% less)
      </p>
      <p className="tag" data-testid="lora-base" data-base-name={ft.baseRunName} data-base-step={ft.baseStep}>
        Base: “{ft.baseRunName}” at step {ft.baseStep}, frozen.
        {ft.lora && ` r = ${ft.lora.r}, lora_alpha = ${ft.lora.alpha} (scale ${(ft.lora.alpha / ft.lora.r).toFixed(3)}), on ${ft.lora.modules.join(', ')}.`}
      </p>
      <LoraTraining />
      <FineTuneCurves />
      <LoraStrength />
      <div className="row buttons">
        <button onClick={() => void merge()} disabled={busy !== null} data-testid="lora-merge" title="PEFT's merge_and_unload: W + lora_alpha/r · B A as a new full run">
          {busy === 'merge' ? 'Merging…' : 'Merge into a new run'}
        </button>
        <button onClick={() => void exportAdapter()} disabled={busy !== null} data-testid="lora-export" title="<run>-step<N>.adapter.zip: PEFT's adapter folder (adapter_config.json and adapter_model.safetensors), for PeftModel.from_pretrained once unzipped">
          {busy === 'export' ? 'Exporting…' : 'Export adapter'}
        </button>
      </div>
    </div>
  );
}

/** The target text: a built-in corpus or the person's own, checked against the open run's vocabulary. */
function TargetPicker({ vocab }: { vocab: string[] }) {
  const { lora, target, targetLoading, targetError } = useFineTune(
    useShallow((s) => ({ lora: s.lora, target: s.target, targetLoading: s.targetLoading, targetError: s.targetError })),
  );
  const { setLora, loadTarget, useOwnText } = useFineTune((s) => s.actions);
  const [paste, setPaste] = useState('');
  useEffect(() => {
    if (!target && !targetLoading && !targetError) void loadTarget();
    // Once, when the section first shows: later choices load their text as they are made.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const problem = target ? vocabularyProblem(target.text, vocab, target.name) : null;
  return (
    <fieldset className="plain">
      <legend>Target text</legend>
      <div className="row" role="radiogroup" aria-label="Target text">
        {TARGETS.map((t) => (
          <label key={t.id}>
            <input type="radio" name="lora-target" checked={lora.target === t.id} onChange={() => setLora({ target: t.id })} data-testid={`lora-target-${t.id}`} /> {t.label}
          </label>
        ))}
      </div>
      {lora.target === 'own' && (
        <div className="own-text">
          <label className="row">
            <span>Upload a text file</span>
            <input
              type="file"
              accept=".txt,text/plain"
              data-testid="lora-own-file"
              onChange={(e) => {
                const file = e.target.files?.[0];
                e.target.value = '';
                if (file) void file.text().then((text) => useOwnText(text, file.name));
              }}
            />
          </label>
          <label className="paste">
            <span>or paste it</span>
            <textarea rows={4} value={paste} onChange={(e) => setPaste(e.target.value)} data-testid="lora-own-paste" />
          </label>
          <button onClick={() => void useOwnText(paste, 'The pasted text')} disabled={!paste} data-testid="lora-own-use">
            Use the pasted text
          </button>
        </div>
      )}
      <p className="tag" data-testid="lora-target-status" data-chars={target?.text.length}>
        {targetLoading
          ? 'Reading the text…'
          : target
            ? `${target.name}: ${Array.from(target.text).length.toLocaleString('en-US')} characters (${formatBytes(new Blob([target.text]).size)}); the fine-tune trains on its first 90% and validates on the rest.`
            : lora.target === 'own'
              ? 'Upload or paste the text to adapt the model to.'
              : ''}
      </p>
      {targetError && (
        <p className="bad" role="alert" data-testid="lora-target-error">
          {targetError}
        </p>
      )}
      {problem && (
        <p className="bad" role="alert" data-testid="lora-vocab-problem">
          {problem} LoRA keeps the base model's vocabulary.
        </p>
      )}
    </fieldset>
  );
}

export function LoraSection() {
  const loaded = useTraining((s) => s.loaded);
  const step = useTraining((s) => s.step);
  const ready = useGpu((s) => s.phase === 'ready');
  const { lora, target, busy, error, note } = useFineTune(
    useShallow((s) => ({ lora: s.lora, target: s.target, busy: s.loraBusy, error: s.loraError, note: s.loraNote })),
  );
  const { setLora, startLora, importAdapter } = useFineTune((s) => s.actions);
  // A fine-tune is a model of its own even at step 0 (its base was trained).
  const trained = loaded !== null && (step > 0 || loaded.fineTune !== undefined);
  const problems = loraProblems(lora, loaded?.config);
  const vocabBad = !target || !loaded || vocabularyProblem(target.text, loaded.vocab) !== null;
  // Adapters go on a full model: a LoRA run is merged first (or its base opened).
  const onLora = loaded?.fineTune?.kind === 'lora';
  const canStart = ready && trained && !onLora && problems.length === 0 && !vocabBad && busy === null;

  return (
    <section className="panel" aria-label="LoRA fine-tune" data-testid="lora-panel">
      <h2>LoRA fine-tune</h2>
      {!trained ? (
        <p className="tag" data-testid="lora-needs-run">
          LoRA adapts a trained model: train a run on the Model &amp; training tab, or open one on the Runs tab, then come back here.
        </p>
      ) : (
        <>
          <p className="tag" hidden={onLora}>
            The open run “{loaded.runName}” at step {step} becomes the frozen base. Small matrices A (r × in) and B (out × r) train beside the chosen Linear layers;
            B starts at zero, so the fine-tune starts as the base model.
          </p>
          <TargetPicker vocab={loaded.vocab} />
          <fieldset className="plain">
            <legend>Target modules (every layer)</legend>
            <div className="row">
              {loraModulesOf(loaded.config).map((m) => (
                <label key={m}>
                  <input
                    type="checkbox"
                    checked={lora.modules.includes(m)}
                    onChange={(e) => setLora({ modules: e.target.checked ? [...lora.modules, m] : lora.modules.filter((x) => x !== m) })}
                    data-testid={`lora-module-${m}`}
                  />{' '}
                  <code>{m}</code>
                </label>
              ))}
            </div>
          </fieldset>
          <div className="fields">
            <NumField label={`r (rank, 1–${MAX_LORA_RANK})`} value={lora.r} step={1} min={1} max={MAX_LORA_RANK} onValue={(r) => setLora({ r })} testId="lora-r" />
            <NumField label="lora_alpha" value={lora.alpha} onValue={(alpha) => setLora({ alpha })} testId="lora-alpha" />
            <NumField label="Learning rate" value={lora.learningRate} onValue={(learningRate) => setLora({ learningRate })} testId="lora-lr" />
            <NumField label="Steps" value={lora.steps} step={1} min={1} onValue={(steps) => setLora({ steps })} testId="lora-steps" />
          </div>
          <p className="tag">
            Batch size {loaded.train?.batchSize ?? '–'} and evaluation every {loaded.train?.evalInterval ?? '–'} steps ({loaded.train?.evalIters ?? '–'} batches) come from the open run;
            the rate is constant, without weight decay.
          </p>
          {problems.map((p) => (
            <p key={p} className="bad" data-testid="lora-problem">
              {p}
            </p>
          ))}
          {onLora && (
            <p className="tag" data-testid="lora-on-lora">
              The open run is a LoRA fine-tune already: merge it into a new run (below) to fine-tune that, or open its base on the Runs tab to start
              another fine-tune or import an adapter onto it.
            </p>
          )}
          <div className="row buttons">
            <button className="primary" onClick={() => void startLora()} disabled={!canStart} data-testid="lora-start">
              {busy === 'start' ? 'Starting…' : 'Start LoRA fine-tune'}
            </button>
            <label className="file-button">
              <span>Import adapter (onto the open run as the base)</span>{' '}
              <input
                type="file"
                multiple
                accept=".zip,.safetensors,.json,application/zip,application/octet-stream,application/json"
                disabled={!ready || onLora || busy !== null}
                data-testid="lora-import"
                title="PEFT's adapter folder zipped (adapter_config.json, adapter_model.safetensors), those two files picked together, or one .adapter.safetensors file"
                onChange={(e) => {
                  const files = [...(e.target.files ?? [])];
                  e.target.value = '';
                  if (files.length) void importAdapter(files);
                }}
              />
            </label>
          </div>
        </>
      )}
      {error && (
        <p className="bad" role="alert" data-testid="lora-error">
          {error}
        </p>
      )}
      {note && (
        <p className="tag" role="status" data-testid="lora-note">
          {note}
        </p>
      )}
      <OpenLoraRun />
    </section>
  );
}
