// Global L2 norm of n floats, in two passes and without atomics.
//
//   partials: invocation i < G sums squares of grads[i + k*G] (grid stride)  -> partial[i]
//   finish:   64 invocations each sum a strided slice of the G partials, then
//             invocation 0 sums those 64                                     -> norm[0] = sqrt(sum)
//
// Partial sums are taken in blocks of 16 terms (then the block sums), keeping
// f32 rounding close to a tree's; the order is fixed (deterministic). The
// partials pass has no workgroup memory and no barriers; finish has one barrier.
//
// Dispatch: partials ceil(G / 64) with G = gradNormScratchFloats(n) <= 16384; finish (1).
// Bindings: 0 params {n, G}; partials: 1 partial (G) written, 2 grads (n);
//           finish: 1 norm (>= 1) written, 2 partial (G).
// Needs: 64 invocations per workgroup, 256 bytes of workgroup memory (finish).

struct Params { n: u32, G: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;

const WG = 64u;
const BLOCK = 16u;
var<workgroup> red: array<f32, 64>;

// Sum of src[i]^2 (squared) or src[i] for i = first, first + stride, ... < n, in blocks of BLOCK terms.
fn stridedSum(first: u32, stride: u32, n: u32, squared: bool) -> f32 {
  var total = 0.0;
  var i = first;
  while (i < n) {
    var part = 0.0;
    for (var k = 0u; k < BLOCK && i < n; k++) {
      let x = src[i];
      part += select(x, x * x, squared);
      i += stride;
    }
    total += part;
  }
  return total;
}

@compute @workgroup_size(WG)
fn partials(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.G) { return; }
  dst[i] = stridedSum(i, p.G, p.n, true);
}

@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) li: u32) {
  red[li] = stridedSum(li, WG, p.G, false);
  workgroupBarrier();
  if (li == 0u) {
    var total = 0.0;
    for (var k = 0u; k < WG; k += 8u) {
      var part = 0.0;
      for (var j = k; j < k + 8u; j++) { part += red[j]; }
      total += part;
    }
    dst[0] = sqrt(total);
  }
}
