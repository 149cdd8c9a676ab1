// Global L2 norm of n floats, in two passes and without atomics.
//
//   partials: workgroup w sums squares of grads[w*256 + li + k*G*256] (grid stride) -> partial[w]
//   finish:   one workgroup sums the G partials                                       -> norm[0] = sqrt(sum)
//
// Dispatch: partials (G) with G = gradNormScratchFloats(n) <= 1024; finish (1).
// Bindings: 0 params {n, G}; partials: 1 partial (G) written, 2 grads (n);
//           finish: 1 norm (>= 1) written, 2 partial (G).
// Needs: 256 invocations per workgroup, 1 KiB workgroup memory.

struct Params { n: u32, G: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;

const WG = 256u;
var<workgroup> red: array<f32, 256>;

fn reduceSum(x: f32, li: u32) -> f32 {
  red[li] = x;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (li < s) { red[li] += red[li + s]; }
  }
  workgroupBarrier();
  return red[0];
}

@compute @workgroup_size(WG)
fn partials(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  for (var i = wg.x * WG + li; i < p.n; i += p.G * WG) {
    let g = src[i];
    s += g * g;
  }
  let total = reduceSum(s, li);
  if (li == 0u) { dst[wg.x] = total; }
}

@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  for (var i = li; i < p.G; i += WG) { s += src[i]; }
  let total = reduceSum(s, li);
  if (li == 0u) { dst[0] = sqrt(total); }
}
