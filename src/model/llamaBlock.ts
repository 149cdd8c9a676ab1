// One LLaMA-style block (Hugging Face's LlamaDecoderLayer), forward and
// backward as a pair, over N = B*T rows:
//
//   ln1  = rmsnorm(inp) * input_layernorm                  (N, C)     rstd (N) saved
//   qkv  = rope(ln1 qkv_proj^T)                            (N, (H + 2KV) D)  q | k | v, q and k rotated
//   atty = attend(qkv)                                     (N, C)     grouped-query causal attention (the caller's)
//   res2 = inp + atty o_proj^T                             (N, C)     residual in the matmul epilogue
//   ln2  = rmsnorm(res2) * post_attention_layernorm        (N, C)
//   fch  = ln2 gate_up_proj^T                              (N, 2I)    gate | up
//   fcha = silu(gate) * up                                 (N, I)
//   out  = res2 + fcha down_proj^T                         (N, C)
//
// No biases, no dropout, no learned positions. The backward reads the saved
// activations and accumulates every weight gradient (llm.c's convention);
// `dres` holds d(out) on entry and d(inp) on exit.
//
// With LoRA adapters (args.lora, PEFT's q_proj ... down_proj) each adapted
// Linear adds s (x A^T) B^T to its columns of the output right after the base
// matmul (q_proj, k_proj, v_proj: their columns of qkv, before the rotation;
// gate_proj, up_proj: theirs of fch); the backward calls adapterBackward with
// the whole fused gradient, of which the adapter reads its columns.

import type { Binding, Gpu, Recorder } from '../gpu/runtime';
import { matmul } from '../kernels/matmul';
import { ropeBackward, ropeForward } from '../kernels/rope';
import type { GradReduce } from '../kernels/gradReduce';
import { rmsNormBackward, rmsNormForward } from '../kernels/rmsNorm';
import { swigluBackward, swigluForward } from '../kernels/swiglu';
import { adapt, weightGrad, type BlockActivations, type BlockGrads, type BlockLora, type BlockWeights } from './block';
import type { LoraModule } from './lora';
import type { BlockDims } from './description';
import { add } from '../kernels/elementwise';
import { branchScratch, type BlockHooks } from './hooks';

/** The rotary and norm settings of a LLaMA block. */
export interface LlamaShape extends BlockDims {
  /** rows per sequence (positions 0..T-1) */
  T: number;
  theta: number;
  eps: number;
}

export interface LlamaForwardArgs {
  inp: Binding;
  acts: BlockActivations;
  w: BlockWeights;
  N: number;
  shape: LlamaShape;
  /** Position of row 0 (the key/value-cache decoder's position; 0 in training). */
  pos0?: number;
  /** Record atty (N, C) from qkv: causal grouped-query attention. */
  attend: (rec: Recorder) => void;
  /** LoRA adapters on this block's Linears (./lora.ts), or none. */
  lora?: BlockLora | null;
  /** Interventions at the hook points (./hooks.ts); never in training. */
  hooks?: BlockHooks | null;
}

export function llamaBlockForward(gpu: Gpu, rec: Recorder, args: LlamaForwardArgs): void {
  const { inp, acts: a, w, N, shape: s } = args;
  const { C } = s;
  const I = s.mlpHidden;
  args.hooks?.residPre?.(rec, inp, N);
  rmsNormForward(gpu, rec, { out: a.ln1, rstd: a.ln1Rstd, inp, weight: w.ln1w, N, C, eps: s.eps });
  matmul(gpu, rec, { site: 'attn.c_attn', out: a.qkv, a: a.ln1, b: w.attnW, M: N, N: s.qkv, K: C, transB: true }); // (N, (H + 2KV) D)
  for (const m of ['q_proj', 'k_proj', 'v_proj'] as const) adapt(gpu, rec, args.lora, m, a.ln1, a.qkv, N);
  ropeForward(gpu, rec, { qkv: a.qkv, N, T: s.T, H: s.H, KV: s.KV, D: s.D, pos0: args.pos0 ?? 0, theta: s.theta });
  const hooks = args.hooks;
  args.attend(rec);
  hooks?.z?.(rec, a.atty, N);
  if (hooks?.attnOut) {
    const branch = branchScratch(hooks);
    matmul(gpu, rec, { site: 'attn.c_proj', out: branch, a: a.atty, b: w.projW, M: N, N: C, K: s.H * s.D, transB: true }); // (N, C)
    adapt(gpu, rec, args.lora, 'o_proj', a.atty, branch, N);
    hooks.attnOut(rec, branch, N);
    add(gpu, rec, { out: a.res2, a: inp, b: branch, n: N * C });
  } else {
    matmul(gpu, rec, { site: 'attn.c_proj', out: a.res2, a: a.atty, b: w.projW, residual: inp, M: N, N: C, K: s.H * s.D, transB: true }); // (N, C)
    adapt(gpu, rec, args.lora, 'o_proj', a.atty, a.res2, N);
  }
  rmsNormForward(gpu, rec, { out: a.ln2, rstd: a.ln2Rstd, inp: a.res2, weight: w.ln2w, N, C, eps: s.eps });
  matmul(gpu, rec, { site: 'mlp.c_fc', out: a.fch, a: a.ln2, b: w.fcW, M: N, N: 2 * I, K: C, transB: true }); // (N, 2I)
  for (const m of ['gate_proj', 'up_proj'] as const) adapt(gpu, rec, args.lora, m, a.ln2, a.fch, N);
  swigluForward(gpu, rec, { out: a.fcha, inp: a.fch, N, I });
  if (hooks?.mlpOut) {
    const branch = branchScratch(hooks);
    matmul(gpu, rec, { site: 'mlp.c_proj', out: branch, a: a.fcha, b: w.mprojW, M: N, N: C, K: I, transB: true }); // (N, C)
    adapt(gpu, rec, args.lora, 'down_proj', a.fcha, branch, N);
    hooks.mlpOut(rec, branch, N);
    add(gpu, rec, { out: a.out, a: a.res2, b: branch, n: N * C });
  } else {
    matmul(gpu, rec, { site: 'mlp.c_proj', out: a.out, a: a.fcha, b: w.mprojW, residual: a.res2, M: N, N: C, K: I, transB: true }); // (N, C)
    adapt(gpu, rec, args.lora, 'down_proj', a.fcha, a.out, N);
  }
}

export interface LlamaBackwardArgs {
  /** (N, C) d(out) on entry, d(inp) on exit */
  dres: Binding;
  /** the block's input (N, C) */
  inp: Binding;
  acts: BlockActivations;
  w: BlockWeights;
  /** weight gradients (accumulated; null ranges: a frozen group) */
  dw: BlockGrads;
  N: number;
  shape: LlamaShape;
  /** (N, C) scratch */
  dC: Binding;
  /** (N, max(I, qkv)) scratch: d fcha, then dqkv */
  dHidden: Binding;
  /** (N, 2I) scratch: d fch */
  dIn: Binding;
  /**
   * The backward's deferred weight gradients (split-K partials, the norms' partial sums), added into dw
   * when it records at the end of the backward; null for a frozen group (its norms get no gradients).
   */
  reduce: GradReduce | null;
  /** Record dqkv (into dHidden) from d atty (dC): the attention backward. */
  attendBackward: (rec: Recorder, dqkv: Binding, datty: Binding) => void;
  /** An adapted Linear's share: dinp += its input gradient, its adapter gradients written (nothing when not adapted); dout is the whole (fused) output gradient. */
  adapterBackward?: (rec: Recorder, module: LoraModule, dout: Binding, inp: Binding, dinp: Binding) => void;
}

export function llamaBlockBackward(gpu: Gpu, rec: Recorder, args: LlamaBackwardArgs): void {
  const { dres, inp, acts: a, w, dw, N, shape: s, dC, dHidden, dIn, reduce } = args;
  const norm = { deferred: reduce, frozen: !reduce };
  const { C } = s;
  const I = s.mlpHidden;
  const adapters = args.adapterBackward ?? (() => undefined);
  // out = res2 + fcha down^T: dres is d out and part of d res2.
  matmul(gpu, rec, { site: 'mlp.c_proj', out: dHidden, a: dres, b: w.mprojW, M: N, N: I, K: C }); // d fcha (N, I)
  adapters(rec, 'down_proj', dres, a.fcha, dHidden);
  weightGrad(gpu, rec, 'mlp.c_proj', dw.mprojW, dres, a.fcha, C, I, N, reduce); // (C, I)
  swigluBackward(gpu, rec, { dinp: dIn, inp: a.fch, dout: dHidden, N, I }); // d fch (N, 2I)
  matmul(gpu, rec, { site: 'mlp.c_fc', out: dC, a: dIn, b: w.fcW, M: N, N: C, K: 2 * I }); // d ln2 (N, C)
  for (const m of ['gate_proj', 'up_proj'] as const) adapters(rec, m, dIn, a.ln2, dC);
  weightGrad(gpu, rec, 'mlp.c_fc', dw.fcW, dIn, a.ln2, 2 * I, C, N, reduce); // (2I, C)
  rmsNormBackward(gpu, rec, { ...norm, dinp: dres, dweight: dw.ln2w, dout: dC, inp: a.res2, weight: w.ln2w, rstd: a.ln2Rstd, N, C });
  // res2 = inp + atty o^T: dres is now d res2.
  matmul(gpu, rec, { site: 'attn.c_proj', out: dC, a: dres, b: w.projW, M: N, N: s.H * s.D, K: C }); // d atty (N, C)
  adapters(rec, 'o_proj', dres, a.atty, dC);
  weightGrad(gpu, rec, 'attn.c_proj', dw.projW, dres, a.atty, C, s.H * s.D, N, reduce); // (C, C)
  args.attendBackward(rec, dHidden, dC); // dqkv (N, qkv), with respect to the rotated q and k
  ropeBackward(gpu, rec, { qkv: dHidden, N, T: s.T, H: s.H, KV: s.KV, D: s.D, pos0: 0, theta: s.theta });
  matmul(gpu, rec, { site: 'attn.c_attn', out: dC, a: dHidden, b: w.attnW, M: N, N: C, K: s.qkv }); // d ln1 (N, C)
  for (const m of ['q_proj', 'k_proj', 'v_proj'] as const) adapters(rec, m, dHidden, a.ln1, dC);
  weightGrad(gpu, rec, 'attn.c_attn', dw.attnW, dHidden, a.ln1, s.qkv, C, N, reduce); // (qkv, C)
  rmsNormBackward(gpu, rec, { ...norm, dinp: dres, dweight: dw.ln1w, dout: dC, inp, weight: w.ln1w, rstd: a.ln1Rstd, N, C });
}
