// Find the circuit: the ablation grid (change in validation loss with each head
// alone ablated), live head ablations for sampling and the attention views,
// direct logit attribution as bars with their sum against the real logit, and
// an activation-patching heatmap. Every number is the engine's (src/engine/jobs/circuits.ts).
import { useShallow } from 'zustand/react/shallow';
import type { CircuitsResult } from '../../engine/protocol';
import { useCircuits } from '../stores/circuits';
import { useTraining } from '../stores/training';

type Result<W extends CircuitsResult['what']> = Extract<CircuitsResult, { what: W }>;

const fmt = (v: number, d = 3) => (v >= 0 ? '+' : '') + v.toFixed(d);

/** Blue (negative) to white to red (positive), `v` scaled by `max`. */
function diverging(v: number, max: number): string {
  const a = Math.min(1, Math.abs(v) / (max || 1));
  return v >= 0 ? `rgba(224, 49, 49, ${(0.75 * a).toFixed(3)})` : `rgba(28, 100, 242, ${(0.75 * a).toFixed(3)})`;
}

function ErrorLine({ where }: { where: string }) {
  const error = useCircuits((s) => s.error);
  if (!error || error.where !== where) return null;
  return (
    <p className="bad" role="alert" data-testid={`circuits-error-${where}`}>
      {error.message}
    </p>
  );
}

function GridTable({ g, live, toggle }: { g: Result<'grid'>; live: string[]; toggle: (l: number, h: number) => void }) {
  const max = Math.max(1e-9, ...Array.from(g.deltas, Math.abs));
  let top = 0;
  g.deltas.forEach((v, i) => { if (v > g.deltas[top]) top = i; });
  const [tl, th] = [Math.floor(top / g.H), top % g.H];
  return (
    <>
      <p className="tag" data-testid="grid-summary" data-clean={g.clean} data-top-layer={tl} data-top-head={th} data-top-delta={g.deltas[top]}>
        Step {g.step}, {g.mode}-ablation, clean validation loss {g.clean.toFixed(4)}. The grid singles out layer {tl} head {th}: ablating it alone changes the loss by{' '}
        {fmt(g.deltas[top])}.
      </p>
      <table className="lens" data-testid="ablation-grid" data-mode={g.mode}>
        <thead>
          <tr>
            <th>layer \ head</th>
            {Array.from({ length: g.H }, (_, h) => <th key={h}>H{h}</th>)}
          </tr>
        </thead>
        <tbody>
          {Array.from({ length: g.L }, (_, l) => (
            <tr key={l}>
              <th>L{l}</th>
              {Array.from({ length: g.H }, (_, h) => {
                const v = g.deltas[l * g.H + h];
                return (
                  <td key={h} style={{ background: diverging(v, max) }} data-testid={`grid-cell-${l}-${h}`} data-delta={v}>
                    {fmt(v)}
                    <label className="tag">
                      {' '}
                      <input type="checkbox" checked={live.includes(`${l}.${h}`)} onChange={() => toggle(l, h)} data-testid={`live-${l}-${h}`} aria-label={`Ablate layer ${l} head ${h} live`} />
                      off
                    </label>
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function AttributionBars({ a }: { a: Result<'attribution'> }) {
  const max = Math.max(1e-9, ...a.contributions.map(Math.abs));
  const pos = a.contributions.reduce((s, v) => s + Math.max(0, v), 0);
  const neg = a.contributions.reduce((s, v) => s + Math.max(0, -v), 0);
  const span = pos + neg || 1;
  return (
    <div data-testid="dla" data-sum={a.sum} data-logit={a.logit} data-difference={a.difference} data-norm-bias={a.normBias}>
      <p className="tag" data-testid="dla-summary">
        Step {a.step}, position {a.pos} ({JSON.stringify(a.tokens[a.pos])}). Sum of the contributions {a.sum.toFixed(4)}; the real logit {a.logit.toFixed(4)}; difference{' '}
        {a.difference.toFixed(4)} (the final norm's bias term is {a.normBias.toFixed(4)}; the rest is float32 rounding).
      </p>
      <div className="dla-stack" aria-label="Contributions stacked: positive to the right of the split, negative to the left" style={{ display: 'flex', height: 14, width: '100%' }}>
        {a.contributions.map((v, i) => (v < 0 ? <span key={`n${i}`} title={`${a.names[i]} ${fmt(v)}`} style={{ width: `${(100 * -v) / span}%`, background: diverging(v, max), outline: '1px solid #fff' }} /> : null))}
        <span style={{ width: 2, background: '#000' }} />
        {a.contributions.map((v, i) => (v >= 0 ? <span key={`p${i}`} title={`${a.names[i]} ${fmt(v)}`} style={{ width: `${(100 * v) / span}%`, background: diverging(v, max), outline: '1px solid #fff' }} /> : null))}
      </div>
      <table className="lens">
        <tbody>
          {a.names.map((n, i) => (
            <tr key={n} data-testid={`dla-bar-${n}`} data-value={a.contributions[i]}>
              <th>{n}</th>
              <td style={{ width: 240 }}>
                <div style={{ marginLeft: a.contributions[i] < 0 ? `${50 - (50 * -a.contributions[i]) / max}%` : '50%', width: `${(50 * Math.abs(a.contributions[i])) / max}%`, height: 10, background: diverging(a.contributions[i], max) }} />
              </td>
              <td>{fmt(a.contributions[i], 4)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function PatchingHeatmap({ p }: { p: Result<'patching'> }) {
  const rows: Array<{ label: string; values: number[]; id: string }> = [];
  for (let l = 0; l <= p.L; l++) rows.push({ label: l < p.L ? `resid_pre ${l}` : 'final resid', id: `resid-${l}`, values: Array.from({ length: p.T }, (_, t) => p.resid[l * p.T + t]) });
  for (let l = 0; l < p.L; l++) {
    for (let h = 0; h < p.H; h++) rows.push({ label: `L${l}.H${h}`, id: `head-${l}-${h}`, values: Array.from({ length: p.T }, (_, t) => p.heads[(t * p.L + l) * p.H + h]) });
  }
  return (
    <div data-testid="patching" data-clean={p.clean} data-corrupted={p.corrupted}>
      <p className="tag">
        Step {p.step}. Logit difference at the last position: clean {p.clean.toFixed(4)}, corrupted {p.corrupted.toFixed(4)}. Each cell: the fraction of that difference restored by
        copying one activation at one position from the clean run into the corrupted one (1 = all of it).
      </p>
      <div className="lens-scroll">
        <table className="lens">
          <thead>
            <tr>
              <th />
              {p.tokens.map((ch, t) => <th key={t} title={`corrupted: ${JSON.stringify(p.corruptedTokens[t])}`}>{t}:{JSON.stringify(ch)}</th>)}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id}>
                <th>{r.label}</th>
                {r.values.map((v, t) => (
                  <td key={t} style={{ background: diverging(v, 1) }} data-testid={`patch-${r.id}-${t}`} data-restored={v}>
                    {v.toFixed(2)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

export function CircuitsSection() {
  const st = useCircuits(useShallow((s) => ({ mode: s.mode, grid: s.grid, attribution: s.attribution, patching: s.patching, dla: s.dla, patch: s.patch, live: s.live, note: s.note, busy: s.busy })));
  const a = useCircuits((s) => s.actions);
  const loaded = useTraining((s) => s.loaded !== null);
  const off = !loaded || st.busy !== null;
  return (
    <div data-testid="circuits">
      <h3>Circuits: ablation, attribution, patching</h3>
      <p className="tag">
        Interventions on the weights as they are now. Ablation sets a head's output (its slice of the attention output before the output projection) to zero or to its mean
        over the batch's positions. Training never runs ablated. Layers and heads count from 0 here, as in TransformerLens (the head roles above count from 1).
      </p>
      <div className="row">
        <label>
          Ablation{' '}
          <select value={st.mode} onChange={(e) => a.setMode(e.target.value as 'zero' | 'mean')} data-testid="grid-mode">
            <option value="zero">zero</option>
            <option value="mean">mean</option>
          </select>
        </label>
        <button onClick={() => void a.run('grid')} disabled={off} data-testid="grid-run">
          {st.busy === 'grid' ? 'Ablating…' : 'Ablation grid'}
        </button>
        {st.live.length > 0 && (
          <button onClick={() => void a.clearLive()} disabled={off} data-testid="live-clear">
            Switch all heads back on
          </button>
        )}
      </div>
      <ErrorLine where="grid" />
      <ErrorLine where="live" />
      {st.note && <p className="tag" role="status" data-testid="live-note">{st.note}</p>}
      <p className="tag" data-testid="live-status" data-live={st.live.join(' ')}>
        {st.live.length ? `Live: heads ${st.live.map((k) => `L${k.replace('.', '.H')}`).join(', ')} are zero-ablated in sampling and the attention views.` : 'No head is ablated live.'}
      </p>
      {st.grid && <GridTable g={st.grid} live={st.live} toggle={(l, h) => void a.toggleLive(l, h)} />}

      <h4>Direct logit attribution</h4>
      <div className="row">
        <label className="grow">Prompt <input className="wide" value={st.dla.text} onChange={(e) => a.setDla({ text: e.target.value })} data-testid="dla-text" /></label>
        <label>Position <input size={4} value={st.dla.pos} placeholder="last" onChange={(e) => a.setDla({ pos: e.target.value })} data-testid="dla-pos" /></label>
        <label>Target <input size={3} value={st.dla.target} onChange={(e) => a.setDla({ target: e.target.value })} data-testid="dla-target" /></label>
        <label>minus <input size={3} value={st.dla.other} placeholder="(none)" onChange={(e) => a.setDla({ other: e.target.value })} data-testid="dla-other" /></label>
        <button onClick={() => void a.run('attribution')} disabled={off} data-testid="dla-run">{st.busy === 'attribution' ? 'Attributing…' : 'Attribute'}</button>
      </div>
      <ErrorLine where="attribution" />
      {st.attribution && <AttributionBars a={st.attribution} />}

      <h4>Activation patching</h4>
      <div className="row">
        <label className="grow">Clean <input className="wide" value={st.patch.clean} onChange={(e) => a.setPatch({ clean: e.target.value })} data-testid="patch-clean" /></label>
        <label className="grow">Corrupted <input className="wide" value={st.patch.corrupted} onChange={(e) => a.setPatch({ corrupted: e.target.value })} data-testid="patch-corrupted" /></label>
        <label>Target <input size={3} value={st.patch.target} onChange={(e) => a.setPatch({ target: e.target.value })} data-testid="patch-target" /></label>
        <label>Other <input size={3} value={st.patch.other} onChange={(e) => a.setPatch({ other: e.target.value })} data-testid="patch-other" /></label>
        <button onClick={() => void a.run('patching')} disabled={off} data-testid="patch-run">{st.busy === 'patching' ? 'Patching…' : 'Patch'}</button>
      </div>
      <ErrorLine where="patching" />
      {st.patching && <PatchingHeatmap p={st.patching} />}
    </div>
  );
}
