// An independent float64 CPU LLaMA (Hugging Face LlamaForCausalLM semantics)
// as plain loops, the companion of tests/reference/gpt.ts: RMSNorm, rotary
// embeddings on q and k (rotate_half), grouped-query causal attention, a
// SwiGLU MLP, no biases, no learned positions. Backward ACCUMULATES into
// gradients; the optimizer (clip_grad_norm_, AdamW with decay on >= 2-dim
// tensors) is gpt.ts's.
//
// Parameters are a Map from Hugging Face state_dict name to a Float64Array.
// With tied weights lm_head reads model.embed_tokens.weight and its gradient
// lands there (named_parameters lists embed_tokens only).
//
//   x (BT, C) = embed_tokens[ids]
//   per layer: h = x + o_proj(attn(rope(q_proj, k_proj, v_proj of input_layernorm(x))))
//              x = h + down_proj(silu(gate_proj(m)) * up_proj(m)),  m = post_attention_layernorm(h)
//   logits (BT, V) = lm_head(norm(x))
//
// With LoRA adapters (PEFT's LlamaForCausalLM names,
// base_model.model.model.layers.{l}.self_attn.q_proj.lora_A.weight (r, in) and
// lora_B.weight (out, r)) each adapted Linear adds s (x A^T) B^T to its output,
// and the backward also returns dA and dB under those names.

import { attentionBackwardRef, attentionForwardRef } from './attention';
import { softmaxCrossEntropy, type Tensors } from './gpt';
import { rmsNormBackwardRef, rmsNormForwardRef } from './rmsNorm';
import { ropeBackwardRef, ropeForwardRef } from './rope';
import { swigluBackwardRef, swigluForwardRef } from './swiglu';

export interface LlamaRefConfig {
  nLayer: number;
  /** query heads H */
  nHead: number;
  /** key/value heads KV (divides H) */
  nKVHead: number;
  /** hidden size C */
  nEmbd: number;
  /** head dim D (even; H * D need not equal C) */
  headDim: number;
  /** MLP width I */
  intermediate: number;
  vocabSize: number;
  blockSize: number;
  tieWeights: boolean;
  ropeTheta: number;
  rmsEps: number;
}

/** A Hugging Face LlamaConfig (a fixture's `config` metadata) as the reference's config. */
export function parseLlamaConfig(json: string): LlamaRefConfig {
  const r = JSON.parse(json) as Record<string, number & boolean>;
  return {
    nLayer: r.num_hidden_layers,
    nHead: r.num_attention_heads,
    nKVHead: r.num_key_value_heads ?? r.num_attention_heads,
    nEmbd: r.hidden_size,
    headDim: r.head_dim ?? r.hidden_size / r.num_attention_heads,
    intermediate: r.intermediate_size,
    vocabSize: r.vocab_size,
    blockSize: r.max_position_embeddings,
    tieWeights: r.tie_word_embeddings ?? false,
    ropeTheta: r.rope_theta ?? 10000,
    rmsEps: r.rms_norm_eps ?? 1e-6,
  };
}

/** Every named tensor and its shape (Hugging Face's state_dict; lm_head only when untied). */
export function llamaShapes(cfg: LlamaRefConfig): Map<string, number[]> {
  const { nLayer: L, nHead: H, nKVHead: KV, nEmbd: C, headDim: D, intermediate: I, vocabSize: V } = cfg;
  const s = new Map<string, number[]>([['model.embed_tokens.weight', [V, C]]]);
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    s.set(`${p}.input_layernorm.weight`, [C]);
    s.set(`${p}.self_attn.q_proj.weight`, [H * D, C]);
    s.set(`${p}.self_attn.k_proj.weight`, [KV * D, C]);
    s.set(`${p}.self_attn.v_proj.weight`, [KV * D, C]);
    s.set(`${p}.self_attn.o_proj.weight`, [C, H * D]);
    s.set(`${p}.post_attention_layernorm.weight`, [C]);
    s.set(`${p}.mlp.gate_proj.weight`, [I, C]);
    s.set(`${p}.mlp.up_proj.weight`, [I, C]);
    s.set(`${p}.mlp.down_proj.weight`, [C, I]);
  }
  s.set('model.norm.weight', [C]);
  if (!cfg.tieWeights) s.set('lm_head.weight', [V, C]);
  return s;
}

/** Hugging Face's parameter count of a LlamaConfig (model.num_parameters(): a tied lm_head counts once). */
export function llamaParamCount(cfg: LlamaRefConfig): number {
  const { nLayer: L, nHead: H, nKVHead: KV, nEmbd: C, headDim: D, intermediate: I, vocabSize: V } = cfg;
  return V * C + L * (2 * C + C * H * D + 2 * C * KV * D + H * D * C + 3 * C * I) + C + (cfg.tieWeights ? 0 : V * C);
}

// ---------------------------------------------------------------- layers

/** out (N, OUT) = inp (N, IN) W^T, W (OUT, IN) as PyTorch's Linear; written at column `col` of rows `ld` wide */
export function linearForward(out: Float64Array, inp: Float64Array, W: Float64Array, N: number, IN: number, OUT: number, ld = OUT, col = 0) {
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OUT; o++) {
      let s = 0;
      for (let i = 0; i < IN; i++) s += inp[n * IN + i] * W[o * IN + i];
      out[n * ld + col + o] = s;
    }
  }
}

/** LoRA adapters under PEFT's names and their scale s = strength * lora_alpha / r. */
export interface LlamaLora {
  s: number;
  adapters: Tensors;
}

const peftStem = (weight: string) => `base_model.model.${weight.replace(/\.weight$/, '')}`;

/** The adapter on the Linear whose weight is `weight`, or null. */
function adapterOf(lora: LlamaLora | undefined, weight: string, IN: number): { A: Float64Array; B: Float64Array; r: number; stem: string } | null {
  if (!lora) return null;
  const stem = peftStem(weight);
  const A = lora.adapters.get(`${stem}.lora_A.weight`);
  const B = lora.adapters.get(`${stem}.lora_B.weight`);
  if (!A || !B) return null;
  return { A, B, r: A.length / IN, stem };
}

/** out[:, col..col+OUT) (rows ld wide) += s (inp A^T) B^T when `weight`'s Linear is adapted. */
function loraForwardRef(out: Float64Array, inp: Float64Array, lora: LlamaLora | undefined, weight: string, N: number, IN: number, OUT: number, ld = OUT, col = 0) {
  const ad = adapterOf(lora, weight, IN);
  if (!ad) return;
  const { A, B, r } = ad;
  for (let n = 0; n < N; n++) {
    const xa = new Float64Array(r);
    for (let k = 0; k < r; k++) for (let i = 0; i < IN; i++) xa[k] += inp[n * IN + i] * A[k * IN + i];
    for (let o = 0; o < OUT; o++) {
      let acc = 0;
      for (let k = 0; k < r; k++) acc += xa[k] * B[o * r + k];
      out[n * ld + col + o] += lora!.s * acc;
    }
  }
}

/** The adapter's backward from dout[:, col..col+OUT): dA, dB into G (under PEFT's names), dinp += its share. */
function loraBackwardRef(
  G: Tensors, dinp: Float64Array, dout: Float64Array, inp: Float64Array, lora: LlamaLora | undefined, weight: string,
  N: number, IN: number, OUT: number, ld = OUT, col = 0,
) {
  const ad = adapterOf(lora, weight, IN);
  if (!ad) return;
  const { A, B, r, stem } = ad;
  const s = lora!.s;
  const nameA = `${stem}.lora_A.weight`;
  const nameB = `${stem}.lora_B.weight`;
  if (!G.has(nameA)) G.set(nameA, new Float64Array(A.length));
  if (!G.has(nameB)) G.set(nameB, new Float64Array(B.length));
  const dA = G.get(nameA)!;
  const dB = G.get(nameB)!;
  for (let n = 0; n < N; n++) {
    const xa = new Float64Array(r);
    for (let k = 0; k < r; k++) for (let i = 0; i < IN; i++) xa[k] += inp[n * IN + i] * A[k * IN + i];
    const dxa = new Float64Array(r); // s dout B
    for (let o = 0; o < OUT; o++) {
      const g = dout[n * ld + col + o];
      for (let k = 0; k < r; k++) {
        dB[o * r + k] += s * g * xa[k];
        dxa[k] += s * g * B[o * r + k];
      }
    }
    for (let k = 0; k < r; k++) {
      for (let i = 0; i < IN; i++) {
        dA[k * IN + i] += dxa[k] * inp[n * IN + i];
        dinp[n * IN + i] += dxa[k] * A[k * IN + i];
      }
    }
  }
}

/** dinp +=, dW += from dout read at column `col` of rows `ld` wide */
function linearBackward(
  dinp: Float64Array, dW: Float64Array, dout: Float64Array, inp: Float64Array, W: Float64Array,
  N: number, IN: number, OUT: number, ld = OUT, col = 0,
) {
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OUT; o++) {
      const g = dout[n * ld + col + o];
      for (let i = 0; i < IN; i++) {
        dinp[n * IN + i] += g * W[o * IN + i];
        dW[o * IN + i] += g * inp[n * IN + i];
      }
    }
  }
}

// ---------------------------------------------------------------- the model

interface LayerCache {
  inp: Float64Array; // (BT, C) residual stream entering the block
  ln1: Float64Array; ln1Rstd: Float64Array; // (BT, C), (BT)
  qkv: Float64Array; // (BT, (H + 2 KV) D) after rotation
  att: Float64Array; // (B, H, T, T)
  atty: Float64Array; // (BT, H D)
  res2: Float64Array; // (BT, C)
  ln2: Float64Array; ln2Rstd: Float64Array;
  gu: Float64Array; // (BT, 2I) gate | up
  act: Float64Array; // (BT, I) silu(gate) * up
}

export interface LlamaForwardResult {
  /** (B, T, V) */
  logits: Float64Array;
  /** Mean cross-entropy (NaN without targets). */
  loss: number;
  cache: {
    B: number; T: number; x: Int32Array; y: Int32Array | null; lora?: LlamaLora;
    layers: LayerCache[];
    resid: Float64Array; lnf: Float64Array; lnfRstd: Float64Array;
    probs: Float64Array; // (BT, V)
  };
}

function p(P: Tensors, name: string): Float64Array {
  const t = P.get(name);
  if (!t) throw new Error(`reference LLaMA: missing parameter ${name}`);
  return t;
}

const lmHeadName = (cfg: LlamaRefConfig) => (cfg.tieWeights ? 'model.embed_tokens.weight' : 'lm_head.weight');

export function llamaForward(cfg: LlamaRefConfig, P: Tensors, x: Int32Array, y: Int32Array | null, B: number, T: number, lora?: LlamaLora): LlamaForwardResult {
  const { nLayer: L, nHead: H, nKVHead: KV, nEmbd: C, headDim: D, intermediate: I, vocabSize: V, rmsEps: eps } = cfg;
  const BT = B * T;
  const QW = H * D;
  const W = (H + 2 * KV) * D;
  const f = (n: number) => new Float64Array(n);
  const wte = p(P, 'model.embed_tokens.weight');
  // A Linear by weight name: the base product, then its adapter's when it has one.
  const lin = (out: Float64Array, inp: Float64Array, weight: string, N: number, IN: number, OUT: number, ld = OUT, col = 0) => {
    linearForward(out, inp, p(P, weight), N, IN, OUT, ld, col);
    loraForwardRef(out, inp, lora, weight, N, IN, OUT, ld, col);
  };
  let resid = f(BT * C); // (BT, C)
  for (let i = 0; i < BT; i++) for (let c = 0; c < C; c++) resid[i * C + c] = wte[x[i] * C + c];
  const layers: LayerCache[] = [];
  for (let l = 0; l < L; l++) {
    const h = `model.layers.${l}`;
    const n1 = rmsNormForwardRef(resid, p(P, `${h}.input_layernorm.weight`), BT, C, eps);
    const qkv = f(BT * W); // (BT, (H + 2 KV) D) q | k | v
    lin(qkv, n1.out, `${h}.self_attn.q_proj.weight`, BT, C, QW, W, 0);
    lin(qkv, n1.out, `${h}.self_attn.k_proj.weight`, BT, C, KV * D, W, QW);
    lin(qkv, n1.out, `${h}.self_attn.v_proj.weight`, BT, C, KV * D, W, QW + KV * D);
    const rq = ropeForwardRef(qkv, { B, T, H, KV, D }, 0, cfg.ropeTheta);
    const a = attentionForwardRef(rq, { B, T, C: QW, NH: H, KV });
    const proj = f(BT * C);
    lin(proj, a.out, `${h}.self_attn.o_proj.weight`, BT, QW, C);
    const res2 = resid.map((v, i) => v + proj[i]);
    const n2 = rmsNormForwardRef(res2, p(P, `${h}.post_attention_layernorm.weight`), BT, C, eps);
    const gu = f(BT * 2 * I); // (BT, 2I) gate | up
    lin(gu, n2.out, `${h}.mlp.gate_proj.weight`, BT, C, I, 2 * I, 0);
    lin(gu, n2.out, `${h}.mlp.up_proj.weight`, BT, C, I, 2 * I, I);
    const act = swigluForwardRef(gu, BT, I); // (BT, I)
    const mlp = f(BT * C);
    lin(mlp, act, `${h}.mlp.down_proj.weight`, BT, I, C);
    layers.push({
      inp: resid, ln1: n1.out, ln1Rstd: n1.rstd, qkv: rq, att: a.att, atty: a.out,
      res2, ln2: n2.out, ln2Rstd: n2.rstd, gu, act,
    });
    resid = res2.map((v, i) => v + mlp[i]);
  }
  const nf = rmsNormForwardRef(resid, p(P, 'model.norm.weight'), BT, C, eps);
  const logits = f(BT * V); // (BT, V)
  linearForward(logits, nf.out, p(P, lmHeadName(cfg)), BT, C, V);

  const { probs, loss } = softmaxCrossEntropy(logits, y, BT, V);
  return { logits, loss, cache: { B, T, x, y, lora, layers, resid, lnf: nf.out, lnfRstd: nf.rstd, probs } };
}

/** Gradients of the mean cross-entropy for every named parameter (a tied lm_head folded into embed_tokens), and every adapter's under LoRA. */
export function llamaBackward(cfg: LlamaRefConfig, P: Tensors, fwd: LlamaForwardResult): Tensors {
  const { nLayer: L, nHead: H, nKVHead: KV, nEmbd: C, headDim: D, intermediate: I, vocabSize: V } = cfg;
  const { B, T, x, y, lora, layers, resid, lnf, lnfRstd, probs } = fwd.cache;
  if (!y) throw new Error('reference LLaMA: backward needs targets');
  const BT = B * T;
  const QW = H * D;
  const W = (H + 2 * KV) * D;
  const f = (n: number) => new Float64Array(n);
  const G: Tensors = new Map();
  for (const [name, t] of P) if (!(cfg.tieWeights && name === 'lm_head.weight')) G.set(name, f(t.length));
  const g = (name: string) => G.get(name)!;
  // A Linear's backward by weight name: the base's, then its adapter's when it has one.
  const lin = (dinp: Float64Array, weight: string, dout: Float64Array, inp: Float64Array, N: number, IN: number, OUT: number, ld = OUT, col = 0) => {
    linearBackward(dinp, g(weight), dout, inp, p(P, weight), N, IN, OUT, ld, col);
    loraBackwardRef(G, dinp, dout, inp, lora, weight, N, IN, OUT, ld, col);
  };

  const dlogits = f(BT * V);
  for (let i = 0; i < BT; i++) for (let v = 0; v < V; v++) dlogits[i * V + v] = (probs[i * V + v] - (v === y[i] ? 1 : 0)) / BT;
  const dlnf = f(BT * C);
  linearBackward(dlnf, g(lmHeadName(cfg)), dlogits, lnf, p(P, lmHeadName(cfg)), BT, C, V);
  let dres = f(BT * C); // (BT, C) gradient of the residual stream
  rmsNormBackwardRef(dres, g('model.norm.weight'), dlnf, resid, p(P, 'model.norm.weight'), lnfRstd, BT, C);

  for (let l = L - 1; l >= 0; l--) {
    const h = `model.layers.${l}`;
    const c = layers[l];
    // out = res2 + down(swiglu(gate | up of post_attention_layernorm(res2)))
    const dres2 = Float64Array.from(dres);
    const dact = f(BT * I);
    lin(dact, `${h}.mlp.down_proj.weight`, dres, c.act, BT, I, C);
    const dgu = f(BT * 2 * I);
    swigluBackwardRef(dgu, dact, c.gu, BT, I);
    const dln2 = f(BT * C);
    lin(dln2, `${h}.mlp.gate_proj.weight`, dgu, c.ln2, BT, C, I, 2 * I, 0);
    lin(dln2, `${h}.mlp.up_proj.weight`, dgu, c.ln2, BT, C, I, 2 * I, I);
    rmsNormBackwardRef(dres2, g(`${h}.post_attention_layernorm.weight`), dln2, c.res2, p(P, `${h}.post_attention_layernorm.weight`), c.ln2Rstd, BT, C);
    // res2 = inp + o_proj(attn(rope(qkv(input_layernorm(inp)))))
    const dinp = Float64Array.from(dres2);
    const datty = f(BT * QW);
    lin(datty, `${h}.self_attn.o_proj.weight`, dres2, c.atty, BT, QW, C);
    const drq = attentionBackwardRef(datty, c.qkv, c.att, { B, T, C: QW, NH: H, KV });
    const dqkv = ropeBackwardRef(drq, { B, T, H, KV, D }, 0, cfg.ropeTheta);
    const dln1 = f(BT * C);
    lin(dln1, `${h}.self_attn.q_proj.weight`, dqkv, c.ln1, BT, C, QW, W, 0);
    lin(dln1, `${h}.self_attn.k_proj.weight`, dqkv, c.ln1, BT, C, KV * D, W, QW);
    lin(dln1, `${h}.self_attn.v_proj.weight`, dqkv, c.ln1, BT, C, KV * D, W, QW + KV * D);
    rmsNormBackwardRef(dinp, g(`${h}.input_layernorm.weight`), dln1, c.inp, p(P, `${h}.input_layernorm.weight`), c.ln1Rstd, BT, C);
    dres = dinp;
  }
  const dwte = g('model.embed_tokens.weight');
  for (let i = 0; i < BT; i++) for (let c = 0; c < C; c++) dwte[x[i] * C + c] += dres[i * C + c];
  return G;
}
