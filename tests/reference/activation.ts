// float64 CPU references for ReLU and exact (erf) GELU, plain loops.

export type ActivationKind = 'relu' | 'gelu';

/** erf(x) = 2/sqrt(pi) * sum_k (-1)^k x^(2k+1) / (k! (2k+1)), for |x| < 1 (no cancellation there). */
function erfSeries(x: number): number {
  let term = x;
  let sum = x;
  for (let k = 1; k < 100; k++) {
    term *= (-x * x) / k;
    const add = term / (2 * k + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/**
 * erfc(x) to about 1e-15 relative: 1 - the Taylor series of erf for |x| < 1,
 * a continued fraction beyond (where the series would cancel), evaluated
 * bottom-up: erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))).
 */
export function erfcRef(x: number): number {
  if (x < 0) return 2 - erfcRef(-x);
  if (x < 1) return 1 - erfSeries(x);
  let f = x;
  for (let k = 300; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

export const erfRef = (x: number) => (Math.abs(x) < 1 ? erfSeries(x) : 1 - erfcRef(x));

/** Standard normal CDF. */
export const phiRef = (x: number) => 0.5 * erfcRef(-x / Math.SQRT2);

export function geluRef(x: number): number {
  return x * phiRef(x);
}

export function geluGradRef(x: number): number {
  return phiRef(x) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
}

/** out (n) = f(inp) */
export function activationForwardRef(inp: ArrayLike<number>, kind: ActivationKind): Float64Array {
  const out = new Float64Array(inp.length);
  for (let i = 0; i < inp.length; i++) out[i] = kind === 'relu' ? Math.max(inp[i], 0) : geluRef(inp[i]);
  return out;
}

/** dinp (n) = f'(inp) * dout (overwrite, like the kernel) */
export function activationBackwardRef(inp: ArrayLike<number>, dout: ArrayLike<number>, kind: ActivationKind): Float64Array {
  const dinp = new Float64Array(inp.length);
  for (let i = 0; i < inp.length; i++) {
    const grad = kind === 'relu' ? (inp[i] > 0 ? 1 : 0) : geluGradRef(inp[i]);
    dinp[i] = grad * dout[i];
  }
  return dinp;
}
