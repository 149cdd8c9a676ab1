// Softmax cross-entropy over the vocabulary, one workgroup per row.
//
//   forward:  losses[r] = (max_r - logits[r, target_r]) + log(sum_i exp(logits[r, i] - max_r))
//   backward: dlogits[r, i] = (softmax(logits[r])[i] - [i == target_r]) / BT   (mean loss; overwrite)
//
// Max-subtracted, so logits up to +-1e4 (and beyond) give finite losses and
// gradients. 256 invocations stride over the V logits of the row; max and sum
// are tree-reduced in workgroup memory.
//
// Dispatch (both entry points): (min(BT, 65535), ceil(BT / 65535)); row = wg.x + wg.y * num_workgroups.x.
// Bindings: 0 params {BT, V}, 1 losses (BT) or dlogits (BT,V), 2 logits (BT,V), 3 targets (BT) i32 in [0, V).
// Needs: 256 invocations per workgroup, 1 KiB workgroup memory.

struct Params { BT: u32, V: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;

const WG = 256u;
var<workgroup> red: array<f32, 256>;

fn reduceMax(x: f32, li: u32) -> f32 {
  red[li] = x;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (li < s) { red[li] = max(red[li], red[li + s]); }
  }
  workgroupBarrier();
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduceSum(x: f32, li: u32) -> f32 {
  red[li] = x;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (li < s) { red[li] += red[li + s]; }
  }
  workgroupBarrier();
  let r = red[0];
  workgroupBarrier();
  return r;
}

// Row max and sum of exp(x - max) of one row.
fn rowStats(base: u32, li: u32) -> vec2<f32> {
  var m = -3.0e38;
  for (var i = li; i < p.V; i += WG) { m = max(m, logits[base + i]); }
  m = reduceMax(m, li);
  var s = 0.0;
  for (var i = li; i < p.V; i += WG) { s += exp(logits[base + i] - m); }
  return vec2<f32>(m, reduceSum(s, li));
}

fn targetOf(row: u32) -> u32 {
  return u32(clamp(targets[row], 0, i32(p.V) - 1));
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let row = wg.x + wg.y * nwg.x;
  if (row >= p.BT) { return; }
  let base = row * p.V;
  let stats = rowStats(base, li);
  if (li == 0u) {
    dst[row] = (stats.x - logits[base + targetOf(row)]) + log(stats.y);
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let row = wg.x + wg.y * nwg.x;
  if (row >= p.BT) { return; }
  let base = row * p.V;
  let stats = rowStats(base, li);
  let inv = 1.0 / stats.y;
  let dloss = 1.0 / f32(p.BT);
  let tgt = targetOf(row);
  for (var i = li; i < p.V; i += WG) {
    var g = exp(logits[base + i] - stats.x) * inv;
    if (i == tgt) { g -= 1.0; }
    dst[base + i] = g * dloss;
  }
}
