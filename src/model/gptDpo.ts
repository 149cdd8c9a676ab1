// DPO on GptModel (./gpt.ts): a loss head beside cross-entropy. The masked
// sequence log-probabilities of S sequences, and one DPO step: the training
// forward of ./gptGraph.ts, log-probs, the DPO loss and its logits gradient,
// then the same backward and update as any step (over whichever parameter
// group trains: all weights, or LoRA adapters on a frozen base).

import { DPO_STATS, dpoLoss, sequenceLogProbs, sequenceLogProbsBackward } from '../kernels/dpo';
import { READOUT_NORM_FLOAT } from './allocation';
import type { DpoStepResult, SequenceBatch } from './gptTypes';
import { GptProbes } from './gptProbes';
import { hyperFloats, type StepHyper } from './schedule';

export class GptDpo extends GptProbes {
  private readonly dpo = {
    mask: this.buf('dpo mask'), // (S*T)
    logp: this.buf('dpo logp'), // (S)
    reference: this.buf('dpo reference'), // (S)
    stats: this.buf('dpo stats'), // (DPO_STATS.count)
    rewards: this.buf('dpo rewards'), // (S)
    dlogp: this.buf('dpo dlogp'), // (S)
  };

  /**
   * Masked log-probabilities (S = batchSize) of S sequences under the current
   * weights at adapter strength `strength` (DPO's frozen reference: a copy of
   * the model, or the base under LoRA at strength 0). Forward only.
   */
  async sequenceLogProbs(batch: SequenceBatch, strength = this.loraStrength): Promise<Float32Array> {
    const S = this.batchSize;
    const T = this.config.blockSize;
    const d = this.dpo;
    this.writeSequences(batch);
    const encoder = this.gpu.device.createCommandEncoder({ label: 'sequence log-probs' });
    const pass = encoder.beginComputePass({ label: 'sequence log-probs' });
    this.recordForward(pass, S, T, 0, false, strength);
    sequenceLogProbs(this.gpu, pass, { logp: d.logp, logits: this.logitsBuf, targets: this.targets, mask: d.mask, S, T, V: this.config.vocabSize });
    pass.end();
    this.gpu.device.queue.submit([encoder.finish()]);
    return this.gpu.readF32(d.logp, S);
  }

  /**
   * One DPO step on S = batchSize sequences (P = S / 2 pairs: chosen 0..P-1,
   * then rejected) against the reference's log-probs (S): forward, log-probs,
   * DPO loss, backward from its logits gradient, grad norm, AdamW (over the
   * adapters under LoRA, else all weights). One command buffer, one pass.
   * With `update: false` nothing is updated and the gradients come back
   * (packed layout, or the adapters' flat layout).
   */
  async dpoStep(batch: SequenceBatch, reference: Float32Array, hyper: StepHyper, beta: number, opts: { update?: boolean } = {}): Promise<DpoStepResult> {
    const S = this.batchSize;
    const T = this.config.blockSize;
    const V = this.config.vocabSize;
    const P = S / 2;
    if (!Number.isInteger(P) || P < 1) throw new Error(`A DPO step needs an even batch of sequences (chosen then rejected), got ${S}.`);
    if (reference.length !== S) throw new Error(`The reference log-probabilities must hold ${S} values, got ${reference.length}.`);
    const update = opts.update ?? true;
    const d = this.dpo;
    this.writeSequences(batch);
    this.gpu.write(d.reference, reference);
    this.gpu.write(this.hyper, hyperFloats(hyper));
    if (update) this.stepsTaken = hyper.t;
    const encoder = this.gpu.device.createCommandEncoder({ label: 'dpo step' });
    encoder.clearBuffer(this.grads);
    const pass = encoder.beginComputePass({ label: 'dpo step' });
    this.recordForward(pass, S, T, 0, false, 1);
    const seq = { logits: this.logitsBuf, targets: this.targets, mask: d.mask, S, T, V };
    sequenceLogProbs(this.gpu, pass, { ...seq, logp: d.logp });
    dpoLoss(this.gpu, pass, { stats: d.stats, rewards: d.rewards, dlogp: d.dlogp, policy: d.logp, reference: d.reference, P, beta });
    sequenceLogProbsBackward(this.gpu, pass, { ...seq, dlogits: this.dlogits, dlogp: d.dlogp });
    this.recordBackward(pass, S, T, 0);
    if (update) this.recordUpdate(pass);
    pass.end();
    this.gpu.device.queue.submit([encoder.finish()]);
    const [stats, rewards, logp, norm, grads] = await Promise.all([
      this.gpu.readF32(d.stats, DPO_STATS.count),
      this.gpu.readF32(d.rewards, S),
      this.gpu.readF32(d.logp, S),
      update ? this.gpu.readF32(this.readout, 1, READOUT_NORM_FLOAT) : Promise.resolve(new Float32Array([Number.NaN])),
      update ? Promise.resolve(null) : this.readGrads(),
    ]);
    return {
      loss: stats[DPO_STATS.loss], gradNorm: norm[0], margin: stats[DPO_STATS.margin], accuracy: stats[DPO_STATS.accuracy],
      rewardChosen: stats[DPO_STATS.rewardChosen], rewardRejected: stats[DPO_STATS.rewardRejected],
      rewardsChosen: rewards.slice(0, P), rewardsRejected: rewards.slice(P), logp,
      grads,
    };
  }

  private writeSequences(batch: SequenceBatch): void {
    const BT = this.batchSize * this.config.blockSize;
    this.writeTokens(batch, BT);
    if (batch.mask.length !== BT) throw new Error(`A batch of sequences must hold ${BT} mask values, got ${batch.mask.length}.`);
    this.gpu.write(this.dpo.mask, batch.mask);
  }
}
