// float64 CPU references for dropout given its mask (from dropoutMaskCpu), plain loops.

/** out (n) = inp * mask / (1 - p) */
export function dropoutForwardRef(inp: ArrayLike<number>, mask: ArrayLike<number>, p: number): Float64Array {
  const out = new Float64Array(inp.length);
  for (let i = 0; i < inp.length; i++) out[i] = mask[i] ? inp[i] / (1 - p) : 0;
  return out;
}

/** dinp (n) = dout * mask / (1 - p) (overwrite, like the kernel) */
export function dropoutBackwardRef(dout: ArrayLike<number>, mask: ArrayLike<number>, p: number): Float64Array {
  const dinp = new Float64Array(dout.length);
  for (let i = 0; i < dout.length; i++) dinp[i] = mask[i] ? dout[i] / (1 - p) : 0;
  return dinp;
}
