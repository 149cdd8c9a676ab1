// LayerNorm backward, input gradient (llm.c layernorm_backward, dinp part).
//
//   xhat = (inp - mean) * rstd,  g = dout * weight                (per row n)
//   dinp[n, c] += rstd * (g[c] - mean_c(g) - xhat[c] * mean_c(g * xhat))
//
// One invocation per row, 64 rows per workgroup: no workgroup memory and no
// barriers. The three row sums (of x - mean, g, g * (x - mean)) come from one
// pass in a fixed order over nested blocks of 8 and 64 channels (partial sums
// stay small: rounding close to a tree reduction's). The sum of x - mean corrects the saved f32 mean
// (which cannot hold the exact mean of a row like 1000 + tiny noise) before it
// is used: xhat = (x - mean - corr) * rstd.
// The weight and bias gradients are column sums over rows and live in
// layernorm_backward_params.wgsl.
//
// Dispatch: ceil(N / 64) workgroups, folded into (x, y) past 65535.
// Bindings: 0 params {N, C}, 1 dinp (N, C) (read_write, accumulated), 2 dout (N, C),
// 3 inp (N, C), 4 weight (C), 5 mean (N), 6 rstd (N).
// Needs: 64 invocations per workgroup, no workgroup memory.

struct Params { N: u32, C: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read> mean: array<f32>;
@group(0) @binding(6) var<storage, read> rstd: array<f32>;

const WG = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.y * nwg.x * WG + gid.x;
  if (row >= p.N) { return; }
  let base = row * p.C;
  let C = f32(p.C);
  let m = mean[row];
  let rs = rstd[row];

  var total = vec3<f32>(0.0);                 // (x - m, g, g * (x - m))
  for (var c2 = 0u; c2 < p.C; c2 += 64u) {
    var s2 = vec3<f32>(0.0);
    for (var c1 = c2; c1 < min(c2 + 64u, p.C); c1 += 8u) {
      var s1 = vec3<f32>(0.0);
      for (var c = c1; c < min(c1 + 8u, p.C); c++) {
        let d = inp[base + c] - m;
        let g = dout[base + c] * weight[c];
        s1 += vec3<f32>(d, g, g * d);
      }
      s2 += s1;
    }
    total += s2;
  }
  let corr = total.x / C;                     // exact mean - saved mean
  let meanG = total.y / C;
  let meanGX = rs * (total.z - corr * total.y) / C;   // mean of g * xhat
  for (var c = 0u; c < p.C; c++) {
    let xhat = (inp[base + c] - m - corr) * rs;
    let g = dout[base + c] * weight[c];
    dinp[base + c] += rs * (g - meanG - xhat * meanGX);
  }
}
