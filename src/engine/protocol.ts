// The typed interface between the page and the engine worker, which owns the
// WebGPU device. The page never calls WebGPU itself.
//
// Requests carry an id that their reply echoes; events are unsolicited. Add
// new kinds here rather than passing untyped objects around.

import type { GpuFailure, GpuInfo } from '../gpu/device';
import type { GroupTime } from '../gpu/profiler';
import type { KernelVariant } from '../gpu/runtime';
import type { ModelConfig, ModelShape, TrainConfig } from '../model/config';
import type { SamplingSettings, TokenDistribution } from '../model/sampling';
import type { MemoryEstimate } from '../model/validate';
import type { LoraConfig } from '../model/lora';
import type { JudgeRule, PreferencePair } from '../model/dpo';
import type { Ablation, AblationMode } from '../model/interventions';
import type { TokenizerChoice, TokenizerInfo } from '../model/runTokenizer';

export type { LoraConfig, JudgeRule, PreferencePair };

export type { MemoryEstimate, SamplingSettings, TokenDistribution };

export interface SelfCheckResult {
  M: number;
  N: number;
  K: number;
  /** Largest |gpu - cpu| over all outputs. */
  maxAbsDiff: number;
  /** Outputs the kernel did not write (left as the NaN poison). */
  unwritten: number;
  ok: boolean;
  ms: number;
}

export type TrainAction = 'start' | 'pause' | 'resume' | 'step' | 'stop' | 'reset';

export type TrainState = 'empty' | 'ready' | 'running' | 'paused' | 'done' | 'error';

export interface StepStats {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Wall time of the step, measured on the GPU queue. */
  ms: number;
  tokensPerSec: number;
}

export interface EvalStats {
  step: number;
  trainLoss: number;
  valLoss: number;
  /** Each split's loss in bits per character (total nats over its tokens / (its characters x ln 2)): comparable across tokenizers. */
  trainBpc?: number;
  valBpc?: number;
  /** Runs on a toy task: greedy completions of held-out examples (src/engine/toyEval.ts). */
  toy?: ToyAccuracy;
}

/** One toy-task example: the model is given the prompt and should complete the answer. */
export interface ToyExample {
  prompt: string;
  answer: string;
}

/** Accuracy of greedy completions of held-out toy-task examples at one evaluation. */
export interface ToyAccuracy {
  /** Fraction of examples whose whole answer was decoded exactly. */
  exact: number;
  /** Fraction of answer characters decoded right (repeat: the second-half accuracy). */
  perChar: number;
  /** Examples scored. */
  examples: number;
}

/** One point of the training-loss curve. */
export interface LossPoint {
  step: number;
  loss: number;
  /** Training wall time (seconds) when the step finished; absent in runs saved before it was kept. */
  time?: number;
}

/** A stored run, for the runs table and the resume offer (built-in corpora are saved by name: pass their text to open it). */
/** Who a run is: kept with every checkpoint of it. */
export interface RunIdentity {
  id: string;
  /** A name for people; renamed at will. */
  name: string;
  /** The preset the run started from, as its label ('' for a custom setup). */
  preset: string;
  createdAt: number;
  notes: string;
}

/** What the runs table shows of a run: everything but the weights and the corpus text. */
export interface RunSummary extends RunIdentity {
  corpusName: string;
  builtIn: boolean;
  model: ModelConfig;
  train: TrainConfig;
  step: number;
  savedAt: number;
  wallMs: number;
  tokensPerSec: number;
  trainLoss: number | null;
  valLoss: number | null;
  /** The last evaluation's validation bits per character (absent for runs saved before it was measured). */
  valBpc?: number | null;
  /** A run on tokens: its tokenizer's kind (absent for characters). */
  tokenizer?: string;
  /** Bytes the run takes in storage (weights, moments, corpus text, curves), about. */
  bytes: number;
  /** For a fine-tune: its kind and the run it started from. */
  fineTune?: { kind: FineTuneInfo['kind']; baseRunName: string; baseRunId: string; dpo?: DpoStats };
  lossHistory: LossPoint[];
  evalHistory: EvalStats[];
  /** Bumped by every stored checkpoint (absent in runs stored before revisions). */
  revision?: number;
}

export type SavedRunSummary = RunSummary;

/** Fault injection for tests: destroy the GPU device, or act as if the browser blocked storage. */
export type DebugAction = 'loseDevice' | 'blockStorage';

// ---------------------------------------------------------------- interpretability

/** Predictions kept per logit-lens cell (the likeliest next characters, top first). */
export const LENS_TOP = 5;

/**
 * What the model shows about itself on one text at one step: attention, the
 * logit lens, surprisal, head roles and a greedy sample. Taken at every
 * evaluation (the timeline) and on request. Typed arrays, so it is cheap to
 * post and to keep in IndexedDB.
 */
export interface Insights {
  step: number;
  /** 'eval': a timeline snapshot at an evaluation; 'request': asked for from the page. */
  source: 'eval' | 'request';
  /** The text's characters as the model saw them (T, cropped to the context). */
  tokens: string[];
  nLayer: number;
  nHead: number;
  T: number;
  /** (nLayer, nHead, T, T) attention probabilities, row = query. */
  att: Float32Array;
  /** (nLayer, T, LENS_TOP) likeliest next-token ids after each block at each position. */
  lensIds: Uint16Array;
  /** (nLayer, T, LENS_TOP) their probabilities. */
  lensProbs: Float32Array;
  /** (T-1) -log2 p(tokens[t+1] | tokens[0..t]) in bits. */
  bits: Float32Array;
  /** (nLayer, nHead, 4): previous-token, first-token, self and prefix-matching (induction) score (NaN where it cannot apply). */
  heads: Float32Array;
  /** Characters in each half of the induction probe (0 when the context is too short for one). */
  inductionLength: number;
  /** A short greedy continuation of the text's first characters, and that prompt. */
  samplePrompt: string;
  sample: string;
  /** Characters cut from the end so the text fits the context. */
  cropped: number;
  /** Characters of the text the model has never seen (left out). */
  unknown: string[];
  /** Characters the tokens after the first spell (bits per character of the shown text; runs on tokens). */
  predictedChars?: number;
  /**
   * Timeline snapshots: Anthropic's in-context-learning score, the mean loss (nats) at position
   * `late` minus at position `early` over `windows` validation windows (negative: the context helps).
   */
  icl?: { score: number; early: number; late: number; windows: number };
}

/** Steps between per-tensor health readings while training (also taken at the first step). */
export const HEALTH_INTERVAL = 10;

/** Per-tensor training health at one step (every HEALTH_INTERVAL steps while training). */
export interface HealthStats {
  step: number;
  /** Parameter tensors under nanoGPT's names, in layout order. */
  names: string[];
  /** L2 norm of each tensor's gradient (before clipping). */
  gradNorm: number[];
  /** ||w_new - w_old|| / ||w_old|| of each tensor: the step's update relative to the weights (NaN for a tensor of zeros). */
  updateRatio: number[];
}

// ---------------------------------------------------------------- fine-tuning

/** What makes a run a fine-tune of another: shown beside its curves and kept with it. */
export interface FineTuneInfo {
  kind: 'lora' | 'dpo';
  /** The run it started from, and that run's step then. */
  baseRunId: string;
  baseRunName: string;
  baseStep: number;
  /** The base run's curves (on its own corpus), drawn beside the fine-tune's. */
  baseLossHistory: LossPoint[];
  baseEvalHistory: EvalStats[];
  /** LoRA: the adapter config, PEFT's trainable-parameters line and the counts behind it. */
  lora?: LoraConfig;
  peftLine?: string;
  trainable: number;
  allParams: number;
  /** GPU bytes the model holds for this fine-tune, and for a full fine-tune of the same model and batch. */
  gpuBytes: number;
  fullGpuBytes: number;
  /** DPO: the settings and the per-step statistics so far. */
  dpo?: DpoRecord;
}

/** One DPO step's statistics (means over the step's pairs; rewards are beta (log pi - log pi_ref) before the update). */
export interface DpoStats {
  step: number;
  loss: number;
  rewardChosen: number;
  rewardRejected: number;
  margin: number;
  accuracy: number;
  gradNorm: number;
}

export interface DpoRecord {
  beta: number;
  learningRate: number;
  /** 'all': every weight trains; 'lora': adapters on the frozen model. */
  target: 'all' | 'lora';
  pairs: PreferencePair[];
  /** Pairs per step (half the batch of sequences). */
  pairsPerStep: number;
  history: DpoStats[];
  /** The frozen reference's log-probabilities of each pair's chosen and rejected text, taken before the first update. */
  reference?: { chosen: number[]; rejected: number[] };
  /** The judge that labelled the pairs, if a rule did ('' when the person did). */
  judge: string;
}

/** Requests from the page. */
export type EngineRequest =
  /** kernels: force the kernel shapes ('gpu' or 'cpu', the URL parameter `kernels`); otherwise chosen from the adapter. */
  | { kind: 'init'; kernels?: KernelVariant }
  | { kind: 'selfCheck'; M: number; N: number; K: number; seed: number }
  /**
   * Compile, in the background, every GPU pipeline a run of this shape needs for
   * its first step, evaluation and inspection (a scratch model takes one of each
   * and is freed), so Start does not wait for the shader compiler.
   */
  | { kind: 'warmUp'; model: ModelShape; batchSize: number; vocabSize: number }
  /** A new run (a new id: no stored run is replaced); `runName` and `preset` name it. */
  /** toyEval: a toy task's held-out examples, completed greedily at every evaluation. */
  | { kind: 'load'; corpusName: string; text: string; model: ModelShape; train: TrainConfig; builtIn?: boolean; runName?: string; preset?: string; toyEval?: ToyExample[]; /** Default: characters. */ tokenizer?: TokenizerChoice }
  /** The run saved last in this browser, if any. */
  | { kind: 'savedRun' }
  /** Open a stored run (the last saved without `id`) paused at its step; `text` is required for a built-in corpus. */
  | { kind: 'resume'; id?: string; text?: string }
  /** Delete a stored run (the last saved without `id`). */
  | { kind: 'discardSavedRun'; id?: string }
  | { kind: 'listRuns' }
  /** The user's own text a stored run trained on (built-in corpora are stored by name only). */
  | { kind: 'runCorpus'; id: string }
  /** A stored run's name and (when given) notes. */
  | { kind: 'renameRun'; id: string; name: string; notes?: string }
  /** A stored run copied to a new run this tab owns, and opened (text: a built-in corpus's). */
  | { kind: 'duplicateRun'; id: string; text?: string }
  /** Train `steps` more steps on the open run, continuing its step, schedule and sampler. */
  | { kind: 'continueRun'; steps: number }
  | { kind: 'debug'; action: DebugAction }
  | { kind: 'train'; action: TrainAction; steps?: number }
  | { kind: 'evaluate' }
  | { kind: 'attention'; prompt: string }
  | { kind: 'generate'; requestId: number; prompt: string; maxNewTokens: number; sampling: SamplingSettings }
  | { kind: 'setSampling'; sampling: SamplingSettings }
  | { kind: 'stopGenerate' }
  /** withOptimizer adds AdamW's moments and the step, so training continues exactly after an import. */
  | { kind: 'exportCheckpoint'; withOptimizer?: boolean; /** A LLaMA run as Hugging Face's model.safetensors + config.json, zipped. */ huggingFace?: boolean }
  /** The file becomes a new run on this corpus (its characters must be the file's), with these training settings. */
  | {
      kind: 'importCheckpoint';
      bytes: ArrayBuffer;
      fileName: string;
      corpusName: string;
      text: string;
      builtIn?: boolean;
      train: TrainConfig;
      /** A Hugging Face config.json picked with the safetensors file. */
      configJson?: string;
    }
  | { kind: 'benchmark'; steps: number }
  /** What the engine holds on the GPU now (the soak benchmark checks that nothing grows). */
  | { kind: 'stats' }
  /** Inspect the model now on `text` (default: the start of the validation split). */
  | { kind: 'insights'; text?: string }
  /**
   * A LoRA fine-tune of the open run (its weights now, frozen) on `text`, as a
   * new run; `train` gives its learning rate, steps and batch. Every character
   * of the text must be in the open run's vocabulary.
   */
  | { kind: 'startLora'; corpusName: string; text: string; builtIn?: boolean; lora: LoraConfig; train: TrainConfig; runName?: string }
  /** Adapter strength of the open LoRA run in sampling, attention and inspection (0 = base, 1 = adapted). */
  | { kind: 'setLoraStrength'; strength: number }
  /** Fold the open LoRA run's adapters into its base weights (W + alpha/r B A) as a new full run. */
  | { kind: 'mergeLora' }
  /** The open LoRA run's adapters as a PEFT-format safetensors file. */
  | { kind: 'exportAdapter' }
  /** A PEFT LoRA file onto the open run (the base), as a new LoRA run on the open run's corpus. */
  /** An adapter: PEFT's folder zipped, adapter_model.safetensors with its adapter_config.json as `configJson`, or our single file. */
  | { kind: 'importAdapter'; bytes: ArrayBuffer; fileName: string; configJson?: string }
  /**
   * DPO from the open run as a new run: the model as it is now is the frozen
   * reference; `steps` steps on the pairs (cycled), all weights or LoRA
   * adapters (`lora` gives their config). Replies 'loaded' for the new run at
   * once; the step-0 statistics (loss ln 2) and each step's stream as `dpoStep`
   * events, then `dpoDone`. Training requests wait until it is done.
   */
  | { kind: 'startDpo'; pairs: PreferencePair[]; beta: number; learningRate: number; steps: number; target: 'all' | 'lora'; lora?: LoraConfig; judge?: string; runName?: string }
  /** Stop a DPO run after the step in flight (it is saved as it is). */
  | { kind: 'stopDpo' }
  /** An intervention on the open run now (./jobs/circuits.ts): the ablation grid, logit attribution or patching. */
  | { kind: 'circuits'; job: CircuitsJob }
  /** Heads zero-ablated in sampling and the attention views (never in training or evaluation); [] switches them off. */
  | { kind: 'setAblations'; ablations: Ablation[] };

/** What a circuits request computes; tokens are given as text (one token each for target and other). */
export type CircuitsJob =
  /** (L, H) change in validation loss with each head alone ablated, on a fixed validation batch. */
  | { what: 'grid'; mode: AblationMode }
  /** Direct logit attribution of the next-token logit at `pos` of `text` (minus `other`'s, when given); `pos` counts tokens, left out: the last token. */
  | { what: 'attribution'; text: string; pos?: number; target: string; other?: string }
  /** Fraction of logit[target] - logit[other] restored at the last position by each patch from clean into corrupted. */
  | { what: 'patching'; clean: string; corrupted: string; target: string; other: string };

/** A circuits reply: the step of the weights and the numbers the page draws. */
export type CircuitsResult =
  | { what: 'grid'; step: number; mode: AblationMode; clean: number; deltas: Float32Array; L: number; H: number }
  | {
      what: 'attribution'; step: number; tokens: string[]; pos: number;
      names: string[]; contributions: number[]; sum: number; logit: number; difference: number; normBias: number;
    }
  | {
      what: 'patching'; step: number; tokens: string[]; corruptedTokens: string[]; T: number; L: number; H: number;
      clean: number; corrupted: number; resid: Float32Array; heads: Float32Array;
    };

/** One kernel group's GPU time in a profiled training step. */
export type KernelGroupTime = GroupTime;

/** Replies, matched to requests by id. */
export type EngineReply =
  /** kernels: the kernel shapes in use; subgroups: whether their reductions use subgroup operations. */
  | { kind: 'ready'; info: GpuInfo; kernels: KernelVariant; subgroups: boolean }
  | { kind: 'gpuUnavailable'; reason: GpuFailure; message: string }
  | { kind: 'selfCheck'; result: SelfCheckResult }
  /** ms: how long the warm-up took (0 when this shape was warm already); pipelines: how many it compiled; total: pipelines on the device now; stopped: a run was opened first. */
  | { kind: 'warmedUp'; ms: number; pipelines: number; total: number; stopped?: boolean }
  | {
      kind: 'loaded';
      config: ModelConfig;
      vocab: string[];
      paramCount: number;
      memory: MemoryEstimate;
      trainTokens: number;
      valTokens: number;
      /** Characters of each split (the denominators of bits per character). */
      trainChars?: number;
      valChars?: number;
      /** Which tokenizer the run reads with. */
      tokenizer?: TokenizerInfo;
      /** The run, as the table shows it. */
      runId: string;
      runName: string;
      /** Steps already done (a resumed run), with the curves so far. */
      step?: number;
      /** An opened run's own corpus text (not for built-in corpora, which the page has). */
      corpusText?: string;
      /** Set when the run was made from an imported file: its name and step. */
      imported?: { fileName: string; step: number };
      /** The training settings the run continues with (a continued run has more steps than it started with). */
      train: TrainConfig;
      lossHistory?: LossPoint[];
      evalHistory?: EvalStats[];
      /** Set for a fine-tune (LoRA or DPO) of another run. */
      fineTune?: FineTuneInfo;
      /** The adapter strength in use (LoRA runs). */
      loraStrength?: number;
      /** Another tab has this run open: this tab shows it read-only. */
      readOnly?: boolean;
    }
  | { kind: 'savedRun'; run: SavedRunSummary | null }
  | { kind: 'runs'; runs: RunSummary[]; openId: string | null; /** Runs another tab has open (and trains). */ elsewhere?: string[] }
  | { kind: 'runCorpus'; name: string; builtIn: boolean; text?: string }
  | { kind: 'invalid'; problems: string[] }
  | { kind: 'ok' }
  | { kind: 'evaluated'; stats: EvalStats }
  | {
      kind: 'attention';
      step: number;
      tokens: string[];
      nLayer: number;
      nHead: number;
      T: number;
      /** (nLayer, nHead, T, T), row = query, column = key; rows sum to 1 over keys <= query. */
      probs: Float32Array;
      /** Characters of the prompt the model has never seen (left out). */
      unknown?: string[];
      /** Characters cut from the front so the prompt fits the context. */
      cropped?: number;
    }
  /** unknown: characters of the prompt the model has never seen (left out). */
  | { kind: 'generated'; requestId: number; text: string; stopped: boolean; unknown?: string[] }
  | { kind: 'exported'; bytes: ArrayBuffer; fileName: string; step: number }
  | {
      kind: 'benchmark';
      steps: number;
      msPerStep: number;
      tokensPerSec: number;
      /** GPU time per kernel group of one more (profiled) step; null without timestamp queries */
      kernels: KernelGroupTime[] | null;
      /** how the kernel times were taken, or why there are none */
      kernelNote: string;
    }
  /** Live storage buffers (count, bytes) and cached bind groups of the engine's Gpu; step 0 without a run. */
  | { kind: 'stats'; liveBuffers: number; liveBytes: number; bindGroups: number; step: number }
  | { kind: 'insights'; insights: Insights }
  | { kind: 'circuits'; result: CircuitsResult }
  | { kind: 'error'; message: string };

/** Unsolicited events from the worker. */
export type EngineEvent =
  | { kind: 'deviceLost'; message: string }
  | { kind: 'gpuError'; message: string }
  | { kind: 'trainState'; state: TrainState; step: number; maxSteps: number; message?: string }
  | { kind: 'step'; stats: StepStats }
  | { kind: 'eval'; stats: EvalStats }
  | { kind: 'nonFinite'; step: number; message: string; rolledBackTo?: number }
  /** The whole loss curve, sent when it changes other than by appending (resume, rollback, device restore). */
  | { kind: 'history'; lossHistory: LossPoint[]; evalHistory: EvalStats[] }
  | { kind: 'checkpoint'; step: number; saved: boolean; message?: string }
  /** Another tab wrote to a stored run (a checkpoint, a rename, a delete). */
  | { kind: 'runNews'; id: string; what: 'saved' | 'renamed' | 'deleted'; step?: number; name?: string; notes?: string }
  | { kind: 'health'; stats: HealthStats }
  /** One DPO step done (of `steps`). */
  | { kind: 'dpoStep'; stats: DpoStats; steps: number }
  /** A DPO run ended (all steps, stopped, or failed with `message`); it is saved. */
  | { kind: 'dpoDone'; history: DpoStats[]; stopped: boolean; message?: string }
  /** A model file being imported: the share done (0..1) and what it is doing. */
  | { kind: 'importProgress'; fraction: number; stage: string }
  /** A timeline snapshot taken at an evaluation. */
  | { kind: 'snapshot'; insights: Insights }
  /** The whole timeline, sent when it changes other than by appending (load, resume, reset). */
  | { kind: 'timeline'; snapshots: Insights[] }
  | {
      kind: 'token';
      requestId: number;
      /** The sampled character and its probability under the shown distribution. */
      char: string;
      id: number;
      prob: number;
      dist: TokenDistribution;
    };

export type ToWorker = { id: number; request: EngineRequest };
export type FromWorker = { id: number; reply: EngineReply } | { id: null; event: EngineEvent };
