// Forward hooks at TransformerLens's hook points, for interventions
// (./interventions.ts, ./patching.ts, ./attribution.ts) and live ablations
// while sampling. A hook records dispatches that read or change the
// activation in place; forwards without hooks record exactly what they did.
//
//   residPre  (N, C)   the residual stream entering a block (hook_resid_pre)
//   z         (N, HD)  attention output before the output projection (hook_z);
//                      head h is channels h*D .. (h+1)*D, HD = H*D
//   attnOut   (N, C)   the attention branch, o_proj(z) (+ bias) (hook_attn_out)
//   mlpOut    (N, C)   the MLP branch (hook_mlp_out)
//
// With attnOut or mlpOut the block computes that branch into `scratch` and
// adds it to the residual stream after the hook (the unfused path).
import type { Binding, Recorder } from '../gpu/runtime';

export interface BlockHooks {
  /** Each hook gets the activation and its rows N. */
  residPre?(rec: Recorder, resid: Binding, N: number): void;
  z?(rec: Recorder, atty: Binding, N: number): void;
  attnOut?(rec: Recorder, out: Binding, N: number): void;
  mlpOut?(rec: Recorder, out: Binding, N: number): void;
  /** (N, C) where a hooked branch output is computed */
  scratch?: Binding;
}

/** Hooks of a whole forward: layer l's block hooks, and the final residual (hook_resid_pre[L]) before the final norm. */
export interface ForwardHooks {
  layer(l: number): BlockHooks | null;
  final?(rec: Recorder, resid: Binding, N: number): void;
}

/** The scratch a hooked branch needs, or an error naming what is missing. */
export function branchScratch(h: BlockHooks): Binding {
  if (!h.scratch) throw new Error('A hooked attention or MLP branch needs a scratch buffer (N, C).');
  return h.scratch;
}

/** What GptModel.hooked() exposes: hooked forwards over the model's own buffers (training shapes; B*T rows at most). */
export interface HookedForward {
  /** Record tokens -> logits (B*T, V) with the hooks (no dropout, adapters at full strength). */
  record(pass: Recorder, B: number, T: number, hooks: ForwardHooks | null): void;
  /** Per-row cross-entropy against the targets and its mean into `loss`. */
  recordLoss(pass: Recorder, BT: number): void;
  /** Write the inputs (and targets) of the next recorded forward. */
  writeTokens(x: Int32Array, y?: Int32Array): void;
  /** (BT, C) the residual stream entering layer 0 */
  encoded: GPUBuffer;
  /** every layer's activations of the last forward (res2, atty, out, ...) */
  acts: ReadonlyArray<{ atty: Binding; res2: Binding; out: Binding }>;
  /** (BT) the final norm's 1/rms (or 1/std) of the last forward */
  lnfRstd: GPUBuffer;
  /** (BT, V) */
  logits: GPUBuffer;
  /** f32[1] the mean loss of recordLoss */
  loss: Binding;
  /** (BT, C) free during a hooked forward: where hooked branches are computed */
  scratch: GPUBuffer;
  /** A named parameter's range of the flat parameter buffer, or null. */
  weight(name: string): { buffer: GPUBuffer; offset: number; size: number } | null;
}
