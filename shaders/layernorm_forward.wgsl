// LayerNorm forward over the last dimension (PyTorch nn.LayerNorm, eps 1e-5,
// biased variance), saving the row statistics for the backward.
//
//   mean[n] = sum_c inp[n, c] / C
//   rstd[n] = 1 / sqrt(sum_c (inp[n, c] - mean[n])^2 / C + 1e-5)
//   out[n, c] = (inp[n, c] - mean[n]) * rstd[n] * weight[c] (+ bias[c])
//
// The statistics are taken relative to the row's first element (d = x - x0,
// exact when the row is nearly constant) and in two passes (mean, then squared
// deviations), so a row like 1000 + 1e-5 * noise keeps its tiny variance
// instead of losing it to cancellation.
//
// GPU entry points `main` (any C) and `main4` (C % 4 == 0, vec4 loads and
// stores): a team of invocations per row (row_reduce_*.wgsl: 32 lanes with a
// workgroup-memory tree, or one subgroup), 8 rows per 256-invocation
// workgroup. Lanes stride over the row (neighbouring lanes read neighbouring
// channels: coalesced), and the two row sums are team reductions. A row is
// read three times (its 4C bytes stay in cache) and written once; at
// B*T = 4096 rows that is 512 workgroups, enough to fill any GPU.
//   Dispatch: ceil(N / 8) workgroups, folded into (x, y) past 65535.
//
// CPU entry point `serial` (for CPU adapters, where barriers are dear): one
// invocation per row, 64 rows per workgroup, sums in nested blocks of 8 and 64
// channels (rounding close to a tree's), no workgroup memory, no barriers.
//   Dispatch: ceil(N / 64) workgroups, folded into (x, y) past 65535.
//
// Bindings: 0 params {N, C}, 1 out (N, C) (read_write), 2 mean (N) (read_write),
// 3 rstd (N) (read_write), 4 inp (N, C), 5 weight (C), 6 bias (C; read only when HAS_BIAS).
// `main4` binds 1, 4, 5, 6 as vec4 arrays (N, C / 4).

override HAS_BIAS: bool = true;

struct Params { N: u32, C: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> inp: array<f32>;
@group(0) @binding(5) var<storage, read> weight: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;
@group(0) @binding(1) var<storage, read_write> out4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> inp4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> weight4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> bias4: array<vec4<f32>>;

const EPS = 1e-5;
const ROWS = 8u;              // rows per workgroup in `main` / `main4`

fn rowIndex(wg: vec3<u32>, nwg: vec3<u32>) -> u32 { return (wg.y * nwg.x + wg.x) * ROWS; }

@compute @workgroup_size(TEAM_WG)
fn main(l: Lanes, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let C = f32(p.C);
  for (var k = 0u; k < ROWS; k += teamCount(l)) {
    let row = rowIndex(wg, nwg) + k + team(l);
    let live = k + team(l) < ROWS && row < p.N;
    let base = row * p.C;
    var x0 = 0.0;
    var s = 0.0;
    if (live) {
      x0 = inp[base];
      for (var c = lane(l); c < p.C; c += teamSize(l)) { s += inp[base + c] - x0; }
    }
    let meanD = teamSum(l, s) / C;                              // mean - x0
    var q = 0.0;
    if (live) {
      for (var c = lane(l); c < p.C; c += teamSize(l)) {
        let d = (inp[base + c] - x0) - meanD;
        q += d * d;
      }
    }
    let rs = inverseSqrt(teamSum(l, q) / C + EPS);
    if (live) {
      for (var c = lane(l); c < p.C; c += teamSize(l)) {
        var y = ((inp[base + c] - x0) - meanD) * rs * weight[c];
        if (HAS_BIAS) { y += bias[c]; }
        out[base + c] = y;
      }
      if (lane(l) == 0u) {
        mean[row] = x0 + meanD;
        rstd[row] = rs;
      }
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
    var x0 = vec4<f32>(0.0);
    var s = vec4<f32>(0.0);
    if (live) {
      x0 = vec4<f32>(inp4[base].x);
      for (var c = lane(l); c < C4; c += teamSize(l)) { s += inp4[base + c] - x0; }
    }
    let meanD = teamSum(l, (s.x + s.y) + (s.z + s.w)) / C;      // mean - x0
    var q = vec4<f32>(0.0);
    if (live) {
      for (var c = lane(l); c < C4; c += teamSize(l)) {
        let d = (inp4[base + c] - x0) - meanD;
        q += d * d;
      }
    }
    let rs = inverseSqrt(teamSum(l, (q.x + q.y) + (q.z + q.w)) / C + EPS);
    if (live) {
      for (var c = lane(l); c < C4; c += teamSize(l)) {
        var y = ((inp4[base + c] - x0) - meanD) * rs * weight4[c];
        if (HAS_BIAS) { y += bias4[c]; }
        out4[base + c] = y;
      }
      if (lane(l) == 0u) {
        mean[row] = x0.x + meanD;
        rstd[row] = rs;
      }
    }
  }
}

// ---- CPU adapters: one invocation per row ----

const SERIAL_WG = 64u;

// Sum over c of (inp[base + c] - x0 - sub)^pow (pow 1 or 2), in nested blocks of 8 and 64.
fn serialRowSum(base: u32, x0: f32, sub: f32, squared: bool) -> f32 {
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

@compute @workgroup_size(SERIAL_WG)
fn serial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.y * nwg.x * SERIAL_WG + gid.x;
  if (row >= p.N) { return; }
  let base = row * p.C;
  let C = f32(p.C);

  let x0 = inp[base];
  let meanD = serialRowSum(base, x0, 0.0, false) / C;           // mean - x0
  let rs = inverseSqrt(serialRowSum(base, x0, meanD, true) / C + EPS);

  for (var c = 0u; c < p.C; c++) {
    var y = ((inp[base + c] - x0) - meanD) * rs * weight[c];
    if (HAS_BIAS) { y += bias[c]; }
    out[base + c] = y;
  }
  mean[row] = x0 + meanD;
  rstd[row] = rs;
}
