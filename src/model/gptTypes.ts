// The types GptModel (./gpt.ts) takes and returns, shared by its parts
// (./gptGraph.ts, ./gptProbes.ts, ./gptDpo.ts) and by the engine.

import type { BlockActivations } from './block';

/** Dropout salt of layer 0's attention probabilities (layer l: + l), apart from the 1 + 2l / 2 + 2l of the branches. */
export const ATTENTION_DROPOUT_SALT = 0x10000;

export interface TokenBatch {
  /** (B*T) input ids */
  x: Int32Array;
  /** (B*T) next-token targets */
  y: Int32Array;
}

export interface StepResult {
  loss: number;
  /** Global gradient L2 norm before clipping. */
  gradNorm: number;
  /** performance.now() when the readback arrived. */
  doneAt: number;
  /** With hyper.health: (tensors, 4) sums of squares of gradient, weight before the step, update, 0 per tensor of tensors(). */
  health?: Float32Array;
}

/** What GptModel.probe returns for one sequence of T tokens. */
export interface ProbeResult {
  T: number;
  /** (L, T, V) logits of ln_f + lm_head after each block; layer L-1 is the model's output. */
  lens: Float32Array;
  /** (L, NH, T, T) attention probabilities, rows = queries. */
  att: Float32Array;
  /** (T-1) cross-entropy in nats of ids[t+1] given ids[0..t]. */
  losses: Float32Array;
}

export interface ModelState {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  /** AdamW steps taken. */
  step: number;
  /** With LoRA: the adapters and their moments (flat adapter layout); the base's m and v are then empty. */
  lora?: AdapterState;
}

/** LoRA adapters and their AdamW moments, in the flat adapter layout (lora.ts). */
export interface AdapterState {
  adapters: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

/** S sequences of T positions for DPO: inputs, next-token targets and the response mask, chosen 0..P-1 then rejected. */
export interface SequenceBatch extends TokenBatch {
  /** (S*T) 1 where the target is a response token, 0 on prompt and padding */
  mask: Float32Array;
}

/** What a DPO step reports (rewards are beta (log pi - log pi_ref), before the update). */
export interface DpoStepResult {
  loss: number;
  /** Global gradient norm before clipping (NaN without an update). */
  gradNorm: number;
  /** Means over the pairs: chosen reward, rejected reward, their margin, and the share of pairs ranked right. */
  rewardChosen: number;
  rewardRejected: number;
  margin: number;
  accuracy: number;
  /** (P) each */
  rewardsChosen: Float32Array;
  rewardsRejected: Float32Array;
  /** (S) the policy's sequence log-probs */
  logp: Float32Array;
  /** The gradients when the step did not update (packed, or the adapters' flat layout), else null. */
  grads: Float32Array | null;
}

/** Activations one layer keeps for backward. */
export interface LayerActs extends BlockActivations {
  lse: GPUBuffer; // (B, NH, T) attention logsumexp: backward recomputes the probabilities
}

/**
 * A parameter group that trains: params, grads and AdamW's moments share one
 * flat layout of `count` floats, the first `decayCount` of them decayed. The
 * base weights are one (unless frozen: a group without grads or moments), the
 * LoRA adapters another.
 */
export interface TrainableGroup {
  params: GPUBuffer;
  grads: GPUBuffer;
  m: GPUBuffer;
  v: GPUBuffer;
  count: number;
  decayCount: number;
  /** The group's flat GPU layout -> what callers get (packed tensors, or the adapters' flat layout). */
  unpack: (flat: Float32Array) => Float32Array;
}
