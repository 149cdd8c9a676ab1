// float64 CPU references for LayerNorm (llm.c layernorm_forward / layernorm_backward), plain loops.

export const LAYERNORM_EPS = 1e-5;

/** out (N, C) = (inp - mean) * rstd * weight (+ bias), with the row statistics (biased variance). */
export function layerNormForwardRef(
  inp: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  N: number,
  C: number,
): { out: Float64Array; mean: Float64Array; rstd: Float64Array } {
  const out = new Float64Array(N * C);
  const mean = new Float64Array(N);
  const rstd = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const x = n * C;
    let m = 0;
    for (let c = 0; c < C; c++) m += inp[x + c];
    m /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (inp[x + c] - m) ** 2;
    v /= C;
    const s = 1 / Math.sqrt(v + LAYERNORM_EPS);
    for (let c = 0; c < C; c++) out[x + c] = (inp[x + c] - m) * s * weight[c] + (bias ? bias[c] : 0);
    mean[n] = m;
    rstd[n] = s;
  }
  return { out, mean, rstd };
}

/** dinp (N, C) +=, dweight (C) +=, dbias (C) += (unless null), given the forward's mean and rstd. */
export function layerNormBackwardRef(
  dinp: Float64Array,
  dweight: Float64Array,
  dbias: Float64Array | null,
  dout: ArrayLike<number>,
  inp: ArrayLike<number>,
  weight: ArrayLike<number>,
  mean: ArrayLike<number>,
  rstd: ArrayLike<number>,
  N: number,
  C: number,
): void {
  for (let n = 0; n < N; n++) {
    const x = n * C;
    // the two row means the input gradient needs
    let meanG = 0;
    let meanGX = 0;
    for (let c = 0; c < C; c++) {
      const xhat = (inp[x + c] - mean[n]) * rstd[n];
      const g = dout[x + c] * weight[c];
      meanG += g;
      meanGX += g * xhat;
    }
    meanG /= C;
    meanGX /= C;
    for (let c = 0; c < C; c++) {
      const xhat = (inp[x + c] - mean[n]) * rstd[n];
      const g = dout[x + c] * weight[c];
      if (dbias) dbias[c] += dout[x + c];
      dweight[c] += dout[x + c] * xhat;
      dinp[x + c] += rstd[n] * (g - meanG - xhat * meanGX);
    }
  }
}
