// Float64 references of the interventions on the LLaMA block (./llama.ts's
// forward with TransformerLens hooks), the companion of ./interventions.ts:
// the same definitions, with the block's differences:
//   hook_z[l]   (BT, H D)  head h is channels h*D .. (h+1)*D (H D need not equal C)
//   no position embedding, no biases: the residual is embed + heads + MLPs
//   the final norm is RMSNorm, frozen from the real forward:
//     contribution_i = r_i * rstd_f * norm.weight . u   (no centring; the sum is the logit)
import type { Tensors } from './gpt';
import type { AblationMode, AblationResult, Hooks, HookedRun, LogitAttribution, Patch, PatchingResult, PatchingSetup } from './interventions';
import { linearForward, type LlamaRefConfig } from './llama';
import { attentionForwardRef } from './attention';
import { rmsNormForwardRef } from './rmsNorm';
import { ropeForwardRef } from './rope';
import { swigluForwardRef } from './swiglu';

function p(P: Tensors, name: string): Float64Array {
  const t = P.get(name);
  if (!t) throw new Error(`llama interventions: missing parameter ${name}`);
  return t;
}

const lmHead = (cfg: LlamaRefConfig) => (cfg.tieWeights ? 'model.embed_tokens.weight' : 'lm_head.weight');

/** ./llama.ts llamaForward with hooks (residPre, z, attnOut, mlpOut), no gradients. */
export function llamaRunWithHooks(cfg: LlamaRefConfig, P: Tensors, x: Int32Array, y: Int32Array | null, B: number, T: number, hooks: Hooks = {}): HookedRun {
  const { nLayer: L, nHead: H, nKVHead: KV, nEmbd: C, headDim: D, intermediate: I, vocabSize: V, rmsEps: eps } = cfg;
  const BT = B * T;
  const QW = H * D;
  const W = (H + 2 * KV) * D;
  const f = (n: number) => new Float64Array(n);
  const wte = p(P, 'model.embed_tokens.weight');
  const embed = f(BT * C);
  for (let i = 0; i < BT; i++) for (let c = 0; c < C; c++) embed[i * C + c] = wte[x[i] * C + c];
  let resid = embed.slice();
  const run: HookedRun = {
    B, T, logits: f(BT * V), loss: Number.NaN, losses: f(0), residPre: [], z: [], attnOut: [], mlpOut: [], att: [],
    embed, posEmbed: f(BT * C), lnfMean: f(BT), lnfRstd: f(BT),
  };
  for (let l = 0; l < L; l++) {
    const h = `model.layers.${l}`;
    hooks.residPre?.(l, resid);
    run.residPre.push(resid);
    const n1 = rmsNormForwardRef(resid, p(P, `${h}.input_layernorm.weight`), BT, C, eps);
    const qkv = f(BT * W);
    linearForward(qkv, n1.out, p(P, `${h}.self_attn.q_proj.weight`), BT, C, QW, W, 0);
    linearForward(qkv, n1.out, p(P, `${h}.self_attn.k_proj.weight`), BT, C, KV * D, W, QW);
    linearForward(qkv, n1.out, p(P, `${h}.self_attn.v_proj.weight`), BT, C, KV * D, W, QW + KV * D);
    const rq = ropeForwardRef(qkv, { B, T, H, KV, D }, 0, cfg.ropeTheta);
    const a = attentionForwardRef(rq, { B, T, C: QW, NH: H, KV });
    const z = a.out; // (BT, H D)
    hooks.z?.(l, z);
    const attnOut = f(BT * C);
    linearForward(attnOut, z, p(P, `${h}.self_attn.o_proj.weight`), BT, QW, C);
    hooks.attnOut?.(l, attnOut);
    const res2 = resid.map((v, i) => v + attnOut[i]);
    const n2 = rmsNormForwardRef(res2, p(P, `${h}.post_attention_layernorm.weight`), BT, C, eps);
    const gu = f(BT * 2 * I);
    linearForward(gu, n2.out, p(P, `${h}.mlp.gate_proj.weight`), BT, C, I, 2 * I, 0);
    linearForward(gu, n2.out, p(P, `${h}.mlp.up_proj.weight`), BT, C, I, 2 * I, I);
    const act = swigluForwardRef(gu, BT, I);
    const mlpOut = f(BT * C);
    linearForward(mlpOut, act, p(P, `${h}.mlp.down_proj.weight`), BT, I, C);
    hooks.mlpOut?.(l, mlpOut);
    run.z.push(z);
    run.attnOut.push(attnOut);
    run.mlpOut.push(mlpOut);
    run.att.push(a.att);
    resid = res2.map((v, i) => v + mlpOut[i]);
  }
  hooks.residPre?.(L, resid);
  run.residPre.push(resid);
  const nf = rmsNormForwardRef(resid, p(P, 'model.norm.weight'), BT, C, eps);
  run.lnfRstd = nf.rstd;
  linearForward(run.logits, nf.out, p(P, lmHead(cfg)), BT, C, V);
  if (y) {
    run.losses = f(BT);
    let sum = 0;
    for (let i = 0; i < BT; i++) {
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, run.logits[i * V + v]);
      let s = 0;
      for (let v = 0; v < V; v++) s += Math.exp(run.logits[i * V + v] - max);
      run.losses[i] = Math.log(s) + max - run.logits[i * V + y[i]];
      sum += run.losses[i];
    }
    run.loss = sum / BT;
  }
  return run;
}

/** Channels [lo, hi) of every row of a (N, S) array set to 0 or to their mean over the rows. */
function ablateChannels(a: Float64Array, S: number, lo: number, hi: number, mode: AblationMode): void {
  const N = a.length / S;
  for (let c = lo; c < hi; c++) {
    let m = 0;
    if (mode === 'mean') {
      for (let n = 0; n < N; n++) m += a[n * S + c];
      m /= N;
    }
    for (let n = 0; n < N; n++) a[n * S + c] = m;
  }
}

function ablation(cfg: LlamaRefConfig, P: Tensors, x: Int32Array, y: Int32Array, B: number, T: number, hooks: Hooks): AblationResult {
  const clean = llamaRunWithHooks(cfg, P, x, y, B, T).loss;
  const ablated = llamaRunWithHooks(cfg, P, x, y, B, T, hooks).loss;
  return { clean, ablated, delta: ablated - clean };
}

export function llamaHeadAblation(cfg: LlamaRefConfig, P: Tensors, x: Int32Array, y: Int32Array, B: number, T: number, layer: number, head: number, mode: AblationMode): AblationResult {
  const D = cfg.headDim;
  return ablation(cfg, P, x, y, B, T, { z: (l, z) => l === layer && ablateChannels(z, cfg.nHead * D, head * D, (head + 1) * D, mode) });
}

export function llamaSublayerAblation(cfg: LlamaRefConfig, P: Tensors, x: Int32Array, y: Int32Array, B: number, T: number, layer: number, sublayer: 'attn' | 'mlp', mode: AblationMode): AblationResult {
  const hook = (l: number, out: Float64Array) => l === layer && ablateChannels(out, cfg.nEmbd, 0, cfg.nEmbd, mode);
  return ablation(cfg, P, x, y, B, T, sublayer === 'attn' ? { attnOut: hook } : { mlpOut: hook });
}

/** (L, H) change in mean loss when each head alone is ablated. */
export function llamaAblationGrid(cfg: LlamaRefConfig, P: Tensors, x: Int32Array, y: Int32Array, B: number, T: number, mode: AblationMode): Float64Array {
  const grid = new Float64Array(cfg.nLayer * cfg.nHead);
  for (let l = 0; l < cfg.nLayer; l++) for (let h = 0; h < cfg.nHead; h++) grid[l * cfg.nHead + h] = llamaHeadAblation(cfg, P, x, y, B, T, l, h, mode).delta;
  return grid;
}

/** Direct logit attribution through the frozen RMSNorm: embed, then per layer L{l}.H{h}..., L{l}.mlp. */
export function llamaDirectLogitAttribution(cfg: LlamaRefConfig, P: Tensors, x: Int32Array, pos: number, target: number, other?: number): LogitAttribution {
  const { nLayer: L, nHead: H, nEmbd: C, headDim: D, vocabSize: V } = cfg;
  const T = x.length;
  const HD = H * D;
  const run = llamaRunWithHooks(cfg, P, x, null, 1, T);
  const WU = p(P, lmHead(cfg));
  const w = p(P, 'model.norm.weight');
  const rstd = run.lnfRstd[pos];
  const u = Float64Array.from({ length: C }, (_, c) => WU[target * C + c] - (other !== undefined ? WU[other * C + c] : 0));
  const read = (r: ArrayLike<number>) => {
    let s = 0;
    for (let c = 0; c < C; c++) s += r[c] * rstd * w[c] * u[c];
    return s;
  };
  const names = ['embed'];
  const values = [read(run.embed.subarray(pos * C, (pos + 1) * C))];
  for (let l = 0; l < L; l++) {
    const O = p(P, `model.layers.${l}.self_attn.o_proj.weight`); // (C, H D)
    const z = run.z[l].subarray(pos * HD, (pos + 1) * HD);
    for (let h = 0; h < H; h++) {
      const r = new Float64Array(C);
      for (let o = 0; o < C; o++) for (let k = h * D; k < (h + 1) * D; k++) r[o] += z[k] * O[o * HD + k];
      names.push(`L${l}.H${h}`);
      values.push(read(r));
    }
    names.push(`L${l}.mlp`);
    values.push(read(run.mlpOut[l].subarray(pos * C, (pos + 1) * C)));
  }
  const logit = run.logits[pos * V + target] - (other !== undefined ? run.logits[pos * V + other] : 0);
  return { names, contributions: Float64Array.from(values), lnfBias: 0, logit };
}

const metric = (run: HookedRun, V: number, s: PatchingSetup) => run.logits[(run.T - 1) * V + s.target] - run.logits[(run.T - 1) * V + s.other];

function patched(cfg: LlamaRefConfig, P: Tensors, s: PatchingSetup, patches: Patch[], clean: HookedRun): number {
  const T = s.clean.length;
  const C = cfg.nEmbd;
  const D = cfg.headDim;
  const HD = cfg.nHead * D;
  const run = llamaRunWithHooks(cfg, P, s.corrupted, null, 1, T, {
    residPre: (l, r) => {
      for (const q of patches) if (q.kind === 'resid' && q.layer === l) for (let c = 0; c < C; c++) r[q.pos * C + c] = clean.residPre[l][q.pos * C + c];
    },
    z: (l, z) => {
      for (const q of patches) if (q.kind === 'z' && q.layer === l) for (let c = q.head * D; c < (q.head + 1) * D; c++) z[q.pos * HD + c] = clean.z[l][q.pos * HD + c];
    },
  });
  return metric(run, cfg.vocabSize, s);
}

/** Fractions restored: residual (L+1, T) then heads (T, L, H), like ./interventions.ts's two grids. */
export function llamaPatching(cfg: LlamaRefConfig, P: Tensors, s: PatchingSetup): { resid: PatchingResult; heads: PatchingResult } {
  const T = s.clean.length;
  const cleanRun = llamaRunWithHooks(cfg, P, s.clean, null, 1, T);
  const clean = metric(cleanRun, cfg.vocabSize, s);
  const corrupted = metric(llamaRunWithHooks(cfg, P, s.corrupted, null, 1, T), cfg.vocabSize, s);
  const grid = (sites: Patch[][]): PatchingResult => {
    const m = Float64Array.from(sites, (ps) => patched(cfg, P, s, ps, cleanRun));
    return { clean, corrupted, patched: m, restored: m.map((v) => (v - corrupted) / (clean - corrupted)) };
  };
  const resid: Patch[][] = [];
  for (let l = 0; l <= cfg.nLayer; l++) for (let t = 0; t < T; t++) resid.push([{ kind: 'resid', layer: l, pos: t }]);
  const heads: Patch[][] = [];
  for (let t = 0; t < T; t++) for (let l = 0; l < cfg.nLayer; l++) for (let h = 0; h < cfg.nHead; h++) heads.push([{ kind: 'z', layer: l, head: h, pos: t }]);
  return { resid: grid(resid), heads: grid(heads) };
}
