// Anthropic's two scores over training on one chart with the training loss:
// the in-context-learning score (the mean loss at a late position minus at an
// early one on validation windows; negative when the context helps) and the
// highest prefix-matching score of any head, one point per timeline snapshot,
// over the smoothed training loss of every step (where an induction head forms,
// the loss bumps down as the prefix-matching score rises).
import { CartesianGrid, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { Insights } from '../../engine/protocol';
import { TOOLTIP_STYLE } from '../chartStyle';
import { downsample, smooth, trainingSeries } from '../training/series';

/** Loss points drawn (the per-step curve, smoothed then bucketed). */
const LOSS_POINTS = 200;

/** The highest prefix-matching score over the snapshot's heads, or null when it has none. */
export function bestPrefixMatching(s: Insights): number | null {
  if (!s.inductionLength) return null;
  let best = -Infinity;
  for (let i = 3; i < s.heads.length; i += 4) if (Number.isFinite(s.heads[i])) best = Math.max(best, s.heads[i]);
  return Number.isFinite(best) ? best : null;
}

interface Point {
  step: number;
  icl?: number;
  prefix?: number;
  loss?: number;
}

export function IclChart({ timeline, step }: { timeline: Insights[]; step: number | null }) {
  const snaps = timeline.filter((s) => s.icl);
  if (!snaps.length) return null;
  const last = snaps.at(-1)!.icl!;
  const prefix = snaps.map(bestPrefixMatching);
  const byStep = new Map<number, Point>();
  snaps.forEach((s, i) => byStep.set(s.step, { step: s.step, icl: s.icl!.score, ...(prefix[i] !== null ? { prefix: prefix[i]! } : {}) }));
  // The training loss up to the last snapshot (the timeline may be scrubbed back or reopened without a curve).
  const end = snaps.at(-1)!.step;
  let n = trainingSeries.steps.length;
  while (n > 0 && trainingSeries.steps[n - 1] > end) n--;
  const loss = downsample(trainingSeries.steps.slice(0, n), smooth(trainingSeries.losses.slice(0, n), 0.9), LOSS_POINTS);
  loss.x.forEach((x, i) => byStep.set(x, { ...(byStep.get(x) ?? { step: x }), loss: loss.y[i] }));
  const points = [...byStep.values()].sort((a, b) => a.step - b.step);
  return (
    <div
      data-testid="icl-chart"
      data-steps={JSON.stringify(snaps.map((s) => s.step))}
      data-values={JSON.stringify(snaps.map((s) => s.icl!.score))}
      data-prefix-max={JSON.stringify(prefix)}
      data-loss-points={loss.x.length}
    >
      <h3>Loss, in-context learning and prefix matching over training</h3>
      <p className="tag">
        In-context learning score: mean loss at position {last.late} minus at position {last.early} (nats), over {last.windows} validation windows; below zero the model
        predicts better late in the context than early, so it uses the context. Latest: {last.score.toFixed(3)}. Prefix matching (right axis): the highest score of any
        head; an induction head scores near 1, and the training loss (smoothed) drops as it forms.
      </p>
      <ResponsiveContainer width="100%" height={200}>
        <LineChart data={points} margin={{ top: 8, right: 8, bottom: 4, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
          <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} stroke="var(--muted)" />
          <YAxis yAxisId="nats" stroke="var(--muted)" width={48} tickFormatter={(v: number) => v.toFixed(1)} />
          <YAxis yAxisId="score" orientation="right" domain={[0, 1]} stroke="var(--muted)" width={40} tickFormatter={(v: number) => v.toFixed(1)} />
          <Tooltip {...TOOLTIP_STYLE} formatter={(v) => (typeof v === 'number' ? v.toFixed(3) : String(v))} />
          <Legend />
          <ReferenceLine yAxisId="nats" y={0} stroke="var(--muted)" />
          {step !== null && <ReferenceLine yAxisId="nats" x={step} stroke="var(--muted)" strokeDasharray="4 2" />}
          {loss.x.length > 0 && <Line yAxisId="nats" dataKey="loss" name="training loss" stroke="#1c7ed6" dot={false} connectNulls isAnimationActive={false} />}
          <Line yAxisId="nats" dataKey="icl" name="ICL score" stroke="#c2255c" dot={{ r: 2 }} connectNulls isAnimationActive={false} />
          <Line yAxisId="score" dataKey="prefix" name="best prefix matching" stroke="#2b8a3e" dot={{ r: 2 }} connectNulls isAnimationActive={false} />
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}
