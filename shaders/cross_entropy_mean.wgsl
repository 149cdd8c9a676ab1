// Mean of n floats (the batch loss) reduced on the GPU into out[0].
//
// One workgroup of 256 invocations: each sums a strided slice, then a tree
// reduction in workgroup memory.
//
// Dispatch: (1).
// Bindings: 0 params {n}, 1 out (1), 2 losses (n).
// Needs: 256 invocations per workgroup, 1 KiB workgroup memory.

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> losses: array<f32>;

const WG = 256u;
var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  for (var i = li; i < p.n; i += WG) { s += losses[i]; }
  red[li] = s;
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    workgroupBarrier();
    if (li < k) { red[li] += red[li + k]; }
  }
  if (li == 0u) { out[0] = red[0] / f32(p.n); }
}
