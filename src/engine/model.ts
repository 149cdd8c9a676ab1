// What the engine needs from a trainable model, whatever computes it. The GPU
// GPT (src/model/gpt.ts) is wrapped to this shape by gpuModel.ts; tests drive
// the trainer with a small CPU model of the same shape. The required members
// serve training, evaluation and the views; the optional ones are capabilities
// a model may lack (LoRA strength, DPO, the inspection probe), and the engine
// asks for them by name, never by class.
import type { ModelConfig } from '../model/config';

// A batch (x, y: (B*T) inputs and next-token targets) and one step's AdamW
// hyperparameters (PyTorch semantics) are the GPU model's own types.
export type { TokenBatch as Batch } from '../model/gpt';
export type { StepHyper } from '../model/schedule';
import type { TokenBatch as Batch } from '../model/gpt';
import type { StepHyper } from '../model/schedule';
import type { Decoder } from '../model/decoder';
import type { ForwardHooks, HookedForward } from '../model/hooks';
import type { AdapterState, DpoStepResult, ProbeResult, SequenceBatch } from '../model/gpt';

export type { Decoder, AdapterState, DpoStepResult, ProbeResult, SequenceBatch };

export interface StepReadback {
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** performance.now() when the GPU reported the step's work done. */
  doneAt: number;
  /** When the step's hyper asked for it: (tensors(), 4) sums of squares of gradient, weight before the step, update, 0. */
  health?: Float32Array;
}

/** Parameters and AdamW moments as flat arrays, all in the model's parameter layout. */
export interface OptimizerState {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  /** AdamW steps these moments have seen (the t of the last step). */
  step?: number;
  /** A LoRA model's adapters and their moments (the base's m and v are then empty: it is frozen). */
  lora?: AdapterState;
}

/** A named slice of the flat parameter buffer, under nanoGPT's state_dict name. */
export interface NamedTensor {
  name: string;
  shape: number[];
  /** Offset in floats into the flat parameters. */
  offset: number;
}

export interface EngineModel {
  readonly config: ModelConfig;
  readonly batchSize: number;
  readonly paramCount: number;
  /**
   * Record and submit one full training step (forward, backward, clip, AdamW)
   * and return at once; the promise resolves when the GPU has finished it.
   * Steps submitted back to back run in order.
   */
  step(batch: Batch, hyper: StepHyper): Promise<StepReadback>;
  /** Mean loss on a batch, no dropout, no update. */
  evalLoss(batch: Batch): Promise<number>;
  /** Next-token logits (V) after `ids` (1 <= length <= blockSize); interventions: false leaves out the live ablations (insights, evaluation). */
  logits(ids: Int32Array, opts?: { interventions?: boolean }): Promise<Float32Array>;
  /** Attention probabilities for `ids`: (nLayer, nHead, T, T), T = ids.length. */
  attention(ids: Int32Array): Promise<Float32Array>;
  /** A KV-cache decoder, when the model has one; interventions: false leaves out the live ablations (evaluation). */
  decoder?(opts?: { interventions?: boolean }): Decoder;
  readState(): Promise<OptimizerState>;
  writeState(state: OptimizerState): void;
  /** The parameter layout under nanoGPT's names (tied weights listed once, as transformer.wte.weight). */
  tensors(): NamedTensor[];
  /** Resolves when all submitted GPU work is done. */
  finish(): Promise<void>;
  destroy(): void;

  // ---------------------------------------------------------------- optional capabilities

  /**
   * A LoRA model's adapter strength in prompts, sampling, attention views and
   * evaluation: 0 = the base model, 1 = fully adapted (training uses 1).
   */
  loraStrength?: number;
  /**
   * The inspection probe on one sequence (1 <= T <= blockSize): the logit lens
   * (L, T, V), attention probabilities (L, NH, T, T) and per-position losses (T-1).
   */
  probe?(ids: Int32Array): Promise<ProbeResult>;
  /**
   * Masked log-probabilities (batchSize) of a batch of sequences at adapter
   * strength `strength` (default: loraStrength); forward only.
   */
  sequenceLogProbs?(batch: SequenceBatch, strength?: number): Promise<Float32Array>;
  /**
   * One DPO step on batchSize sequences (chosen 0..P-1, then rejected) against
   * the reference's log-probs: with `update: false`, the statistics and
   * gradients without an update.
   */
  dpoStep?(batch: SequenceBatch, reference: Float32Array, hyper: StepHyper, beta: number, opts?: { update?: boolean }): Promise<DpoStepResult>;
  /** Hooked forwards over the model's buffers, for interventions (../model/interventions.ts). */
  hooked?(): HookedForward;
  /** Live interventions in prompts, sampling and attention views (never in training or evaluation). */
  viewHooks?: ForwardHooks | null;
}

/** A model with the inspection probe. */
export type ProbingModel = EngineModel & Required<Pick<EngineModel, 'probe'>>;
/** A model DPO can train: a DPO step and sequence log-probabilities. */
export type DpoModel = EngineModel & Required<Pick<EngineModel, 'dpoStep' | 'sequenceLogProbs'>>;

export function canProbe(model: EngineModel): model is ProbingModel {
  return typeof model.probe === 'function';
}

/** A model the circuits requests can run on. */
export type InterveningModel = EngineModel & Required<Pick<EngineModel, 'hooked'>>;

export function canIntervene(model: EngineModel): model is InterveningModel {
  return typeof model.hooked === 'function';
}

export function canDpo(model: EngineModel): model is DpoModel {
  return typeof model.dpoStep === 'function' && typeof model.sequenceLogProbs === 'function';
}
