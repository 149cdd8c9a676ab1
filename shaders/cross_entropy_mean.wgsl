// Mean of n floats (the batch loss) reduced on the GPU into out[0].
//
// One workgroup of 64 invocations: each sums a strided slice, then, after a
// single barrier, invocation 0 adds the 64 partial sums in a fixed order.
//
// Dispatch: (1).
// Bindings: 0 params {n}, 1 out (1), 2 losses (n).
// Needs: 64 invocations per workgroup, 256 bytes of workgroup memory.

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> losses: array<f32>;

const WG = 64u;
var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  for (var i = li; i < p.n; i += WG) { s += losses[i]; }
  red[li] = s;
  workgroupBarrier();
  if (li == 0u) {
    var total = 0.0;
    for (var k = 0u; k < WG; k += 8u) {
      var part = 0.0;
      for (var j = k; j < k + 8u; j++) { part += red[j]; }
      total += part;
    }
    out[0] = total / f32(p.n);
  }
}
