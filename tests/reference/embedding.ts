// float64 CPU references for the token + position embedding, plain loops (llm.c encoder_*).

/** out (B*T, C) = wte[tokens] + wpe[pos0 + t] */
export function embeddingForwardRef(
  tokens: ArrayLike<number>,
  wte: ArrayLike<number>,
  wpe: ArrayLike<number>,
  B: number,
  T: number,
  C: number,
  pos0 = 0,
): Float64Array {
  const out = new Float64Array(B * T * C);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = b * T + t;
      const v = tokens[row];
      for (let c = 0; c < C; c++) out[row * C + c] = wte[v * C + c] + wpe[(pos0 + t) * C + c];
    }
  }
  return out;
}

/** dwte (V, C) += scatter of dout by token; dwpe (T, C) += dout summed over the batch. */
export function embeddingBackwardRef(
  dwte: Float64Array,
  dwpe: Float64Array,
  dout: ArrayLike<number>,
  tokens: ArrayLike<number>,
  B: number,
  T: number,
  C: number,
): void {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = b * T + t;
      const v = tokens[row];
      for (let c = 0; c < C; c++) {
        dwte[v * C + c] += dout[row * C + c];
        dwpe[t * C + c] += dout[row * C + c];
      }
    }
  }
}
