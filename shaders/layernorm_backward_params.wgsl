// LayerNorm backward, weight and bias gradients: column sums over the rows.
//
//   dweight[c] += sum_n dout[n, c] * (inp[n, c] - mean[n]) * rstd[n]
//   dbias[c]   += sum_n dout[n, c]                       (when HAS_BIAS)
//
// One invocation per channel, 64 channels per workgroup: no workgroup memory
// and no barriers. It sums its column in blocks of 64 rows, then the block
// sums (rounding error close to a tree's, fixed order: deterministic, one
// writer per gradient element, no atomics). Neighbouring invocations read
// neighbouring channels of the same row.
//
// Dispatch: ceil(C / 64) workgroups, folded into (x, y) past 65535.
// Bindings: 0 params {N, C}, 1 dweight (C) (read_write), 2 dbias (C) (read_write;
// written only when HAS_BIAS), 3 dout (N, C), 4 inp (N, C), 5 mean (N), 6 rstd (N).
// Needs: 64 invocations per workgroup, no workgroup memory.

override HAS_BIAS: bool = true;

struct Params { N: u32, C: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(2) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read> inp: array<f32>;
@group(0) @binding(5) var<storage, read> mean: array<f32>;
@group(0) @binding(6) var<storage, read> rstd: array<f32>;

const WG = 64u;
const BLOCK = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.y * nwg.x * WG + gid.x;
  if (c >= p.C) { return; }
  var acc = vec2<f32>(0.0);                   // (dweight, dbias)
  for (var n0 = 0u; n0 < p.N; n0 += BLOCK) {
    var part = vec2<f32>(0.0);
    let end = min(n0 + BLOCK, p.N);
    for (var n = n0; n < end; n++) {
      let g = dout[n * p.C + c];
      part += vec2<f32>(g * (inp[n * p.C + c] - mean[n]) * rstd[n], g);
    }
    acc += part;
  }
  dweight[c] += acc.x;
  if (HAS_BIAS) { dbias[c] += acc.y; }
}
