// Finite-difference gradient check for any op, on float64 references.
//
// For an op out = f(inputs) and a random upstream gradient dout, the scalar
// L = sum(out * dout) has dL/dinputs[k][j] = (backward(dout))[k][j], which is
// what every backward reference computes. gradcheck perturbs inputs one element
// at a time (central differences, step eps * max(1, |x|)) and compares the
// numerical derivative of L with the analytic gradient:
//
//   const dout = randn(out.length, seed);
//   const [dA, dB] = [new Float64Array(nA), new Float64Array(nB)];
//   myOpBackwardRef(dA, dB, dout, A, B);                         // += style
//   const r = gradcheck((x) => myOpForwardRef(x[0], x[1]), [A, B], [dA, dB], dout);
//   expect(r.failures).toBe(0);
//
// Pass null for an input that has no gradient (token ids, masks). For large
// inputs, `samples` elements per input are checked (chosen at random), not all.

import { rng } from './random';

export interface GradcheckOptions {
  /** relative step: x +- eps * max(1, |x|); default 1e-5 (float64 central differences); one per input, or one for all */
  eps?: number | number[];
  /** pass when |analytic - numeric| <= atol + rtol * |numeric|; defaults 1e-6 and 1e-5 */
  atol?: number;
  rtol?: number;
  /** at most this many elements checked per input (default 400); all when the input is smaller */
  samples?: number;
  /** seeds the choice of sampled elements */
  seed?: number;
}

export interface GradcheckResult {
  ok: boolean;
  /** elements checked over all inputs */
  checked: number;
  failures: number;
  maxAbs: number;
  maxRel: number;
  /** the worst element: input index, element index, analytic and numeric values */
  worst: { input: number; index: number; analytic: number; numeric: number } | null;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`gradcheck: forward returned ${a.length} values, dout has ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function gradcheck(
  forward: (inputs: Float64Array[]) => ArrayLike<number>,
  inputs: Float64Array[],
  analytic: Array<ArrayLike<number> | null>,
  dout: ArrayLike<number>,
  options: GradcheckOptions = {},
): GradcheckResult {
  const { eps = 1e-5, atol = 1e-6, rtol = 1e-5, samples = 400, seed = 1 } = options;
  if (analytic.length !== inputs.length) throw new Error('gradcheck: one analytic gradient (or null) per input');
  const pick = rng(seed);
  const xs = inputs.map((x) => Float64Array.from(x)); // perturbed in place, restored after each probe
  const result: GradcheckResult = { ok: true, checked: 0, failures: 0, maxAbs: 0, maxRel: 0, worst: null };
  let worstDiff = -1;
  for (let k = 0; k < xs.length; k++) {
    const grad = analytic[k];
    if (!grad) continue;
    const x = xs[k];
    if (grad.length !== x.length) throw new Error(`gradcheck: gradient ${k} has ${grad.length} values, input has ${x.length}`);
    const indices =
      x.length <= samples ? Array.from({ length: x.length }, (_, j) => j) : Array.from({ length: samples }, () => Math.floor(pick() * x.length));
    for (const j of indices) {
      const x0 = x[j];
      const h = (typeof eps === 'number' ? eps : eps[k]) * Math.max(1, Math.abs(x0));
      x[j] = x0 + h;
      const plus = dot(forward(xs), dout);
      x[j] = x0 - h;
      const minus = dot(forward(xs), dout);
      x[j] = x0;
      const numeric = (plus - minus) / (2 * h);
      const d = Math.abs(grad[j] - numeric);
      result.checked++;
      result.maxAbs = Math.max(result.maxAbs, d);
      if (d > atol) result.maxRel = Math.max(result.maxRel, d / Math.max(Math.abs(numeric), 1e-30));
      if (d > atol + rtol * Math.abs(numeric)) result.failures++;
      if (d > worstDiff) {
        worstDiff = d;
        result.worst = { input: k, index: j, analytic: grad[j], numeric };
      }
    }
  }
  result.ok = result.failures === 0;
  return result;
}

/** One line for the test log, like compare.ts's report. */
export function gradReport(r: GradcheckResult, label: string): string {
  const w = r.worst ? ` (worst: input ${r.worst.input}[${r.worst.index}] analytic ${r.worst.analytic.toExponential(4)} numeric ${r.worst.numeric.toExponential(4)})` : '';
  return `${label}: ${r.checked} checked, maxdiff ${r.maxAbs.toExponential(2)}, failures ${r.failures}${w}`;
}
