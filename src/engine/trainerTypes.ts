// The trainer's setup, hooks and in-memory snapshot (./trainer.ts).
import type { TrainConfig } from '../model/config';
import type { TokenizerSpec } from '../model/runTokenizer';
import type { CorpusIdentity, RunCheckpoint, RunIdentity, SaveResult } from './checkpointStore';
import type { OptimizerState, StepReadback } from './model';
import type { EngineEvent, EvalStats, FineTuneInfo } from './protocol';
import type { StepHead } from './stepHeads';

export interface TrainerHooks {
  emit(event: EngineEvent): void;
  /** Persist the run; resolves with whether it was saved. */
  save(run: RunCheckpoint): Promise<SaveResult>;
  /** Runs after every finite evaluation, weights at that step (the inspection timeline's snapshot). */
  afterEval?(stats: EvalStats): Promise<void>;
  /** Runs on a toy task: the held-out accuracy at an evaluation (weights drained). */
  toyAccuracy?(): Promise<EvalStats['toy'] | null>;
}

export interface TrainerSetup {
  /** Which run this is; every checkpoint is saved under its id. */
  run: RunIdentity;
  corpus: CorpusIdentity;
  vocab: string[];
  train: TrainConfig;
  trainTokens: Int32Array;
  valTokens: Int32Array;
  /** Characters of each split, for bits per character (default: one per token). */
  trainChars?: number;
  valChars?: number;
  /** A run on tokens: its tokenizer, kept with every checkpoint. */
  tokenizer?: TokenizerSpec;
  /** Set for a fine-tune of another run; kept with every checkpoint. */
  fineTune?: FineTuneInfo;
  /** What a step trains on; default: cross-entropy on the corpus (CorpusHead). */
  head?: StepHead;
}

/** What a rollback or a device restore goes back to. */
export interface Snapshot {
  step: number;
  state: OptimizerState;
  samplerState: number;
}

export interface InFlight {
  index: number;
  lr: number;
  submitAt: number;
  done: Promise<StepReadback>;
}
