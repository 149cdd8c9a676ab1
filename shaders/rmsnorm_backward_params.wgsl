// RMSNorm backward, weight gradient: column sums over the rows, as a
// two-stage deterministic reduction (no atomics, one writer per element), the
// same shape as layernorm_backward_params.wgsl.
//
//   dweight[c] += sum_n dout[n, c] * inp[n, c] * rstd[n]
//
// Entry point `partials` (stage 1): the N rows are cut into NB blocks of RB
// rows; one invocation per (block, channel) sums its block's rows in order and
// writes the partial sum to scratch. 64 channels per workgroup, neighbouring
// invocations reading neighbouring channels of a row (coalesced); no
// workgroup memory, no barriers. The wrapper picks NB so the grid has about
// 192 workgroups.
//   Dispatch: (ceil(C / 64), NB).
// Entry point `reduce` (stage 2): one invocation per channel adds the NB
// partials in block order (a fixed order: deterministic) and adds the sum
// into dweight, as gradients accumulate.
//   Dispatch: ceil(C / 64) workgroups.
//
// Scratch layout (NB, C).
// Bindings, `partials`: 0 params {N, C, RB, NB}, 1 scratch (NB * C) (read_write),
// 2 dout (N, C), 3 inp (N, C), 4 rstd (N).
// Bindings, `reduce`: 0 params, 1 dweight (C) (read_write), 2 scratch (NB * C).

struct Params { N: u32, C: u32, RB: u32, NB: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> partial: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;

@group(0) @binding(1) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(2) var<storage, read> partialIn: array<f32>;

const WG = 64u;

@compute @workgroup_size(WG)
fn partials(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let c = wg.x * WG + li;
  let b = wg.y;
  if (c >= p.C || b >= p.NB) { return; }
  var acc = 0.0;
  let end = min((b + 1u) * p.RB, p.N);
  for (var n = b * p.RB; n < end; n++) { acc += dout[n * p.C + c] * inp[n * p.C + c] * rstd[n]; }
  partial[b * p.C + c] = acc;
}

@compute @workgroup_size(WG)
fn reduce(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let c = wg.x * WG + li;
  if (c >= p.C) { return; }
  var acc = 0.0;
  for (var b = 0u; b < p.NB; b++) { acc += partialIn[b * p.C + c]; }
  dweight[c] += acc;
}
