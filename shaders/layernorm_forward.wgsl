// LayerNorm forward over the last dimension (PyTorch nn.LayerNorm, eps 1e-5,
// biased variance), saving the row statistics for the backward.
//
//   mean[n] = sum_c inp[n, c] / C
//   rstd[n] = 1 / sqrt(sum_c (inp[n, c] - mean[n])^2 / C + 1e-5)
//   out[n, c] = (inp[n, c] - mean[n]) * rstd[n] * weight[c] (+ bias[c])
//
// One invocation per row, 64 rows per workgroup: no workgroup memory and no
// barriers (rows are short: C is the model width). The statistics are taken
// relative to the row's first element (d = x - x0, exact when the row is
// nearly constant) and in two passes (mean, then squared deviations), so a
// row like 1000 + 1e-5 * noise keeps its tiny variance instead of losing it
// to cancellation. Sums run in a fixed order (deterministic) over nested
// blocks of 8 and 64 channels, so partial sums stay small and the rounding
// error stays close to a tree reduction's.
//
// Dispatch: ceil(N / 64) workgroups, folded into (x, y) past 65535.
// Bindings: 0 params {N, C}, 1 out (N, C) (read_write), 2 mean (N) (read_write),
// 3 rstd (N) (read_write), 4 inp (N, C), 5 weight (C), 6 bias (C; read only when HAS_BIAS).
// Needs: 64 invocations per workgroup, no workgroup memory.

override HAS_BIAS: bool = true;

struct Params { N: u32, C: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> inp: array<f32>;
@group(0) @binding(5) var<storage, read> weight: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;

const WG = 64u;
const EPS = 1e-5;

// Sum over c of (inp[base + c] - x0 - sub)^pow (pow 1 or 2), in nested blocks of 8 and 64.
fn rowSum(base: u32, x0: f32, sub: f32, squared: bool) -> f32 {
  var total = 0.0;
  for (var c2 = 0u; c2 < p.C; c2 += 64u) {
    var s2 = 0.0;
    for (var c1 = c2; c1 < min(c2 + 64u, p.C); c1 += 8u) {
      var s1 = 0.0;
      for (var c = c1; c < min(c1 + 8u, p.C); c++) {
        let d = (inp[base + c] - x0) - sub;
        s1 += select(d, d * d, squared);
      }
      s2 += s1;
    }
    total += s2;
  }
  return total;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.y * nwg.x * WG + gid.x;
  if (row >= p.N) { return; }
  let base = row * p.C;
  let C = f32(p.C);

  let x0 = inp[base];
  let meanD = rowSum(base, x0, 0.0, false) / C;                 // mean - x0
  let rs = inverseSqrt(rowSum(base, x0, meanD, true) / C + EPS);

  for (var c = 0u; c < p.C; c++) {
    var y = ((inp[base + c] - x0) - meanD) * rs * weight[c];
    if (HAS_BIAS) { y += bias[c]; }
    out[base + c] = y;
  }
  mean[row] = x0 + meanD;
  rstd[row] = rs;
}
