// Step heads: what one training step computes its loss on. The Trainer
// (trainer.ts) runs every kind of run through one loop, with every step's
// settings from stepHyper; the head decides what a step is:
//   CorpusHead  cross-entropy on the next batch of the corpus (pretraining and
//               LoRA: which weights train is the model's parameter groups' say)
//   DpoHead     DPO on the next preference pairs against a frozen reference:
//               the policy's log-probabilities before any update, taken once
//               (and kept with the run), with step 0's statistics measured
//               without an update (loss ln 2, margin 0).
import type { TrainConfig } from '../model/config';
import type { BatchSampler } from '../model/data';
import { pairBatch, type PreferencePair } from '../model/dpo';
import { canDpo, type EngineModel, type SequenceBatch, type StepHyper, type StepReadback } from './model';
import type { DpoRecord, DpoStats, EngineEvent } from './protocol';
import type { Serial } from './serial';

/** A step submitted: the promise resolves when the GPU has finished it. */
export interface Submitted {
  done: Promise<StepReadback>;
}

export interface StepHead {
  readonly kind: 'corpus' | 'dpo';
  /** Before a run's first step (the Trainer calls it at step 0, and before any step of a head not begun). */
  begin?(model: EngineModel, serial: Serial, hyper: StepHyper): Promise<void>;
  /** Record and submit 0-based step `index`; runs inside the GPU queue's turn. */
  submit(model: EngineModel, index: number, hyper: StepHyper): Submitted | Promise<Submitted>;
  /** Step `step` (1-based) was accepted: its statistics beyond loss and gradient norm. */
  accepted?(step: number): void;
  /** A rollback to `step`: statistics past it are dropped. */
  rolledBack?(step: number): void;
}

/** Cross-entropy on the corpus: the next batch of the run's sampler each step. */
export class CorpusHead implements StepHead {
  readonly kind = 'corpus';
  constructor(private readonly sampler: BatchSampler) {}

  submit(model: EngineModel, _index: number, hyper: StepHyper): Submitted {
    return { done: model.step(this.sampler.next(), hyper) };
  }
}

/**
 * DPO's step settings as a training config: the run's AdamW betas and eps at
 * DPO's own constant learning rate, no weight decay, gradients clipped at norm 1.
 */
export function dpoTrainConfig(train: TrainConfig, learningRate: number, steps: number): TrainConfig {
  const { lrDecaySteps: _end, ...rest } = train;
  void _end;
  return { ...rest, learningRate, lrDecay: false, weightDecay: 0, gradClip: 1, maxSteps: steps };
}

/** What a DPO head needs of its run beyond the model: the pairs' encoding and where statistics go. */
export interface DpoHeadSetup {
  record: DpoRecord;
  encode(text: string): number[];
  blockSize: number;
  /** The Trainer's maxSteps now (the total the page shows progress against). */
  steps(): number;
  emit(event: EngineEvent): void;
}

/**
 * DPO against a frozen reference. Step k (1-based) trains on pairs
 * (k-1)P .. (k-1)P+P-1 of the list, cycled; DPO runs without dropout.
 */
export class DpoHead implements StepHead {
  readonly kind = 'dpo';
  private readonly results = new Map<number, DpoStats>();
  private begun = false;

  constructor(private readonly s: DpoHeadSetup) {}

  get record(): DpoRecord {
    return this.s.record;
  }

  /** The batch of DPO batch number k: its sequences and which pairs they are. */
  private batch(k: number): { batch: SequenceBatch; index: number[] } {
    const { pairs, pairsPerStep: P } = this.s.record;
    const index = Array.from({ length: P }, (_, i) => (k * P + i) % pairs.length);
    return { batch: pairBatch(index.map((i) => pairs[i] as PreferencePair), this.s.encode, this.s.blockSize), index };
  }

  private reference(index: number[]): Float32Array {
    const ref = this.s.record.reference!;
    return Float32Array.from([...index.map((i) => ref.chosen[i]), ...index.map((i) => ref.rejected[i])]);
  }

  /**
   * The reference log-probabilities (the policy as it is now, unless the run
   * keeps them from its start) and, at step 0, the statistics before any update.
   */
  async begin(model: EngineModel, serial: Serial, hyper: StepHyper): Promise<void> {
    if (!canDpo(model)) throw new Error('This model cannot be trained with DPO.');
    const record = this.s.record;
    const { pairs, pairsPerStep: P } = record;
    if (!record.reference) {
      const chosen = new Array<number>(pairs.length).fill(0);
      const rejected = new Array<number>(pairs.length).fill(0);
      for (let k = 0; k * P < pairs.length; k++) {
        const { batch, index } = this.batch(k);
        const logp = await serial.run(() => model.sequenceLogProbs(batch, 1));
        index.forEach((i, j) => {
          chosen[i] = logp[j];
          rejected[i] = logp[P + j];
        });
      }
      record.reference = { chosen, rejected };
    }
    if (!this.begun && !record.history.some((h) => h.step === 0)) {
      const { batch, index } = this.batch(0);
      // Step 0 updates nothing: the statistics and gradients of the untouched policy.
      const res = await serial.run(() => model.dpoStep(batch, this.reference(index), hyper, record.beta, { update: false }));
      if (![res.loss, res.margin, res.rewardChosen, res.rewardRejected].every(Number.isFinite)) {
        throw new Error('the DPO statistics of the untouched model are not finite.');
      }
      this.publish({ step: 0, loss: res.loss, rewardChosen: res.rewardChosen, rewardRejected: res.rewardRejected, margin: res.margin, accuracy: res.accuracy, gradNorm: 0 });
    }
    this.begun = true;
  }

  submit(model: EngineModel, index: number, hyper: StepHyper): Promise<Submitted> {
    if (!canDpo(model)) throw new Error('This model cannot be trained with DPO.');
    const { batch, index: pairs } = this.batch(index);
    // Taken whole inside the queue's turn: a DPO step reads its statistics back before the next is recorded.
    return model.dpoStep(batch, this.reference(pairs), { ...hyper, health: false }, this.s.record.beta, { update: true }).then((res) => {
      const finite = [res.loss, res.margin, res.rewardChosen, res.rewardRejected].every(Number.isFinite);
      const step = index + 1;
      this.results.set(step, {
        step, loss: res.loss, rewardChosen: res.rewardChosen, rewardRejected: res.rewardRejected,
        margin: res.margin, accuracy: res.accuracy, gradNorm: res.gradNorm,
      });
      return { done: Promise.resolve({ loss: finite ? res.loss : Number.NaN, gradNorm: res.gradNorm, doneAt: performance.now() }) };
    });
  }

  accepted(step: number): void {
    const stats = this.results.get(step);
    this.results.delete(step);
    if (stats) this.publish(stats);
  }

  rolledBack(step: number): void {
    this.results.clear();
    const record = this.s.record;
    record.history = record.history.filter((h) => h.step <= step);
  }

  private publish(stats: DpoStats): void {
    const record = this.s.record;
    record.history = [...record.history.filter((h) => h.step < stats.step), stats];
    this.s.emit({ kind: 'dpoStep', stats, steps: this.s.steps() });
  }
}
