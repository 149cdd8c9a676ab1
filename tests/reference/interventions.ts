// Float64 references of interventions on the GPT of ./gpt.ts (same RefConfig,
// same Tensors, same plain loops), so a GPU implementation can be compared
// with them. TransformerLens's conventions and hook names:
//
//   hook_resid_pre[l]  (BT, C)  the residual stream entering block l; l = L is the
//                               final residual (what ln_f reads)
//   hook_z[l]          (BT, C)  attention output before c_proj (`atty`); head h is
//                               channels h*hs .. (h+1)*hs, hs = C / NH
//   hook_attn_out[l]   (BT, C)  attention branch output, c_proj(atty) + c_proj.bias
//   hook_mlp_out[l]    (BT, C)  MLP branch output, c_proj(act(c_fc(ln_2 x))) + bias
//
// Ablations (loss = mean cross-entropy over all B*T positions of (x, y)):
//   head zero-ablation   hook_z[l][:, head h's slice] = 0
//   head mean-ablation   hook_z[l][:, slice] = its mean over the batch and the positions of x
//   sublayer ablation    hook_attn_out[l] or hook_mlp_out[l] = 0 (zero) or its mean over
//                        batch and positions (mean). Zero-ablating a whole attention
//                        sublayer also removes c_proj's bias; zero-ablating all its heads
//                        leaves the bias (the difference is exactly that bias).
//   delta = loss(ablated) - loss(clean); the ablation grid is (L, NH) of deltas, one head at a time.
//
// Direct logit attribution at (batch row b, position t) for token `target`
// (or the direction W_U[target] - W_U[other] when `other` is given). The final
// residual is a sum of components r_i:
//   embed (wte[x]), pos_embed (wpe[t]), per layer l: head h's atty_h W_proj[:, slice]^T
//   (one per head), the attention bias c_proj.bias ("L{l}.attn_bias"), and the MLP
//   output (bias included).
// ln_f is frozen from the real forward: its mean is linear, so centring each
// component and dividing by the real scale splits it exactly:
//   contribution_i = (r_i - mean(r_i)) * rstd_f * ln_f.weight . u,   u = W_U[target] (- W_U[other])
//   logit = sum_i contribution_i + ln_f.bias . u + lm_head bias . (0 here: lm_head has no bias)
// The identity is exact in real arithmetic; in float64 it holds to rounding (1e-12).
//
// Activation patching: clean and corrupted prompts of equal length T (batch 1).
// metric = logit[target] - logit[other] at the last position. One patch copies the
// clean run's activation into the corrupted run: hook_resid_pre[l] at position t
// (l in 0..L), or head h's hook_z[l] slice at position t. Fraction restored =
// (patched - corrupted) / (clean - corrupted). Grids: residual (L+1, T); heads
// (T, L, NH) (an (L, NH) grid per position).
//
// Anthropic's scores ("In-context Learning and Induction Heads", 2022):
//   prefix-matching score of a head: on a sequence whose last 2n positions are n
//   random tokens written twice (positions p .. p+n-1 and p+n .. p+2n-1, p = T - 2n),
//   the attention from each query in the second copy, t = p+n+i, to the token after
//   its earlier occurrence, t - n + 1, averaged over i and the batch.
//   previous-token score: attention from t to t - 1, averaged over t >= 1 and the batch.
//   in-context-learning score: mean loss at a late position minus at an early one
//   (negative when the context helps).
import {
  activationForward, attentionForward, encoderForward, layerNormForward, linearForward, lmHeadName,
  type RefConfig, type Tensors,
} from './gpt';

export type { RefConfig, Tensors };

/** TransformerLens hook points; each may change its activation in place. */
export interface Hooks {
  residPre?(l: number, resid: Float64Array): void;
  z?(l: number, atty: Float64Array): void;
  attnOut?(l: number, out: Float64Array): void;
  mlpOut?(l: number, out: Float64Array): void;
}

export interface HookedRun {
  B: number;
  T: number;
  /** (B*T, V) */
  logits: Float64Array;
  /** Mean cross-entropy (NaN without targets). */
  loss: number;
  /** (B*T) per-position cross-entropy (empty without targets). */
  losses: Float64Array;
  /** Activations as they were after the hooks ran: residPre has L+1 entries. */
  residPre: Float64Array[];
  z: Float64Array[];
  attnOut: Float64Array[];
  mlpOut: Float64Array[];
  /** (B, NH, T, T) attention probabilities of each layer. */
  att: Float64Array[];
  /** (B*T, C) token and position embeddings. */
  embed: Float64Array;
  posEmbed: Float64Array;
  /** ln_f's statistics over the final residual, (B*T) each. */
  lnfMean: Float64Array;
  lnfRstd: Float64Array;
}

function p(P: Tensors, name: string): Float64Array {
  const t = P.get(name);
  if (!t) throw new Error(`interventions: missing parameter ${name}`);
  return t;
}

/** The forward of ./gpt.ts (no dropout) with TransformerLens hooks. */
export function runWithHooks(cfg: RefConfig, P: Tensors, x: Int32Array, y: Int32Array | null, B: number, T: number, hooks: Hooks = {}): HookedRun {
  const { nLayer: L, nHead: NH, nEmbd: C, vocabSize: V, bias } = cfg;
  const BT = B * T;
  const f = (n: number) => new Float64Array(n);
  const opt = (name: string) => (bias ? p(P, name) : null);
  const embed = f(BT * C);
  const posEmbed = f(BT * C);
  for (let i = 0; i < BT; i++) {
    const t = i % T;
    for (let c = 0; c < C; c++) {
      embed[i * C + c] = p(P, 'transformer.wte.weight')[x[i] * C + c];
      posEmbed[i * C + c] = p(P, 'transformer.wpe.weight')[t * C + c];
    }
  }
  let resid = f(BT * C); // (BT, C)
  encoderForward(resid, x, p(P, 'transformer.wte.weight'), p(P, 'transformer.wpe.weight'), BT, T, C);
  const run: HookedRun = {
    B, T, logits: f(BT * V), loss: Number.NaN, losses: f(0), residPre: [], z: [], attnOut: [], mlpOut: [], att: [],
    embed, posEmbed, lnfMean: f(BT), lnfRstd: f(BT),
  };
  for (let l = 0; l < L; l++) {
    const h = `transformer.h.${l}`;
    hooks.residPre?.(l, resid);
    run.residPre.push(resid);
    const ln1 = f(BT * C);
    layerNormForward(ln1, f(BT), f(BT), resid, p(P, `${h}.ln_1.weight`), opt(`${h}.ln_1.bias`), BT, C);
    const qkv = f(BT * 3 * C); // (BT, 3C)
    linearForward(qkv, ln1, p(P, `${h}.attn.c_attn.weight`), opt(`${h}.attn.c_attn.bias`), BT, C, 3 * C);
    const att = f(B * NH * T * T);
    const atty = f(BT * C); // (BT, C) hook_z
    attentionForward(atty, att, qkv, B, T, C, NH, null);
    hooks.z?.(l, atty);
    const attnOut = f(BT * C); // hook_attn_out
    linearForward(attnOut, atty, p(P, `${h}.attn.c_proj.weight`), opt(`${h}.attn.c_proj.bias`), BT, C, C);
    hooks.attnOut?.(l, attnOut);
    const res2 = f(BT * C);
    for (let i = 0; i < BT * C; i++) res2[i] = resid[i] + attnOut[i];
    const ln2 = f(BT * C);
    layerNormForward(ln2, f(BT), f(BT), res2, p(P, `${h}.ln_2.weight`), opt(`${h}.ln_2.bias`), BT, C);
    const fch = f(BT * 4 * C);
    linearForward(fch, ln2, p(P, `${h}.mlp.c_fc.weight`), opt(`${h}.mlp.c_fc.bias`), BT, C, 4 * C);
    const fcha = f(BT * 4 * C);
    activationForward(fcha, fch, cfg.activation);
    const mlpOut = f(BT * C); // hook_mlp_out
    linearForward(mlpOut, fcha, p(P, `${h}.mlp.c_proj.weight`), opt(`${h}.mlp.c_proj.bias`), BT, 4 * C, C);
    hooks.mlpOut?.(l, mlpOut);
    const out = f(BT * C);
    for (let i = 0; i < BT * C; i++) out[i] = res2[i] + mlpOut[i];
    run.z.push(atty);
    run.attnOut.push(attnOut);
    run.mlpOut.push(mlpOut);
    run.att.push(att);
    resid = out;
  }
  hooks.residPre?.(L, resid);
  run.residPre.push(resid);
  const lnf = f(BT * C);
  layerNormForward(lnf, run.lnfMean, run.lnfRstd, resid, p(P, 'transformer.ln_f.weight'), opt('transformer.ln_f.bias'), BT, C);
  linearForward(run.logits, lnf, p(P, lmHeadName(cfg)), null, BT, C, V);
  if (y) {
    run.losses = f(BT);
    let sum = 0;
    for (let i = 0; i < BT; i++) {
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, run.logits[i * V + v]);
      let z = 0;
      for (let v = 0; v < V; v++) z += Math.exp(run.logits[i * V + v] - max);
      run.losses[i] = Math.log(z) + max - run.logits[i * V + y[i]];
      sum += run.losses[i];
    }
    run.loss = sum / BT;
  }
  return run;
}

// ---------------------------------------------------------------- ablation

export type AblationMode = 'zero' | 'mean';

/** Channels [lo, hi) of every row of a (N, C) array set to 0 or to their mean over the rows. */
function ablateChannels(a: Float64Array, C: number, lo: number, hi: number, mode: AblationMode): void {
  const N = a.length / C;
  for (let c = lo; c < hi; c++) {
    let m = 0;
    if (mode === 'mean') {
      for (let n = 0; n < N; n++) m += a[n * C + c];
      m /= N;
    }
    for (let n = 0; n < N; n++) a[n * C + c] = m;
  }
}

export interface AblationResult {
  clean: number;
  ablated: number;
  /** ablated - clean */
  delta: number;
}

function ablation(cfg: RefConfig, P: Tensors, x: Int32Array, y: Int32Array, B: number, T: number, hooks: Hooks): AblationResult {
  const clean = runWithHooks(cfg, P, x, y, B, T).loss;
  const ablated = runWithHooks(cfg, P, x, y, B, T, hooks).loss;
  return { clean, ablated, delta: ablated - clean };
}

/** Head `head` of layer `layer` zero- or mean-ablated (its hook_z slice). */
export function headAblation(cfg: RefConfig, P: Tensors, x: Int32Array, y: Int32Array, B: number, T: number, layer: number, head: number, mode: AblationMode): AblationResult {
  const hs = cfg.nEmbd / cfg.nHead;
  return ablation(cfg, P, x, y, B, T, {
    z: (l, atty) => {
      if (l === layer) ablateChannels(atty, cfg.nEmbd, head * hs, (head + 1) * hs, mode);
    },
  });
}

/** A whole attention or MLP sublayer's branch output zero- or mean-ablated. */
export function sublayerAblation(cfg: RefConfig, P: Tensors, x: Int32Array, y: Int32Array, B: number, T: number, layer: number, sublayer: 'attn' | 'mlp', mode: AblationMode): AblationResult {
  const hook = (l: number, out: Float64Array) => {
    if (l === layer) ablateChannels(out, cfg.nEmbd, 0, cfg.nEmbd, mode);
  };
  return ablation(cfg, P, x, y, B, T, sublayer === 'attn' ? { attnOut: hook } : { mlpOut: hook });
}

/** (L, NH) change in mean loss when each head alone is ablated. */
export function ablationGrid(cfg: RefConfig, P: Tensors, x: Int32Array, y: Int32Array, B: number, T: number, mode: AblationMode): Float64Array {
  const grid = new Float64Array(cfg.nLayer * cfg.nHead);
  for (let l = 0; l < cfg.nLayer; l++) {
    for (let h = 0; h < cfg.nHead; h++) grid[l * cfg.nHead + h] = headAblation(cfg, P, x, y, B, T, l, h, mode).delta;
  }
  return grid;
}

// ---------------------------------------------------------------- direct logit attribution

export interface LogitAttribution {
  /** Components in order: embed, pos_embed, then per layer L{l}.H{h} for each head, L{l}.attn_bias, L{l}.mlp. */
  names: string[];
  contributions: Float64Array;
  /** ln_f.bias . u (0 without biases). */
  lnfBias: number;
  /** The real logit (or logit difference) from the forward. */
  logit: number;
}

export interface AttributionSite {
  row: number;
  pos: number;
  target: number;
  /** Attribute logit[target] - logit[other]. */
  other?: number;
}

export function directLogitAttribution(cfg: RefConfig, P: Tensors, x: Int32Array, B: number, T: number, site: AttributionSite): LogitAttribution {
  const { nLayer: L, nHead: NH, nEmbd: C, vocabSize: V, bias } = cfg;
  const hs = C / NH;
  const run = runWithHooks(cfg, P, x, null, B, T);
  const i = site.row * T + site.pos;
  const WU = p(P, lmHeadName(cfg)); // (V, C)
  const u = new Float64Array(C); // the unembedding direction
  for (let c = 0; c < C; c++) u[c] = WU[site.target * C + c] - (site.other !== undefined ? WU[site.other * C + c] : 0);
  const lnw = p(P, 'transformer.ln_f.weight');
  const rstd = run.lnfRstd[i];
  /** (r - mean(r)) * rstd * ln_f.weight . u for one (C) component. */
  const read = (r: Float64Array) => {
    let m = 0;
    for (let c = 0; c < C; c++) m += r[c];
    m /= C;
    let s = 0;
    for (let c = 0; c < C; c++) s += (r[c] - m) * rstd * lnw[c] * u[c];
    return s;
  };
  const row = (a: Float64Array) => a.subarray(i * C, (i + 1) * C);
  const names: string[] = ['embed', 'pos_embed'];
  const values: number[] = [read(row(run.embed)), read(row(run.posEmbed))];
  for (let l = 0; l < L; l++) {
    const h = `transformer.h.${l}`;
    const W = p(P, `${h}.attn.c_proj.weight`); // (C, C) out x in
    const z = row(run.z[l]);
    for (let head = 0; head < NH; head++) {
      const r = new Float64Array(C); // atty_h W_proj[:, slice]^T
      for (let o = 0; o < C; o++) {
        let s = 0;
        for (let k = head * hs; k < (head + 1) * hs; k++) s += z[k] * W[o * C + k];
        r[o] = s;
      }
      names.push(`L${l}.H${head}`);
      values.push(read(r));
    }
    names.push(`L${l}.attn_bias`);
    values.push(bias ? read(p(P, `${h}.attn.c_proj.bias`)) : 0);
    names.push(`L${l}.mlp`);
    values.push(read(row(run.mlpOut[l])));
  }
  let lnfBias = 0;
  if (bias) {
    const b = p(P, 'transformer.ln_f.bias');
    for (let c = 0; c < C; c++) lnfBias += b[c] * u[c];
  }
  const logit = run.logits[i * V + site.target] - (site.other !== undefined ? run.logits[i * V + site.other] : 0);
  return { names, contributions: Float64Array.from(values), lnfBias, logit };
}

// ---------------------------------------------------------------- activation patching

export type Patch = { kind: 'resid'; layer: number; pos: number } | { kind: 'z'; layer: number; head: number; pos: number };

/** logit[target] - logit[other] at the last position of a batch-1 run. */
function logitDiff(run: HookedRun, V: number, target: number, other: number): number {
  const i = run.T - 1;
  return run.logits[i * V + target] - run.logits[i * V + other];
}

export interface PatchingSetup {
  clean: Int32Array;
  corrupted: Int32Array;
  target: number;
  other: number;
}

/** The corrupted run's metric with the given activations copied from the clean run. */
export function patchedMetric(cfg: RefConfig, P: Tensors, s: PatchingSetup, patches: Patch[], cleanRun?: HookedRun): number {
  const T = s.clean.length;
  if (s.corrupted.length !== T) throw new Error('interventions: clean and corrupted prompts must have the same length');
  const C = cfg.nEmbd;
  const hs = C / cfg.nHead;
  const clean = cleanRun ?? runWithHooks(cfg, P, s.clean, null, 1, T);
  const copy = (dst: Float64Array, src: Float64Array, pos: number, lo: number, hi: number) => {
    for (let c = lo; c < hi; c++) dst[pos * C + c] = src[pos * C + c];
  };
  const run = runWithHooks(cfg, P, s.corrupted, null, 1, T, {
    residPre: (l, resid) => {
      for (const q of patches) if (q.kind === 'resid' && q.layer === l) copy(resid, clean.residPre[l], q.pos, 0, C);
    },
    z: (l, atty) => {
      for (const q of patches) if (q.kind === 'z' && q.layer === l) copy(atty, clean.z[l], q.pos, q.head * hs, (q.head + 1) * hs);
    },
  });
  return logitDiff(run, cfg.vocabSize, s.target, s.other);
}

export interface PatchingResult {
  clean: number;
  corrupted: number;
  /** Fraction restored per patch site (layout given by the function). */
  restored: Float64Array;
  /** The patched metric per site. */
  patched: Float64Array;
}

function patchGrid(cfg: RefConfig, P: Tensors, s: PatchingSetup, sites: Patch[][]): PatchingResult {
  const T = s.clean.length;
  const cleanRun = runWithHooks(cfg, P, s.clean, null, 1, T);
  const clean = logitDiff(cleanRun, cfg.vocabSize, s.target, s.other);
  const corrupted = logitDiff(runWithHooks(cfg, P, s.corrupted, null, 1, T), cfg.vocabSize, s.target, s.other);
  const patched = Float64Array.from(sites, (patches) => patchedMetric(cfg, P, s, patches, cleanRun));
  const restored = patched.map((m) => (m - corrupted) / (clean - corrupted));
  return { clean, corrupted, restored, patched };
}

/** Fraction restored by patching hook_resid_pre[l] at position t: (L+1, T). */
export function residualPatching(cfg: RefConfig, P: Tensors, s: PatchingSetup): PatchingResult {
  const sites: Patch[][] = [];
  for (let l = 0; l <= cfg.nLayer; l++) for (let t = 0; t < s.clean.length; t++) sites.push([{ kind: 'resid', layer: l, pos: t }]);
  return patchGrid(cfg, P, s, sites);
}

/** Fraction restored by patching head h of layer l at position t: (T, L, NH). */
export function headPatching(cfg: RefConfig, P: Tensors, s: PatchingSetup): PatchingResult {
  const sites: Patch[][] = [];
  for (let t = 0; t < s.clean.length; t++) {
    for (let l = 0; l < cfg.nLayer; l++) for (let h = 0; h < cfg.nHead; h++) sites.push([{ kind: 'z', layer: l, head: h, pos: t }]);
  }
  return patchGrid(cfg, P, s, sites);
}

/** Fraction restored by an arbitrary set of patches applied together. */
export function fractionRestored(cfg: RefConfig, P: Tensors, s: PatchingSetup, patches: Patch[]): number {
  return patchGrid(cfg, P, s, [patches]).restored[0];
}

// ---------------------------------------------------------------- Anthropic's scores

/** (L, NH) prefix-matching score on x (B, T) whose last 2n positions are n tokens written twice. */
export function prefixMatchingScores(cfg: RefConfig, P: Tensors, x: Int32Array, B: number, T: number, n: number): Float64Array {
  if (2 * n > T || n < 1) throw new Error(`interventions: a repeat of ${n} tokens twice does not fit ${T} positions`);
  const start = T - n; // the second copy's first position
  return attentionScore(cfg, P, x, B, T, (t) => (t >= start ? t - n + 1 : -1));
}

/** (L, NH) previous-token score: attention from t to t - 1, averaged over t >= 1 and the batch. */
export function previousTokenScores(cfg: RefConfig, P: Tensors, x: Int32Array, B: number, T: number): Float64Array {
  return attentionScore(cfg, P, x, B, T, (t) => t - 1);
}

/** Mean attention from query t to key `key(t)` over the queries where key(t) >= 0. */
function attentionScore(cfg: RefConfig, P: Tensors, x: Int32Array, B: number, T: number, key: (t: number) => number): Float64Array {
  const { nLayer: L, nHead: NH } = cfg;
  const run = runWithHooks(cfg, P, x, null, B, T);
  const out = new Float64Array(L * NH);
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < NH; h++) {
      let sum = 0;
      let count = 0;
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          const k = key(t);
          if (k < 0) continue;
          sum += run.att[l][((b * NH + h) * T + t) * T + k];
          count++;
        }
      }
      out[l * NH + h] = sum / count;
    }
  }
  return out;
}

/** Mean loss at position `late` minus at position `early`, over the batch (negative: the context helps). */
export function inContextLearningScore(cfg: RefConfig, P: Tensors, x: Int32Array, y: Int32Array, B: number, T: number, early: number, late: number): number {
  const run = runWithHooks(cfg, P, x, y, B, T);
  let d = 0;
  for (let b = 0; b < B; b++) d += run.losses[b * T + late] - run.losses[b * T + early];
  return d / B;
}
