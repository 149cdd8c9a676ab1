// Softmax cross-entropy over the vocabulary.
//
//   forward:  losses[r] = (max_r - logits[r, target_r]) + log(sum_i exp(logits[r, i] - max_r))
//   backward: dlogits[r, i] = (softmax(logits[r])[i] - [i == target_r]) / BT   (mean loss; overwrite)
//
// Max-subtracted, so logits up to +-1e4 (and beyond) give finite losses and
// gradients.
//
// GPU entry point lossTeams does both in one pass over a row's logits (a
// training step's loss and its gradient, the row statistics computed once),
// writing losses (binding 1) and dlogits (binding 4); forwardTeams and
// backwardTeams do one each.
// GPU entry points forwardTeams / backwardTeams / lossTeams (any V): a team per row
//   (row_reduce_*.wgsl: 32 lanes with a workgroup-memory tree, or one
//   subgroup), 8 rows per 256-invocation workgroup. Lanes stride over the
//   row's logits (coalesced); max and sum of exponentials are team reductions.
//   512 workgroups at BT = 4096 rows.
//   Dispatch: ceil(BT / 8) workgroups, folded into (x, y) past 65535.
// CPU entry points (for CPU adapters, where barriers are dear), picked by the
// wrapper from V:
//   forwardRows / backwardRows (short rows, V up to 4096): one invocation per
//     row, 64 rows per workgroup, no workgroup memory and no barriers.
//     Dispatch: ceil(BT / 64) workgroups, folded.
//   forward / backward (long rows): one workgroup of WG (64 or 256) invocations
//     per row striding over its V logits; max and sum are tree-reduced in
//     workgroup memory (log2(WG) barriers each). Dispatch: BT workgroups, folded.
// Folding: (min(n, 65535), ceil(n / 65535)); index = wg.x + wg.y * num_workgroups.x.
// Bindings: 0 params {BT, V}, 1 losses (BT) or dlogits (BT,V), 2 logits (BT,V), 3 targets (BT) i32 in [0, V),
// 4 dlogits (BT, V) (read_write; lossTeams only, which writes losses at 1).

override WG: u32 = 256u;      // invocations per row in the wide variants (a power of two)
const ROWS_WG = 64u;          // rows per workgroup in the rows variants

struct Params { BT: u32, V: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;

var<workgroup> red: array<f32, WG>;

fn targetOf(row: u32) -> u32 {
  return u32(clamp(targets[row], 0, i32(p.V) - 1));
}

// ---- one invocation per row ----

// (max, sum of exp(x - max)) of the row starting at base.
fn serialStats(base: u32) -> vec2<f32> {
  var m = -3.0e38;
  for (var i = 0u; i < p.V; i++) { m = max(m, logits[base + i]); }
  var s = 0.0;
  for (var i = 0u; i < p.V; i++) { s += exp(logits[base + i] - m); }
  return vec2<f32>(m, s);
}

@compute @workgroup_size(ROWS_WG)
fn forwardRows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * ROWS_WG;
  if (row >= p.BT) { return; }
  let base = row * p.V;
  let stats = serialStats(base);
  dst[row] = (stats.x - logits[base + targetOf(row)]) + log(stats.y);
}

@compute @workgroup_size(ROWS_WG)
fn backwardRows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * ROWS_WG;
  if (row >= p.BT) { return; }
  let base = row * p.V;
  let stats = serialStats(base);
  let inv = 1.0 / stats.y;
  let dloss = 1.0 / f32(p.BT);
  let tgt = targetOf(row);
  for (var i = 0u; i < p.V; i++) {
    var g = exp(logits[base + i] - stats.x) * inv;
    if (i == tgt) { g -= 1.0; }
    dst[base + i] = g * dloss;
  }
}

// ---- one workgroup per row ----

fn reduceMax(x: f32, li: u32) -> f32 {
  red[li] = x;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (li < s) { red[li] = max(red[li], red[li + s]); }
  }
  workgroupBarrier();
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduceSum(x: f32, li: u32) -> f32 {
  red[li] = x;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (li < s) { red[li] += red[li + s]; }
  }
  workgroupBarrier();
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn wideStats(base: u32, li: u32) -> vec2<f32> {
  var m = -3.0e38;
  for (var i = li; i < p.V; i += WG) { m = max(m, logits[base + i]); }
  m = reduceMax(m, li);
  var s = 0.0;
  for (var i = li; i < p.V; i += WG) { s += exp(logits[base + i] - m); }
  return vec2<f32>(m, reduceSum(s, li));
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let row = wg.x + wg.y * nwg.x;
  if (row >= p.BT) { return; }              // uniform across the workgroup
  let base = row * p.V;
  let stats = wideStats(base, li);
  if (li == 0u) {
    dst[row] = (stats.x - logits[base + targetOf(row)]) + log(stats.y);
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let row = wg.x + wg.y * nwg.x;
  if (row >= p.BT) { return; }
  let base = row * p.V;
  let stats = wideStats(base, li);
  let inv = 1.0 / stats.y;
  let dloss = 1.0 / f32(p.BT);
  let tgt = targetOf(row);
  for (var i = li; i < p.V; i += WG) {
    var g = exp(logits[base + i] - stats.x) * inv;
    if (i == tgt) { g -= 1.0; }
    dst[base + i] = g * dloss;
  }
}

// ---- a team per row ----

const TEAM_ROWS = 8u;         // rows per workgroup in the team variants

// (max, sum of exp(x - max)) of a row, over the team; every invocation of the workgroup calls it.
fn teamStats(l: Lanes, base: u32, live: bool) -> vec2<f32> {
  var m = -3.0e38;
  if (live) {
    for (var i = lane(l); i < p.V; i += teamSize(l)) { m = max(m, logits[base + i]); }
  }
  m = teamMax(l, m);
  var s = 0.0;
  if (live) {
    for (var i = lane(l); i < p.V; i += teamSize(l)) { s += exp(logits[base + i] - m); }
  }
  return vec2<f32>(m, teamSum(l, s));
}

@compute @workgroup_size(TEAM_WG)
fn forwardTeams(l: Lanes, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var k = 0u; k < TEAM_ROWS; k += teamCount(l)) {
    let row = (wg.x + wg.y * nwg.x) * TEAM_ROWS + k + team(l);
    let live = k + team(l) < TEAM_ROWS && row < p.BT;
    let base = row * p.V;
    let stats = teamStats(l, base, live);
    if (live && lane(l) == 0u) {
      dst[row] = (stats.x - logits[base + targetOf(row)]) + log(stats.y);
    }
  }
}

@compute @workgroup_size(TEAM_WG)
fn backwardTeams(l: Lanes, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var k = 0u; k < TEAM_ROWS; k += teamCount(l)) {
    let row = (wg.x + wg.y * nwg.x) * TEAM_ROWS + k + team(l);
    let live = k + team(l) < TEAM_ROWS && row < p.BT;
    let base = row * p.V;
    let stats = teamStats(l, base, live);
    if (live) {
      let inv = 1.0 / stats.y;
      let dloss = 1.0 / f32(p.BT);
      let tgt = targetOf(row);
      for (var i = lane(l); i < p.V; i += teamSize(l)) {
        var g = exp(logits[base + i] - stats.x) * inv;
        if (i == tgt) { g -= 1.0; }
        dst[base + i] = g * dloss;
      }
    }
  }
}

@compute @workgroup_size(TEAM_WG)
fn lossTeams(l: Lanes, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var k = 0u; k < TEAM_ROWS; k += teamCount(l)) {
    let row = (wg.x + wg.y * nwg.x) * TEAM_ROWS + k + team(l);
    let live = k + team(l) < TEAM_ROWS && row < p.BT;
    let base = row * p.V;
    let stats = teamStats(l, base, live);
    if (live) {
      let tgt = targetOf(row);
      if (lane(l) == 0u) { dst[row] = (stats.x - logits[base + tgt]) + log(stats.y); }
      let inv = 1.0 / stats.y;
      let dloss = 1.0 / f32(p.BT);
      for (var i = lane(l); i < p.V; i += teamSize(l)) {
        var g = exp(logits[base + i] - stats.x) * inv;
        if (i == tgt) { g -= 1.0; }
        dlogits[base + i] = g * dloss;
      }
    }
  }
}
