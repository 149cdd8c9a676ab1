// float64 reference for the per-tensor training health: sums of squares of the
// raw gradient, of the weights before the step and of the step's update
// (new - old, from a float64 AdamW step), per tensor range.
import { adamwRef, type AdamHyper } from './adamw';

export interface HealthRef {
  gradSq: number;
  weightSq: number;
  updateSq: number;
}

/**
 * One AdamW step (decay below decayCount) from (params, m, v) with `grads`,
 * then the sums over each tensor. Returns the sums and the new state.
 */
export function healthRef(
  tensors: ReadonlyArray<{ offset: number; size: number }>,
  params: ArrayLike<number>, grads: ArrayLike<number>, m: ArrayLike<number>, v: ArrayLike<number>,
  decayCount: number, h: AdamHyper, norm: number,
): { sums: HealthRef[]; params: Float64Array; m: Float64Array; v: Float64Array } {
  const n = params.length;
  const p = Float64Array.from(params);
  const mm = Float64Array.from(m);
  const vv = Float64Array.from(v);
  adamwRef(p, grads, mm, vv, 0, decayCount, true, h, norm);
  adamwRef(p, grads, mm, vv, decayCount, n - decayCount, false, h, norm);
  const sums = tensors.map((t) => {
    let gradSq = 0;
    let weightSq = 0;
    let updateSq = 0;
    for (let i = t.offset; i < t.offset + t.size; i++) {
      gradSq += grads[i] * grads[i];
      weightSq += params[i] * params[i];
      updateSq += (p[i] - params[i]) ** 2;
    }
    return { gradSq, weightSq, updateSq };
  });
  return { sums, params: p, m: mm, v: vv };
}
