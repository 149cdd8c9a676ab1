// An independent float64 CPU GPT (nanoGPT's architecture) as plain loops,
// llm.c style: <op>Forward / <op>Backward pairs (backward ACCUMULATES into
// gradients), a forward that keeps what backward needs, clip_grad_norm_ and
// PyTorch's AdamW with nanoGPT's parameter groups.
//
// Parameters are a Map from nanoGPT state_dict name to a Float64Array, so this
// file shares nothing with src/ (not even the flat layout). With tied weights
// lm_head reads transformer.wte.weight and its gradient lands there. Dropout
// (optional; the oracle fixtures use none) takes its masks from the caller:
// salt 0 on the embeddings, 1 + 2l / 2 + 2l on layer l's attention / MLP
// branch, 65536 + l on layer l's attention probabilities (B, NH, T, T), kept
// elements scaled by 1 / (1 - p).

export interface RefConfig {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  blockSize: number;
  vocabSize: number;
  bias: boolean;
  tieWeights: boolean;
  activation: 'relu' | 'gelu';
}

export type Tensors = Map<string, Float64Array>;

const LN_EPS = 1e-5;

// ---------------------------------------------------------------- math helpers

/** erf in float64 to ~1e-15: Taylor series near 0, erfc continued fraction beyond. */
export function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const ax = Math.abs(x);
  if (ax < 2.5) {
    const x2 = ax * ax;
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-18 * Math.abs(sum)) break;
    }
    return (sign * 2 * sum) / Math.sqrt(Math.PI);
  }
  let f = ax;
  for (let n = 80; n >= 1; n--) f = ax + n / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return sign * (1 - erfc);
}

// ---------------------------------------------------------------- layers

/** out (BT, C) = wte[x] + wpe[t] */
export function encoderForward(out: Float64Array, x: Int32Array, wte: Float64Array, wpe: Float64Array, BT: number, T: number, C: number) {
  for (let i = 0; i < BT; i++) {
    const t = i % T;
    for (let c = 0; c < C; c++) out[i * C + c] = wte[x[i] * C + c] + wpe[t * C + c];
  }
}

function encoderBackward(dwte: Float64Array, dwpe: Float64Array, dout: Float64Array, x: Int32Array, BT: number, T: number, C: number) {
  for (let i = 0; i < BT; i++) {
    const t = i % T;
    for (let c = 0; c < C; c++) {
      dwte[x[i] * C + c] += dout[i * C + c];
      dwpe[t * C + c] += dout[i * C + c];
    }
  }
}

/** out (N, C) = (inp - mean) * rstd * w + b, biased variance */
export function layerNormForward(
  out: Float64Array, mean: Float64Array, rstd: Float64Array,
  inp: Float64Array, w: Float64Array, b: Float64Array | null, N: number, C: number,
) {
  for (let n = 0; n < N; n++) {
    let m = 0;
    for (let c = 0; c < C; c++) m += inp[n * C + c];
    m /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (inp[n * C + c] - m) ** 2;
    v /= C;
    const s = 1 / Math.sqrt(v + LN_EPS);
    for (let c = 0; c < C; c++) out[n * C + c] = (inp[n * C + c] - m) * s * w[c] + (b ? b[c] : 0);
    mean[n] = m;
    rstd[n] = s;
  }
}

function layerNormBackward(
  dinp: Float64Array, dw: Float64Array, db: Float64Array | null,
  dout: Float64Array, inp: Float64Array, w: Float64Array, mean: Float64Array, rstd: Float64Array, N: number, C: number,
) {
  for (let n = 0; n < N; n++) {
    let dnormMean = 0;
    let dnormNormMean = 0;
    for (let c = 0; c < C; c++) {
      const norm = (inp[n * C + c] - mean[n]) * rstd[n];
      const dnorm = w[c] * dout[n * C + c];
      dnormMean += dnorm;
      dnormNormMean += dnorm * norm;
    }
    dnormMean /= C;
    dnormNormMean /= C;
    for (let c = 0; c < C; c++) {
      const norm = (inp[n * C + c] - mean[n]) * rstd[n];
      const g = dout[n * C + c];
      if (db) db[c] += g;
      dw[c] += norm * g;
      dinp[n * C + c] += (w[c] * g - dnormMean - norm * dnormNormMean) * rstd[n];
    }
  }
}

/** out (N, OUT) = inp (N, IN) W^T + b, W (OUT, IN) as PyTorch's Linear */
export function linearForward(out: Float64Array, inp: Float64Array, W: Float64Array, b: Float64Array | null, N: number, IN: number, OUT: number) {
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OUT; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < IN; i++) s += inp[n * IN + i] * W[o * IN + i];
      out[n * OUT + o] = s;
    }
  }
}

function linearBackward(
  dinp: Float64Array, dW: Float64Array, db: Float64Array | null,
  dout: Float64Array, inp: Float64Array, W: Float64Array, N: number, IN: number, OUT: number,
) {
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OUT; o++) {
      const g = dout[n * OUT + o];
      if (db) db[o] += g;
      for (let i = 0; i < IN; i++) {
        dinp[n * IN + i] += g * W[o * IN + i];
        dW[o * IN + i] += g * inp[n * IN + i];
      }
    }
  }
}

/** Dropout salt of layer l's attention probabilities. */
export const attentionDropoutSalt = (l: number) => 65536 + l;

/** Causal self-attention: qkv (B, T, 3C) -> out (B, T, C), att (B, NH, T, T) before dropout; drop = mask / (1 - p) or null */
export function attentionForward(
  out: Float64Array, att: Float64Array, qkv: Float64Array, B: number, T: number, C: number, NH: number, drop: Float64Array | null,
) {
  const hs = C / NH;
  const scale = 1 / Math.sqrt(hs);
  const C3 = 3 * C;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < NH; h++) {
        const q = (b * T + t) * C3 + h * hs;
        const row = ((b * NH + h) * T + t) * T;
        let max = -Infinity;
        for (let t2 = 0; t2 <= t; t2++) {
          const k = (b * T + t2) * C3 + C + h * hs;
          let s = 0;
          for (let i = 0; i < hs; i++) s += qkv[q + i] * qkv[k + i];
          att[row + t2] = s * scale;
          if (att[row + t2] > max) max = att[row + t2];
        }
        let sum = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          att[row + t2] = Math.exp(att[row + t2] - max);
          sum += att[row + t2];
        }
        for (let t2 = 0; t2 < T; t2++) att[row + t2] = t2 <= t ? att[row + t2] / sum : 0;
        const o = (b * T + t) * C + h * hs;
        for (let i = 0; i < hs; i++) {
          let s = 0;
          for (let t2 = 0; t2 <= t; t2++) s += (drop ? drop[row + t2] : 1) * att[row + t2] * qkv[(b * T + t2) * C3 + 2 * C + h * hs + i];
          out[o + i] = s;
        }
      }
    }
  }
}

function attentionBackward(
  dqkv: Float64Array, dout: Float64Array, qkv: Float64Array, att: Float64Array, B: number, T: number, C: number, NH: number,
  drop: Float64Array | null,
) {
  const hs = C / NH;
  const scale = 1 / Math.sqrt(hs);
  const C3 = 3 * C;
  const datt = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < NH; h++) {
        const row = ((b * NH + h) * T + t) * T;
        const o = (b * T + t) * C + h * hs;
        // out = (m * att) @ v, m = mask / (1 - p) (1 without dropout)
        for (let t2 = 0; t2 <= t; t2++) {
          const v = (b * T + t2) * C3 + 2 * C + h * hs;
          const m = drop ? drop[row + t2] : 1;
          let s = 0;
          for (let i = 0; i < hs; i++) {
            s += dout[o + i] * qkv[v + i];
            dqkv[v + i] += m * att[row + t2] * dout[o + i];
          }
          datt[t2] = m * s;
        }
        // softmax backward
        let dot = 0;
        for (let t2 = 0; t2 <= t; t2++) dot += att[row + t2] * datt[t2];
        const q = (b * T + t) * C3 + h * hs;
        for (let t2 = 0; t2 <= t; t2++) {
          const dpre = att[row + t2] * (datt[t2] - dot) * scale;
          const k = (b * T + t2) * C3 + C + h * hs;
          for (let i = 0; i < hs; i++) {
            dqkv[q + i] += dpre * qkv[k + i];
            dqkv[k + i] += dpre * qkv[q + i];
          }
        }
      }
    }
  }
}

export function activationForward(out: Float64Array, inp: Float64Array, kind: 'relu' | 'gelu') {
  for (let i = 0; i < inp.length; i++) {
    const x = inp[i];
    out[i] = kind === 'relu' ? Math.max(x, 0) : 0.5 * x * (1 + erf(x / Math.SQRT2));
  }
}

function activationBackward(dinp: Float64Array, inp: Float64Array, dout: Float64Array, kind: 'relu' | 'gelu') {
  for (let i = 0; i < inp.length; i++) {
    const x = inp[i];
    const d = kind === 'relu' ? (x > 0 ? 1 : 0) : 0.5 * (1 + erf(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
    dinp[i] += d * dout[i];
  }
}

// ---------------------------------------------------------------- the model

interface LayerCache {
  inp: Float64Array; // (BT, C) residual stream entering the block
  ln1: Float64Array; ln1Mean: Float64Array; ln1Rstd: Float64Array;
  qkv: Float64Array; // (BT, 3C)
  att: Float64Array; // (B, NH, T, T)
  atty: Float64Array; // (BT, C)
  res2: Float64Array; // (BT, C)
  ln2: Float64Array; ln2Mean: Float64Array; ln2Rstd: Float64Array;
  fch: Float64Array; // (BT, 4C)
  fcha: Float64Array; // (BT, 4C)
}

export interface Dropout {
  p: number;
  /** 1 = kept, 0 = dropped, for n elements of dropout site `salt` */
  mask: (salt: number, n: number) => Uint8Array;
}

/** mask / (1 - p) of layer l's attention probabilities (n = B * NH * T * T), or null without dropout */
function attentionDropFactors(drop: Dropout | undefined, l: number, n: number): Float64Array | null {
  if (!drop || !(drop.p > 0)) return null;
  const mask = drop.mask(attentionDropoutSalt(l), n);
  const scale = 1 / (1 - drop.p);
  return Float64Array.from(mask, (m) => (m ? scale : 0));
}

/** Row softmax of (BT, V) logits and the mean cross-entropy against y (NaN without targets). */
export function softmaxCrossEntropy(logits: Float64Array, y: Int32Array | null, BT: number, V: number): { probs: Float64Array; loss: number } {
  const probs = new Float64Array(BT * V);
  let loss = 0;
  for (let i = 0; i < BT; i++) {
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[i * V + v]);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += (probs[i * V + v] = Math.exp(logits[i * V + v] - max));
    for (let v = 0; v < V; v++) probs[i * V + v] /= sum;
    if (y) loss -= Math.log(probs[i * V + y[i]]);
  }
  return { probs, loss: y ? loss / BT : Number.NaN };
}

/** x * mask / (1 - p), or x itself without dropout */
function applyDropout(x: Float64Array, drop: Dropout | undefined, salt: number): Float64Array {
  if (!drop || !(drop.p > 0)) return x;
  const mask = drop.mask(salt, x.length);
  const scale = 1 / (1 - drop.p);
  return x.map((v, i) => (mask[i] ? v * scale : 0));
}

export interface ForwardResult {
  /** (B, T, V) */
  logits: Float64Array;
  /** (B, NH, T, T) per layer */
  att: Float64Array[];
  /** Mean cross-entropy (NaN without targets). */
  loss: number;
  cache: {
    B: number; T: number; x: Int32Array; y: Int32Array | null; drop: Dropout | undefined;
    layers: LayerCache[];
    resid: Float64Array; lnf: Float64Array; lnfMean: Float64Array; lnfRstd: Float64Array;
    probs: Float64Array; // (BT, V)
  };
}

function p(P: Tensors, name: string): Float64Array {
  const t = P.get(name);
  if (!t) throw new Error(`reference GPT: missing parameter ${name}`);
  return t;
}

export const lmHeadName = (cfg: RefConfig) => (cfg.tieWeights ? 'transformer.wte.weight' : 'lm_head.weight');

export function gptForward(
  cfg: RefConfig, P: Tensors, x: Int32Array, y: Int32Array | null, B: number, T: number, drop?: Dropout,
): ForwardResult {
  const { nLayer: L, nHead: NH, nEmbd: C, vocabSize: V, bias } = cfg;
  const BT = B * T;
  const f = (n: number) => new Float64Array(n);
  const opt = (name: string) => (bias ? p(P, name) : null);

  let resid: Float64Array = f(BT * C); // (BT, C)
  encoderForward(resid, x, p(P, 'transformer.wte.weight'), p(P, 'transformer.wpe.weight'), BT, T, C);
  resid = applyDropout(resid, drop, 0);
  const layers: LayerCache[] = [];
  for (let l = 0; l < L; l++) {
    const h = `transformer.h.${l}`;
    const c: LayerCache = {
      inp: resid,
      ln1: f(BT * C), ln1Mean: f(BT), ln1Rstd: f(BT),
      qkv: f(BT * 3 * C), att: f(B * NH * T * T), atty: f(BT * C),
      res2: f(BT * C),
      ln2: f(BT * C), ln2Mean: f(BT), ln2Rstd: f(BT),
      fch: f(BT * 4 * C), fcha: f(BT * 4 * C),
    };
    layerNormForward(c.ln1, c.ln1Mean, c.ln1Rstd, resid, p(P, `${h}.ln_1.weight`), opt(`${h}.ln_1.bias`), BT, C);
    linearForward(c.qkv, c.ln1, p(P, `${h}.attn.c_attn.weight`), opt(`${h}.attn.c_attn.bias`), BT, C, 3 * C);
    attentionForward(c.atty, c.att, c.qkv, B, T, C, NH, attentionDropFactors(drop, l, B * NH * T * T));
    const proj = f(BT * C); // (BT, C)
    linearForward(proj, c.atty, p(P, `${h}.attn.c_proj.weight`), opt(`${h}.attn.c_proj.bias`), BT, C, C);
    const projD = applyDropout(proj, drop, 1 + 2 * l);
    for (let i = 0; i < BT * C; i++) c.res2[i] = resid[i] + projD[i];
    layerNormForward(c.ln2, c.ln2Mean, c.ln2Rstd, c.res2, p(P, `${h}.ln_2.weight`), opt(`${h}.ln_2.bias`), BT, C);
    linearForward(c.fch, c.ln2, p(P, `${h}.mlp.c_fc.weight`), opt(`${h}.mlp.c_fc.bias`), BT, C, 4 * C);
    activationForward(c.fcha, c.fch, cfg.activation);
    const mlp = f(BT * C); // (BT, C)
    linearForward(mlp, c.fcha, p(P, `${h}.mlp.c_proj.weight`), opt(`${h}.mlp.c_proj.bias`), BT, 4 * C, C);
    const out = f(BT * C);
    const mlpD = applyDropout(mlp, drop, 2 + 2 * l);
    for (let i = 0; i < BT * C; i++) out[i] = c.res2[i] + mlpD[i];
    layers.push(c);
    resid = out;
  }
  const lnf = f(BT * C);
  const lnfMean = f(BT);
  const lnfRstd = f(BT);
  layerNormForward(lnf, lnfMean, lnfRstd, resid, p(P, 'transformer.ln_f.weight'), opt('transformer.ln_f.bias'), BT, C);
  const logits = f(BT * V); // (BT, V)
  linearForward(logits, lnf, p(P, lmHeadName(cfg)), null, BT, C, V);

  const { probs, loss } = softmaxCrossEntropy(logits, y, BT, V);
  return {
    logits, loss, att: layers.map((c) => c.att),
    cache: { B, T, x, y, drop, layers, resid, lnf, lnfMean, lnfRstd, probs },
  };
}

/**
 * Gradients for every named parameter (tied lm_head folded into wte): of the
 * mean cross-entropy, or of any loss whose gradient into the logits (BT, V) is
 * given as `dlogitsIn` (DPO's sequence log-probabilities, tests/reference/dpo.ts).
 */
export function gptBackward(cfg: RefConfig, P: Tensors, fwd: ForwardResult, dlogitsIn?: Float64Array): Tensors {
  const { nLayer: L, nHead: NH, nEmbd: C, vocabSize: V, bias } = cfg;
  const { B, T, x, y, drop, layers, resid, lnf, lnfMean, lnfRstd, probs } = fwd.cache;
  if (!y && !dlogitsIn) throw new Error('reference GPT: backward needs targets or the gradient of the logits');
  const BT = B * T;
  const f = (n: number) => new Float64Array(n);
  const G: Tensors = new Map();
  for (const [name, t] of P) if (!(cfg.tieWeights && name === 'lm_head.weight')) G.set(name, f(t.length));
  const g = (name: string) => G.get(name)!;
  const optG = (name: string) => (bias ? g(name) : null);

  let dlogits = dlogitsIn; // (BT, V)
  if (!dlogits) {
    dlogits = f(BT * V);
    for (let i = 0; i < BT; i++) {
      for (let v = 0; v < V; v++) dlogits[i * V + v] = (probs[i * V + v] - (v === y![i] ? 1 : 0)) / BT;
    }
  }
  const dlnf = f(BT * C);
  linearBackward(dlnf, g(lmHeadName(cfg)), null, dlogits, lnf, p(P, lmHeadName(cfg)), BT, C, V);
  let dres = f(BT * C); // (BT, C) gradient of the residual stream
  layerNormBackward(dres, g('transformer.ln_f.weight'), optG('transformer.ln_f.bias'), dlnf, resid, p(P, 'transformer.ln_f.weight'), lnfMean, lnfRstd, BT, C);

  for (let l = L - 1; l >= 0; l--) {
    const h = `transformer.h.${l}`;
    const c = layers[l];
    // out = res2 + mlp(ln2(res2))
    const dres2 = Float64Array.from(dres);
    const dfcha = f(BT * 4 * C);
    const dmlp = applyDropout(dres, drop, 2 + 2 * l);
    linearBackward(dfcha, g(`${h}.mlp.c_proj.weight`), optG(`${h}.mlp.c_proj.bias`), dmlp, c.fcha, p(P, `${h}.mlp.c_proj.weight`), BT, 4 * C, C);
    const dfch = f(BT * 4 * C);
    activationBackward(dfch, c.fch, dfcha, cfg.activation);
    const dln2 = f(BT * C);
    linearBackward(dln2, g(`${h}.mlp.c_fc.weight`), optG(`${h}.mlp.c_fc.bias`), dfch, c.ln2, p(P, `${h}.mlp.c_fc.weight`), BT, C, 4 * C);
    layerNormBackward(dres2, g(`${h}.ln_2.weight`), optG(`${h}.ln_2.bias`), dln2, c.res2, p(P, `${h}.ln_2.weight`), c.ln2Mean, c.ln2Rstd, BT, C);
    // res2 = inp + attn(ln1(inp))
    const dinp = Float64Array.from(dres2);
    const datty = f(BT * C);
    const dattn = applyDropout(dres2, drop, 1 + 2 * l);
    linearBackward(datty, g(`${h}.attn.c_proj.weight`), optG(`${h}.attn.c_proj.bias`), dattn, c.atty, p(P, `${h}.attn.c_proj.weight`), BT, C, C);
    const dqkv = f(BT * 3 * C);
    attentionBackward(dqkv, datty, c.qkv, c.att, B, T, C, NH, attentionDropFactors(drop, l, B * NH * T * T));
    const dln1 = f(BT * C);
    linearBackward(dln1, g(`${h}.attn.c_attn.weight`), optG(`${h}.attn.c_attn.bias`), dqkv, c.ln1, p(P, `${h}.attn.c_attn.weight`), BT, C, 3 * C);
    layerNormBackward(dinp, g(`${h}.ln_1.weight`), optG(`${h}.ln_1.bias`), dln1, c.inp, p(P, `${h}.ln_1.weight`), c.ln1Mean, c.ln1Rstd, BT, C);
    dres = dinp;
  }
  encoderBackward(g('transformer.wte.weight'), g('transformer.wpe.weight'), applyDropout(dres, drop, 0), x, BT, T, C);
  return G;
}

// ---------------------------------------------------------------- optimizer

/** Global L2 norm of all gradients (before clipping). */
export function gradNorm(G: Tensors): number {
  let s = 0;
  for (const t of G.values()) for (let i = 0; i < t.length; i++) s += t[i] * t[i];
  return Math.sqrt(s);
}

/** torch.nn.utils.clip_grad_norm_: scale by min(1, maxNorm / (norm + 1e-6)); returns the norm before clipping. */
export function clipGradNorm(G: Tensors, maxNorm: number): number {
  const norm = gradNorm(G);
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  for (const t of G.values()) for (let i = 0; i < t.length; i++) t[i] *= coef;
  return norm;
}

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface AdamState {
  m: Tensors;
  v: Tensors;
  t: number;
}

export function adamInit(G: Tensors): AdamState {
  const zeros = () => new Map([...G].map(([k, t]) => [k, new Float64Array(t.length)]));
  return { m: zeros(), v: zeros(), t: 0 };
}

/** PyTorch AdamW, decay only on tensors with 2+ dims (nanoGPT's configure_optimizers). */
export function adamwStep(P: Tensors, G: Tensors, shapes: Map<string, number[]>, s: AdamState, h: AdamHyper): void {
  s.t += 1;
  const bc1 = 1 - h.beta1 ** s.t;
  const bc2 = 1 - h.beta2 ** s.t;
  for (const [name, g] of G) {
    const w = p(P, name);
    const m = s.m.get(name)!;
    const v = s.v.get(name)!;
    const decay = shapes.get(name)!.length >= 2;
    for (let i = 0; i < w.length; i++) {
      if (decay) w[i] *= 1 - h.lr * h.weightDecay;
      m[i] = h.beta1 * m[i] + (1 - h.beta1) * g[i];
      v[i] = h.beta2 * v[i] + (1 - h.beta2) * g[i] * g[i];
      w[i] -= (h.lr / bc1) * (m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + h.eps));
    }
  }
}

// ---------------------------------------------------------------- inspection

/** The residual stream after each block, (L) arrays of (B*T, C), from a forward's cache. */
export function blockResiduals(fwd: ForwardResult): Float64Array[] {
  const { layers, resid } = fwd.cache;
  return layers.map((_, l) => (l + 1 < layers.length ? layers[l + 1].inp : resid));
}

/** The logit lens: ln_f and lm_head applied to the residual after each block, (L) arrays of (B*T, V). */
export function logitLens(cfg: RefConfig, P: Tensors, fwd: ForwardResult): Float64Array[] {
  const { B, T } = fwd.cache;
  const { nEmbd: C, vocabSize: V, bias } = cfg;
  const BT = B * T;
  return blockResiduals(fwd).map((r) => {
    const ln = new Float64Array(BT * C);
    layerNormForward(ln, new Float64Array(BT), new Float64Array(BT), r, p(P, 'transformer.ln_f.weight'), bias ? p(P, 'transformer.ln_f.bias') : null, BT, C);
    const out = new Float64Array(BT * V); // (BT, V)
    linearForward(out, ln, p(P, lmHeadName(cfg)), null, BT, C, V);
    return out;
  });
}

/** Cross-entropy in nats of each position's target, (B*T), from a forward with targets. */
export function positionLosses(fwd: ForwardResult, V: number): Float64Array {
  const { y, probs, B, T } = fwd.cache;
  if (!y) throw new Error('reference GPT: per-position losses need targets');
  return Float64Array.from({ length: B * T }, (_, i) => -Math.log(probs[i * V + y[i]]));
}
