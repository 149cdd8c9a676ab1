// float64 CPU references for RMSNorm (LLaMA's LlamaRMSNorm), plain loops.
//   out = weight * x * rstd,  rstd = 1 / sqrt(mean(x^2) + eps)   (no mean subtraction, no bias)

export const RMSNORM_EPS = 1e-5;

/** out (N, C) and the row statistic rstd (N). */
export function rmsNormForwardRef(
  inp: ArrayLike<number>, weight: ArrayLike<number>, N: number, C: number, eps = RMSNORM_EPS,
): { out: Float64Array; rstd: Float64Array } {
  const out = new Float64Array(N * C);
  const rstd = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const x = n * C;
    let ms = 0;
    for (let c = 0; c < C; c++) ms += inp[x + c] * inp[x + c];
    ms /= C;
    const s = 1 / Math.sqrt(ms + eps);
    for (let c = 0; c < C; c++) out[x + c] = weight[c] * inp[x + c] * s;
    rstd[n] = s;
  }
  return { out, rstd };
}

/**
 * dinp (N, C) +=, dweight (C) +=, given the forward's rstd:
 *   dx = rstd * (w * g - xhat * mean(w * g * xhat)),  dw += g * xhat,  xhat = x * rstd
 */
export function rmsNormBackwardRef(
  dinp: Float64Array, dweight: Float64Array,
  dout: ArrayLike<number>, inp: ArrayLike<number>, weight: ArrayLike<number>, rstd: ArrayLike<number>, N: number, C: number,
): void {
  for (let n = 0; n < N; n++) {
    const x = n * C;
    let meanGX = 0;
    for (let c = 0; c < C; c++) meanGX += dout[x + c] * weight[c] * inp[x + c] * rstd[n];
    meanGX /= C;
    for (let c = 0; c < C; c++) {
      const xhat = inp[x + c] * rstd[n];
      dweight[c] += dout[x + c] * xhat;
      dinp[x + c] += rstd[n] * (dout[x + c] * weight[c] - xhat * meanGX);
    }
  }
}
