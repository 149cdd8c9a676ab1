// Anthropic's in-context-learning score over training: the mean loss at a late
// position minus at an early one on validation windows (negative when the
// context helps), one point per timeline snapshot.
import { CartesianGrid, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { Insights } from '../../engine/protocol';
import { TOOLTIP_STYLE } from '../chartStyle';

export function IclChart({ timeline, step }: { timeline: Insights[]; step: number | null }) {
  const points = timeline.filter((s) => s.icl).map((s) => ({ step: s.step, icl: s.icl!.score }));
  if (!points.length) return null;
  const last = timeline.filter((s) => s.icl).at(-1)!.icl!;
  return (
    <div data-testid="icl-chart" data-steps={JSON.stringify(points.map((p) => p.step))} data-values={JSON.stringify(points.map((p) => p.icl))}>
      <h3>In-context learning score over training</h3>
      <p className="tag">
        Mean loss at position {last.late} minus at position {last.early} (nats), over {last.windows} validation windows: below zero the model predicts better late in the
        context than early, so it uses the context. Latest: {last.score.toFixed(3)}.
      </p>
      <ResponsiveContainer width="100%" height={160}>
        <LineChart data={points} margin={{ top: 8, right: 16, bottom: 4, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
          <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} stroke="var(--muted)" />
          <YAxis stroke="var(--muted)" width={48} tickFormatter={(v: number) => v.toFixed(1)} />
          <Tooltip {...TOOLTIP_STYLE} formatter={(v) => (typeof v === 'number' ? v.toFixed(3) : String(v))} />
          <ReferenceLine y={0} stroke="var(--muted)" />
          {step !== null && <ReferenceLine x={step} stroke="var(--muted)" strokeDasharray="4 2" />}
          <Line dataKey="icl" name="ICL score" stroke="#c2255c" dot={{ r: 2 }} isAnimationActive={false} />
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}
