// float64 CPU references for rotary position embeddings (LLaMA's
// apply_rotary_pos_emb, the rotate_half convention), plain loops.
//
// qkv (B, T, (H + 2 KV) D): q heads | k heads | v heads along the last dim.
// Every q and k head is rotated; v is copied. For position p = pos0 + t and
// i < D/2, the pair (a, b) = (x[i], x[i + D/2]) turns by angle p * theta^(-2i/D):
//   a' = a cos - b sin,  b' = b cos + a sin      (x' = x cos + rotate_half(x) sin)
// The backward applies the transposed rotation to dq and dk (dv passes through).

export interface RopeShape {
  B: number;
  T: number;
  /** query heads */
  H: number;
  /** key/value heads */
  KV: number;
  /** head dim (even) */
  D: number;
}

export const ROPE_THETA = 10000;

function rotate(x: ArrayLike<number>, s: RopeShape, pos0: number, theta: number, sign: 1 | -1): Float64Array {
  const { B, T, H, KV, D } = s;
  const W = (H + 2 * KV) * D;
  const half = D / 2;
  const out = Float64Array.from(x);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = (b * T + t) * W;
      for (let head = 0; head < H + KV; head++) {
        const base = row + head * D;
        for (let i = 0; i < half; i++) {
          const angle = (pos0 + t) * theta ** ((-2 * i) / D);
          const c = Math.cos(angle);
          const sn = sign * Math.sin(angle);
          const a = x[base + i];
          const bb = x[base + half + i];
          out[base + i] = a * c - bb * sn;
          out[base + half + i] = bb * c + a * sn;
        }
      }
    }
  }
  return out;
}

/** qkv with q and k rotated to positions pos0 .. pos0 + T - 1. */
export function ropeForwardRef(qkv: ArrayLike<number>, s: RopeShape, pos0 = 0, theta = ROPE_THETA): Float64Array {
  return rotate(qkv, s, pos0, theta, 1);
}

/** d(qkv before rotation) from d(qkv after): the transposed (inverse) rotation of the dq and dk parts. */
export function ropeBackwardRef(dqkv: ArrayLike<number>, s: RopeShape, pos0 = 0, theta = ROPE_THETA): Float64Array {
  return rotate(dqkv, s, pos0, theta, -1);
}
