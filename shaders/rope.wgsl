// Rotary position embeddings (LLaMA's apply_rotary_pos_emb, rotate_half
// convention), in place on the q and k parts of a fused qkv activation.
//
//   qkv (N = B*T rows, (H + 2 KV) D): q heads | k heads | v heads; heads
//   0 .. H + KV - 1 (every q and k head) are rotated, v is left alone.
//   Row n holds position pos = pos0 + n % T. For i < D/2 the pair
//   (a, b) = (x[i], x[i + D/2]) turns by angle pos * inv_freq[i],
//   inv_freq[i] = theta^(-2i / D):
//     forward:  a' = a cos - b sin,   b' = b cos + a sin
//     backward: the transposed rotation (sin negated), on dq and dk  (BACKWARD)
//
// The angle is reduced modulo one turn exactly, in integers: the dispatcher
// passes each frequency in turns per position, inv_freq[i] / (2 pi) < 1, as a
// 64-bit binary fraction F (two u32 words, from float64), and
// pos * F mod 2^64 is computed with 16-bit partial products: its top word is
// the angle in 2^-32 turns, exact to about 1e-9 turn at any position (an f32
// product pos * inv_freq is off by 0.1 rad at pos 1e5). The quadrant comes
// from its top bits; sin and cos of the rest (|x| <= pi/4) are short Taylor
// series, good to f32 rounding: WGSL's sin / cos promise only 2^-11 absolute
// (SwiftShader's are that loose), too coarse for attention scores.
//
// One invocation per (row, head, pair): N * (H + KV) * D / 2 invocations,
// neighbouring invocations on neighbouring pairs of a head (coalesced).
// Dispatch: ceil(N * (H + KV) * D / 2 / 256) workgroups, folded into (x, y)
// past 65535.
// Bindings: 0 params {N, T, H, KV, D, pos0, -, -, freq: per pair i (F_hi, F_lo)},
// 1 qkv (N, (H + 2 KV) D) (read_write).
// Needs: 256 invocations per workgroup, no workgroup memory; D even, D <= 256.

override BACKWARD: bool = false;

struct Params { N: u32, T: u32, H: u32, KV: u32, D: u32, pos0: u32, pad0: u32, pad1: u32, freq: array<vec4<u32>, 64> }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> qkv: array<f32>;

const TWO_PI_OVER_2_32 = 1.4629180792671596e-9;   // 2 pi / 2^32

// High 32 bits of the 64-bit product a * b.
fn mulHi(a: u32, b: u32) -> u32 {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let mid = ((a0 * b0) >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
}

// (cos, sin) of pos * inv_freq[i]. The top word of pos * F mod 2^64 is the
// angle in units of 2^-32 turn; its top two bits (after adding 1/8 turn) are
// the quadrant, the rest an angle x in [-pi/4, pi/4), where Taylor series
// to x^9 / x^10 are exact to f32 (truncation below 2e-9).
fn cosSin(pos: u32, i: u32) -> vec2<f32> {
  let w = p.freq[i / 2u];
  let f = select(w.xy, w.zw, (i & 1u) == 1u);      // (F_hi, F_lo)
  let turns = mulHi(pos, f.y) + pos * f.x;         // top word of pos * F mod 2^64
  let u = turns + 0x20000000u;                     // + 1/8 turn
  let q = u >> 30u;
  let x = f32(i32(u & 0x3fffffffu) - 0x20000000) * TWO_PI_OVER_2_32;
  let x2 = x * x;
  let sn = x * (1.0 + x2 * (-1.0 / 6.0 + x2 * (1.0 / 120.0 + x2 * (-1.0 / 5040.0 + x2 * (1.0 / 362880.0)))));
  let cs = 1.0 + x2 * (-0.5 + x2 * (1.0 / 24.0 + x2 * (-1.0 / 720.0 + x2 * (1.0 / 40320.0 + x2 * (-1.0 / 3628800.0)))));
  switch q {
    case 0u: { return vec2<f32>(cs, sn); }
    case 1u: { return vec2<f32>(-sn, cs); }
    case 2u: { return vec2<f32>(-cs, -sn); }
    default: { return vec2<f32>(sn, -cs); }
  }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let half = p.D / 2u;
  let heads = p.H + p.KV;
  let k = (wg.y * nwg.x + wg.x) * 256u + li;
  if (k >= p.N * heads * half) { return; }
  let i = k % half;
  let head = (k / half) % heads;
  let n = k / (half * heads);
  let cossin = cosSin(p.pos0 + n % p.T, i);
  let c = cossin.x;
  let s = select(cossin.y, -cossin.y, BACKWARD);
  let base = n * (heads + p.KV) * p.D + head * p.D + i;
  let x0 = qkv[base];
  let x1 = qkv[base + half];
  qkv[base] = x0 * c - x1 * s;
  qkv[base + half] = x1 * c + x0 * s;
}
