// float64 CPU reference for softmax cross-entropy (mean over rows), plain loops.

/** losses (BT): -log softmax(logits[row])[target[row]], max-subtracted. */
export function crossEntropyForwardRef(logits: ArrayLike<number>, targets: ArrayLike<number>, BT: number, V: number): Float64Array {
  const losses = new Float64Array(BT);
  for (let r = 0; r < BT; r++) {
    let max = -Infinity;
    for (let i = 0; i < V; i++) max = Math.max(max, logits[r * V + i]);
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(logits[r * V + i] - max);
    losses[r] = max - logits[r * V + targets[r]] + Math.log(sum);
  }
  return losses;
}

export function meanRef(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

/** dlogits (BT, V) of the mean loss: (softmax - onehot) / BT. */
export function crossEntropyBackwardRef(logits: ArrayLike<number>, targets: ArrayLike<number>, BT: number, V: number): Float64Array {
  const d = new Float64Array(BT * V);
  for (let r = 0; r < BT; r++) {
    let max = -Infinity;
    for (let i = 0; i < V; i++) max = Math.max(max, logits[r * V + i]);
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(logits[r * V + i] - max);
    for (let i = 0; i < V; i++) {
      const p = Math.exp(logits[r * V + i] - max) / sum;
      d[r * V + i] = (p - (i === targets[r] ? 1 : 0)) / BT;
    }
  }
  return d;
}
