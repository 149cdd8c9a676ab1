// Mean of n floats (the batch loss) reduced on the GPU into out[0].
//
// One workgroup of 256 invocations: each sums a strided slice (i = li,
// li + 256, ...: neighbouring invocations read neighbouring floats), then the
// 256 partial sums are added by a tree in workgroup memory (8 halving steps,
// a fixed order: deterministic). n is the number of rows (4096 at the
// reference shape): one workgroup reads it all in 16 loads per invocation.
//
// Dispatch: (1).
// Bindings: 0 params {n}, 1 out (1), 2 losses (n).
// Needs: 256 invocations per workgroup, 1 KiB of workgroup memory.

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> losses: array<f32>;

const WG = 256u;
var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  for (var i = li; i < p.n; i += WG) { s += losses[i]; }
  red[li] = s;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h >>= 1u) {
    if (li < h) { red[li] += red[li + h]; }
    workgroupBarrier();
  }
  if (li == 0u) { out[0] = red[0] / f32(p.n); }
}
