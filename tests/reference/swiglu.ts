// float64 CPU references for the SwiGLU gate (LLaMA's MLP between its
// projections), plain loops. inp (N, 2I) holds gate | up along the last dim
// (gate_proj's output, then up_proj's), out (N, I) = silu(gate) * up.

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export function swigluForwardRef(inp: ArrayLike<number>, N: number, I: number): Float64Array {
  const out = new Float64Array(N * I);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < I; i++) {
      const g = inp[n * 2 * I + i];
      out[n * I + i] = g * sigmoid(g) * inp[n * 2 * I + I + i];
    }
  }
  return out;
}

/** dinp (N, 2I) += d(gate | up) from dout (N, I) and the forward's input. */
export function swigluBackwardRef(dinp: Float64Array, dout: ArrayLike<number>, inp: ArrayLike<number>, N: number, I: number): void {
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < I; i++) {
      const g = inp[n * 2 * I + i];
      const u = inp[n * 2 * I + I + i];
      const s = sigmoid(g);
      const d = dout[n * I + i];
      dinp[n * 2 * I + i] += d * u * s * (1 + g * (1 - s));
      dinp[n * 2 * I + I + i] += d * g * s;
    }
  }
}
