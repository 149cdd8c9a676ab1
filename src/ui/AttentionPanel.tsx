import { useEffect, useRef, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useData } from './stores/data';
import { defaultAttentionPrompt, useInspect, type AttentionMaps } from './stores/inspect';
import { useSetup } from './stores/setup';
import { useTraining } from './stores/training';
import { showWhitespace } from './tokenizer/spans';
import { LoraStrength } from './finetune/LoraStrength';

declare global {
  interface Window {
    /** The matrix the attention canvas drew last, for tests and the curious. */
    __attention?: { step: number; layer: number; head: number; T: number; tokens: string[]; matrix: number[][] };
  }
}

// Viridis, sampled: a perceptually even scale that reads in dark and light themes.
const STOPS = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

function rgb(x: number): number[] {
  const t = Math.max(0, Math.min(1, x)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(t));
  const f = t - i;
  return STOPS[i].map((a, j) => Math.round(a + (STOPS[i + 1][j] - a) * f));
}

export function colour(x: number): string {
  const c = rgb(x);
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** Black or white, whichever contrasts more with colour(x) (WCAG relative luminance): at least 4.5:1 on every viridis shade. */
export function textOn(x: number): string {
  const [r, g, b] = rgb(x).map((v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4));
  const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) ? '#000' : '#fff';
}

function matrixOf(maps: AttentionMaps, layer: number, head: number): number[][] {
  const { T, nHead, probs } = maps;
  const base = (layer * nHead + head) * T * T;
  return Array.from({ length: T }, (_, q) => Array.from(probs.subarray(base + q * T, base + (q + 1) * T)));
}

function label(token: string): string {
  return showWhitespace(token).replace('\n', '');
}

const LABEL = 28;

/** Draws one head's causal attention, query rows by key columns, with token labels. */
export function AttentionCanvas({ maps, layer, head }: { maps: AttentionMaps; layer: number; head: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const [hover, setHover] = useState<{ q: number; k: number | null } | null>(null);
  const T = maps.T;
  const cell = Math.max(6, Math.min(24, Math.floor(560 / T)));
  const size = LABEL + cell * T;
  const matrix = matrixOf(maps, layer, head);

  useEffect(() => {
    window.__attention = { step: maps.step, layer, head, T, tokens: maps.tokens, matrix };
    const canvas = ref.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = size * dpr;
    canvas.height = size * dpr;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const style = getComputedStyle(canvas);
    ctx.clearRect(0, 0, size, size);
    for (let q = 0; q < T; q++) {
      for (let k = 0; k <= q; k++) {
        ctx.fillStyle = colour(matrix[q][k]);
        ctx.fillRect(LABEL + k * cell, LABEL + q * cell, cell, cell);
      }
    }
    ctx.fillStyle = style.color;
    ctx.font = `${Math.min(12, cell)}px ui-monospace, monospace`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (let i = 0; i < T; i++) {
      const t = label(maps.tokens[i] ?? '');
      ctx.fillText(t, LABEL / 2, LABEL + i * cell + cell / 2);
      ctx.fillText(t, LABEL + i * cell + cell / 2, LABEL / 2);
    }
    if (hover) {
      ctx.strokeStyle = style.getPropertyValue('--accent') || '#3b5bdb';
      ctx.lineWidth = 2;
      ctx.strokeRect(LABEL, LABEL + hover.q * cell, (hover.q + 1) * cell, cell);
      if (hover.k !== null) ctx.strokeRect(LABEL + hover.k * cell, LABEL + hover.q * cell, cell, cell);
    }
  });

  // Pointer (mouse, pen, a tap on a touch screen): the canvas may be drawn smaller than its size on a narrow screen.
  const onPoint = (e: React.PointerEvent<HTMLCanvasElement>) => {
    const r = e.currentTarget.getBoundingClientRect();
    const scale = r.width > 0 ? size / r.width : 1;
    const x = (e.clientX - r.left) * scale - LABEL;
    const y = (e.clientY - r.top) * scale - LABEL;
    const k = Math.floor(x / cell);
    const q = Math.floor(y / cell);
    if (y >= 0 && q < T && x < 0) setHover({ q, k: null });
    else if (x >= 0 && y < 0 && k < T) setHover({ q: k, k: null });
    else if (q >= 0 && q < T && k >= 0 && k < T) setHover({ q, k: k <= q ? k : null });
    else setHover(null);
  };
  // Keyboard: arrows move through the causal cells (up/down: query rows, left/right: keys), Home/End jump
  // to the row's first key / the diagonal, Escape reads the whole row.
  const onKey = (e: React.KeyboardEvent<HTMLCanvasElement>) => {
    const at = hover ?? { q: 0, k: null };
    const k = at.k ?? -1;
    const moves: Record<string, () => { q: number; k: number | null }> = {
      ArrowDown: () => ({ q: Math.min(T - 1, at.q + 1), k: at.k === null ? null : Math.min(at.q + 1, Math.max(0, k)) }),
      ArrowUp: () => ({ q: Math.max(0, at.q - 1), k: at.k === null ? null : Math.min(at.q - 1, k) }),
      ArrowRight: () => ({ q: at.q, k: Math.min(at.q, k + 1) }),
      ArrowLeft: () => ({ q: at.q, k: k <= 0 ? null : k - 1 }),
      Home: () => ({ q: at.q, k: 0 }),
      End: () => ({ q: at.q, k: at.q }),
      Escape: () => ({ q: at.q, k: null }),
    };
    const move = moves[e.key];
    if (!move) return;
    e.preventDefault();
    const next = move();
    setHover({ q: Math.max(0, next.q), k: next.k === null ? null : Math.max(0, next.k) });
  };

  const rowSums = matrix.map((row) => Number(row.reduce((a, b) => a + b, 0).toFixed(5)));
  const rowText = (q: number) =>
    matrix[q]
      .slice(0, q + 1)
      .map((w, k) => ({ w, k }))
      .sort((a, b) => b.w - a.w)
      .slice(0, 5)
      .map(({ w, k }) => `${JSON.stringify(maps.tokens[k])} (${k}) ${w.toFixed(3)}`)
      .join(', ');
  const info = hover
    ? hover.k === null
      ? `Query ${JSON.stringify(maps.tokens[hover.q])} (position ${hover.q}) attends to the ${hover.q + 1} tokens up to itself; largest weights: ${rowText(hover.q)}.`
      : `Query ${JSON.stringify(maps.tokens[hover.q])} (${hover.q}) → key ${JSON.stringify(maps.tokens[hover.k])} (${hover.k}): weight ${matrix[hover.q][hover.k].toFixed(4)}`
    : 'Hover or tap a cell for its weight, or a token to read its row. With the keyboard: focus the map, then arrows, Home, End, Escape.';

  return (
    <div className="attention-main">
      <p className="token-info" aria-live="polite" data-testid="attention-info" data-q={hover?.q} data-k={hover?.k ?? undefined}>
        {info}
      </p>
      <div className="row">
        <canvas
          ref={ref}
          style={{ width: size }}
          tabIndex={0}
          role="img"
          onPointerMove={onPoint}
          onPointerDown={onPoint}
          onPointerLeave={(e) => e.pointerType === 'mouse' && setHover(null)}
          onKeyDown={onKey}
          data-testid="attention-canvas"
          data-layer={layer}
          data-head={head}
          data-t={T}
          data-row-sums={JSON.stringify(rowSums)}
          aria-label={`Attention of layer ${layer + 1}, head ${head + 1} on ${JSON.stringify(maps.tokens.join(''))}: rows are queries, columns keys. Use the arrow keys to read the weights.`}
        />
        <div className="legend" role="img" aria-label="Colour scale: from 0 (dark purple) to 1 (yellow)">
          <span>1</span>
          <div className="legend-bar" style={{ background: `linear-gradient(to top, ${STOPS.map((c) => `rgb(${c.join(',')})`).join(',')})` }} />
          <span>0</span>
        </div>
      </div>
    </div>
  );
}

export function Thumbnail({ maps, layer, head, active, onPick }: { maps: AttentionMaps; layer: number; head: number; active: boolean; onPick: () => void }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    if (!ctx) return;
    const T = maps.T;
    const px = 64 / T;
    ctx.clearRect(0, 0, 64, 64);
    const m = matrixOf(maps, layer, head);
    for (let q = 0; q < T; q++) for (let k = 0; k <= q; k++) {
      ctx.fillStyle = colour(m[q][k]);
      ctx.fillRect(k * px, q * px, Math.ceil(px), Math.ceil(px));
    }
  }, [maps, layer, head]);
  return (
    <button className={active ? 'thumb active' : 'thumb'} onClick={onPick} aria-label={`Layer ${layer + 1}, head ${head + 1}`} data-testid={`thumb-${layer}-${head}`}>
      <canvas ref={ref} width={64} height={64} aria-hidden="true" />
    </button>
  );
}

/** Causal attention per layer and head for a prompt, refreshed at every evaluation. */
export function AttentionPanel() {
  const corpus = useData((s) => s.corpus);
  const blockSize = useSetup((s) => s.model.blockSize);
  const loaded = useTraining((s) => s.loaded !== null);
  const { attention, attentionPrompt, attentionError, layer, head } = useInspect(
    useShallow((s) => ({ attention: s.attention, attentionPrompt: s.attentionPrompt, attentionError: s.attentionError, layer: s.layer, head: s.head })),
  );
  const { setAttentionPrompt, pick, refreshAttention } = useInspect((s) => s.actions);

  useEffect(() => {
    if (attentionPrompt === null && corpus) setAttentionPrompt(defaultAttentionPrompt() ?? '');
  }, [attentionPrompt, corpus, blockSize, setAttentionPrompt]);
  // Drawn when opened: a loaded model with no maps (or the maps of another step) gets them now.
  const step = useTraining((s) => s.step);
  const running = useTraining((s) => s.state === 'running');
  useEffect(() => {
    if (loaded && (!attention || (!running && attention.step !== step))) void refreshAttention();
    // Only on opening and when training stops; evaluations refresh the maps while it runs.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [loaded, running]);

  return (
    <section className="panel" aria-label="Attention" data-testid="attention-panel">
      <h2>Attention</h2>
      <LoraStrength />
      <div className="row">
        <label className="grow">
          Prompt{' '}
          <input className="wide" value={attentionPrompt ?? ''} onChange={(e) => setAttentionPrompt(e.target.value)} maxLength={blockSize} data-testid="attention-prompt" />
        </label>
        <button onClick={() => void refreshAttention()} disabled={!loaded || !attentionPrompt} data-testid="attention-refresh">
          Show attention
        </button>
      </div>
      {!loaded && <p className="tag">Start or step training to create a model; the maps refresh at every evaluation.</p>}
      {attentionError && <p className="bad" role="alert">{attentionError}</p>}
      {attention && (
        <>
          <div className="row">
            <label>
              Layer{' '}
              <select value={layer} onChange={(e) => pick(Number(e.target.value), head)} data-testid="attention-layer">
                {Array.from({ length: attention.nLayer }, (_, i) => (
                  <option key={i} value={i}>
                    {i + 1}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Head{' '}
              <select value={head} onChange={(e) => pick(layer, Number(e.target.value))} data-testid="attention-head">
                {Array.from({ length: attention.nHead }, (_, i) => (
                  <option key={i} value={i}>
                    {i + 1}
                  </option>
                ))}
              </select>
            </label>
            <span className="tag">at step {attention.step}</span>
          </div>
          <div className="attention-layout">
            <AttentionCanvas maps={attention} layer={layer} head={head} />
            <div className="thumbs" style={{ gridTemplateColumns: `repeat(${attention.nHead}, 66px)` }} aria-label="All layers and heads">
              {Array.from({ length: attention.nLayer }, (_, l) =>
                Array.from({ length: attention.nHead }, (_, h) => (
                  <Thumbnail key={`${l}-${h}`} maps={attention} layer={l} head={h} active={l === layer && h === head} onPick={() => pick(l, h)} />
                )),
              )}
            </div>
          </div>
        </>
      )}
    </section>
  );
}
