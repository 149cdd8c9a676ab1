// RMSNorm forward over the last dimension (LLaMA's LlamaRMSNorm), saving the
// row statistic for the backward.
//
//   rstd[n] = 1 / sqrt(sum_c inp[n, c]^2 / C + eps)
//   out[n, c] = weight[c] * inp[n, c] * rstd[n]
//
// No mean is subtracted, so there is no cancellation to guard against: the
// sum of squares is of non-negative terms.
//
// GPU entry points `main` (any C) and `main4` (C % 4 == 0, vec4 loads and
// stores): a team of invocations per row (row_reduce_*.wgsl: 32 lanes with a
// workgroup-memory tree, or one subgroup), 8 rows per 256-invocation
// workgroup. Lanes stride over the row (coalesced); the sum of squares is one
// team reduction. A row is read twice (its 4C bytes stay in cache) and written
// once; at B*T = 4096 rows that is 512 workgroups, enough to fill any GPU.
//   Dispatch: ceil(N / 8) workgroups, folded into (x, y) past 65535.
//
// CPU entry point `serial` (CPU adapters, where barriers are dear): one
// invocation per row, 64 rows per workgroup, the sum in nested blocks of 8 and
// 64 channels (rounding close to a tree's), no workgroup memory, no barriers.
//   Dispatch: ceil(N / 64) workgroups, folded into (x, y) past 65535.
//
// Bindings: 0 params {N, C, eps (f32)}, 1 out (N, C) (read_write),
// 2 rstd (N) (read_write), 3 inp (N, C), 4 weight (C).
// `main4` binds 1, 3, 4 as vec4 arrays (N, C / 4).

struct Params { N: u32, C: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(1) var<storage, read_write> out4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> inp4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> weight4: array<vec4<f32>>;

const ROWS = 8u;              // rows per workgroup in `main` / `main4`

fn rowIndex(wg: vec3<u32>, nwg: vec3<u32>) -> u32 { return (wg.y * nwg.x + wg.x) * ROWS; }

@compute @workgroup_size(TEAM_WG)
fn main(l: Lanes, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var k = 0u; k < ROWS; k += teamCount(l)) {
    let row = rowIndex(wg, nwg) + k + team(l);
    let live = k + team(l) < ROWS && row < p.N;
    let base = row * p.C;
    var q = 0.0;
    if (live) {
      for (var c = lane(l); c < p.C; c += teamSize(l)) { q += inp[base + c] * inp[base + c]; }
    }
    let rs = inverseSqrt(teamSum(l, q) / f32(p.C) + p.eps);
    if (live) {
      for (var c = lane(l); c < p.C; c += teamSize(l)) { out[base + c] = weight[c] * (inp[base + c] * rs); }
      if (lane(l) == 0u) { rstd[row] = rs; }
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
    var q = vec4<f32>(0.0);
    if (live) {
      for (var c = lane(l); c < C4; c += teamSize(l)) { q += inp4[base + c] * inp4[base + c]; }
    }
    let rs = inverseSqrt(teamSum(l, (q.x + q.y) + (q.z + q.w)) / f32(p.C) + p.eps);
    if (live) {
      for (var c = lane(l); c < C4; c += teamSize(l)) { out4[base + c] = weight4[c] * (inp4[base + c] * rs); }
      if (lane(l) == 0u) { rstd[row] = rs; }
    }
  }
}

// ---- CPU adapters: one invocation per row ----

const SERIAL_WG = 64u;

@compute @workgroup_size(SERIAL_WG)
fn serial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.y * nwg.x * SERIAL_WG + gid.x;
  if (row >= p.N) { return; }
  let base = row * p.C;
  var total = 0.0;
  for (var c2 = 0u; c2 < p.C; c2 += 64u) {
    var s2 = 0.0;
    for (var c1 = c2; c1 < min(c2 + 64u, p.C); c1 += 8u) {
      var s1 = 0.0;
      for (var c = c1; c < min(c1 + 8u, p.C); c++) { s1 += inp[base + c] * inp[base + c]; }
      s2 += s1;
    }
    total += s2;
  }
  let rs = inverseSqrt(total / f32(p.C) + p.eps);
  for (var c = 0u; c < p.C; c++) { out[base + c] = weight[c] * (inp[base + c] * rs); }
  rstd[row] = rs;
}
