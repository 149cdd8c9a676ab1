// LayerNorm backward, input gradient (llm.c layernorm_backward, dinp part).
//
//   xhat = (inp - mean) * rstd,  g = dout * weight                (per row n)
//   dinp[n, c] += rstd * (g[c] - mean_c(g) - xhat[c] * mean_c(g * xhat))
//
// One workgroup of 256 handles ROWS = 8 rows with LANES = 32 invocations per
// row; the three row sums (of x - mean, g, g * (x - mean)) share one fixed
// reduction tree in workgroup memory. The sum of x - mean corrects the saved
// f32 mean (which cannot hold the exact mean of a row like 1000 + tiny noise)
// before it is used: xhat = (x - mean - corr) * rstd.
// The weight and bias gradients are column sums over rows and live in
// layernorm_backward_params.wgsl.
//
// Dispatch: ceil(N / 8) workgroups, folded into (x, y) past 65535.
// Bindings: 0 params {N, C}, 1 dinp (N, C) (read_write, accumulated), 2 dout (N, C),
// 3 inp (N, C), 4 weight (C), 5 mean (N), 6 rstd (N).
// Needs: 256 invocations per workgroup, 4 KiB workgroup memory.

struct Params { N: u32, C: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read> mean: array<f32>;
@group(0) @binding(6) var<storage, read> rstd: array<f32>;

const LANES = 32u;
const ROWS = 8u;

var<workgroup> partial: array<vec3<f32>, 256>;    // [ROWS][LANES]

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let lane = li % LANES;
  let row = (wg.y * nwg.x + wg.x) * ROWS + li / LANES;
  let valid = row < p.N;                      // rows past N still join the barriers
  let base = row * p.C;
  let C = f32(p.C);

  var m = 0.0;
  var rs = 0.0;
  var sums = vec3<f32>(0.0);                  // (x - m, g, g * (x - m))
  if (valid) {
    m = mean[row];
    rs = rstd[row];
    for (var c = lane; c < p.C; c += LANES) {
      let d = inp[base + c] - m;
      let g = dout[base + c] * weight[c];
      sums += vec3<f32>(d, g, g * d);
    }
  }
  partial[li] = sums;
  workgroupBarrier();
  for (var s = LANES / 2u; s > 0u; s >>= 1u) {
    if (lane < s) { partial[li] += partial[li + s]; }
    workgroupBarrier();
  }
  let total = partial[li - lane];

  if (valid) {
    let corr = total.x / C;                   // exact mean - saved mean
    let meanG = total.y / C;
    let meanGX = rs * (total.z - corr * total.y) / C;   // mean of g * xhat
    for (var c = lane; c < p.C; c += LANES) {
      let xhat = (inp[base + c] - m - corr) * rs;
      let g = dout[base + c] * weight[c];
      dinp[base + c] += rs * (g - meanG - xhat * meanGX);
    }
  }
}
