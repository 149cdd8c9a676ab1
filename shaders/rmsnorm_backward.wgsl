// RMSNorm backward, input gradient.
//
//   xhat = inp * rstd,  g = dout * weight                          (per row n)
//   dinp[n, c] (+)= rstd * (g[c] - xhat[c] * mean_c(g * xhat))
//
// ACCUMULATE (default true) adds into dinp, as gradients do; false overwrites
// it, for the first gradient written into a buffer within a compute pass (the
// final norm's, into the residual-stream gradient), which then needs no clear
// beforehand.
//
// With PARAM_GRADS the same workgroup also leaves the weight gradient's share
// of its rows, a column sum over them, for the end of the backward
// (shaders/grad_reduce.wgsl adds every workgroup's share in order):
//
//   partial[w, c] = sum_{n in w's rows} dout[n, c] * inp[n, c] * rstd[n]
//
// one invocation per channel (neighbours read neighbouring channels of the
// rows the workgroup has just read, from cache), rows in order; w is the
// workgroup's linear index, NWG the workgroups that hold rows.
//
// GPU entry points `main` (any C) and `main4` (C % 4 == 0, vec4 loads and
// stores): a team per row (row_reduce_*.wgsl: 32 lanes and a workgroup-memory
// tree, or one subgroup), 8 rows per 256-invocation workgroup; lanes stride
// over the row (coalesced), one team reduction per row.
// 512 workgroups at B*T = 4096 rows.
//   Dispatch: ceil(N / 8) workgroups, folded into (x, y) past 65535.
//
// CPU entry point `serial` (CPU adapters): one invocation per row, 64 rows per
// workgroup, the sum in nested blocks of 8 and 64 channels, no barriers.
//   Dispatch: ceil(N / 64) workgroups, folded into (x, y) past 65535.
//
// Bindings: 0 params {N, C, NWG}, 1 dinp (N, C) (read_write), 2 dout (N, C),
// 3 inp (N, C), 4 weight (C), 5 rstd (N), 6 partial (NWG, C) (read_write,
// written only with PARAM_GRADS).
// `main4` binds 1 to 4 and 6 as vec4 arrays (N, C / 4).

override ACCUMULATE: bool = true;
override PARAM_GRADS: bool = true;

struct Params { N: u32, C: u32, NWG: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read> rstd: array<f32>;
@group(0) @binding(1) var<storage, read_write> dinp4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dout4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> inp4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> weight4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> partial: array<f32>;
@group(0) @binding(6) var<storage, read_write> partial4: array<vec4<f32>>;

const ROWS = 8u;              // rows per workgroup in `main` / `main4`

fn rowIndex(wg: vec3<u32>, nwg: vec3<u32>) -> u32 { return (wg.y * nwg.x + wg.x) * ROWS; }

@compute @workgroup_size(TEAM_WG)
fn main(l: Lanes, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var k = 0u; k < ROWS; k += teamCount(l)) {
    let row = rowIndex(wg, nwg) + k + team(l);
    let live = k + team(l) < ROWS && row < p.N;
    let base = row * p.C;
    var rs = 0.0;
    var s = 0.0;                              // sum of g * x
    if (live) {
      rs = rstd[row];
      for (var c = lane(l); c < p.C; c += teamSize(l)) { s += dout[base + c] * weight[c] * inp[base + c]; }
    }
    let meanGX = rs * teamSum(l, s) / f32(p.C);             // mean of g * xhat
    if (live) {
      for (var c = lane(l); c < p.C; c += teamSize(l)) {
        let xhat = inp[base + c] * rs;
        var v = rs * (dout[base + c] * weight[c] - xhat * meanGX);
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
      var acc = 0.0;
      for (var n = r0; n < r1; n++) { acc += dout[n * p.C + c] * inp[n * p.C + c] * rstd[n]; }
      partial[w * p.C + c] = acc;
    }
  }
}

@compute @workgroup_size(TEAM_WG)
fn main4(l: Lanes, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let C4 = p.C / 4u;
  for (var k = 0u; k < ROWS; k += teamCount(l)) {
    let row = rowIndex(wg, nwg) + k + team(l);
    let live = k + team(l) < ROWS && row < p.N;
    let base = row * C4;
    var rs = 0.0;
    var s = vec4<f32>(0.0);
    if (live) {
      rs = rstd[row];
      for (var c = lane(l); c < C4; c += teamSize(l)) { s += dout4[base + c] * weight4[c] * inp4[base + c]; }
    }
    let meanGX = rs * teamSum(l, (s.x + s.y) + (s.z + s.w)) / f32(p.C);
    if (live) {
      for (var c = lane(l); c < C4; c += teamSize(l)) {
        let xhat = inp4[base + c] * rs;
        var v = rs * (dout4[base + c] * weight4[c] - xhat * meanGX);
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
      var acc = vec4<f32>(0.0);
      for (var n = r0; n < r1; n++) { acc += dout4[n * C4 + c] * inp4[n * C4 + c] * rstd[n]; }
      partial4[w * C4 + c] = acc;
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
  let rs = rstd[row];
  var total = 0.0;                            // sum of g * x
  for (var c2 = 0u; c2 < p.C; c2 += 64u) {
    var s2 = 0.0;
    for (var c1 = c2; c1 < min(c2 + 64u, p.C); c1 += 8u) {
      var s1 = 0.0;
      for (var c = c1; c < min(c1 + 8u, p.C); c++) { s1 += dout[base + c] * weight[c] * inp[base + c]; }
      s2 += s1;
    }
    total += s2;
  }
  let meanGX = rs * total / f32(p.C);
  for (var c = 0u; c < p.C; c++) {
    let xhat = inp[base + c] * rs;
    var v = rs * (dout[base + c] * weight[c] - xhat * meanGX);
    if (ACCUMULATE) { v += dinp[base + c]; }
    dinp[base + c] = v;
  }
}

// The weight gradient's share of workgroup w's SERIAL_WG rows, one invocation per channel.
fn serialParams(w: u32, li: u32) {
  if (w >= p.NWG) { return; }
  let r0 = w * SERIAL_WG;
  let r1 = min(r0 + SERIAL_WG, p.N);
  for (var c = li; c < p.C; c += SERIAL_WG) {
    var acc = 0.0;
    for (var n = r0; n < r1; n++) { acc += dout[n * p.C + c] * inp[n * p.C + c] * rstd[n]; }
    partial[w * p.C + c] = acc;
  }
}
