import { Explain } from './insightsText';
import { CartesianGrid, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { HEALTH_INTERVAL, type HealthStats } from '../engine/protocol';
import { useInsights } from './stores/insights';
import { TOOLTIP_STYLE } from './chartStyle';

/** The common rule of thumb for ||lr * update|| / ||w|| per step. */
const RULE_OF_THUMB = 1e-3;
const COLOURS = ['#3b5bdb', '#e8590c', '#2f9e44', '#ae3ec9', '#f08c00', '#1098ad', '#c2255c', '#5c940d', '#862e9c', '#d9480f', '#0b7285', '#495057'];

/** Embeddings, each block, and the final LayerNorm / head: the small multiples' groups. */
function groupOf(name: string): string {
  const m = /^transformer\.h\.(\d+)\./.exec(name);
  if (m) return `block ${Number(m[1]) + 1}`;
  return name.startsWith('transformer.w') ? 'embeddings' : 'final';
}

function shortName(name: string): string {
  return name.replace(/^transformer\.h\.\d+\./, '').replace(/^transformer\./, '');
}

const tick = (v: number) => v.toExponential(0);

function SmallChart({ history, idx, field, title, reference }: { history: HealthStats[]; idx: number[]; field: 'gradNorm' | 'updateRatio'; title: string; reference?: number }) {
  const names = history[history.length - 1].names;
  const data = history.map((h) => {
    const row: Record<string, number> = { step: h.step };
    for (const i of idx) if (Number.isFinite(h[field][i]) && h[field][i] > 0) row[shortName(names[i])] = h[field][i];
    return row;
  });
  return (
    <div className="health-chart">
      <div className="tag">{title}</div>
      <ResponsiveContainer width="100%" height={150}>
        <LineChart data={data} margin={{ top: 4, right: 8, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
          <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} stroke="var(--muted)" fontSize={10} />
          <YAxis scale="log" domain={['auto', 'auto']} allowDataOverflow stroke="var(--muted)" width={44} fontSize={10} tickFormatter={tick} />
          <Tooltip {...TOOLTIP_STYLE} contentStyle={{ ...TOOLTIP_STYLE.contentStyle, fontSize: 11 }} formatter={(v) => (typeof v === 'number' ? v.toExponential(2) : String(v))} />
          {reference !== undefined && <ReferenceLine y={reference} stroke="var(--val)" strokeDasharray="4 2" label={{ value: '1e-3', fontSize: 10, fill: 'var(--muted)' }} />}
          {idx.map((i, k) => (
            <Line key={i} dataKey={shortName(names[i])} stroke={COLOURS[k % COLOURS.length]} dot={false} isAnimationActive={false} connectNulls />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}

/** Per-layer gradient norms and update-to-weight ratios while training, as small multiples. */
export function HealthPanel() {
  const history = useInsights((s) => s.health);
  const last = history[history.length - 1];
  const groups = new Map<string, number[]>();
  last?.names.forEach((n, i) => groups.set(groupOf(n), [...(groups.get(groupOf(n)) ?? []), i]));
  return (
    <div data-testid="health" data-readings={history.length} data-groups={groups.size} data-last-step={last?.step}>
      <h3>Training health</h3>
      <Explain view="health" />
      <p className="tag">
        Every {HEALTH_INTERVAL} steps, measured on the GPU: the gradient norm of each parameter tensor (before clipping) and its update-to-weight ratio
        ‖lr · update‖ / ‖w‖, with the common rule of thumb of about 1e-3 drawn. Far below, the layer barely learns; far above, it may be unstable.
      </p>
      {!last ? (
        <p className="tag">The readings appear once training runs.</p>
      ) : (
        <div className="health-grid">
          {[...groups].map(([g, idx]) => (
            <div key={g} className="health-group" data-testid={`health-group-${g.replace(' ', '-')}`}>
              <strong>{g}</strong>
              <SmallChart history={history} idx={idx} field="updateRatio" title="update / weight" reference={RULE_OF_THUMB} />
              <SmallChart history={history} idx={idx} field="gradNorm" title="gradient norm" />
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
