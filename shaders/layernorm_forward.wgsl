// LayerNorm forward over the last dimension (PyTorch nn.LayerNorm, eps 1e-5,
// biased variance), saving the row statistics for the backward.
//
//   mean[n] = sum_c inp[n, c] / C
//   rstd[n] = 1 / sqrt(sum_c (inp[n, c] - mean[n])^2 / C + 1e-5)
//   out[n, c] = (inp[n, c] - mean[n]) * rstd[n] * weight[c] (+ bias[c])
//
// One workgroup of 256 handles ROWS = 8 rows with LANES = 32 invocations per
// row; lane l reads channels l, l + 32, ... and the lanes' partial sums meet
// in a fixed tree in workgroup memory (deterministic). The statistics are
// taken relative to the row's first element (d = x - x0, exact when the row
// is nearly constant) and in two passes (mean, then squared deviations), so a
// row like 1000 + 1e-5 * noise keeps its tiny variance instead of losing it
// to cancellation.
//
// Dispatch: ceil(N / 8) workgroups, folded into (x, y) past 65535.
// Bindings: 0 params {N, C}, 1 out (N, C) (read_write), 2 mean (N) (read_write),
// 3 rstd (N) (read_write), 4 inp (N, C), 5 weight (C), 6 bias (C; read only when HAS_BIAS).
// Needs: 256 invocations per workgroup, 1 KiB workgroup memory.

override HAS_BIAS: bool = true;

struct Params { N: u32, C: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> inp: array<f32>;
@group(0) @binding(5) var<storage, read> weight: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;

const LANES = 32u;
const ROWS = 8u;
const EPS = 1e-5;

var<workgroup> partial: array<f32, 256>;    // [ROWS][LANES]

// Sum of v over the 32 lanes of this invocation's row; every invocation of
// the workgroup must call it (it contains barriers).
fn rowSum(li: u32, lane: u32, v: f32) -> f32 {
  partial[li] = v;
  workgroupBarrier();
  for (var s = LANES / 2u; s > 0u; s >>= 1u) {
    if (lane < s) { partial[li] += partial[li + s]; }
    workgroupBarrier();
  }
  let total = partial[li - lane];
  workgroupBarrier();                         // everyone has read before the next use
  return total;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let lane = li % LANES;
  let row = (wg.y * nwg.x + wg.x) * ROWS + li / LANES;
  let valid = row < p.N;                      // rows past N still join the barriers
  let base = row * p.C;
  let C = f32(p.C);

  var x0 = 0.0;
  var s = 0.0;
  if (valid) {
    x0 = inp[base];
    for (var c = lane; c < p.C; c += LANES) { s += inp[base + c] - x0; }
  }
  let meanD = rowSum(li, lane, s) / C;        // mean - x0

  var q = 0.0;
  if (valid) {
    for (var c = lane; c < p.C; c += LANES) {
      let d = (inp[base + c] - x0) - meanD;
      q += d * d;
    }
  }
  let rs = inverseSqrt(rowSum(li, lane, q) / C + EPS);

  if (valid) {
    for (var c = lane; c < p.C; c += LANES) {
      var y = ((inp[base + c] - x0) - meanD) * rs * weight[c];
      if (HAS_BIAS) { y += bias[c]; }
      out[base + c] = y;
    }
    if (lane == 0u) {
      mean[row] = x0 + meanD;
      rstd[row] = rs;
    }
  }
}
