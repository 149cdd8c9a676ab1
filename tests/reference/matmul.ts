// float64 CPU references, plain loops (llm.c style).

/** C (M, N) = op(A) op(B) (+ bias) (+ residual) (+ C0), with the same layouts as shaders/matmul.wgsl. */
export function matmulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  M: number,
  N: number,
  K: number,
  opts: {
    transA?: boolean;
    transB?: boolean;
    bias?: ArrayLike<number>;
    residual?: ArrayLike<number>;
    accumulateInto?: ArrayLike<number>;
  } = {},
): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let sum = opts.bias ? opts.bias[n] : 0;
      for (let k = 0; k < K; k++) {
        const av = opts.transA ? a[k * M + m] : a[m * K + k];
        const bv = opts.transB ? b[n * K + k] : b[k * N + n];
        sum += av * bv;
      }
      if (opts.residual) sum += opts.residual[m * N + n];
      if (opts.accumulateInto) sum += opts.accumulateInto[m * N + n];
      out[m * N + n] = sum;
    }
  }
  return out;
}
