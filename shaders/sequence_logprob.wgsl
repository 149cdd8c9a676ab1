// Masked per-sequence log-probability of the targets (DPO's log pi(y | x)).
//
//   logp[s] = sum_t mask[s, t] * log_softmax(logits[s, t])[targets[s, t]]
//
// logits (S, T, V), targets (S, T) i32 in [0, V), mask (S, T) f32 (1 on
// response positions, 0 on prompt and padding).
//
// One workgroup of 64 invocations per sequence: invocation i takes positions
// t = i, i + 64, ... and walks each of their V logits serially (max, then the
// sum of exp; no barriers, as cross_entropy.wgsl's rows variant), so a
// sequence's T rows spread over 64 lanes. The 64 partial sums meet in
// workgroup memory and are added in a fixed tree order (6 barriers): one pass,
// one writer per output, deterministic. Positions with mask 0 cost nothing.
// A sequence per workgroup suits a GPU because S * min(T, 64) lanes stay busy
// and the per-sequence sum needs no second pass; this kernel reads the logits
// once, a small fraction of a step's work beside its matmuls.
//
// Dispatch: S workgroups, folded into (min(S, 65535), ceil(S / 65535));
//   s = wg.y * num_workgroups.x + wg.x, bounds-checked (uniform per workgroup).
// Bindings: 0 params {S, T, V}, 1 logp (S) read_write, 2 logits (S*T*V),
//   3 targets (S*T) i32, 4 mask (S*T).
// Needs: 64 invocations per workgroup, 256 bytes of workgroup memory.

struct Params { S: u32, T: u32, V: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> logp: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;

const WG = 64u;
var<workgroup> red: array<f32, WG>;

// log_softmax(logits[row])[targets[row]], serially over the row's V logits.
fn targetLogProb(row: u32) -> f32 {
  let base = row * p.V;
  var m = -3.0e38;
  for (var i = 0u; i < p.V; i++) { m = max(m, logits[base + i]); }
  var sum = 0.0;
  for (var i = 0u; i < p.V; i++) { sum += exp(logits[base + i] - m); }
  let tgt = u32(clamp(targets[row], 0, i32(p.V) - 1));
  return (logits[base + tgt] - m) - log(sum);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let s = wg.y * nwg.x + wg.x;
  if (s >= p.S) { return; }                 // uniform across the workgroup
  var acc = 0.0;
  for (var t = li; t < p.T; t += WG) {
    let row = s * p.T + t;
    let w = mask[row];
    if (w != 0.0) { acc += w * targetLogProb(row); }
  }
  red[li] = acc;
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    workgroupBarrier();
    if (li < k) { red[li] += red[li + k]; }
  }
  if (li == 0u) { logp[s] = red[0]; }
}
