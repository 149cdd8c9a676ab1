// Causal multi-head self-attention, forward.
//
//   att[b, h, t, t2] = softmax_t2( q[b,t,h] . k[b,t2,h] / sqrt(hs) ), t2 <= t; exactly 0 for t2 > t
//   out[b, t, h*hs + d] = sum_t2 keep(i) * scale * att[b, h, t, t2] * v[b, t2, h*hs + d]
//
// keep(i) = 1 without dropout; with DROPOUT (nanoGPT's attn_dropout, training
// only) it is the mask of shaders/dropout.wgsl, hash(seed, salt, i) >= threshold,
// at the flat position i = ((b * NH + h) * T + t) * T + t2 of the probability,
// and scale = 1 / (1 - p). `att` always holds the probabilities before dropout
// (the heatmaps and the backward pass read them).
//
// qkv (B, T, 3C): q | k | v along the last dim, head h uses channels h*hs..(h+1)*hs of each.
//
// One invocation owns one query row (b, h, t): it writes the row's scores into
// `att` (the output doubles as score storage, re-read only by its writer), takes
// their max, exponentiates and sums, normalises (the masked upper triangle as
// exact zeros), then forms its output row from the probabilities, four keys
// (scores) or four dims (output) per inner step so each load serves four
// products. No workgroup memory and no barriers; neighbouring invocations are
// neighbouring queries of one head, so they read the same key and value rows
// at the same time. Rows stop at the causal limit. The mask never touches -inf arithmetic.
// With DROPOUT the row is normalised with dropped probabilities negated (each
// hash computed once), the output sums max(att, 0) and is scaled once, then the
// row's signs are cleared again; without it that code is compiled out.
//
// Dispatch: n = B * NH * T rows, ceil(n / 64) workgroups folded into
// (min(w, 65535), ceil(w / 65535)); row = gid.x + gid.y * num_workgroups.x * 64.
// Bindings: 0 params {B, T, C, NH, threshold, salt, scale: f32}, 1 out (B,T,C),
//           2 att (B,NH,T,T), 3 qkv (B,T,3C), 4 seed (u32[1]; read only with DROPOUT).
// Needs: 64 invocations per workgroup, no workgroup memory.

override DROPOUT: bool = false;

struct Params { B: u32, T: u32, C: u32, NH: u32, threshold: u32, salt: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> att: array<f32>;
@group(0) @binding(3) var<storage, read> qkv: array<f32>;
@group(0) @binding(4) var<storage, read> seed: array<u32>;

const WG = 64u;

// The hash of shaders/dropout.wgsl (CPU twin: dropoutHash in src/kernels/dropout.ts).
fn mix(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let T = p.T;
  let C = p.C;
  let hs = C / p.NH;
  let row = gid.x + gid.y * nwg.x * WG;       // (b * NH + h) * T + t
  if (row >= p.B * p.NH * T) { return; }
  let t = row % T;
  let bh = row / T;
  let h = bh % p.NH;
  let b = bh / p.NH;
  let scale = 1.0 / sqrt(f32(hs));
  let attRow = row * T;
  let q0 = (b * T + t) * 3u * C + h * hs;     // q[b, t, h, 0]
  let kv0 = b * T * 3u * C + h * hs;          // k[b, 0, h, 0] is qkv[kv0 + C]

  // Scores, four keys at a time (each q element loaded once per four keys);
  // keys past t in the last group are clamped to t and their scores dropped.
  var mx = -3.0e38;
  for (var t2 = 0u; t2 <= t; t2 += 4u) {
    let k0 = kv0 + C + min(t2, t) * 3u * C;
    let k1 = kv0 + C + min(t2 + 1u, t) * 3u * C;
    let k2 = kv0 + C + min(t2 + 2u, t) * 3u * C;
    let k3 = kv0 + C + min(t2 + 3u, t) * 3u * C;
    var s = vec4<f32>(0.0);
    for (var d = 0u; d < hs; d++) {
      s += qkv[q0 + d] * vec4<f32>(qkv[k0 + d], qkv[k1 + d], qkv[k2 + d], qkv[k3 + d]);
    }
    s *= scale;
    for (var k = 0u; k < 4u; k++) {
      if (t2 + k <= t) {
        att[attRow + t2 + k] = s[k];
        mx = max(mx, s[k]);
      }
    }
  }
  var sum = 0.0;
  for (var t2 = 0u; t2 <= t; t2++) {
    let e = exp(att[attRow + t2] - mx);
    att[attRow + t2] = e;
    sum += e;
  }
  let inv = 1.0 / sum;
  if (DROPOUT) {
    let key = mix(mix(p.salt + 0x9e3779b9u) ^ seed[0]);
    for (var t2 = 0u; t2 <= t; t2++) {
      let a = att[attRow + t2] * inv;
      att[attRow + t2] = select(-a, a, mix(mix((attRow + t2) ^ key) + key) >= p.threshold);
    }
  } else {
    for (var t2 = 0u; t2 <= t; t2++) { att[attRow + t2] *= inv; }
  }
  for (var t2 = t + 1u; t2 < T; t2++) { att[attRow + t2] = 0.0; }

  // out = att v, four dims at a time (each probability loaded once per four
  // dims); dims past hs in the last group are clamped and not written.
  let o0 = (b * T + t) * C + h * hs;
  let v0 = kv0 + 2u * C;
  for (var d = 0u; d < hs; d += 4u) {
    let d1 = min(d + 1u, hs - 1u);
    let d2 = min(d + 2u, hs - 1u);
    let d3 = min(d + 3u, hs - 1u);
    var acc = vec4<f32>(0.0);
    for (var t2 = 0u; t2 <= t; t2++) {
      let r = v0 + t2 * 3u * C;
      var a = att[attRow + t2];
      if (DROPOUT) { a = max(a, 0.0); }
      acc += a * vec4<f32>(qkv[r + d], qkv[r + d1], qkv[r + d2], qkv[r + d3]);
    }
    if (DROPOUT) { acc *= p.scale; }
    for (var k = 0u; k < 4u; k++) {
      if (d + k < hs) { out[o0 + d + k] = acc[k]; }
    }
  }
  // Dropped probabilities back to their values before dropout.
  if (DROPOUT) {
    for (var t2 = 0u; t2 <= t; t2++) { att[attRow + t2] = abs(att[attRow + t2]); }
  }
}
