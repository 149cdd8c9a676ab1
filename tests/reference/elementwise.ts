// float64 CPU references for element-wise ops and the bias gradient, plain loops.

/** out (n) = a (n) + b (n) */
export function addRef(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

/** d_a += dout, d_b += dout: the backward of add (a residual connection routes the gradient to both). */
export function addBackwardRef(da: Float64Array, db: Float64Array, dout: ArrayLike<number>): void {
  for (let i = 0; i < dout.length; i++) {
    da[i] += dout[i];
    db[i] += dout[i];
  }
}

/** out (n) = buf (n) * factor */
export function scaleRef(buf: ArrayLike<number>, factor: number): Float64Array {
  const out = new Float64Array(buf.length);
  for (let i = 0; i < buf.length; i++) out[i] = buf[i] * factor;
  return out;
}

/** out (M, N) = inp (M, N) + bias (N) broadcast over rows: the forward whose bias gradient biasBackward computes. */
export function biasAddRef(inp: ArrayLike<number>, bias: ArrayLike<number>, M: number, N: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) out[m * N + n] = inp[m * N + n] + bias[n];
  }
  return out;
}

/** dbias (N) += sum over m of dout (M, N) */
export function biasBackwardRef(dbias: Float64Array, dout: ArrayLike<number>, M: number, N: number): void {
  for (let n = 0; n < N; n++) {
    let sum = 0;
    for (let m = 0; m < M; m++) sum += dout[m * N + n];
    dbias[n] += sum;
  }
}
