// Float64 CPU reference for Direct Preference Optimization (Rafailov et al.
// 2023, as TRL's DPOTrainer computes it with the sigmoid loss), on top of
// any model that yields logits: ./gpt.ts with all weights, or ./lora.ts.
//
// A step sees P pairs (prompt + chosen, prompt + rejected), run as one batch
// of S = 2P sequences: chosen 0..P-1, then rejected 0..P-1. Each sequence has
// T + 1 tokens; position t < T reads seq[t] and predicts seq[t + 1], and
// mask[t] is 1 where seq[t + 1] is a response token (prompt and padding 0).
//
//   logp[s]   = sum_t mask[s, t] * log_softmax(logits[s, t])[seq[s, t + 1]]
//   h_p       = (logp_c[p] - ref_c[p]) - (logp_r[p] - ref_r[p])
//   loss      = -(1/P) sum_p log sigmoid(beta h_p)
//   reward_c  = beta (logp_c - ref_c), reward_r = beta (logp_r - ref_r)
//   dloss/dlogp_c[p] = -(beta / P) sigmoid(-beta h_p) = -dloss/dlogp_r[p]
//   dloss/dlogits[s, t] = dloss/dlogp[s] * mask[s, t] * (onehot(seq[s, t + 1]) - softmax(logits[s, t]))

export interface SequenceBatch {
  /** (S*T) inputs seq[:, :T] */
  x: Int32Array;
  /** (S*T) targets seq[:, 1:] */
  y: Int32Array;
  /** (S*T) 1 where the target is a response token */
  mask: Float64Array;
  S: number;
  T: number;
}

/**
 * The batch of S = 2P sequences of one step: chosen (P, T+1) then rejected
 * (P, T+1) token ids, with their masks (P, T) each.
 */
export function pairBatch(
  chosen: Int32Array, rejected: Int32Array, chosenMask: ArrayLike<number>, rejectedMask: ArrayLike<number>, P: number, T: number,
): SequenceBatch {
  const S = 2 * P;
  const x = new Int32Array(S * T);
  const y = new Int32Array(S * T);
  const mask = new Float64Array(S * T);
  for (let s = 0; s < S; s++) {
    const seq = s < P ? chosen.subarray(s * (T + 1), (s + 1) * (T + 1)) : rejected.subarray((s - P) * (T + 1), (s - P + 1) * (T + 1));
    const m = s < P ? chosenMask : rejectedMask;
    const p = s % P;
    for (let t = 0; t < T; t++) {
      x[s * T + t] = seq[t];
      y[s * T + t] = seq[t + 1];
      mask[s * T + t] = m[p * T + t];
    }
  }
  return { x, y, mask, S, T };
}

/** logp (S) = sum_t mask[s, t] * log_softmax(logits[s, t])[y[s, t]], logits (S, T, V). */
export function sequenceLogProbs(logits: ArrayLike<number>, y: Int32Array, mask: ArrayLike<number>, S: number, T: number, V: number): Float64Array {
  const out = new Float64Array(S);
  for (let s = 0; s < S; s++) {
    let acc = 0;
    for (let t = 0; t < T; t++) {
      const row = (s * T + t) * V;
      if (mask[s * T + t] === 0) continue;
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, logits[row + v]);
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(logits[row + v] - max);
      acc += mask[s * T + t] * (logits[row + y[s * T + t]] - max - Math.log(sum));
    }
    out[s] = acc;
  }
  return out;
}

/** dlogits (S, T, V) += dlogp[s] * mask[s, t] * (onehot(y[s, t]) - softmax(logits[s, t])). */
export function sequenceLogProbsBackward(
  dlogits: Float64Array, logits: ArrayLike<number>, y: Int32Array, mask: ArrayLike<number>, dlogp: ArrayLike<number>,
  S: number, T: number, V: number,
): void {
  for (let s = 0; s < S; s++) {
    for (let t = 0; t < T; t++) {
      const w = dlogp[s] * mask[s * T + t];
      if (w === 0) continue;
      const row = (s * T + t) * V;
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, logits[row + v]);
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(logits[row + v] - max);
      for (let v = 0; v < V; v++) {
        const prob = Math.exp(logits[row + v] - max) / sum;
        dlogits[row + v] += w * ((v === y[s * T + t] ? 1 : 0) - prob);
      }
    }
  }
}

/** log sigmoid(z), stable for large |z|. */
export const logSigmoid = (z: number) => Math.min(z, 0) - Math.log1p(Math.exp(-Math.abs(z)));
const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

export interface DpoLoss {
  loss: number;
  /** (P) beta (logp_c - ref_c) */
  rewardsChosen: Float64Array;
  /** (P) beta (logp_r - ref_r) */
  rewardsRejected: Float64Array;
  /** mean over pairs of reward_c - reward_r */
  margin: number;
  /** share of pairs with reward_c > reward_r */
  accuracy: number;
  /** (2P) dloss/dlogp of the policy: chosen then rejected */
  dlogp: Float64Array;
}

/** The DPO sigmoid loss of P pairs from policy and reference log-probs (2P each: chosen then rejected). */
export function dpoLoss(policy: ArrayLike<number>, reference: ArrayLike<number>, P: number, beta: number): DpoLoss {
  const rewardsChosen = new Float64Array(P);
  const rewardsRejected = new Float64Array(P);
  const dlogp = new Float64Array(2 * P);
  let loss = 0;
  let margin = 0;
  let correct = 0;
  for (let p = 0; p < P; p++) {
    rewardsChosen[p] = beta * (policy[p] - reference[p]);
    rewardsRejected[p] = beta * (policy[P + p] - reference[P + p]);
    const z = rewardsChosen[p] - rewardsRejected[p]; // beta h_p
    loss -= logSigmoid(z) / P;
    margin += z / P;
    if (z > 0) correct++;
    const g = (beta / P) * sigmoid(-z);
    dlogp[p] = -g;
    dlogp[P + p] = g;
  }
  return { loss, rewardsChosen, rewardsRejected, margin, accuracy: correct / P, dlogp };
}

export interface DpoObjective extends DpoLoss {
  /** (2P) policy log-probs */
  logp: Float64Array;
  /** (2P, T, V) gradient of the loss into the policy's logits */
  dlogits: Float64Array;
}

/** Loss, rewards and the logits' gradient of one step, from the policy's logits (2P, T, V) and the reference's log-probs (2P). */
export function dpoObjective(logits: ArrayLike<number>, reference: ArrayLike<number>, batch: SequenceBatch, V: number, beta: number): DpoObjective {
  const { y, mask, S, T } = batch;
  const P = S / 2;
  const logp = sequenceLogProbs(logits, y, mask, S, T, V);
  const l = dpoLoss(logp, reference, P, beta);
  const dlogits = new Float64Array(S * T * V);
  sequenceLogProbsBackward(dlogits, logits, y, mask, l.dlogp, S, T, V);
  return { ...l, logp, dlogits };
}
