// Float64 references of shaders/column_slice.wgsl: columns [col0, col0 + W) of
// an (N, ld) matrix against a compact (N, W) one.

/** wide[:, col0 : col0 + W] += narrow, in place; returns wide. */
export function sliceAddRef(wide: Float64Array, narrow: ArrayLike<number>, N: number, W: number, ld: number, col0: number): Float64Array {
  for (let r = 0; r < N; r++) for (let j = 0; j < W; j++) wide[r * ld + col0 + j] += narrow[r * W + j];
  return wide;
}

/** The (N, W) slice wide[:, col0 : col0 + W]. */
export function sliceCopyRef(wide: ArrayLike<number>, N: number, W: number, ld: number, col0: number): Float64Array {
  const out = new Float64Array(N * W);
  for (let r = 0; r < N; r++) for (let j = 0; j < W; j++) out[r * W + j] = wide[r * ld + col0 + j];
  return out;
}
