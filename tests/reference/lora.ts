// Float64 CPU reference for LoRA (Hu et al. 2021, as Hugging Face PEFT does it)
// on the reference GPT of ./gpt.ts.
//
// An adapted Linear computes y = x W^T + b + s (x A^T) B^T, with A (r, in),
// B (out, r) and s = lora_alpha / r, on any of attn.c_attn, attn.c_proj,
// mlp.c_fc, mlp.c_proj. Adapters are a Map under PEFT's saved names
// (`base_model.model.transformer.h.{l}.attn.c_attn.lora_A.weight`).
//
// Two independent formulations, checked against each other and against
// finite differences in tests/unit/lora-cpu.test.ts:
//   - the adapter's own products, as plain loops (loraLinearForward /
//     loraLinearBackward): what the GPU records beside the frozen base matmul;
//   - the model: since s (x A^T) B^T = x (s B A)^T, the adapted GPT is the
//     reference GPT with merged weights W' = W + s B A, and by the chain rule
//     through W' the adapter gradients are dB = s dW' A^T and dA = s B^T dW',
//     where dW' (out, in) is the reference GPT's weight gradient.
// The base is frozen: only adapter gradients leave loraBackward.

import { gptBackward, gptForward, type ForwardResult, type RefConfig, type Tensors } from './gpt';

export const LORA_MODULES = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;
export type LoraModule = (typeof LORA_MODULES)[number];

/** PEFT's saved name of layer l's adapter matrix on `module`. */
export const loraName = (l: number, module: LoraModule, which: 'A' | 'B') =>
  `base_model.model.transformer.h.${l}.${module}.lora_${which}.weight`;

/** (in, out) features of a module's Linear. */
export function moduleDims(cfg: RefConfig, module: LoraModule): { IN: number; OUT: number } {
  const C = cfg.nEmbd;
  switch (module) {
    case 'attn.c_attn': return { IN: C, OUT: 3 * C };
    case 'attn.c_proj': return { IN: C, OUT: C };
    case 'mlp.c_fc': return { IN: C, OUT: 4 * C };
    case 'mlp.c_proj': return { IN: 4 * C, OUT: C };
  }
}

/** The adapted (layer, module) pairs present in `adapters`, with their rank. */
export function adaptedModules(cfg: RefConfig, adapters: Tensors): Array<{ l: number; module: LoraModule; r: number; IN: number; OUT: number }> {
  const out = [];
  for (let l = 0; l < cfg.nLayer; l++) {
    for (const module of LORA_MODULES) {
      const A = adapters.get(loraName(l, module, 'A'));
      const B = adapters.get(loraName(l, module, 'B'));
      if (!A && !B) continue;
      if (!A || !B) throw new Error(`reference LoRA: layer ${l} ${module} has only one of lora_A and lora_B`);
      const { IN, OUT } = moduleDims(cfg, module);
      const r = A.length / IN;
      if (!Number.isInteger(r) || B.length !== OUT * r) throw new Error(`reference LoRA: layer ${l} ${module} has shapes that disagree`);
      out.push({ l, module, r, IN, OUT });
    }
  }
  return out;
}

// ---------------------------------------------------------------- one adapted Linear

/**
 * out (N, OUT) += s * (inp (N, IN) A^T) B^T; returns xa (N, r) = inp A^T, kept for backward.
 * A (r, IN), B (OUT, r) as PEFT stores them.
 */
export function loraLinearForward(
  out: Float64Array, inp: Float64Array, A: Float64Array, B: Float64Array, s: number, N: number, IN: number, OUT: number, r: number,
): Float64Array {
  const xa = new Float64Array(N * r); // (N, r)
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < r; k++) {
      let acc = 0;
      for (let i = 0; i < IN; i++) acc += inp[n * IN + i] * A[k * IN + i];
      xa[n * r + k] = acc;
    }
    for (let o = 0; o < OUT; o++) {
      let acc = 0;
      for (let k = 0; k < r; k++) acc += xa[n * r + k] * B[o * r + k];
      out[n * OUT + o] += s * acc;
    }
  }
  return xa;
}

/**
 * Backward of loraLinearForward, accumulating: dxa = s dout B (N, r);
 * dB (OUT, r) += s dout^T xa; dA (r, IN) += dxa^T inp; dinp (N, IN) += dxa A.
 */
export function loraLinearBackward(
  dinp: Float64Array | null, dA: Float64Array, dB: Float64Array,
  dout: Float64Array, inp: Float64Array, xa: Float64Array, A: Float64Array, B: Float64Array,
  s: number, N: number, IN: number, OUT: number, r: number,
): void {
  const dxa = new Float64Array(r);
  for (let n = 0; n < N; n++) {
    dxa.fill(0);
    for (let o = 0; o < OUT; o++) {
      const g = dout[n * OUT + o];
      for (let k = 0; k < r; k++) {
        dxa[k] += s * g * B[o * r + k];
        dB[o * r + k] += s * g * xa[n * r + k];
      }
    }
    for (let k = 0; k < r; k++) {
      for (let i = 0; i < IN; i++) {
        dA[k * IN + i] += dxa[k] * inp[n * IN + i];
        if (dinp) dinp[n * IN + i] += dxa[k] * A[k * IN + i];
      }
    }
  }
}

// ---------------------------------------------------------------- the adapted model

/** W + s B A (out, in) for every adapted module, the rest of `base` unchanged (PEFT's merge_and_unload). */
export function mergeLora(cfg: RefConfig, base: Tensors, adapters: Tensors, s: number): Tensors {
  const merged: Tensors = new Map([...base].map(([k, t]) => [k, Float64Array.from(t)]));
  for (const { l, module, r, IN, OUT } of adaptedModules(cfg, adapters)) {
    const W = merged.get(`transformer.h.${l}.${module}.weight`);
    if (!W) throw new Error(`reference LoRA: the base has no transformer.h.${l}.${module}.weight`);
    const A = adapters.get(loraName(l, module, 'A'))!;
    const B = adapters.get(loraName(l, module, 'B'))!;
    for (let o = 0; o < OUT; o++) {
      for (let i = 0; i < IN; i++) {
        let acc = 0;
        for (let k = 0; k < r; k++) acc += B[o * r + k] * A[k * IN + i];
        W[o * IN + i] += s * acc;
      }
    }
  }
  return merged;
}

export interface LoraForward {
  fwd: ForwardResult;
  /** the merged parameters the forward ran on (backward needs them) */
  merged: Tensors;
}

/** Forward of the adapted GPT (frozen base + s * adapters); loss NaN without targets. */
export function loraGptForward(
  cfg: RefConfig, base: Tensors, adapters: Tensors, s: number, x: Int32Array, y: Int32Array | null, B: number, T: number,
): LoraForward {
  const merged = mergeLora(cfg, base, adapters, s);
  return { fwd: gptForward(cfg, merged, x, y, B, T), merged };
}

/**
 * Gradients of the adapters only (PEFT names): of the mean cross-entropy, or
 * of the loss whose logits gradient is `dlogits` (B*T, V).
 */
export function loraGptBackward(cfg: RefConfig, adapters: Tensors, s: number, f: LoraForward, dlogits?: Float64Array): Tensors {
  const G = gptBackward(cfg, f.merged, f.fwd, dlogits);
  const out: Tensors = new Map();
  for (const { l, module, r, IN, OUT } of adaptedModules(cfg, adapters)) {
    const dW = G.get(`transformer.h.${l}.${module}.weight`)!; // (OUT, IN)
    const A = adapters.get(loraName(l, module, 'A'))!; // (r, IN)
    const B = adapters.get(loraName(l, module, 'B'))!; // (OUT, r)
    const dA = new Float64Array(r * IN);
    const dB = new Float64Array(OUT * r);
    for (let o = 0; o < OUT; o++) {
      for (let k = 0; k < r; k++) {
        let acc = 0;
        for (let i = 0; i < IN; i++) acc += dW[o * IN + i] * A[k * IN + i];
        dB[o * r + k] = s * acc;
      }
    }
    for (let k = 0; k < r; k++) {
      for (let i = 0; i < IN; i++) {
        let acc = 0;
        for (let o = 0; o < OUT; o++) acc += B[o * r + k] * dW[o * IN + i];
        dA[k * IN + i] = s * acc;
      }
    }
    out.set(loraName(l, module, 'A'), dA);
    out.set(loraName(l, module, 'B'), dB);
  }
  return out;
}
