import { useEffect, useRef, useState } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { EvalStats } from '../../engine/protocol';
import { trainingSeries } from './series';

const REDRAW_MS = 250;

interface Point {
  step: number;
  exact: number;
  perChar: number;
  val: number;
}

function points(evals: EvalStats[]): Point[] {
  return evals.filter((e) => e.toy).map((e) => ({ step: e.step, exact: e.toy!.exact, perChar: e.toy!.perChar, val: e.valLoss }));
}

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;

/**
 * A toy task's held-out accuracy at every evaluation (greedy completions:
 * exact match and per character, left axis) with the validation loss (right
 * axis), so a drop in the loss can be read against what the model now gets
 * right. Shown only for runs that report it.
 */
export function ToyAccuracyChart() {
  const [data, setData] = useState<Point[]>(() => points(trainingSeries.evals));
  const drawn = useRef(-1);

  useEffect(() => {
    const tick = () => {
      if (drawn.current === trainingSeries.version) return;
      drawn.current = trainingSeries.version;
      setData(points(trainingSeries.evals));
    };
    tick();
    const timer = setInterval(tick, REDRAW_MS);
    return () => clearInterval(timer);
  }, []);

  if (data.length === 0) return null;
  const first = data[0];
  const last = data[data.length - 1];
  const examples = trainingSeries.evals[trainingSeries.evals.length - 1]?.toy?.examples ?? 0;
  return (
    <section className="panel" aria-label="Held-out accuracy" data-testid="toy-accuracy-chart">
      <h2>Held-out accuracy</h2>
      <p
        className="tag"
        data-testid="toy-accuracy"
        data-points={data.length}
        data-step={last.step}
        data-exact={last.exact}
        data-per-char={last.perChar}
        data-first-step={first.step}
        data-first-exact={first.exact}
        data-first-per-char={first.perChar}
      >
        Step {last.step}: <strong>{percent(last.exact)}</strong> of {examples} held-out examples completed exactly (greedy),{' '}
        <strong>{percent(last.perChar)}</strong> of their answer characters right; at step {first.step}: {percent(first.exact)} and {percent(first.perChar)}.
      </p>
      <div className="chart">
        <ResponsiveContainer width="100%" height={200}>
          <LineChart data={data} margin={{ top: 8, right: 8, bottom: 4, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
            <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} stroke="var(--muted)" />
            <YAxis yAxisId="acc" domain={[0, 1]} stroke="var(--muted)" width={48} tickFormatter={(v: number) => `${Math.round(100 * v)}%`} />
            <YAxis yAxisId="loss" orientation="right" domain={['auto', 'auto']} stroke="var(--val)" width={44} tickFormatter={(v: number) => v.toFixed(2)} />
            <Tooltip
              contentStyle={{ background: 'var(--panel)', border: '1px solid var(--border)' }}
              formatter={(v, name) => (typeof v !== 'number' ? String(v) : name === 'validation loss' ? v.toFixed(4) : percent(v))}
            />
            <Legend />
            <Line yAxisId="acc" dataKey="exact" name="exact match" stroke="var(--accent)" strokeWidth={2} dot={{ r: 3 }} isAnimationActive={false} />
            <Line yAxisId="acc" dataKey="perChar" name="per character" stroke="var(--accent)" strokeDasharray="4 3" dot={false} isAnimationActive={false} />
            <Line yAxisId="loss" dataKey="val" name="validation loss" stroke="var(--val)" dot={false} isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      </div>
    </section>
  );
}
