// float64 CPU references for the global gradient norm and one AdamW step
// (PyTorch semantics: decoupled weight decay, bias correction, clip_grad_norm_).

export function gradNormRef(grads: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < grads.length; i++) s += grads[i] * grads[i];
  return Math.sqrt(s);
}

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 0 = no clipping */
  maxNorm: number;
  /** step number, from 1 */
  t: number;
}

/** In place over [offset, offset + count) of params / m / v (Float64Arrays). */
export function adamwRef(
  params: Float64Array,
  grads: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  offset: number,
  count: number,
  decay: boolean,
  h: AdamHyper,
  norm: number,
): void {
  const clip = h.maxNorm > 0 ? Math.min(1, h.maxNorm / (norm + 1e-6)) : 1;
  const bc1 = 1 - h.beta1 ** h.t;
  const bc2 = 1 - h.beta2 ** h.t;
  for (let i = offset; i < offset + count; i++) {
    const g = grads[i] * clip;
    if (decay) params[i] -= h.lr * h.weightDecay * params[i];
    m[i] = h.beta1 * m[i] + (1 - h.beta1) * g;
    v[i] = h.beta2 * v[i] + (1 - h.beta2) * g * g;
    params[i] -= (h.lr * (m[i] / bc1)) / (Math.sqrt(v[i] / bc2) + h.eps);
  }
}
