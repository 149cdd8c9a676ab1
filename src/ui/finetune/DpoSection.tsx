// DPO (Rafailov et al. 2023, as TRL's DPOTrainer): preference pairs picked by
// the person or labelled by a rule, TRL's JSONL both ways, and a DPO run's
// loss, rewards, margin and accuracy per step against the frozen reference.
import { useEffect, useState } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import type { DpoStats } from '../../engine/protocol';
import { describeRule, type JudgeRule } from '../../model/dpo';
import { formatEta } from '../TrainingPanel';
import { useGpu } from '../gpuStore';
import { typing } from '../keys';
import { blockModules, DPO_LR, dpoEta, dpoProblems, pairsVocabularyProblem, useFineTune, type PromptSource } from '../stores/finetune';
import { useTraining } from '../stores/training';
import { showWhitespace } from '../tokenizer/spans';
import { NumField } from './fields';
import { TOOLTIP_STYLE, legendText } from '../chartStyle';

const show = (text: string) => (text ? showWhitespace(text) : '(empty)');

/** Two continuations side by side; A, B or skip (also the keys A, B and N). */
function Candidates() {
  const candidates = useFineTune((s) => s.candidates);
  const { pick } = useFineTune((s) => s.actions);
  useEffect(() => {
    if (!candidates) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
      const k = e.key.toLowerCase();
      if (k === 'a' || k === 'b' || k === 'n') {
        e.preventDefault();
        pick(k === 'n' ? null : k);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [candidates, pick]);
  if (!candidates) return null;
  return (
    <div data-testid="dpo-candidates">
      <p className="tag">
        After “<code>{show(candidates.prompt)}</code>”, which continuation is better?
      </p>
      <div className="beside">
        <figure>
          <figcaption>A</figcaption>
          <pre className="generated small" tabIndex={0} role="region" aria-label="Continuation A" data-testid="dpo-candidate-a">
            {candidates.a}
          </pre>
        </figure>
        <figure>
          <figcaption>B</figcaption>
          <pre className="generated small" tabIndex={0} role="region" aria-label="Continuation B" data-testid="dpo-candidate-b">
            {candidates.b}
          </pre>
        </figure>
      </div>
      <div className="row buttons">
        <button onClick={() => pick('a')} data-testid="dpo-pick-a">
          A is better <kbd>A</kbd>
        </button>
        <button onClick={() => pick('b')} data-testid="dpo-pick-b">
          B is better <kbd>B</kbd>
        </button>
        <button onClick={() => pick(null)} data-testid="dpo-skip">
          Skip <kbd>N</kbd>
        </button>
      </div>
    </div>
  );
}

function RuleFields() {
  const dpo = useFineTune((s) => s.dpo);
  const writing = useFineTune((s) => s.writing);
  const loaded = useTraining((s) => s.loaded !== null);
  const { setDpo, labelWithRule, stopLabelling } = useFineTune((s) => s.actions);
  const rule = dpo.rule;
  const setRule = (r: JudgeRule) => setDpo({ rule: r });
  return (
    <>
      <div className="row">
        <label>
          Rule{' '}
          <select
            value={rule.kind}
            onChange={(e) => {
              const kind = e.target.value as JudgeRule['kind'];
              setRule(kind === 'contains' ? { kind, word: 'the' } : kind === 'avoids' ? { kind, char: 'e' } : { kind });
            }}
            data-testid="dpo-rule-kind"
          >
            <option value="contains">contains a word</option>
            <option value="shorter">shorter</option>
            <option value="avoids">avoids a character</option>
          </select>
        </label>
        {rule.kind === 'contains' && (
          <label>
            Word <input value={rule.word} onChange={(e) => setRule({ kind: 'contains', word: e.target.value })} data-testid="dpo-rule-word" size={10} />
          </label>
        )}
        {rule.kind === 'avoids' && (
          <label>
            Character{' '}
            <input value={rule.char} maxLength={2} onChange={(e) => setRule({ kind: 'avoids', char: Array.from(e.target.value)[0] ?? '' })} data-testid="dpo-rule-char" size={2} />
          </label>
        )}
        <label>
          Prompts{' '}
          <select value={dpo.promptSource} onChange={(e) => setDpo({ promptSource: e.target.value as PromptSource })} data-testid="dpo-prompt-source">
            <option value="field">the prompt above</option>
            <option value="lines">starts of lines of the run's validation text</option>
          </select>
        </label>
      </div>
      <p className="tag" data-testid="dpo-rule-text">
        The rule {describeRule(rule)}; pairs it cannot tell apart are skipped.
      </p>
      <div className="row buttons">
        <NumField label="Pairs" value={dpo.ruleCount} step={1} min={1} max={500} onValue={(ruleCount) => setDpo({ ruleCount })} testId="dpo-rule-count" />
        <button onClick={() => void labelWithRule()} disabled={!loaded || writing !== null} data-testid="dpo-label">
          Label {Math.max(1, Math.floor(dpo.ruleCount))} pairs with the rule
        </button>
        {writing && writing.total > 1 && (
          <button onClick={stopLabelling} data-testid="dpo-label-stop">
            Stop
          </button>
        )}
      </div>
    </>
  );
}

function PairList() {
  const pairs = useFineTune((s) => s.pairs);
  const importError = useFineTune((s) => s.importError);
  const { editPair, deletePair, clearPairs, exportPairs, importPairs } = useFineTune((s) => s.actions);
  const [confirming, setConfirming] = useState(false);
  return (
    <>
      <h3>Preference pairs ({pairs.length})</h3>
      <div className="row buttons">
        <button onClick={exportPairs} disabled={pairs.length === 0} data-testid="dpo-export" title="TRL's format: one {prompt, chosen, rejected} object per line">
          Export JSONL
        </button>
        <label className="file-button">
          <span>Import JSONL</span>{' '}
          <input
            type="file"
            accept=".jsonl,.json,application/jsonl,text/plain"
            data-testid="dpo-import"
            onChange={(e) => {
              const file = e.target.files?.[0];
              e.target.value = '';
              if (file) void importPairs(file);
            }}
          />
        </label>
        {confirming ? (
          <span role="alert">
            Delete all {pairs.length} pairs?{' '}
            <button
              className="danger"
              onClick={() => {
                setConfirming(false);
                clearPairs();
              }}
              data-testid="dpo-clear-confirm"
            >
              Delete
            </button>{' '}
            <button onClick={() => setConfirming(false)}>Keep</button>
          </span>
        ) : (
          <button className="danger" disabled={pairs.length === 0} onClick={() => setConfirming(true)} data-testid="dpo-clear">
            Delete all…
          </button>
        )}
      </div>
      {importError && (
        <p className="bad" role="alert" data-testid="dpo-import-error">
          {importError}
        </p>
      )}
      {pairs.length === 0 ? (
        <p className="tag" data-testid="dpo-pairs" data-count={0}>
          No pairs yet.
        </p>
      ) : (
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Preference pairs">
          <table className="runs pairs" data-testid="dpo-pairs" data-count={pairs.length}>
            <thead>
              <tr>
                <th>#</th>
                <th>prompt</th>
                <th>chosen</th>
                <th>rejected</th>
                <th>labelled by</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {pairs.map((p, i) => (
                <tr key={p.id} data-testid="dpo-pair">
                  <td className="num">{i + 1}</td>
                  <td>
                    <textarea rows={1} value={p.prompt} onChange={(e) => editPair(p.id, { prompt: e.target.value })} aria-label={`Prompt of pair ${i + 1}`} data-testid="dpo-pair-prompt" />
                  </td>
                  <td>
                    <textarea rows={2} value={p.chosen} onChange={(e) => editPair(p.id, { chosen: e.target.value })} aria-label={`Chosen continuation of pair ${i + 1}`} data-testid="dpo-pair-chosen" />
                  </td>
                  <td>
                    <textarea rows={2} value={p.rejected} onChange={(e) => editPair(p.id, { rejected: e.target.value })} aria-label={`Rejected continuation of pair ${i + 1}`} data-testid="dpo-pair-rejected" />
                  </td>
                  <td className="tag" data-testid="dpo-pair-by">
                    {p.by ? (p.by.startsWith('imported') ? p.by : `the rule: it ${p.by}`) : 'you'}
                  </td>
                  <td>
                    <button onClick={() => deletePair(p.id)} aria-label={`Delete pair ${i + 1}`} data-testid="dpo-pair-delete">
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

const METRICS: { key: keyof DpoStats; label: string; testId: string }[] = [
  { key: 'loss', label: 'loss', testId: 'dpo-loss' },
  { key: 'rewardChosen', label: 'reward (chosen)', testId: 'dpo-reward-chosen' },
  { key: 'rewardRejected', label: 'reward (rejected)', testId: 'dpo-reward-rejected' },
  { key: 'margin', label: 'reward margin', testId: 'dpo-margin' },
  { key: 'accuracy', label: 'accuracy', testId: 'dpo-accuracy' },
];

function DpoCharts({ history }: { history: DpoStats[] }) {
  if (history.length === 0) return null;
  return (
    <div className="curves-beside" data-testid="dpo-chart" data-points={history.length}>
      <figure className="curve">
        <figcaption>Loss and accuracy</figcaption>
        <ResponsiveContainer width="100%" height={220}>
          <LineChart data={history} margin={{ top: 8, right: 16, bottom: 4, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
            <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} stroke="var(--muted)" />
            <YAxis domain={[0, 'auto']} stroke="var(--muted)" width={48} tickFormatter={(v: number) => v.toFixed(2)} />
            <Tooltip {...TOOLTIP_STYLE} formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))} />
            <Legend formatter={legendText} />
            <Line dataKey="loss" name="loss" stroke="var(--accent)" strokeWidth={2} dot={false} isAnimationActive={false} />
            <Line dataKey="accuracy" name="accuracy" stroke="var(--ok)" strokeWidth={2} dot={false} isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      </figure>
      <figure className="curve">
        <figcaption>Rewards β·(log π − log π_ref) and their margin</figcaption>
        <ResponsiveContainer width="100%" height={220}>
          <LineChart data={history} margin={{ top: 8, right: 16, bottom: 4, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
            <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} stroke="var(--muted)" />
            <YAxis domain={['auto', 'auto']} stroke="var(--muted)" width={48} tickFormatter={(v: number) => v.toFixed(2)} />
            <Tooltip {...TOOLTIP_STYLE} formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))} />
            <Legend formatter={legendText} />
            <Line dataKey="rewardChosen" name="chosen" stroke="var(--val)" strokeWidth={2} dot={false} isAnimationActive={false} />
            <Line dataKey="rewardRejected" name="rejected" stroke="var(--bad)" strokeWidth={2} dot={false} isAnimationActive={false} />
            <Line dataKey="margin" name="margin" stroke="var(--accent)" strokeWidth={2} dot={false} isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      </figure>
    </div>
  );
}

/** Step 0 (before any update) and the latest step, side by side. */
function DpoStatsTable({ history }: { history: DpoStats[] }) {
  const first = history[0];
  const latest = history.at(-1);
  const cell = (s: DpoStats | undefined, key: keyof DpoStats, testId: string) => {
    const v = s?.[key];
    return (
      <td className="num" data-testid={testId} data-value={v !== undefined && Number.isFinite(v) ? v : undefined}>
        {v === undefined ? '–' : v.toFixed(4)}
      </td>
    );
  };
  return (
    <table className="runs dpo-stats">
      <thead>
        <tr>
          <th />
          <th>
            first (step <span data-testid="dpo-first-step">{first?.step ?? '–'}</span>)
          </th>
          <th>
            latest (step{' '}
            <span data-testid="dpo-step" data-value={latest?.step}>
              {latest?.step ?? '–'}
            </span>
            )
          </th>
        </tr>
      </thead>
      <tbody>
        {METRICS.map((m) => (
          <tr key={m.key}>
            <th>{m.label}</th>
            {cell(first, m.key, m.testId.replace('dpo-', 'dpo-first-'))}
            {cell(latest, m.key, m.testId)}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function DpoRun() {
  const { dpo, pairs, run, compare, lora } = useFineTune(useShallow((s) => ({ dpo: s.dpo, pairs: s.pairs, run: s.dpoRun, compare: s.compare, lora: s.lora })));
  const loaded = useTraining((s) => s.loaded);
  const ready = useGpu((s) => s.phase === 'ready');
  const { setDpo, startDpo, stopDpo } = useFineTune((s) => s.actions);
  const problems = dpoProblems(dpo, pairs);
  const vocab = loaded ? pairsVocabularyProblem(pairs, loaded.vocab) : null;
  const running = run?.running ?? false;
  const canStart = ready && loaded !== null && problems.length === 0 && vocab === null && !running;
  const last = run?.history.at(-1);
  return (
    <>
      <h3>Train with DPO</h3>
      <div className="fields">
        <NumField label="beta" value={dpo.beta} onValue={(beta) => setDpo({ beta })} testId="dpo-beta" />
        <NumField label="Learning rate" value={dpo.learningRate} onValue={(learningRate) => setDpo({ learningRate })} testId="dpo-lr" />
        <NumField label="Steps" value={dpo.steps} step={1} min={1} onValue={(steps) => setDpo({ steps })} testId="dpo-steps" />
      </div>
      <div className="row" role="radiogroup" aria-label="What trains">
        <label>
          <input type="radio" name="dpo-target" checked={dpo.target === 'all'} onChange={() => setDpo({ target: 'all', learningRate: DPO_LR.all })} data-testid="dpo-target-all" /> all
          weights
        </label>
        <label>
          <input type="radio" name="dpo-target" checked={dpo.target === 'lora'} onChange={() => setDpo({ target: 'lora', learningRate: DPO_LR.lora })} data-testid="dpo-target-lora" />{' '}
          LoRA adapters (r = {lora.r}, lora_alpha = {lora.alpha}, on {blockModules(lora, loaded?.config).join(', ') || 'no module'}, from the LoRA section)
        </label>
      </div>
      <p className="tag">
        The open run as it is now is the frozen reference; the DPO run is a new run. Each step trains on the next pairs of the list (cycled).
      </p>
      {pairs.length > 0 &&
        problems.map((p) => (
          <p key={p} className="bad" data-testid="dpo-problem">
            {p}
          </p>
        ))}
      {vocab && (
        <p className="bad" role="alert" data-testid="dpo-vocab-problem">
          {vocab}
        </p>
      )}
      <div className="row buttons">
        <button className="primary" onClick={() => void startDpo()} disabled={!canStart} data-testid="dpo-start">
          Start DPO
        </button>
        <button onClick={() => void stopDpo()} disabled={!running} data-testid="dpo-stop">
          Stop
        </button>
      </div>
      {run && (
        <div data-testid="dpo-run" data-running={running} data-stopped={run.stopped}>
          <div className="progress-line">
            <progress max={run.steps || 1} value={last?.step ?? 0} aria-label="DPO progress" />
            <span data-testid="dpo-progress" data-step={last?.step ?? 0} data-steps={run.steps}>
              step {last?.step ?? 0} of {run.steps} · ETA {running ? formatEta(dpoEta(run)) : '–'}
              {!running && (run.stopped ? ' · stopped' : ' · done')}
            </span>
          </div>
          {run.message && (
            <p className="bad" role="alert" data-testid="dpo-run-message">
              {run.message}
            </p>
          )}
          <DpoStatsTable history={run.history} />
          <DpoCharts history={run.history} />
        </div>
      )}
      {compare && (
        <>
          <h3>Before and after</h3>
          <p className="tag">
            “<code>{show(compare.prompt)}</code>” continued with seed {compare.seed} and the Sampling tab's settings, by the reference and by the tuned model.
          </p>
          <div className="beside">
            <figure>
              <figcaption>Before (the reference)</figcaption>
              <pre className="generated small" tabIndex={0} role="region" aria-label="Before DPO" data-testid="dpo-before" data-ready={compare.before !== null}>
                {compare.before ?? '…'}
              </pre>
            </figure>
            <figure>
              <figcaption>After DPO</figcaption>
              <pre className="generated small" tabIndex={0} role="region" aria-label="After DPO" data-testid="dpo-after" data-ready={compare.after !== null}>
                {compare.after ?? (running ? 'Sampled when the run ends.' : '…')}
              </pre>
            </figure>
          </div>
        </>
      )}
    </>
  );
}

export function DpoSection() {
  const loaded = useTraining((s) => s.loaded !== null);
  const { dpo, writing, error, note } = useFineTune(useShallow((s) => ({ dpo: s.dpo, writing: s.writing, error: s.dpoError, note: s.dpoNote })));
  const { setDpo, writeContinuations } = useFineTune((s) => s.actions);
  return (
    <section className="panel" aria-label="DPO" data-testid="dpo-panel">
      <h2>DPO: tune to preferences</h2>
      {!loaded && (
        <p className="tag" data-testid="dpo-needs-run">
          DPO tunes a model you have: train a run on the Model &amp; training tab, or open one on the Runs tab. You can still edit and import pairs here.
        </p>
      )}
      <h3>Compare two continuations</h3>
      <label className="field">
        <span>Prompt</span>
        <textarea rows={2} value={dpo.prompt} onChange={(e) => setDpo({ prompt: e.target.value })} placeholder="Empty: continuations start after a newline." data-testid="dpo-prompt" />
      </label>
      <div className="row">
        <NumField label="Characters per continuation" value={dpo.length} step={1} min={1} max={500} onValue={(length) => setDpo({ length: Math.max(1, Math.min(500, Math.floor(length))) })} testId="dpo-length" />
        <label>
          <input type="checkbox" checked={dpo.stopAtNewline} onChange={(e) => setDpo({ stopAtNewline: e.target.checked })} data-testid="dpo-stop-newline" /> end each at its first newline (kept, as the end of a line)
        </label>
      </div>
      <div className="row buttons">
        <button className="primary" onClick={() => void writeContinuations()} disabled={!loaded || writing !== null} data-testid="dpo-write">
          Write two continuations
        </button>
        <span className="tag">With the Sampling tab's settings and two seeds derived from its seed.</span>
      </div>
      {writing && (
        <div className="progress-line" data-testid="dpo-writing">
          <progress max={writing.total} value={writing.done} aria-label="Writing continuations" />
          <span className="tag">
            {writing.total > 1 ? `pair ${writing.done} of ${writing.total}` : 'writing…'}
          </span>
        </div>
      )}
      <Candidates />
      <h3>Label with a rule</h3>
      <RuleFields />
      {error && (
        <p className="bad" role="alert" data-testid="dpo-error">
          {error}
        </p>
      )}
      {note && (
        <p className="tag" role="status" data-testid="dpo-note">
          {note}
        </p>
      )}
      <PairList />
      <DpoRun />
    </section>
  );
}
