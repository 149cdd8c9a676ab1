// LoRA adapters (Hu et al. 2021) as Hugging Face PEFT defines them, on the
// GPT-2 block's Linear layers attn.c_attn, attn.c_proj, mlp.c_fc and
// mlp.c_proj, or the LLaMA block's q_proj, k_proj, v_proj, o_proj, gate_proj,
// up_proj and down_proj:
//
//   y (N, OUT) = x W^T + b + s (x A^T) B^T,   A (r, IN), B (OUT, r), s = strength * lora_alpha / r
//
// The base stays frozen; only A and B train (AdamW on the adapter buffers).
// One flat adapter buffer holds every A and B, each tensor at a 256-byte
// aligned offset (64 floats) so kernels bind ranges of it; gradients and the
// AdamW moments share the layout, as the base model's flat state does.
// Files use PEFT's saved names and shapes (./adapterFiles.ts).
//
// A module is found as PEFT finds it: the model description's file tensor of
// the layer whose name ends with the module (./description.ts). The LLaMA
// block fuses q|k|v into qkv_proj and gate|up into gate_up_proj, so an
// adapter there covers a range of rows of our tensor (q_proj: the first H D
// rows of qkv_proj): its product adds into those output columns only, and
// merging adds s B A into those rows.
//
// loraForward / loraBackward record an adapter's products beside the frozen
// base's matmul: two thin matmuls and a scale each way.

import type { Binding, Gpu, Recorder } from '../gpu/runtime';
import { sliceAdd, sliceCopy } from '../kernels/columnSlice';
import { scale } from '../kernels/elementwise';
import { matmul, matmulScratchFloats, type MatmulShape } from '../kernels/matmul';
import type { ModelConfig } from './config';
import { blockKind, describeParams, paramCount } from './description';
import { alignUp } from './layout';
import { SeededRng } from './sampling';

/** The GPT-2 block's adaptable Linears (full paths: attn.c_proj and mlp.c_proj differ only there). */
export const LORA_MODULES = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;
/** The LLaMA block's, under PEFT's names for LlamaForCausalLM. */
export const LLAMA_LORA_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraModule = (typeof LORA_MODULES)[number] | (typeof LLAMA_LORA_MODULES)[number];

/** The modules a model's block can adapt, in PEFT's order. */
export const loraModulesOf = (model: ModelConfig): readonly LoraModule[] => (blockKind(model) === 'llama' ? LLAMA_LORA_MODULES : LORA_MODULES);

/** What an adapter on `module` of layer l adapts: rows [row0, row0 + OUT) of our tensor `param` (OUT, IN), saved under PEFT's `stem`. */
export interface LoraTarget {
  module: LoraModule;
  /** our parameter tensor (a fused one on the LLaMA block) */
  param: string;
  row0: number;
  OUT: number;
  IN: number;
  /** rows of `param` (the fused output's width; OUT when the Linear is not fused) */
  ld: number;
  /** the file tensor's name without `.weight`: PEFT saves base_model.model.<stem>.lora_A.weight */
  stem: string;
}

/** Layer l's Linear a module name adapts, found as PEFT finds it (the file tensor whose name ends with it); throws when none. */
export function loraTarget(model: ModelConfig, l: number, module: LoraModule): LoraTarget {
  for (const t of describeParams(model)) {
    if (t.layer !== l || t.shape.length !== 2) continue;
    for (const f of t.files) {
      const stem = f.name.replace(/\.weight$/, '');
      if (stem.endsWith(`.${module}`)) return { module, param: t.name, row0: f.row0, OUT: f.rows, IN: t.shape[1]!, ld: t.shape[0]!, stem };
    }
  }
  throw new Error(`"${module}" is not a Linear layer of layer ${l} of this model; choose among ${loraModulesOf(model).join(', ')}.`);
}

export interface LoraConfig {
  /** rank, 1 to 64 */
  r: number;
  /** PEFT's lora_alpha: the adapter's scale is lora_alpha / r */
  alpha: number;
  /** adapted Linear layers (every layer of the model gets the same) */
  modules: LoraModule[];
}

export const MAX_LORA_RANK = 64;

/** Problems with a LoRA config, as sentences (empty when it is usable); the modules are checked against `model`'s block (GPT-2 without one). */
export function validateLoraConfig(c: LoraConfig, model?: ModelConfig): string[] {
  const out: string[] = [];
  const modules: readonly LoraModule[] = model ? loraModulesOf(model) : LORA_MODULES;
  if (!Number.isInteger(c.r) || c.r < 1 || c.r > MAX_LORA_RANK) out.push(`The rank r must be a whole number from 1 to ${MAX_LORA_RANK}.`);
  if (!(c.alpha > 0) || !Number.isFinite(c.alpha)) out.push('lora_alpha must be a positive number.');
  if (c.modules.length === 0) out.push(`Choose at least one target module (${modules.slice(0, -1).join(', ')} or ${modules.at(-1)}).`);
  for (const m of c.modules) if (!modules.includes(m)) out.push(`"${m}" is not a Linear layer of the model; choose among ${modules.join(', ')}.`);
  return out;
}

/** The scale of the adapter's product at a strength (0 = base model, 1 = fully adapted). */
export const loraScale = (c: LoraConfig, strength = 1) => (strength * c.alpha) / c.r;

/** (in, out) features of a module's Linear (out: the rows it covers of a fused tensor). */
export function moduleDims(model: ModelConfig, module: LoraModule): { IN: number; OUT: number } {
  const { IN, OUT } = loraTarget(model, 0, module);
  return { IN, OUT };
}

/** PEFT's saved name of layer l's adapter matrix on `module` of `model` (GPT-2 names without a model). */
export const peftName = (l: number, module: LoraModule, which: 'A' | 'B', model?: ModelConfig) =>
  `base_model.model.${model ? loraTarget(model, l, module).stem : `transformer.h.${l}.${module}`}.lora_${which}.weight`;

export interface LoraTensor {
  /** PEFT's saved name */
  name: string;
  layer: number;
  module: LoraModule;
  which: 'A' | 'B';
  /** A: (r, IN); B: (OUT, r) */
  shape: [number, number];
  /** offset in floats into the flat adapter buffer, a multiple of 64 (256 bytes) */
  offset: number;
  size: number;
}

export interface LoraAdapter extends LoraTarget {
  r: number;
  A: LoraTensor;
  B: LoraTensor;
}

export interface LoraLayout {
  model: ModelConfig;
  lora: LoraConfig;
  /** PEFT order: layer, then module in loraModulesOf order, A before B */
  tensors: LoraTensor[];
  /** adapters[l] per adapted module of layer l */
  adapters: Array<Partial<Record<LoraModule, LoraAdapter>>>;
  /** floats of the flat buffer, padding included */
  total: number;
  /** trainable parameters (A and B elements, no padding) */
  count: number;
}

export function loraLayout(model: ModelConfig, lora: LoraConfig): LoraLayout {
  const problems = validateLoraConfig(lora, model);
  if (problems.length) throw new Error(problems.join(' '));
  const tensors: LoraTensor[] = [];
  const adapters: LoraLayout['adapters'] = [];
  let offset = 0;
  let count = 0;
  const { r } = lora;
  for (let l = 0; l < model.nLayer; l++) {
    adapters.push({});
    for (const module of loraModulesOf(model)) {
      if (!lora.modules.includes(module)) continue;
      const target = loraTarget(model, l, module);
      const { IN, OUT, stem } = target;
      const name = (which: 'A' | 'B') => `base_model.model.${stem}.lora_${which}.weight`;
      const A: LoraTensor = { name: name('A'), layer: l, module, which: 'A', shape: [r, IN], offset, size: r * IN };
      offset = alignUp(offset + A.size);
      const B: LoraTensor = { name: name('B'), layer: l, module, which: 'B', shape: [OUT, r], offset, size: OUT * r };
      offset = alignUp(offset + B.size);
      tensors.push(A, B);
      count += A.size + B.size;
      adapters[l][module] = { ...target, r, A, B };
    }
  }
  return { model, lora, tensors, adapters, total: offset, count };
}

/** PEFT's print_trainable_parameters line: "trainable params: 4,194,304 || all params: 6,742,609,920 || trainable%: 0.0622". */
export function peftTrainableLine(trainable: number, all: number): string {
  const n = (v: number) => v.toLocaleString('en-US');
  return `trainable params: ${n(trainable)} || all params: ${n(all)} || trainable%: ${((100 * trainable) / all).toFixed(4)}`;
}

/** The adapted model's line: base parameters (frozen) plus the adapters, as PEFT counts them. */
export function loraTrainableLine(layout: LoraLayout): string {
  return peftTrainableLine(layout.count, paramCount(layout.model) + layout.count);
}

/**
 * PEFT's initialisation: A kaiming-uniform with a = sqrt(5) (uniform in +-1/sqrt(in)),
 * B zero, so the adapted model starts equal to the base.
 */
export function initLora(layout: LoraLayout, seed: number): Float32Array {
  const rng = new SeededRng(seed);
  const out = new Float32Array(layout.total);
  for (const t of layout.tensors) {
    if (t.which === 'B') continue;
    const bound = 1 / Math.sqrt(t.shape[1]);
    for (let i = 0; i < t.size; i++) out[t.offset + i] = (2 * rng.next() - 1) * bound;
  }
  return out;
}

// ---------------------------------------------------------------- GPU: the adapter's products

export interface LoraForwardArgs {
  /** (N, OUT) the base Linear's output, accumulated into */
  out: Binding;
  /** (N, IN) the Linear's input */
  inp: Binding;
  /** (r, IN) and (OUT, r): ranges of the flat adapter buffer */
  A: Binding;
  B: Binding;
  /** (N, r) scratch: s * inp A^T, kept for backward */
  xa: Binding;
  N: number;
  IN: number;
  OUT: number;
  r: number;
  /** strength * lora_alpha / r (a per-call-site constant: it sits in a cached uniform) */
  scale: number;
  /** The Linear, for profiles, e.g. 'attn.c_attn' */
  site?: string;
  /** A Linear inside a fused one: `out` is (N, ld) and the adapter adds into its columns [col0, col0 + OUT), through scratch (N, OUT). */
  slice?: AdapterSlice | null;
}

/** Where a fused Linear's adapter writes: columns [col0, col0 + OUT) of rows ld wide, through an (N, OUT) scratch. */
export interface AdapterSlice {
  ld: number;
  col0: number;
  scratch: Binding;
}

/** Record out += s (inp A^T) B^T (into its columns of a fused output with `slice`), keeping xa = s inp A^T. */
export function loraForward(gpu: Gpu, recorder: Recorder, a: LoraForwardArgs): void {
  const site = a.site ? `${a.site}.lora` : 'lora';
  matmul(gpu, recorder, { out: a.xa, a: a.inp, b: a.A, M: a.N, N: a.r, K: a.IN, transB: true, site });
  scale(gpu, recorder, { buf: a.xa, n: a.N * a.r, factor: a.scale });
  if (!a.slice) {
    matmul(gpu, recorder, { out: a.out, a: a.xa, b: a.B, M: a.N, N: a.OUT, K: a.r, transB: true, accumulate: true, site });
    return;
  }
  matmul(gpu, recorder, { out: a.slice.scratch, a: a.xa, b: a.B, M: a.N, N: a.OUT, K: a.r, transB: true, site }); // (N, OUT)
  sliceAdd(gpu, recorder, { wide: a.out, narrow: a.slice.scratch, N: a.N, W: a.OUT, ld: a.slice.ld, col0: a.slice.col0 });
}

export interface LoraBackwardArgs {
  /** (N, IN) gradient of the Linear's input, accumulated into (null: not needed) */
  dinp: Binding | null;
  /** (r, IN), (OUT, r): ranges of the flat adapter gradient buffer */
  dA: Binding;
  dB: Binding;
  /** (N, OUT) gradient of the Linear's output */
  dout: Binding;
  /** (N, IN) the forward's input and (N, r) its xa = s inp A^T */
  inp: Binding;
  xa: Binding;
  A: Binding;
  B: Binding;
  /** (N, r) scratch */
  dxa: Binding;
  N: number;
  IN: number;
  OUT: number;
  r: number;
  scale: number;
  /** add into dA, dB (gradient accumulation) instead of overwriting them */
  accumulate?: boolean;
  /**
   * Split-K scratch for dB and dA (K = N rows): the model's weight-gradient scratch. A product whose
   * split it cannot hold runs in one pass.
   */
  scratch?: Binding | null;
  site?: string;
  /** A Linear inside a fused one: `dout` is (N, ld) and the adapter reads its columns [col0, col0 + OUT), copied to scratch (N, OUT). */
  slice?: AdapterSlice | null;
}

/** `scratch` where it holds the split-K partials of `shape`, else null (one pass). */
const scratchFor = (shape: MatmulShape, scratch: Binding | null | undefined): Binding | null =>
  scratch && 4 * matmulScratchFloats(shape) <= scratch.size ? scratch : null;

/**
 * Record the adapter's backward: dB (+)= dout^T xa; dxa = s dout B;
 * dA (+)= dxa^T inp; dinp += dxa A.
 */
export function loraBackward(gpu: Gpu, recorder: Recorder, a: LoraBackwardArgs): void {
  const site = a.site ? `${a.site}.lora` : 'lora';
  const acc = a.accumulate ?? false;
  if (a.slice) {
    sliceCopy(gpu, recorder, { narrow: a.slice.scratch, wide: a.dout, N: a.N, W: a.OUT, ld: a.slice.ld, col0: a.slice.col0 });
    a = { ...a, dout: a.slice.scratch, slice: null };
  }
  const dB = { M: a.OUT, N: a.r, K: a.N, transA: true }; // (OUT, r) = dout^T (OUT, N) xa (N, r)
  const dA = { M: a.r, N: a.IN, K: a.N, transA: true }; // (r, IN) = dxa^T (r, N) inp (N, IN)
  matmul(gpu, recorder, { ...dB, out: a.dB, a: a.dout, b: a.xa, accumulate: acc, scratch: scratchFor(dB, a.scratch), site });
  matmul(gpu, recorder, { out: a.dxa, a: a.dout, b: a.B, M: a.N, N: a.r, K: a.OUT, site });
  scale(gpu, recorder, { buf: a.dxa, n: a.N * a.r, factor: a.scale });
  matmul(gpu, recorder, { ...dA, out: a.dA, a: a.dxa, b: a.inp, accumulate: acc, scratch: scratchFor(dA, a.scratch), site });
  if (a.dinp) matmul(gpu, recorder, { out: a.dinp, a: a.dxa, b: a.A, M: a.N, N: a.IN, K: a.r, accumulate: true, site });
}

// ---------------------------------------------------------------- merge (PEFT's merge_and_unload)

/**
 * The base parameters (packed layout of `layout`) with every adapter folded
 * in: W[row0 + o] += s (B A)[o] over the rows it covers, at the given
 * strength. A new array; the input is kept.
 */
export function mergeAdapters(layout: { tensors: Array<{ name: string; offset: number; size: number }> }, params: Float32Array, lora: LoraLayout, flat: Float32Array, strength = 1): Float32Array {
  const out = Float32Array.from(params);
  const s = loraScale(lora.lora, strength);
  const byName = new Map(layout.tensors.map((t) => [t.name, t]));
  lora.adapters.forEach((mods, l) => {
    for (const ad of Object.values(mods)) {
      const W = byName.get(ad.param);
      if (!W) throw new Error(`The base has no ${ad.param} to merge layer ${l}'s ${ad.module} adapter into.`);
      const { r, IN, OUT, row0 } = ad;
      for (let o = 0; o < OUT; o++) {
        for (let i = 0; i < IN; i++) {
          let acc = 0;
          for (let k = 0; k < r; k++) acc += flat[ad.B.offset + o * r + k] * flat[ad.A.offset + k * IN + i];
          out[W.offset + (row0 + o) * IN + i] += s * acc;
        }
      }
    }
  });
  return out;
}
