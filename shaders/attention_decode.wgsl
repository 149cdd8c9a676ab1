// Causal self-attention for one new query position during generation, over a
// KV cache: one invocation per output channel, no workgroup memory, no barriers.
//
//   probs[h, t2] = softmax_t2( q[h] . kCache[t2, g] / sqrt(hs) ) for t2 < t; 0 for t <= t2 < Tmax
//   out[h*hs + d] = sum_t2 probs[h, t2] * vCache[t2, g*hs + d]
//
// q (C); kCache, vCache (Tmax, KV*hs) hold positions 0..t-1 (this query's own
// key and value included); query head h uses channels h*hs..(h+1)*hs of q and
// key/value head g = h / (NH / KV) (grouped-query attention; KV = NH: every
// head its own, caches (Tmax, C)). Invocation i
// (channel d of head h) recomputes its head's scores (t * hs products: a
// decode step is latency-bound, so redundant arithmetic is cheaper than
// synchronising), keeps a running max and sum (online softmax) and its own
// weighted sum of values; the head's first channel also writes the
// probabilities for the heatmap.
//
// Dispatch: (ceil(C / 64)).
// Bindings: 0 params {t, C, NH, Tmax, KV}, 1 out (C), 2 probs (NH, Tmax), 3 q (C),
// 4 kCache (Tmax, KV*hs), 5 vCache (Tmax, KV*hs).
// Needs: 64 invocations per workgroup, no workgroup memory.

struct Params { t: u32, C: u32, NH: u32, Tmax: u32, KV: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
@group(0) @binding(3) var<storage, read> q: array<f32>;
@group(0) @binding(4) var<storage, read> kCache: array<f32>;
@group(0) @binding(5) var<storage, read> vCache: array<f32>;

// q[h] . kCache[t2, g] * scale; base = h * hs, kvBase = g * hs, cache rows KV * hs wide.
fn score(base: u32, kvBase: u32, hs: u32, t2: u32, scale: f32) -> f32 {
  var s = 0.0;
  let row = t2 * p.KV * hs + kvBase;
  for (var d = 0u; d < hs; d++) { s += q[base + d] * kCache[row + d]; }
  return s * scale;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.C) { return; }
  let hs = p.C / p.NH;
  let h = i / hs;
  let base = h * hs;
  let kvBase = h / (p.NH / p.KV) * hs;               // the key/value head's channels in the cache rows
  let kvRow = p.KV * hs;
  let scale = 1.0 / sqrt(f32(hs));

  // Online softmax: running max m, sum of exp(s - m), and the weighted value sum.
  var m = -3.0e38;
  var sum = 0.0;
  var acc = 0.0;
  for (var t2 = 0u; t2 < p.t; t2++) {
    let s = score(base, kvBase, hs, t2, scale);
    let mNew = max(m, s);
    let correction = exp(m - mNew);
    let e = exp(s - mNew);
    sum = sum * correction + e;
    acc = acc * correction + e * vCache[t2 * kvRow + kvBase + (i - base)];
    m = mNew;
  }
  out[i] = acc / sum;

  if (i == base) {
    for (var t2 = 0u; t2 < p.Tmax; t2++) {
      var w = 0.0;
      if (t2 < p.t) { w = exp(score(base, kvBase, hs, t2, scale) - m) / sum; }
      probs[h * p.Tmax + t2] = w;
    }
  }
}
