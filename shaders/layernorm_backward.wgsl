// LayerNorm backward, input gradient (llm.c layernorm_backward, dinp part).
//
//   xhat = (inp - mean) * rstd,  g = dout * weight                (per row n)
//   dinp[n, c] (+)= rstd * (g[c] - mean_c(g) - xhat[c] * mean_c(g * xhat))
//
// ACCUMULATE (default true) adds into dinp, as gradients do; false overwrites
// it, for the first gradient written into a buffer within a compute pass (the
// final LayerNorm's, into the residual-stream gradient), which then needs no
// clear beforehand.
//
// Three row sums (of x - mean, g, g * (x - mean)) come from one pass over the
// row. The sum of x - mean corrects the saved f32 mean (which cannot hold the
// exact mean of a row like 1000 + tiny noise) before it is used:
// xhat = (x - mean - corr) * rstd.
//
// With PARAM_GRADS the same workgroup also leaves the weight and bias
// gradients' share of its rows, column sums over them, for the end of the
// backward (shaders/grad_reduce.wgsl adds every workgroup's share in order):
//
//   partial[w, c]       = sum_{n in w's rows} dout[n, c] * (inp[n, c] - mean[n]) * rstd[n]
//   partial[NWG + w, c] = sum_{n in w's rows} dout[n, c]                       (HAS_BIAS)
//
// one invocation per channel (neighbours read neighbouring channels of the
// rows the workgroup has just read, from cache), rows in order; w is the
// workgroup's linear index, NWG the workgroups that hold rows.
//
// GPU entry points `main` (any C) and `main4` (C % 4 == 0, vec4 loads and
// stores): a team per row (row_reduce_*.wgsl: 32 lanes and a workgroup-memory
// tree, or one subgroup), 8 rows per 256-invocation workgroup; lanes stride
// over the row (coalesced) and the three sums are one vec4 team reduction.
// 512 workgroups at B*T = 4096 rows.
//   Dispatch: ceil(N / 8) workgroups, folded into (x, y) past 65535.
//
// CPU entry point `serial` (CPU adapters): one invocation per row, 64 rows per
// workgroup, sums in nested blocks of 8 and 64 channels, no barriers.
//   Dispatch: ceil(N / 64) workgroups, folded into (x, y) past 65535.
//
// Bindings: 0 params {N, C, NWG}, 1 dinp (N, C) (read_write), 2 dout (N, C),
// 3 inp (N, C), 4 weight (C), 5 mean (N), 6 rstd (N), 7 partial
// ((HAS_BIAS ? 2 : 1) * NWG, C) (read_write, written only with PARAM_GRADS).
// `main4` binds 1 to 4 and 7 as vec4 arrays (N, C / 4).

override ACCUMULATE: bool = true;
override PARAM_GRADS: bool = true;
override HAS_BIAS: bool = true;

struct Params { N: u32, C: u32, NWG: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read> mean: array<f32>;
@group(0) @binding(6) var<storage, read> rstd: array<f32>;
@group(0) @binding(1) var<storage, read_write> dinp4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dout4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> inp4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> weight4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> partial: array<f32>;
@group(0) @binding(7) var<storage, read_write> partial4: array<vec4<f32>>;

const ROWS = 8u;              // rows per workgroup in `main` / `main4`

fn rowIndex(wg: vec3<u32>, nwg: vec3<u32>) -> u32 { return (wg.y * nwg.x + wg.x) * ROWS; }

@compute @workgroup_size(TEAM_WG)
fn main(l: Lanes, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let C = f32(p.C);
  for (var k = 0u; k < ROWS; k += teamCount(l)) {
    let row = rowIndex(wg, nwg) + k + team(l);
    let live = k + team(l) < ROWS && row < p.N;
    let base = row * p.C;
    var m = 0.0;
    var rs = 0.0;
    var s = vec4<f32>(0.0);                   // (x - m, g, g * (x - m), 0)
    if (live) {
      m = mean[row];
      rs = rstd[row];
      for (var c = lane(l); c < p.C; c += teamSize(l)) {
        let d = inp[base + c] - m;
        let g = dout[base + c] * weight[c];
        s += vec4<f32>(d, g, g * d, 0.0);
      }
    }
    let total = teamSum4(l, s);
    if (live) {
      let corr = total.x / C;                 // exact mean - saved mean
      let meanG = total.y / C;
      let meanGX = rs * (total.z - corr * total.y) / C;   // mean of g * xhat
      for (var c = lane(l); c < p.C; c += teamSize(l)) {
        let xhat = (inp[base + c] - m - corr) * rs;
        let g = dout[base + c] * weight[c];
        var v = rs * (g - meanG - xhat * meanGX);
        if (ACCUMULATE) { v += dinp[base + c]; }
        dinp[base + c] = v;
      }
    }
  }
  if (PARAM_GRADS) {
    let w = wg.y * nwg.x + wg.x;
    if (w >= p.NWG) { return; }
    let r0 = w * ROWS;
    let r1 = min(r0 + ROWS, p.N);
    for (var c = team(l) * teamSize(l) + lane(l); c < p.C; c += TEAM_WG) {
      var acc = vec2<f32>(0.0);               // (dweight, dbias)
      for (var n = r0; n < r1; n++) {
        let g = dout[n * p.C + c];
        acc += vec2<f32>(g * (inp[n * p.C + c] - mean[n]) * rstd[n], g);
      }
      partial[w * p.C + c] = acc.x;
      if (HAS_BIAS) { partial[(p.NWG + w) * p.C + c] = acc.y; }
    }
  }
}

@compute @workgroup_size(TEAM_WG)
fn main4(l: Lanes, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let C = f32(p.C);
  let C4 = p.C / 4u;
  for (var k = 0u; k < ROWS; k += teamCount(l)) {
    let row = rowIndex(wg, nwg) + k + team(l);
    let live = k + team(l) < ROWS && row < p.N;
    let base = row * C4;
    var m = 0.0;
    var rs = 0.0;
    var sd = vec4<f32>(0.0);
    var sg = vec4<f32>(0.0);
    var sgd = vec4<f32>(0.0);
    if (live) {
      m = mean[row];
      rs = rstd[row];
      for (var c = lane(l); c < C4; c += teamSize(l)) {
        let d = inp4[base + c] - m;
        let g = dout4[base + c] * weight4[c];
        sd += d;
        sg += g;
        sgd += g * d;
      }
    }
    let ones = vec4<f32>(1.0);
    let total = teamSum4(l, vec4<f32>(dot(sd, ones), dot(sg, ones), dot(sgd, ones), 0.0));
    if (live) {
      let corr = total.x / C;
      let meanG = total.y / C;
      let meanGX = rs * (total.z - corr * total.y) / C;
      for (var c = lane(l); c < C4; c += teamSize(l)) {
        let xhat = (inp4[base + c] - m - corr) * rs;
        let g = dout4[base + c] * weight4[c];
        var v = rs * (g - meanG - xhat * meanGX);
        if (ACCUMULATE) { v += dinp4[base + c]; }
        dinp4[base + c] = v;
      }
    }
  }
  if (PARAM_GRADS) {
    let w = wg.y * nwg.x + wg.x;
    if (w >= p.NWG) { return; }
    let r0 = w * ROWS;
    let r1 = min(r0 + ROWS, p.N);
    for (var c = team(l) * teamSize(l) + lane(l); c < C4; c += TEAM_WG) {
      var aw = vec4<f32>(0.0);
      var ab = vec4<f32>(0.0);
      for (var n = r0; n < r1; n++) {
        let g = dout4[n * C4 + c];
        aw += g * (inp4[n * C4 + c] - mean[n]) * rstd[n];
        ab += g;
      }
      partial4[w * C4 + c] = aw;
      if (HAS_BIAS) { partial4[(p.NWG + w) * C4 + c] = ab; }
    }
  }
}

// ---- CPU adapters: one invocation per row ----

const SERIAL_WG = 64u;

@compute @workgroup_size(SERIAL_WG)
fn serial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  if (PARAM_GRADS) { serialParams(wg.y * nwg.x + wg.x, li); }
  let row = gid.y * nwg.x * SERIAL_WG + gid.x;
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
    var v = rs * (g - meanG - xhat * meanGX);
    if (ACCUMULATE) { v += dinp[base + c]; }
    dinp[base + c] = v;
  }
}

// The weight and bias gradients' share of workgroup w's SERIAL_WG rows, one invocation per channel.
fn serialParams(w: u32, li: u32) {
  if (w >= p.NWG) { return; }
  let r0 = w * SERIAL_WG;
  let r1 = min(r0 + SERIAL_WG, p.N);
  for (var c = li; c < p.C; c += SERIAL_WG) {
    var acc = vec2<f32>(0.0);
    for (var n = r0; n < r1; n++) {
      let g = dout[n * p.C + c];
      acc += vec2<f32>(g * (inp[n * p.C + c] - mean[n]) * rstd[n], g);
    }
    partial[w * p.C + c] = acc.x;
    if (HAS_BIAS) { partial[(p.NWG + w) * p.C + c] = acc.y; }
  }
}
