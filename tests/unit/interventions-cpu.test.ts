// The float64 references of interventions (tests/reference/interventions.ts)
// checked against identities that must hold exactly, and against a model built
// by hand whose heads are a perfect previous-token head and a perfect
// induction head.
import { describe, expect, it } from 'vitest';
import { gptForward, positionLosses, type RefConfig, type Tensors } from '../reference/gpt';
import {
  ablationGrid, directLogitAttribution, fractionRestored, headAblation, headPatching, inContextLearningScore, prefixMatchingScores,
  previousTokenScores, residualPatching, runWithHooks, sublayerAblation, type Patch,
} from '../reference/interventions';
import { randInts, randn, rng } from '../reference/random';

/** Every parameter of a GPT under nanoGPT's names, with its shape. */
function shapes(cfg: RefConfig): Map<string, number[]> {
  const { nLayer: L, nEmbd: C, blockSize: T, vocabSize: V, bias } = cfg;
  const m = new Map<string, number[]>([
    ['transformer.wte.weight', [V, C]],
    ['transformer.wpe.weight', [T, C]],
  ]);
  const add = (name: string, shape: number[], isBias = false) => {
    if (!isBias || bias) m.set(name, shape);
  };
  for (let l = 0; l < L; l++) {
    const h = `transformer.h.${l}`;
    add(`${h}.ln_1.weight`, [C]);
    add(`${h}.ln_1.bias`, [C], true);
    add(`${h}.attn.c_attn.weight`, [3 * C, C]);
    add(`${h}.attn.c_attn.bias`, [3 * C], true);
    add(`${h}.attn.c_proj.weight`, [C, C]);
    add(`${h}.attn.c_proj.bias`, [C], true);
    add(`${h}.ln_2.weight`, [C]);
    add(`${h}.ln_2.bias`, [C], true);
    add(`${h}.mlp.c_fc.weight`, [4 * C, C]);
    add(`${h}.mlp.c_fc.bias`, [4 * C], true);
    add(`${h}.mlp.c_proj.weight`, [C, 4 * C]);
    add(`${h}.mlp.c_proj.bias`, [C], true);
  }
  add('transformer.ln_f.weight', [C]);
  add('transformer.ln_f.bias', [C], true);
  if (!cfg.tieWeights) m.set('lm_head.weight', [V, C]);
  return m;
}

/** Random weights (LayerNorm gains near 1), large enough that every part of the network matters. */
function randomModel(cfg: RefConfig, seed: number): Tensors {
  const P: Tensors = new Map();
  let s = seed;
  for (const [name, shape] of shapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = Float64Array.from(randn(n, s++, name.includes('ln_') ? 0.2 : 0.4));
    if (/ln_.*weight|ln_f.weight/.test(name)) for (let i = 0; i < n; i++) t[i] += 1;
    P.set(name, t);
  }
  return P;
}

const CFG: RefConfig = { nLayer: 2, nHead: 3, nEmbd: 12, blockSize: 7, vocabSize: 9, bias: true, tieWeights: false, activation: 'gelu' };
const B = 3;
const T = 7;
const X = randInts(B * T, CFG.vocabSize, 11);
const Y = randInts(B * T, CFG.vocabSize, 12);

const close = (a: number, b: number, tol = 1e-12) => expect(Math.abs(a - b)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b)));

describe('ablation', () => {
  it("ablating a head whose c_proj slice is zero changes nothing; ablating another does", () => {
    const P = randomModel(CFG, 1);
    const hs = CFG.nEmbd / CFG.nHead;
    const W = P.get('transformer.h.1.attn.c_proj.weight')!;
    for (let o = 0; o < CFG.nEmbd; o++) for (let k = 2 * hs; k < 3 * hs; k++) W[o * CFG.nEmbd + k] = 0;
    for (const mode of ['zero', 'mean'] as const) {
      const dead = headAblation(CFG, P, X, Y, B, T, 1, 2, mode);
      expect(dead.delta).toBe(0);
      const live = headAblation(CFG, P, X, Y, B, T, 1, 0, mode);
      console.log(`[interventions] ${mode}-ablation: dead head delta ${dead.delta}, L1H0 delta ${live.delta.toExponential(3)} (clean loss ${live.clean.toFixed(4)})`);
      expect(Math.abs(live.delta)).toBeGreaterThan(1e-3);
    }
    const grid = ablationGrid(CFG, P, X, Y, B, T, 'zero');
    expect(grid.length).toBe(CFG.nLayer * CFG.nHead);
    expect(grid[1 * CFG.nHead + 2]).toBe(0);
    for (let l = 0; l < CFG.nLayer; l++) {
      for (let h = 0; h < CFG.nHead; h++) expect(grid[l * CFG.nHead + h]).toBe(headAblation(CFG, P, X, Y, B, T, l, h, 'zero').delta);
    }
  });

  it('zero-ablating all heads equals the attention sublayer replaced by its bias; the sublayer ablation removes the bias too', () => {
    const P = randomModel(CFG, 2);
    const C = CFG.nEmbd;
    for (let layer = 0; layer < CFG.nLayer; layer++) {
      const allHeads = runWithHooks(CFG, P, X, Y, B, T, { z: (l, z) => l === layer && z.fill(0) }).loss;
      const bias = P.get(`transformer.h.${layer}.attn.c_proj.bias`)!;
      const onlyBias = runWithHooks(CFG, P, X, Y, B, T, {
        attnOut: (l, out) => {
          if (l === layer) for (let i = 0; i < out.length; i++) out[i] = bias[i % C];
        },
      }).loss;
      close(allHeads, onlyBias);
      const sub = sublayerAblation(CFG, P, X, Y, B, T, layer, 'attn', 'zero');
      expect(Math.abs(sub.ablated - allHeads)).toBeGreaterThan(1e-4); // the bias matters in this model
      // With a zero bias the two ablations are the same.
      const P0 = new Map(P);
      P0.set(`transformer.h.${layer}.attn.c_proj.bias`, new Float64Array(C));
      const allHeads0 = runWithHooks(CFG, P0, X, Y, B, T, { z: (l, z) => l === layer && z.fill(0) }).loss;
      close(sublayerAblation(CFG, P0, X, Y, B, T, layer, 'attn', 'zero').ablated, allHeads0);
    }
  });

  it('mean-ablating every head together equals mean-ablating the attention sublayer (c_proj is linear)', () => {
    const P = randomModel(CFG, 3);
    const C = CFG.nEmbd;
    const meanRows = (a: Float64Array) => {
      const N = a.length / C;
      for (let c = 0; c < C; c++) {
        let m = 0;
        for (let n = 0; n < N; n++) m += a[n * C + c];
        for (let n = 0; n < N; n++) a[n * C + c] = m / N;
      }
    };
    const heads = runWithHooks(CFG, P, X, Y, B, T, { z: (l, z) => l === 0 && meanRows(z) }).loss;
    close(sublayerAblation(CFG, P, X, Y, B, T, 0, 'attn', 'mean').ablated, heads);
    // One position: the mean of a single row is that row, so nothing changes.
    const one = headAblation(CFG, P, X.subarray(0, 1), Y.subarray(0, 1), 1, 1, 1, 1, 'mean');
    expect(one.delta).toBe(0);
    // Zero- and mean-ablating an MLP are real interventions.
    for (const mode of ['zero', 'mean'] as const) expect(Math.abs(sublayerAblation(CFG, P, X, Y, B, T, 1, 'mlp', mode).delta)).toBeGreaterThan(1e-4);
  });
});

describe('direct logit attribution', () => {
  for (const variant of [
    { bias: true, tieWeights: false },
    { bias: false, tieWeights: true },
  ]) {
    it(`sums to the real logit (bias ${variant.bias}, tied ${variant.tieWeights})`, () => {
      const cfg = { ...CFG, ...variant };
      const P = randomModel(cfg, 4);
      let worst = 0;
      for (const site of [
        { row: 0, pos: 0, target: 3 },
        { row: 2, pos: T - 1, target: 5 },
        { row: 1, pos: 4, target: 2, other: 7 },
      ]) {
        const a = directLogitAttribution(cfg, P, X, B, T, site);
        expect(a.names.length).toBe(2 + cfg.nLayer * (cfg.nHead + 2));
        expect(a.names.slice(0, 6)).toEqual(['embed', 'pos_embed', 'L0.H0', 'L0.H1', 'L0.H2', 'L0.attn_bias']);
        const sum = a.contributions.reduce((s, v) => s + v, 0) + a.lnfBias;
        // The logit from the plain reference forward, not from the hooked one.
        const logits = gptForward(cfg, P, X, null, B, T).logits;
        const i = (site.row * T + site.pos) * cfg.vocabSize;
        const real = logits[i + site.target] - ('other' in site ? logits[i + site.other!] : 0);
        close(a.logit, real);
        worst = Math.max(worst, Math.abs(sum - real));
        close(sum, real);
        if (!cfg.bias) expect(a.lnfBias).toBe(0);
        // Every kind of component carries some of it.
        expect(Math.min(...a.contributions.filter((_, k) => !a.names[k].endsWith('attn_bias')).map(Math.abs))).toBeGreaterThan(1e-6);
      }
      console.log(`[interventions] DLA: |sum of contributions + ln_f bias term - logit| <= ${worst.toExponential(2)}`);
    });
  }
});

describe('activation patching', () => {
  const cfg = CFG;
  const P = randomModel(cfg, 5);
  const clean = randInts(T, cfg.vocabSize, 21);
  const corrupted = clean.slice();
  const where = 3; // the one position the prompts differ at
  corrupted[where] = (clean[where] + 4) % cfg.vocabSize;
  const setup = { clean, corrupted, target: 1, other: 6 };
  const all = (layer: number): Patch[] => Array.from({ length: T }, (_, pos) => ({ kind: 'resid', layer, pos }));

  it('patching everything at the last layer restores 1, nothing 0, the whole residual at layer 0 restores 1', () => {
    close(fractionRestored(cfg, P, setup, all(cfg.nLayer)), 1);
    close(fractionRestored(cfg, P, setup, [{ kind: 'resid', layer: cfg.nLayer, pos: T - 1 }]), 1);
    expect(fractionRestored(cfg, P, setup, [])).toBe(0);
    close(fractionRestored(cfg, P, setup, all(0)), 1);
    // Only the corrupted position carries the difference into layer 0.
    close(fractionRestored(cfg, P, setup, [{ kind: 'resid', layer: 0, pos: where }]), 1);
  });

  it('grids have TransformerLens shapes; positions before the corruption restore nothing', () => {
    const r = residualPatching(cfg, P, setup);
    expect(r.restored.length).toBe((cfg.nLayer + 1) * T);
    console.log(`[interventions] logit difference clean ${r.clean.toFixed(4)}, corrupted ${r.corrupted.toFixed(4)}`);
    expect(Math.abs(r.clean - r.corrupted)).toBeGreaterThan(1e-3);
    for (let l = 0; l <= cfg.nLayer; l++) {
      for (let t = 0; t < where; t++) expect(r.restored[l * T + t]).toBe(0); // causal: identical activations there
    }
    close(r.restored[0 * T + where], 1);
    close(r.restored[cfg.nLayer * T + T - 1], 1);
    const h = headPatching(cfg, P, setup);
    expect(h.restored.length).toBe(T * cfg.nLayer * cfg.nHead);
    for (let t = 0; t < where; t++) for (let k = 0; k < cfg.nLayer * cfg.nHead; k++) expect(h.restored[t * cfg.nLayer * cfg.nHead + k]).toBe(0);
    // Patching every head at every position of the last layer, plus its input residual, gives the clean run's last block input.
    const lastHeads: Patch[] = [];
    for (let t = 0; t < T; t++) for (let hh = 0; hh < cfg.nHead; hh++) lastHeads.push({ kind: 'z', layer: cfg.nLayer - 1, head: hh, pos: t });
    close(fractionRestored(cfg, P, setup, [...all(cfg.nLayer - 1), ...lastHeads]), 1);
  });
});

// ---------------------------------------------------------------- a hand-built induction circuit

/**
 * Two layers, two heads each. Channels: position one-hot (T), token one-hot (V),
 * previous token (V), output (V), one spare. Layer 0 head 0 attends from t to
 * t - 1 and writes that token into the previous-token channels; layer 1 head 0
 * attends to the position whose previous token is the current token and writes
 * that position's token into the output channels, which lm_head reads. Heads 1
 * are all zero (uniform attention, no output); MLPs are zero.
 */
function inductionModel(n: number) {
  const V = 8;
  const T = 2 * n + 1;
  const Pc = (t: number) => t;
  const Tk = (v: number) => T + v;
  const Pv = (v: number) => T + V + v;
  const O = (v: number) => T + 2 * V + v;
  const C = T + 3 * V + 1;
  const NH = 2;
  const cfg: RefConfig = { nLayer: 2, nHead: NH, nEmbd: C, blockSize: T, vocabSize: V, bias: false, tieWeights: false, activation: 'relu' };
  const P: Tensors = new Map([...shapes(cfg)].map(([name, shape]) => [name, new Float64Array(shape.reduce((a, b) => a * b, 1))]));
  const set = (name: string, row: number, col: number, cols: number, v: number) => (P.get(name)![row * cols + col] = v);
  const beta = 10;
  for (let v = 0; v < V; v++) set('transformer.wte.weight', v, Tk(v), C, 1);
  for (let t = 0; t < T; t++) set('transformer.wpe.weight', t, Pc(t), C, 1);
  for (const name of P.keys()) if (/ln_\d\.weight|ln_f\.weight/.test(name)) P.get(name)!.fill(1);
  const attn = (l: number) => `transformer.h.${l}.attn.c_attn.weight`;
  const proj = (l: number) => `transformer.h.${l}.attn.c_proj.weight`;
  // Layer 0 head 0: query at t is position t - 1's key; value: the token; written to previous-token channels.
  for (let j = 0; j + 1 < T; j++) {
    set(attn(0), j, Pc(j + 1), C, beta);
    set(attn(0), C + j, Pc(j), C, 1);
  }
  for (let j = 0; j < V; j++) {
    set(attn(0), 2 * C + j, Tk(j), C, 1);
    set(proj(0), Pv(j), j, C, 1);
  }
  // Layer 1 head 0: query = current token, key = previous token; value: the token there, written to the output channels.
  for (let j = 0; j < V; j++) {
    set(attn(1), j, Tk(j), C, beta);
    set(attn(1), C + j, Pv(j), C, 1);
    set(attn(1), 2 * C + j, Tk(j), C, 1);
    set(proj(1), O(j), j, C, 1);
    set('lm_head.weight', j, O(j), C, 5);
  }
  return { cfg, P, T, V };
}

describe("Anthropic's scores", () => {
  it('a hand-built previous-token head and induction head score as they should', () => {
    const n = 6;
    const { cfg, P, T, V } = inductionModel(n);
    const Bn = 4;
    const bos = V - 1;
    // Each row: BOS, then n distinct random tokens written twice.
    const x = new Int32Array(Bn * T);
    const y = new Int32Array(Bn * T);
    const r = rng(99);
    for (let b = 0; b < Bn; b++) {
      const perm = Array.from({ length: V - 1 }, (_, i) => i).sort(() => r() - 0.5).slice(0, n);
      const row = [bos, ...perm, ...perm];
      x.set(row, b * T);
      y.set([...row.slice(1), bos], b * T);
    }
    const prefix = prefixMatchingScores(cfg, P, x, Bn, T, n);
    const prev = previousTokenScores(cfg, P, x, Bn, T);
    const fmt = (a: Float64Array) => Array.from(a, (v) => v.toFixed(4)).join(' ');
    console.log(`[interventions] prefix matching (L0H0 L0H1 L1H0 L1H1): ${fmt(prefix)}; previous token: ${fmt(prev)}`);
    expect(prev[0]).toBeGreaterThan(0.99); // L0H0: previous-token head
    expect(prefix[0]).toBeLessThan(0.05);
    expect(prefix[2]).toBeGreaterThan(0.99); // L1H0: induction head
    // Its attention in the first copy (nothing to match yet) is spread out, so only a little lands on t - 1.
    expect(prev[2]).toBeLessThan(0.25);
    // Zero heads attend evenly: the score is the mean of 1 / (t + 1) over the scored queries, exactly.
    const uniformPrefix = Array.from({ length: n }, (_, i) => 1 / (T - n + i + 1)).reduce((a, b) => a + b) / n;
    const uniformPrev = Array.from({ length: T - 1 }, (_, i) => 1 / (i + 2)).reduce((a, b) => a + b) / (T - 1);
    for (const k of [1, 3]) {
      close(prefix[k], uniformPrefix);
      close(prev[k], uniformPrev);
    }
    // In-context learning: the second copy is predicted, the first is not.
    const early = 2;
    const late = T - 2;
    const icl = inContextLearningScore(cfg, P, x, y, Bn, T, early, late);
    const losses = positionLosses(gptForward(cfg, P, x, y, Bn, T), V);
    let direct = 0;
    for (let b = 0; b < Bn; b++) direct += losses[b * T + late] - losses[b * T + early];
    close(icl, direct / Bn);
    console.log(`[interventions] in-context-learning score ${icl.toFixed(4)} (loss at position ${late} minus at ${early})`);
    expect(icl).toBeLessThan(-1);
    // The zero heads do nothing when ablated.
    const grid = ablationGrid(cfg, P, x, y, Bn, T, 'zero');
    console.log(`[interventions] zero-ablation grid (L0H0 L0H1 L1H0 L1H1): ${fmt(grid)}`);
    expect(grid[1]).toBe(0);
    expect(grid[3]).toBe(0);
    // Zero-ablating the induction head, or the previous-token head it reads, is what costs the second copy.
    const secondCopy = (hooks: Parameters<typeof runWithHooks>[6]) => {
      const run = runWithHooks(cfg, P, x, y, Bn, T, hooks);
      let s = 0;
      for (let b = 0; b < Bn; b++) for (let t = T - n; t < T - 1; t++) s += run.losses[b * T + t];
      return s / (Bn * (n - 1));
    };
    const hs = cfg.nEmbd / cfg.nHead;
    const without = (layer: number) => secondCopy({ z: (l, z) => l === layer && z.forEach((_, i) => i % cfg.nEmbd < hs && (z[i] = 0)) });
    const base = secondCopy({});
    console.log(`[interventions] second-copy loss ${base.toFixed(4)}; without L1H0 ${without(1).toFixed(4)}, without L0H0 ${without(0).toFixed(4)}`);
    expect(base).toBeLessThan(0.1);
    expect(without(1)).toBeGreaterThan(base + 1);
    expect(without(0)).toBeGreaterThan(base + 1);
  });
});
