// The matmuls of a training step (no tfjs here, so Node benchmarks can use it too).
//
// For each Linear layer (out, in) of the baby GPT, with R = B*T rows:
//   forward  y  = x W^T + b     M = R,   N = out, K = in   (transB, bias)
//   backward dX = dY W          M = R,   N = in,  K = out
//   backward dW += dY^T X       M = out, N = in,  K = R    (transA, accumulate)

/** (name, out, in) of each Linear layer, for C = 192, V = 65. */
export function linearLayers(C: number, V: number): Array<[string, number, number]> {
  return [
    ['attn.c_attn', 3 * C, C],
    ['attn.c_proj', C, C],
    ['mlp.c_fc', 4 * C, C],
    ['mlp.c_proj', C, 4 * C],
    ['lm_head', V, C],
  ];
}

export interface MatmulCase {
  label: string;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  bias: boolean;
  accumulate: boolean;
}

export function trainingMatmuls(R: number, C: number, V: number): MatmulCase[] {
  const cases: MatmulCase[] = [];
  for (const [name, out, inp] of linearLayers(C, V)) {
    cases.push({ label: `${name} fwd x·Wᵀ+b`, M: R, N: out, K: inp, transA: false, transB: true, bias: true, accumulate: false });
    cases.push({ label: `${name} dX = dY·W`, M: R, N: inp, K: out, transA: false, transB: false, bias: false, accumulate: false });
    cases.push({ label: `${name} dW += dYᵀ·X`, M: out, N: inp, K: R, transA: true, transB: false, bias: false, accumulate: true });
  }
  return cases;
}
