// Row teams, subgroup variant (included before a row kernel's code when the
// device has the 'subgroups' feature).
//
// Same interface as shaders/row_reduce_workgroup.wgsl, with a team being one
// subgroup (32 lanes on NVIDIA, 32 or 64 on AMD, 8 to 32 on Intel, 4 on
// SwiftShader): a row's partial sums are combined by subgroupAdd / subgroupMax
// in registers, with no workgroup memory and no barriers. A row kernel loops
// its rows over teamCount(l) = num_subgroups teams, so any subgroup size
// works. Subgroup reductions add in an order fixed by the hardware: results
// repeat bit for bit on one device.

enable subgroups;
// The row loops step by num_subgroups, the same for every invocation of a
// workgroup, so team reductions run in uniform control flow; the analysis
// cannot see that num_subgroups is uniform.
diagnostic(off, subgroup_uniformity);

const TEAM_WG = 256u;

struct Lanes {
  @builtin(subgroup_invocation_id) sid: u32,
  @builtin(subgroup_size) sg: u32,
  @builtin(subgroup_id) sgid: u32,
  @builtin(num_subgroups) nsg: u32,
}

fn lane(l: Lanes) -> u32 { return l.sid; }
fn team(l: Lanes) -> u32 { return l.sgid; }
fn teamSize(l: Lanes) -> u32 { return l.sg; }
fn teamCount(l: Lanes) -> u32 { return l.nsg; }

fn teamSum(l: Lanes, x: f32) -> f32 { return subgroupAdd(x); }
fn teamSum4(l: Lanes, x: vec4<f32>) -> vec4<f32> { return subgroupAdd(x); }
fn teamMax(l: Lanes, x: f32) -> f32 { return subgroupMax(x); }

