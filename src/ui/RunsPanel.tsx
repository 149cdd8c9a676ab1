// Every run stored in this browser: a table with open, rename, delete and
// duplicate-with-changes, storage used and available, and a chart that
// overlays the loss curves of the selected runs.
import { useEffect, useState } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { formatBytes } from '../data/corpus';
import type { RunSummary } from '../engine/protocol';
import { useGpu } from './gpuStore';
import { formatEta } from './TrainingPanel';
import { useRuns, xOf, type CompareAxis } from './stores/runs';
import { useCheckpoints } from './stores/checkpoints';
import { useTraining } from './stores/training';
import { TOOLTIP_STYLE, legendText } from './chartStyle';

const COLOURS = ['#3b5bdb', '#e8590c', '#2b8a3e', '#ae3ec9', '#c92a2a', '#1098ad', '#f08c00', '#5c940d'];

const AXES: { id: CompareAxis; label: string }[] = [
  { id: 'steps', label: 'steps' },
  { id: 'tokens', label: 'tokens' },
  { id: 'time', label: 'wall time (s)' },
  { id: 'flops', label: 'training FLOPs (6 · parameters · tokens)' },
];

/** What the comparison plots: loss in nats per token, or bits per character (one axis for every tokenizer). */
export type CompareMetric = 'loss' | 'bpc';

/** A run's validation bits per character: the engine's figure, or loss / ln 2 for a character run saved before it was measured. */
export function runValBpc(run: Pick<RunSummary, 'valLoss' | 'valBpc'>): number | null {
  return run.valBpc ?? (run.valLoss === null ? null : run.valLoss / Math.LN2);
}

/** Bits per character per nat of training loss, from the run's last evaluation (its split's tokens per character / ln 2). */
function trainBpcScale(run: RunSummary): number {
  const e = [...run.evalHistory].reverse().find((p) => p.trainBpc !== undefined && p.trainLoss > 0);
  return e ? e.trainBpc! / e.trainLoss : 1 / Math.LN2;
}

function when(at: number): string {
  return new Date(at).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}

const loss = (x: number | null) => (x === null ? '–' : x.toFixed(3));

/** One run's train and validation curves on the chosen axis. */
function curves(run: RunSummary, axis: CompareAxis, metric: CompareMetric) {
  const scale = metric === 'bpc' ? trainBpcScale(run) : 1;
  const valY = (p: RunSummary['evalHistory'][number]) => (metric === 'bpc' ? (p.valBpc ?? p.valLoss / Math.LN2) : p.valLoss);
  const timeAt = new Map(run.lossHistory.map((p) => [p.step, p.time]));
  const train = run.lossHistory.flatMap((p) => {
    const x = xOf(run, p, axis);
    return x === null ? [] : [{ x, y: p.loss * scale }];
  });
  const val = run.evalHistory.flatMap((p) => {
    const x = p.step === 0 ? 0 : xOf(run, { step: p.step, time: timeAt.get(p.step) }, axis);
    return x === null ? [] : [{ x, y: valY(p) }];
  });
  return { train, val };
}

function CompareChart({ runs, axis, metric }: { runs: RunSummary[]; axis: CompareAxis; metric: CompareMetric }) {
  const series = runs.map((r) => ({ run: r, ...curves(r, axis, metric) }));
  return (
    <div data-testid="compare-chart" data-axis={axis} data-metric={metric} data-series={series.length}>
      <ul className="tag compare-legend" data-testid="compare-legend">
        {series.map(({ run, train, val }, i) => (
          <li
            key={run.id}
            data-run-id={run.id}
            data-name={run.name}
            data-points={train.length}
            data-val-points={val.length}
            data-first-x={train[0]?.x}
            data-last-x={train.at(-1)?.x}
            data-last-val={val.at(-1)?.y}
            style={{ color: COLOURS[i % COLOURS.length] }}
          >
            {run.name}: {train.length} training and {val.length} validation points
            {axis === 'time' && train.length === 0 && ' (this run was saved before wall time was recorded)'}
          </li>
        ))}
      </ul>
      <ResponsiveContainer width="100%" height={300}>
        <LineChart margin={{ top: 8, right: 16, bottom: 4, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
          <XAxis dataKey="x" type="number" domain={['dataMin', 'dataMax']} stroke="var(--muted)" allowDuplicatedCategory={false} />
          <YAxis
            domain={['auto', 'auto']}
            stroke="var(--muted)"
            width={48}
            tickFormatter={(v: number) => v.toFixed(2)}
            label={{ value: metric === 'bpc' ? 'bits per character' : 'loss (nats per token)', angle: -90, position: 'insideLeft', fill: 'var(--muted)' }}
          />
          <Tooltip {...TOOLTIP_STYLE} formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))} />
          <Legend formatter={legendText} />
          {series.map(({ run, train }, i) => (
            <Line key={`${run.id}-t`} data={train} dataKey="y" name={`${run.name} (train)`} stroke={COLOURS[i % COLOURS.length]} dot={false} isAnimationActive={false} />
          ))}
          {series.map(({ run, val }, i) => (
            <Line
              key={`${run.id}-v`}
              data={val}
              dataKey="y"
              name={`${run.name} (validation)`}
              stroke={COLOURS[i % COLOURS.length]}
              strokeDasharray="4 3"
              dot={{ r: 2 }}
              isAnimationActive={false}
            />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}

function RunRow({ run, open, onOpened }: { run: RunSummary; open: boolean; onOpened: (where: 'train') => void }) {
  const selected = useRuns((s) => s.selected.includes(run.id));
  const busy = useRuns((s) => s.busy);
  const actions = useRuns((s) => s.actions);
  const elsewhere = useRuns((s) => s.elsewhere.includes(run.id));
  const [editing, setEditing] = useState<string | null>(null);
  const [notes, setNotes] = useState(run.notes);
  const [confirming, setConfirming] = useState(false);
  return (
    <tr data-testid="run-row" data-run-id={run.id} data-name={run.name} data-step={run.step} data-open={open} data-elsewhere={elsewhere}>
      <td>
        <input type="checkbox" checked={selected} onChange={() => actions.toggleSelected(run.id)} aria-label={`Compare ${run.name}`} data-testid="run-select" />
      </td>
      <td>
        {editing === null ? (
          <>
            <span data-testid="run-name">{run.name}</span>
            {run.notes && (
              <span className="tag run-notes" data-testid="run-notes">
                <br />
                {run.notes}
              </span>
            )}
          </>
        ) : (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void actions.rename(run.id, editing, notes).then((ok) => ok && setEditing(null));
            }}
          >
            <input value={editing} onChange={(e) => setEditing(e.target.value)} aria-label="New name" data-testid="run-rename-input" autoFocus />
            <textarea rows={2} value={notes} onChange={(e) => setNotes(e.target.value)} aria-label="Notes" placeholder="Notes" data-testid="run-notes-input" />
            <button type="submit" data-testid="run-rename-save">
              Save
            </button>
            <button type="button" onClick={() => setEditing(null)}>
              Cancel
            </button>
          </form>
        )}
        {open && <span className="tag"> (open)</span>}
        {elsewhere && (
          <span className="tag" data-testid="run-elsewhere">
            {' '}
            (open in another tab, which trains it)
          </span>
        )}
        {run.fineTune?.dpo && (
          <span className="tag" data-testid="run-dpo" data-loss={run.fineTune.dpo.loss} data-margin={run.fineTune.dpo.margin} data-accuracy={run.fineTune.dpo.accuracy}>
            <br />
            DPO step {run.fineTune.dpo.step}: loss {run.fineTune.dpo.loss.toFixed(4)}, margin {run.fineTune.dpo.margin.toFixed(4)}, accuracy{' '}
            {Math.round(100 * run.fineTune.dpo.accuracy)}% (train loss is the DPO loss)
          </span>
        )}
      </td>
      <td>{run.preset || 'custom'}</td>
      <td data-testid="run-corpus" data-tokenizer={run.tokenizer ?? 'char'}>
        {run.corpusName}
        {run.tokenizer && <span className="tag"> ({run.tokenizer === 'bpe' ? 'BPE' : run.tokenizer} tokens)</span>}
      </td>
      <td className="num">{run.step.toLocaleString('en-US')}</td>
      <td className="num">{loss(run.trainLoss)}</td>
      <td className="num">{loss(run.valLoss)}</td>
      <td className="num" data-testid="run-val-bpc" data-value={runValBpc(run) ?? undefined}>
        {runValBpc(run)?.toFixed(3) ?? '–'}
      </td>
      <td className="num">{run.wallMs > 0 ? formatEta(run.wallMs / 1000) : '–'}</td>
      <td className="num">{run.tokensPerSec > 0 ? Math.round(run.tokensPerSec).toLocaleString('en-US') : '–'}</td>
      <td>{when(run.savedAt)}</td>
      <td className="num">{formatBytes(run.bytes)}</td>
      <td className="actions">
        <button onClick={() => void actions.open(run.id).then((ok) => ok && onOpened('train'))} disabled={busy} data-testid="run-open">
          Open
        </button>
        <button
          onClick={() => {
            setEditing(run.name);
            setNotes(run.notes);
          }}
          disabled={editing !== null}
          data-testid="run-rename"
        >
          Rename / notes
        </button>
        <button onClick={() => void actions.duplicate(run.id).then((ok) => ok && onOpened('train'))} disabled={busy} data-testid="run-duplicate">
          Duplicate with changes
        </button>
        <button
          onClick={() => void actions.compareOtherBlock(run.id)}
          disabled={busy}
          data-testid="run-compare-block"
          title={`A new run with the ${run.model.block === 'llama' ? 'GPT-2' : 'LLaMA'} block at nearly the same parameter count, overlaid with this one`}
        >
          Compare with the other block
        </button>
        {confirming ? (
          <span role="alert">
            Delete “{run.name}” and its checkpoint?{' '}
            <button className="danger" onClick={() => void actions.remove(run.id)} data-testid="run-delete-confirm">
              Delete
            </button>{' '}
            <button onClick={() => setConfirming(false)}>Keep</button>
          </span>
        ) : (
          <button
            onClick={() => setConfirming(true)}
            disabled={open || elsewhere}
            title={open ? 'This run is open: open or start another run first.' : elsewhere ? 'Another tab has this run open: close it there first.' : undefined}
            data-testid="run-delete"
          >
            Delete…
          </button>
        )}
      </td>
    </tr>
  );
}

export function RunsPanel({ onNavigate }: { onNavigate: (tab: 'train') => void }) {
  const { runs, openId, storage, selected, axis, error, note } = useRuns();
  const { refresh, setAxis } = useRuns((s) => s.actions);
  const [metric, setMetric] = useState<CompareMetric>('loss');
  const ready = useGpu((s) => s.phase === 'ready');
  const saved = useCheckpoints((s) => s.last?.at);
  const state = useTraining((s) => s.state);

  // Fresh whenever the panel opens, and as the open run saves checkpoints.
  useEffect(() => {
    if (ready) void refresh();
  }, [ready, refresh, saved, state]);

  const compared = runs.filter((r) => selected.includes(r.id));
  const full = storage !== null && storage.quota > 0 && storage.usage / storage.quota > 0.9;
  return (
    <section className="panel" aria-label="Runs" data-testid="runs-panel" data-runs={runs.length}>
      <h2>Runs</h2>
      <p className={full ? 'bad' : 'tag'} data-testid="storage-estimate" data-usage={storage?.usage} data-quota={storage?.quota}>
        {storage
          ? `This site uses ${formatBytes(storage.usage)} of the ${formatBytes(storage.quota)} the browser allows it.` +
            (full ? ' Storage is almost full: delete runs you no longer need (the largest are listed by size below), or export them first.' : '')
          : 'The browser does not say how much storage this site may use.'}
      </p>
      {error && (
        <p role="alert" className="bad" data-testid="runs-error">
          {error}
        </p>
      )}
      {note && (
        <p className="tag" data-testid="runs-note">
          {note}
        </p>
      )}
      {runs.length === 0 ? (
        <p className="tag">No runs yet: every run you train is kept here, with its checkpoint, until you delete it.</p>
      ) : (
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Stored runs">
          <table className="runs" data-testid="runs-table">
            <thead>
              <tr>
                <th title="Compare">⇄</th>
                <th>name</th>
                <th>preset</th>
                <th>corpus</th>
                <th>steps</th>
                <th>train loss</th>
                <th>val loss</th>
                <th title="Validation loss in bits per character: the split's total loss in bits over its characters (loss / ln 2 for a character run), comparable across tokenizers">val bits/char</th>
                <th>wall time</th>
                <th>tokens/s</th>
                <th>saved</th>
                <th>size</th>
                <th>
                  <span className="sr-only">actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <RunRow key={r.id} run={r} open={r.id === openId} onOpened={onNavigate} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h3>Compare</h3>
      <div className="row">
        <label>
          plot{' '}
          <select value={metric} onChange={(e) => setMetric(e.target.value as CompareMetric)} data-testid="compare-metric">
            <option value="loss">loss (nats per token)</option>
            <option value="bpc">bits per character</option>
          </select>
        </label>
      </div>
      <div className="row">
        <span>x axis:</span>
        {AXES.map((a) => (
          <label key={a.id}>
            <input type="radio" name="compare-axis" checked={axis === a.id} onChange={() => setAxis(a.id)} data-testid={`compare-axis-${a.id}`} /> {a.label}
          </label>
        ))}
      </div>
      {compared.length === 0 ? (
        <p className="tag">Tick runs in the table to overlay their loss curves.</p>
      ) : (
        <CompareChart runs={compared} axis={axis} metric={metric} />
      )}
    </section>
  );
}
