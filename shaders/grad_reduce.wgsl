// Gradient reduce: finishes every deferred parameter gradient of a backward
// pass in one dispatch, from partial sums that its producers left in one
// buffer (split-K weight-gradient products of matmul.wgsl, their bias row
// sums, and the per-workgroup gain / bias column sums of the LayerNorm and
// RMSNorm backward kernels). Nothing reads a weight gradient before the
// optimizer, so they all wait until the end of the backward.
//
// A table of segments, each: S partial rows of `len` floats, row s at
// partial[src + s * stride ..], reduced into grads[dst .. dst + len]:
//
//   grads[dst + i] += sum_{s < S} partial[src + s * stride + i]     i < len
//
// (gradients accumulate: the step clears them before its pass). Segments are
// disjoint in `grads`: each element has exactly one writer, and the sum's order
// is fixed (deterministic, no atomics): slice group r (0..3) adds rows
// r, r + 4, r + 8, ... in order, then the four group sums are added in group
// order.
//
// Workgroup: 256 invocations = 64 consecutive elements x 4 slice groups, so a
// warp reads 32 consecutive floats of one row (coalesced). Segment k owns
// workgroups first_k .. first_k + ceil(len_k / 64) - 1; a workgroup finds its
// segment by a binary search over `first` (the table is in workgroup order,
// longest rows first so that their tails overlap the rest).
//   Dispatch: grid(workgroups) workgroups, linearised as
//   wg.y * num_workgroups.x + wg.x and bounds-checked.
//   Needs: 256 invocations per workgroup, 1 KiB workgroup memory.
//
// Bindings: 0 params {segments, workgroups}; 1 grads (read_write);
// 2 partial (read); 3 table (read) u32 (segments, 8): src, stride, S, len,
// dst, first, 0, 0.

struct Params { segments: u32, workgroups: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> grads: array<f32>;
@group(0) @binding(2) var<storage, read> partial: array<f32>;
@group(0) @binding(3) var<storage, read> table: array<u32>;

const E = 64u;                  // elements per workgroup
const G = 4u;                   // slice groups per workgroup

var<workgroup> sums: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let g = wg.y * nwg.x + wg.x;
  if (g >= p.workgroups) { return; }
  var lo = 0u;
  var hi = p.segments - 1u;
  while (lo < hi) {
    let mid = (lo + hi + 1u) / 2u;
    if (table[mid * 8u + 5u] <= g) { lo = mid; } else { hi = mid - 1u; }
  }
  let t = lo * 8u;
  let src = table[t];
  let stride = table[t + 1u];
  let S = table[t + 2u];
  let len = table[t + 3u];
  let dst = table[t + 4u];
  let e = li % E;
  let r = li / E;
  let i = (g - table[t + 5u]) * E + e;
  var s = 0.0;
  if (i < len) {
    for (var k = r; k < S; k += G) { s += partial[src + k * stride + i]; }
  }
  sums[li] = s;
  workgroupBarrier();
  if (r == 0u && i < len) {
    grads[dst + i] += ((sums[e] + sums[E + e]) + sums[2u * E + e]) + sums[3u * E + e];
  }
}
