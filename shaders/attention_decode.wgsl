// Causal self-attention for one new query position during generation, over a
// KV cache: all heads, one workgroup per head.
//
//   probs[h, t2] = softmax_t2( q[h] . kCache[t2, h] / sqrt(hs) ) for t2 < t; 0 for t <= t2 < Tmax
//   out[h*hs + d] = sum_t2 probs[h, t2] * vCache[t2, h*hs + d]
//
// q (C); kCache, vCache (Tmax, C) hold positions 0..t-1 (this query's own key
// and value included); head h uses channels h*hs..(h+1)*hs.
// Invocations stride over cached positions for the scores (max and sum
// tree-reduced), then 8 groups of 32 lanes split positions x channels for the
// weighted sum of values.
//
// Dispatch: (NH).
// Bindings: 0 params {t, C, NH, Tmax}, 1 out (C), 2 probs (NH, Tmax), 3 q (C), 4 kCache (Tmax, C), 5 vCache (Tmax, C).
// Needs: 256 invocations per workgroup, 5.5 KiB workgroup memory, hs <= 128.

struct Params { t: u32, C: u32, NH: u32, Tmax: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
@group(0) @binding(3) var<storage, read> q: array<f32>;
@group(0) @binding(4) var<storage, read> kCache: array<f32>;
@group(0) @binding(5) var<storage, read> vCache: array<f32>;

const WG = 256u;
const HS_MAX = 128u;
const PARTS = 8u;             // position groups in the weighted sum, 32 lanes each

var<workgroup> qh: array<f32, 128>;
var<workgroup> red: array<f32, 256>;
var<workgroup> partial: array<f32, 1024>;   // [PARTS][HS_MAX]

fn reduce(x: f32, li: u32, isMax: bool) -> f32 {
  red[li] = x;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (li < s) {
      if (isMax) { red[li] = max(red[li], red[li + s]); } else { red[li] += red[li + s]; }
    }
  }
  workgroupBarrier();
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let h = wg.x;
  let C = p.C;
  let hs = C / p.NH;
  let t = p.t;
  let row = h * p.Tmax;
  if (li < hs) { qh[li] = q[h * hs + li]; }
  workgroupBarrier();

  let scale = 1.0 / sqrt(f32(hs));
  var mx = -3.0e38;
  for (var t2 = li; t2 < t; t2 += WG) {
    var s = 0.0;
    for (var d = 0u; d < hs; d++) { s += qh[d] * kCache[t2 * C + h * hs + d]; }
    s *= scale;
    probs[row + t2] = s;
    mx = max(mx, s);
  }
  mx = reduce(mx, li, true);
  var sum = 0.0;
  for (var t2 = li; t2 < t; t2 += WG) {
    let e = exp(probs[row + t2] - mx);
    probs[row + t2] = e;
    sum += e;
  }
  let inv = 1.0 / reduce(sum, li, false);
  for (var t2 = li; t2 < p.Tmax; t2 += WG) {
    var pr = 0.0;
    if (t2 < t) { pr = probs[row + t2] * inv; }
    probs[row + t2] = pr;
  }
  // Probabilities written by other invocations are read below.
  storageBarrier();
  workgroupBarrier();

  let lane = li % 32u;
  let part = li / 32u;
  for (var c = 0u; c < HS_MAX / 32u; c++) {
    let d = lane + 32u * c;
    if (d < hs) {
      var acc = 0.0;
      for (var t2 = part; t2 < t; t2 += PARTS) { acc += probs[row + t2] * vCache[t2 * C + h * hs + d]; }
      partial[part * HS_MAX + d] = acc;
    }
  }
  workgroupBarrier();
  if (li < hs) {
    var acc = 0.0;
    for (var k = 0u; k < PARTS; k++) { acc += partial[k * HS_MAX + li]; }
    out[h * hs + li] = acc;
  }
}
