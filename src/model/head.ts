// The model's tail, a pair like the blocks: the final norm and lm_head.
//
//   lnf    = norm_f(inp)            (N, C)   LayerNorm (GPT-2) or RMSNorm (LLaMA); mean (LayerNorm) and rstd (N) saved
//   logits = lnf lm_head^T          (N, V)
//
// Written once for the training forward, the logit lens (./gptProbes.ts) and
// the key/value-cache decoder (./decoder.ts); headBackward is the training
// backward's first half. lm_head is wte's range when the weights are tied.

import type { Binding, Gpu, Recorder } from '../gpu/runtime';
import { layerNormBackward, layerNormForward } from '../kernels/layerNorm';
import { matmul } from '../kernels/matmul';
import type { GradReduce } from '../kernels/gradReduce';
import { rmsNormBackward, rmsNormForward } from '../kernels/rmsNorm';

/** The tail's weights: the final norm's gain (and bias, LayerNorm only) and lm_head (V, C). */
export interface HeadWeights {
  normW: Binding;
  normB: Binding | null;
  lmHead: Binding;
}

export interface HeadShape {
  N: number;
  C: number;
  V: number;
  /** RMSNorm's epsilon for the LLaMA block; null: LayerNorm (GPT-2). */
  rmsEps: number | null;
}

/** The final norm's saved rows. */
export interface HeadActs {
  lnf: Binding; // (N, C)
  mean: Binding | null; // (N) LayerNorm only
  rstd: Binding; // (N)
}

/** logits (N, V) = norm_f(inp) lm_head^T; lnf, mean and rstd saved. */
export function headForward(gpu: Gpu, rec: Recorder, args: { logits: Binding; inp: Binding; acts: HeadActs; w: HeadWeights; shape: HeadShape }): void {
  const { inp, acts: a, w, shape: s } = args;
  if (s.rmsEps !== null) rmsNormForward(gpu, rec, { out: a.lnf, rstd: a.rstd, inp, weight: w.normW, N: s.N, C: s.C, eps: s.rmsEps });
  else layerNormForward(gpu, rec, { out: a.lnf, mean: a.mean!, rstd: a.rstd, inp, weight: w.normW, bias: w.normB, N: s.N, C: s.C });
  matmul(gpu, rec, { site: 'lm_head', out: args.logits, a: a.lnf, b: w.lmHead, M: s.N, N: s.V, K: s.C, transB: true }); // (N, V)
}

export interface HeadBackwardArgs {
  /** (N, C) d inp, overwritten (the first write of the residual gradient) */
  dinp: Binding;
  /** (N, V) d logits */
  dlogits: Binding;
  /** (N, C) the tail's input and its saved rows */
  inp: Binding;
  acts: HeadActs;
  w: HeadWeights;
  /** Gradients (accumulated); lmHead null when the weights are a frozen group (the norm's then go to a sink). */
  dw: { normW: Binding; normB: Binding | null; lmHead: Binding | null };
  shape: HeadShape;
  /** (N, C) scratch: d lnf */
  dC: Binding;
  /** The backward's deferred weight gradients; null for a frozen group (the norm then gets no gradient). */
  reduce: GradReduce | null;
}

/** d inp from d logits: through lm_head, then the final norm; weight gradients accumulated. */
export function headBackward(gpu: Gpu, rec: Recorder, args: HeadBackwardArgs): void {
  const { acts: a, w, dw, shape: s } = args;
  const { N, C, V } = s;
  matmul(gpu, rec, { site: 'lm_head', out: args.dC, a: args.dlogits, b: w.lmHead, M: N, N: C, K: V }); // d lnf (N, C)
  if (dw.lmHead) matmul(gpu, rec, { site: 'lm_head', out: dw.lmHead, a: args.dlogits, b: a.lnf, M: V, N: C, K: N, transA: true, accumulate: true, deferred: args.reduce }); // (V, C)
  const norm = { deferred: args.reduce, frozen: !args.reduce, dinp: args.dinp, dweight: dw.normW, weight: w.normW, dout: args.dC, inp: args.inp, rstd: a.rstd, N, C, overwrite: true };
  if (s.rmsEps !== null) rmsNormBackward(gpu, rec, norm);
  else layerNormBackward(gpu, rec, { ...norm, dbias: dw.normB, mean: a.mean! });
}
