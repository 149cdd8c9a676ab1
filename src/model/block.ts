// One transformer block's forward (nanoGPT's Block), shared by the training
// forward (./gpt.ts, N = B*T rows) and the key/value-cache decoder
// (./decoder.ts, N = 1 row); only attention differs between them, so the
// caller passes it in:
//
//   ln1  = ln_1(inp)                                  (N, C)
//   qkv  = ln1 c_attn^T (+b)                          (N, 3C)
//   atty = attend(qkv)                                (N, C)    the caller's attention
//   res2 = inp + dropout(atty c_proj^T (+b))          (N, C)    one matmul with a residual epilogue without dropout
//   ln2  = ln_2(res2)                                 (N, C)
//   fch  = ln2 c_fc^T (+b); fcha = act(fch)           (N, 4C)    ReLU in the matmul's epilogue (fch then unwritten)
//   out  = res2 + dropout(fcha mlp.c_proj^T (+b))     (N, C)
//
// With LoRA adapters (args.lora) each adapted Linear adds s (x A^T) B^T to its
// output right after the base matmul (./lora.ts loraForward).
//
// `out` may be the same buffer as `inp` (the decoder's residual stream): inp
// is last read by the first residual add.

import type { Binding, Gpu, Recorder } from '../gpu/runtime';
import { activationBackward, activationForward } from '../kernels/activation';
import { biasBackward } from '../kernels/biasBackward';
import { dropoutResidual } from '../kernels/dropout';
import { add } from '../kernels/elementwise';
import type { GradReduce } from '../kernels/gradReduce';
import { layerNormBackward, layerNormForward } from '../kernels/layerNorm';
import { activationSaved, matmul, type MatmulArgs, type MatmulDropout } from '../kernels/matmul';
import type { Activation } from './config';
import { branchScratch, type BlockHooks } from './hooks';
import { loraForward, type AdapterSlice, type LoraModule } from './lora';

/** One block's parameters (ranges of the flat parameter buffer); null for an absent bias. */
export interface BlockWeights {
  ln1w: Binding; ln1b: Binding | null;
  attnW: Binding; attnB: Binding | null;
  projW: Binding; projB: Binding | null;
  ln2w: Binding; ln2b: Binding | null;
  fcW: Binding; fcB: Binding | null;
  mprojW: Binding; mprojB: Binding | null;
}

/**
 * One block's weight gradients (accumulated). A frozen parameter group has no
 * gradients: its Linear weights and biases are null (no product is recorded)
 * and its norm gains and biases point at a sink nothing reads.
 */
export interface BlockGrads {
  ln1w: Binding; ln1b: Binding | null;
  attnW: Binding | null; attnB: Binding | null;
  projW: Binding | null; projB: Binding | null;
  ln2w: Binding; ln2b: Binding | null;
  fcW: Binding | null; fcB: Binding | null;
  mprojW: Binding | null; mprojB: Binding | null;
}

/** The block's outputs, what training saves for backward. */
export interface BlockActivations {
  ln1: Binding; // (N, C)
  ln1Mean: Binding | null; // (N) LayerNorm only
  ln1Rstd: Binding; // (N)
  qkv: Binding; // (N, 3C)
  atty: Binding; // (N, C)
  res2: Binding; // (N, C)
  ln2: Binding; // (N, C)
  ln2Mean: Binding | null; // (N) LayerNorm only
  ln2Rstd: Binding; // (N)
  fch: Binding; // (N, 4C)
  fcha: Binding; // (N, 4C)
  out: Binding; // (N, C)
}

/** Residual-branch dropout of a training forward (nanoGPT's resid_dropout). */
export interface BranchDropout {
  p: number;
  /** u32[1], the step's seed */
  seed: Binding;
  /** salts of the attention and MLP branches */
  salts: [number, number];
  /** (N, C) scratch for the dropped branch */
  scratch: Binding;
}

export interface BlockForwardArgs {
  /** (N, C) the residual stream entering the block */
  inp: Binding;
  acts: BlockActivations;
  w: BlockWeights;
  /** (N, C) scratch for the projection outputs before the residual adds (used with dropout only) */
  proj: Binding;
  N: number;
  C: number;
  activation: Activation;
  /** Record atty (N, C) from qkv (N, 3C): causal self-attention, or a cached decode. */
  attend: (rec: Recorder) => void;
  dropout: BranchDropout | null;
  /** LoRA adapters on this block's Linears (./lora.ts), or none. */
  lora?: BlockLora | null;
  /** Interventions at the hook points (./hooks.ts); never in training. */
  hooks?: BlockHooks | null;
}

/** One adapted Linear: A (r, IN) and B (OUT, r) ranges of the adapter buffer, where s x A^T (N, r) goes, and its columns of a fused output. */
export interface LinearAdapter {
  A: Binding;
  B: Binding;
  r: number;
  IN: number;
  OUT: number;
  xa: Binding;
  /** null: the adapter covers the whole output */
  slice: AdapterSlice | null;
}

/** A block's adapters and their scale (strength * lora_alpha / r). */
export interface BlockLora {
  adapters: Partial<Record<LoraModule, LinearAdapter>>;
  scale: number;
}

/** out (N, OUT) += s (inp A^T) B^T (into its columns of a fused output) when `module` is adapted. */
export function adapt(gpu: Gpu, rec: Recorder, lora: BlockLora | null | undefined, module: LoraModule, inp: Binding, out: Binding, N: number): void {
  const ad = lora?.adapters[module];
  if (ad) loraForward(gpu, rec, { out, inp, A: ad.A, B: ad.B, xa: ad.xa, N, IN: ad.IN, OUT: ad.OUT, r: ad.r, scale: lora!.scale, site: module, slice: ad.slice });
}

/** Record one block's forward (eight to fourteen dispatches). */
export function blockForward(gpu: Gpu, rec: Recorder, args: BlockForwardArgs): void {
  const { inp, acts: a, w, N, C, dropout } = args;
  const hooks = args.hooks;
  hooks?.residPre?.(rec, inp, N);
  // The projections add the residual in their epilogue (no separate add pass), and drop their output
  // there first when dropout is on, unless an adapter joins the branch; a hooked branch is computed apart.
  const drop = dropout && dropout.p > 0 ? dropout : null;
  const epilogue = (module: LoraModule, site: 0 | 1): MatmulDropout | null | false =>
    !drop ? null : args.lora?.adapters[module] ? false : { on: 'out', p: drop.p, salt: drop.salts[site], seed: drop.seed, scratch: args.proj };
  let dropOut = epilogue('attn.c_proj', 0);
  let fused = dropOut !== false && !hooks?.attnOut;
  let proj = fused || !hooks?.attnOut ? args.proj : branchScratch(hooks);
  layerNormForward(gpu, rec, { out: a.ln1, mean: a.ln1Mean!, rstd: a.ln1Rstd, inp, weight: w.ln1w, bias: w.ln1b, N, C });
  matmul(gpu, rec, { site: 'attn.c_attn', out: a.qkv, a: a.ln1, b: w.attnW, bias: w.attnB, M: N, N: 3 * C, K: C, transB: true }); // (N, 3C)
  adapt(gpu, rec, args.lora, 'attn.c_attn', a.ln1, a.qkv, N);
  args.attend(rec);
  hooks?.z?.(rec, a.atty, N);
  if (fused) matmul(gpu, rec, { site: 'attn.c_proj', out: a.res2, a: a.atty, b: w.projW, bias: w.projB, residual: inp, dropout: dropOut || null, M: N, N: C, K: C, transB: true }); // (N, C)
  else matmul(gpu, rec, { site: 'attn.c_proj', out: proj, a: a.atty, b: w.projW, bias: w.projB, M: N, N: C, K: C, transB: true }); // (N, C)
  adapt(gpu, rec, args.lora, 'attn.c_proj', a.atty, fused ? a.res2 : proj, N);
  if (!fused) hooks?.attnOut?.(rec, proj, N);
  if (!fused) residualAdd(gpu, rec, a.res2, inp, proj, N * C, dropout, 0);
  dropOut = epilogue('mlp.c_proj', 1);
  fused = dropOut !== false && !hooks?.mlpOut;
  proj = fused || !hooks?.mlpOut ? args.proj : branchScratch(hooks);
  layerNormForward(gpu, rec, { out: a.ln2, mean: a.ln2Mean!, rstd: a.ln2Rstd, inp: a.res2, weight: w.ln2w, bias: w.ln2b, N, C });
  if (args.lora?.adapters['mlp.c_fc']) {
    // the adapter's share joins the product before the activation
    matmul(gpu, rec, { site: 'mlp.c_fc', out: a.fch, a: a.ln2, b: w.fcW, bias: w.fcB, M: N, N: 4 * C, K: C, transB: true }); // (N, 4C)
    adapt(gpu, rec, args.lora, 'mlp.c_fc', a.ln2, a.fch, N);
    activationForward(gpu, rec, { out: a.fcha, inp: a.fch, n: N * 4 * C, kind: args.activation });
  } else {
    // the activation in the product's epilogue where the kernel has one (then fch is not written)
    const activation = { kind: args.activation, pre: a.fch };
    matmul(gpu, rec, { site: 'mlp.c_fc', out: a.fcha, a: a.ln2, b: w.fcW, bias: w.fcB, M: N, N: 4 * C, K: C, transB: true, activation }); // (N, 4C)
  }
  if (fused) matmul(gpu, rec, { site: 'mlp.c_proj', out: a.out, a: a.fcha, b: w.mprojW, bias: w.mprojB, residual: a.res2, dropout: dropOut || null, M: N, N: C, K: 4 * C, transB: true }); // (N, C)
  else matmul(gpu, rec, { site: 'mlp.c_proj', out: proj, a: a.fcha, b: w.mprojW, bias: w.mprojB, M: N, N: C, K: 4 * C, transB: true }); // (N, C)
  adapt(gpu, rec, args.lora, 'mlp.c_proj', a.fcha, fused ? a.out : proj, N);
  if (!fused) hooks?.mlpOut?.(rec, proj, N);
  if (!fused) residualAdd(gpu, rec, a.out, a.res2, proj, N * C, dropout, 1);
}

export interface BlockBackwardArgs {
  /** (N, C) d(out) on entry, d(inp) on exit */
  dres: Binding;
  /** (N, C) the block's input */
  inp: Binding;
  acts: BlockActivations;
  w: BlockWeights;
  /** Weight gradients, accumulated (null ranges: a frozen group, no product). */
  dw: BlockGrads;
  N: number;
  C: number;
  activation: Activation;
  /** (N, C) scratch */
  dC: Binding;
  /** (N, max(4C, 3C)) scratch: d fch after the activation, then dqkv */
  dHidden: Binding;
  /** (N, 4C) scratch: d fch */
  dIn: Binding;
  /** partial column sums of a bias gradient whose product does not split */
  sumScratch: Binding;
  /**
   * The backward's deferred weight gradients (split-K partials, the norms' partial sums), added into dw
   * when it records at the end of the backward; null for a frozen group (its norms get no gradients).
   */
  reduce: GradReduce | null;
  /** d(branch) from dres through the branch's dropout (site 0 attention, 1 MLP), or dres itself without one. */
  throughDropout: (rec: Recorder, site: 0 | 1) => Binding;
  /**
   * The branch's dropout (site 0 attention, 1 MLP) for the projection's products to apply to dres as they
   * load it (MatmulArgs.dropout 'a'; scratch the size of dres), or null without dropout. Where an adapter
   * reads the branch's gradient too, throughDropout runs instead.
   */
  branchDropout?: (site: 0 | 1) => Omit<MatmulDropout, 'on'> | null;
  /** An adapted Linear's share: dinp += its input gradient, its adapter gradients written (nothing when not adapted). */
  adapterBackward: (rec: Recorder, module: LoraModule, dout: Binding, inp: Binding, dinp: Binding) => void;
  /** Whether `module` has an adapter (its share joins dinp before the activation's backward); none when absent. */
  adapted?: (module: LoraModule) => boolean;
  /** Record dqkv (into dHidden) from d atty (dC): the attention backward. */
  attendBackward: (rec: Recorder, dqkv: Binding, datty: Binding) => void;
}

/** dW (OUT, IN) += dout^T inp over N rows (split-K partials left for `reduce`); nothing for a weight without gradient (frozen). */
export function weightGrad(
  gpu: Gpu, rec: Recorder, site: string, dW: Binding | null, dout: Binding, inp: Binding, OUT: number, IN: number, N: number, reduce: GradReduce | null,
): void {
  if (dW) matmul(gpu, rec, { site, out: dW, a: dout, b: inp, M: OUT, N: IN, K: N, transA: true, accumulate: true, deferred: reduce }); // (OUT, IN)
}

/** A Linear's backward: dinp = dout W (+ its adapter's share); dW += dout^T inp and the bias gradient where they have ranges. */
function linearBackward(
  gpu: Gpu, rec: Recorder, args: BlockBackwardArgs, module: LoraModule,
  l: {
    dinp: Binding; dout: Binding; inp: Binding; W: Binding; dW: Binding | null; dB: Binding | null; IN: number; OUT: number;
    activationGrad?: MatmulArgs['activationGrad'];
    /** dout is the gradient before this dropout (applied as the products load it) */
    dropout?: MatmulDropout | null;
  },
): void {
  const { N } = args;
  const dropout = l.dropout ?? null;
  matmul(gpu, rec, { site: module, out: l.dinp, a: l.dout, b: l.W, M: N, N: l.IN, K: l.OUT, activationGrad: l.activationGrad, dropout }); // (N, IN)
  args.adapterBackward(rec, module, l.dout, l.inp, l.dinp);
  if (!l.dW) {
    if (l.dB && dropout) throw new Error('A bias gradient without its weight gradient reads the dropped gradient itself.');
    if (l.dB) biasBackward(gpu, rec, { dbias: l.dB, scratch: args.sumScratch, dout: l.dout, M: N, N: l.OUT });
    return;
  }
  // The bias gradient's column sums, taken inside dW's split-K product from the dY tiles it stages.
  const biasSum = l.dB ? { dbias: l.dB, columnSums: args.sumScratch } : null;
  matmul(gpu, rec, { site: module, out: l.dW, a: l.dout, b: l.inp, M: l.OUT, N: l.IN, K: N, transA: true, accumulate: true, deferred: args.reduce, biasSum, dropout }); // (OUT, IN)
}

/** Record one block's backward, the pair of blockForward (no LoRA-specific branches: a frozen group and adapter hooks). */
export function blockBackward(gpu: Gpu, rec: Recorder, args: BlockBackwardArgs): void {
  const { dres, inp, acts: a, w, dw, N, C, dC, dHidden, dIn } = args;
  const norm = { deferred: args.reduce, frozen: !args.reduce };
  // out = res2 + dropout(mlp(ln2(res2))): dres holds d out, which is also part of d res2.
  // The branch's dropout applied by the projection's products as they read dres, unless an adapter reads the branch's gradient too.
  const folded = (module: LoraModule, site: 0 | 1): MatmulDropout | null => {
    const d = args.adapted?.(module) ? null : args.branchDropout?.(site);
    return d ? { on: 'a', ...d } : null;
  };
  const mlpDrop = folded('mlp.c_proj', 1);
  const dmlp = mlpDrop ? dres : args.throughDropout(rec, 1); // (N, C)
  const saved = activationSaved(args.activation, a.fch, a.fcha); // what f' reads (fch is unwritten when the forward fused ReLU)
  if (args.adapted?.('mlp.c_proj')) {
    // the adapter's share joins d fcha before the activation's backward
    linearBackward(gpu, rec, args, 'mlp.c_proj', { dinp: dHidden, dout: dmlp, inp: a.fcha, W: w.mprojW, dW: dw.mprojW, dB: dw.mprojB, IN: 4 * C, OUT: C });
    activationBackward(gpu, rec, { dinp: dIn, inp: saved, dout: dHidden, n: N * 4 * C, kind: args.activation });
  } else {
    // d fch = f'(saved) * (dmlp c_proj) in the dX product's epilogue
    const activationGrad = { kind: args.activation, saved, product: dHidden };
    linearBackward(gpu, rec, args, 'mlp.c_proj', { dinp: dIn, dout: dmlp, inp: a.fcha, W: w.mprojW, dW: dw.mprojW, dB: dw.mprojB, IN: 4 * C, OUT: C, activationGrad, dropout: mlpDrop });
  }
  linearBackward(gpu, rec, args, 'mlp.c_fc', { dinp: dC, dout: dIn, inp: a.ln2, W: w.fcW, dW: dw.fcW, dB: dw.fcB, IN: C, OUT: 4 * C }); // d ln2
  layerNormBackward(gpu, rec, { ...norm, dinp: dres, dweight: dw.ln2w, dbias: dw.ln2b, dout: dC, inp: a.res2, weight: w.ln2w, mean: a.ln2Mean!, rstd: a.ln2Rstd, N, C });
  // res2 = inp + dropout(attn(ln1(inp))): dres now holds d res2.
  const attnDrop = folded('attn.c_proj', 0);
  const dattn = attnDrop ? dres : args.throughDropout(rec, 0); // (N, C)
  linearBackward(gpu, rec, args, 'attn.c_proj', { dinp: dC, dout: dattn, inp: a.atty, W: w.projW, dW: dw.projW, dB: dw.projB, IN: C, OUT: C, dropout: attnDrop }); // d atty
  args.attendBackward(rec, dHidden, dC); // dqkv (N, 3C)
  linearBackward(gpu, rec, args, 'attn.c_attn', { dinp: dC, dout: dHidden, inp: a.ln1, W: w.attnW, dW: dw.attnW, dB: dw.attnB, IN: C, OUT: 3 * C }); // d ln1
  layerNormBackward(gpu, rec, { ...norm, dinp: dres, dweight: dw.ln1w, dbias: dw.ln1b, dout: dC, inp, weight: w.ln1w, mean: a.ln1Mean!, rstd: a.ln1Rstd, N, C });
}

/** out = resid + dropout(branch) */
function residualAdd(gpu: Gpu, rec: Recorder, out: Binding, resid: Binding, branch: Binding, n: number, d: BranchDropout | null, site: 0 | 1): void {
  if (d && d.p > 0) dropoutResidual(gpu, rec, { out, resid, inp: branch, n, p: d.p, salt: d.salts[site], seed: d.seed }); // one pass
  else add(gpu, rec, { out, a: resid, b: branch, n });
}
