// Direct Preference Optimization on the GPU: masked per-sequence log-probabilities,
// the DPO loss with its statistics and its gradient into the log-probabilities,
// and the gradient of those log-probabilities into the logits. A DPO step runs
// S = 2P sequences (chosen 0..P-1, then rejected 0..P-1) through the model:
//
//   sequenceLogProbs(policy logits)  -> logp (S)          [and once for the frozen reference]
//   dpoLoss(logp, refLogp)           -> stats (5), rewards (S), dlogp (S)
//   sequenceLogProbsBackward(dlogp)  -> dlogits (S*T, V), then the model's backward
import logprobCode from '../../shaders/sequence_logprob.wgsl?raw';
import backwardCode from '../../shaders/sequence_logprob_backward.wgsl?raw';
import lossCode from '../../shaders/dpo_loss.wgsl?raw';
import { grid, packParams, type Binding, type Gpu, type Recorder } from '../gpu/runtime';

/** Layout of dpoLoss's `stats` output (f32 each). */
export const DPO_STATS = { loss: 0, rewardChosen: 1, rewardRejected: 2, margin: 3, accuracy: 4, count: 5 } as const;

export interface SequenceArgs {
  /** (S*T, V) */
  logits: Binding;
  /** (S*T) i32 next-token ids in [0, V) */
  targets: Binding;
  /** (S*T) f32, 1 where the target is a response token, 0 on prompt and padding */
  mask: Binding;
  S: number;
  T: number;
  V: number;
}

/** Record logp[s] = sum_t mask[s, t] * log_softmax(logits[s, t])[targets[s, t]], logp (S). */
export function sequenceLogProbs(gpu: Gpu, recorder: Recorder, args: SequenceArgs & { logp: Binding }): void {
  const { S, T, V } = args;
  gpu.dispatch(recorder, gpu.pipeline(logprobCode), {
    params: [S, T, V],
    buffers: [args.logp, args.logits, args.targets, args.mask],
    workgroups: grid(S),
    kernel: 'sequence_logprob',
    workgroupSize: 64,
    // per logit: max, subtract, exp, sum; per row a log and the masked add
    flops: 4 * S * T * V + 3 * S * T,
    // read logits (S*T, V), targets and mask (S*T); write logp (S)
    bytes: 4 * (S * T * V + 2 * S * T + S),
  });
}

/** Record dlogits[s, t] = dlogp[s] * mask[s, t] * (onehot(targets[s, t]) - softmax(logits[s, t])) (overwrite). */
export function sequenceLogProbsBackward(gpu: Gpu, recorder: Recorder, args: SequenceArgs & { dlogits: Binding; dlogp: Binding }): void {
  const { S, T, V } = args;
  gpu.dispatch(recorder, gpu.pipeline(backwardCode), {
    params: [S, T, V],
    buffers: [args.dlogits, args.logits, args.targets, args.mask, args.dlogp],
    workgroups: grid(Math.ceil((S * T) / 64)),
    kernel: 'sequence_logprob_backward',
    workgroupSize: 64,
    // per logit: the row's max and sum (4), then exp, scale and the target's add (4)
    flops: 8 * S * T * V,
    // read logits (S*T, V), targets and mask (S*T), dlogp (S); write dlogits (S*T, V)
    bytes: 4 * (2 * S * T * V + 2 * S * T + S),
  });
}

export interface DpoLossArgs {
  /** (5) loss, mean chosen reward, mean rejected reward, mean margin, accuracy (DPO_STATS) */
  stats: Binding;
  /** (2P) beta (logp - ref): chosen then rejected */
  rewards: Binding;
  /** (2P) dloss/dlogp of the policy: chosen then rejected */
  dlogp: Binding;
  /** (2P) policy log-probs */
  policy: Binding;
  /** (2P) frozen reference log-probs */
  reference: Binding;
  /** pairs */
  P: number;
  /** DPO's beta (a run's constant: it sits in a cached uniform) */
  beta: number;
}

/** Record DPO's sigmoid loss of P pairs, its rewards, statistics and gradient into the policy's log-probs. */
export function dpoLoss(gpu: Gpu, recorder: Recorder, args: DpoLossArgs): void {
  const { P } = args;
  gpu.dispatch(recorder, gpu.pipeline(lossCode), {
    params: packParams([P, { f32: args.beta }]),
    buffers: [args.stats, args.rewards, args.dlogp, args.policy, args.reference],
    workgroups: 1,
    kernel: 'dpo_loss',
    workgroupSize: 64,
    // per pair: rewards, margin, softplus, sigmoid and the sums (about 20)
    flops: 20 * P,
    // read policy and reference (2P each); write rewards, dlogp (2P each) and stats (5)
    bytes: 4 * (8 * P + DPO_STATS.count),
  });
}
