// Row teams, workgroup-memory variant (included before a row kernel's code).
//
// A row kernel runs 256 invocations per workgroup and gives each row to a
// team of invocations that stride over its channels and then combine their
// partial sums. Here a team is 32 consecutive invocations (8 teams per
// workgroup) and teams combine by a tree in workgroup memory: 5 halving steps,
// each lane adding its partner's value, in the same order every run
// (deterministic). shaders/row_reduce_subgroup.wgsl has the same interface
// over subgroups.
//
// Interface: struct Lanes (the entry point's built-ins), lane(l), team(l),
// teamSize(l), teamCount(l), teamSum(l, f32), teamSum4(l, vec4<f32>),
// teamMax(l, f32). The team functions must be called in workgroup-uniform
// control flow (every invocation of the workgroup, the same number of times).
// Workgroup memory: 1 KiB (teamSum, teamMax) and 4 KiB (teamSum4), when used.

const TEAM_WG = 256u;
const TEAM = 32u;

struct Lanes { @builtin(local_invocation_index) li: u32 }

fn lane(l: Lanes) -> u32 { return l.li % TEAM; }
fn team(l: Lanes) -> u32 { return l.li / TEAM; }
fn teamSize(l: Lanes) -> u32 { return TEAM; }
fn teamCount(l: Lanes) -> u32 { return TEAM_WG / TEAM; }

var<workgroup> teamRed: array<f32, TEAM_WG>;
var<workgroup> teamRed4: array<vec4<f32>, TEAM_WG>;

fn teamSum(l: Lanes, x: f32) -> f32 {
  teamRed[l.li] = x;
  workgroupBarrier();
  for (var s = TEAM / 2u; s > 0u; s >>= 1u) {
    if (lane(l) < s) { teamRed[l.li] += teamRed[l.li + s]; }
    workgroupBarrier();
  }
  let r = teamRed[l.li - lane(l)];
  workgroupBarrier();                        // the next call may overwrite teamRed
  return r;
}

fn teamSum4(l: Lanes, x: vec4<f32>) -> vec4<f32> {
  teamRed4[l.li] = x;
  workgroupBarrier();
  for (var s = TEAM / 2u; s > 0u; s >>= 1u) {
    if (lane(l) < s) { teamRed4[l.li] += teamRed4[l.li + s]; }
    workgroupBarrier();
  }
  let r = teamRed4[l.li - lane(l)];
  workgroupBarrier();
  return r;
}

fn teamMax(l: Lanes, x: f32) -> f32 {
  teamRed[l.li] = x;
  workgroupBarrier();
  for (var s = TEAM / 2u; s > 0u; s >>= 1u) {
    if (lane(l) < s) { teamRed[l.li] = max(teamRed[l.li], teamRed[l.li + s]); }
    workgroupBarrier();
  }
  let r = teamRed[l.li - lane(l)];
  workgroupBarrier();
  return r;
}

