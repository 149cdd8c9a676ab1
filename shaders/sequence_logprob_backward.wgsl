// Gradient of a weighted sum of sequence log-probabilities into the logits
// (DPO's backward from dloss/dlogp into the policy's logits; overwrite).
//
//   dlogits[s, t, :] = dlogp[s] * mask[s, t] * (onehot(targets[s, t]) - softmax(logits[s, t]))
//
// logits and dlogits (S, T, V), targets (S, T) i32 in [0, V), mask (S, T),
// dlogp (S). Every element of dlogits is written (zeros where the weight is 0),
// so the buffer need not be cleared: the step stays one compute pass.
//
// One invocation per row (s, t), 64 rows per workgroup, each walking its V
// logits serially (max, sum of exp, then the V outputs): no workgroup memory,
// no barriers, S*T rows of independent work, as cross_entropy.wgsl's rows
// variant, which suits the short rows (V up to a few thousand) of a character
// model.
//
// Dispatch: ceil(S*T / 64) workgroups, folded into (min(n, 65535), ceil(n / 65535));
//   row = (wg.y * num_workgroups.x + wg.x) * 64 + local index, bounds-checked.
// Bindings: 0 params {S, T, V}, 1 dlogits (S*T*V) read_write, 2 logits (S*T*V),
//   3 targets (S*T) i32, 4 mask (S*T), 5 dlogp (S).
// Needs: 64 invocations per workgroup, no workgroup memory.

struct Params { S: u32, T: u32, V: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
@group(0) @binding(5) var<storage, read> dlogp: array<f32>;

const WG = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let row = (wg.y * nwg.x + wg.x) * WG + li;
  if (row >= p.S * p.T) { return; }
  let base = row * p.V;
  let w = dlogp[row / p.T] * mask[row];
  if (w == 0.0) {
    for (var i = 0u; i < p.V; i++) { dlogits[base + i] = 0.0; }
    return;
  }
  var m = -3.0e38;
  for (var i = 0u; i < p.V; i++) { m = max(m, logits[base + i]); }
  var sum = 0.0;
  for (var i = 0u; i < p.V; i++) { sum += exp(logits[base + i] - m); }
  let scale = -w / sum;
  let tgt = u32(clamp(targets[row], 0, i32(p.V) - 1));
  for (var i = 0u; i < p.V; i++) {
    var g = exp(logits[base + i] - m) * scale;   // -w * softmax
    if (i == tgt) { g += w; }
    dlogits[base + i] = g;
  }
}
