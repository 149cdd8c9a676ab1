// Bias gradient: column sums of the output gradient, accumulated, as a
// two-stage deterministic reduction (no atomics, one writer per element).
//
//   dbias[n] += sum over m of dout[m, n]        dout (M, N), dbias (N)
//
// Entry point `partials` (stage 1): the M rows are cut into NB blocks of RB
// rows; one invocation per (block, column) sums its block's rows in order
// into scratch. 64 columns per workgroup, neighbouring invocations reading
// neighbouring columns of a row (coalesced); no workgroup memory, no
// barriers. The wrapper picks NB so the grid has about 192 workgroups
// (N = 192, 576, 768 at M = 4096: 3 x 64, 9 x 22, 12 x 16).
//   Dispatch: (ceil(N / 64), NB).
// Entry point `reduce` (stage 2): one invocation per column adds the NB
// partials in block order (fixed: deterministic) into dbias.
//   Dispatch: ceil(N / 64) workgroups.
//
// Scratch layout (NB, N).
// Bindings, `partials`: 0 params {M, N, RB, NB}, 1 scratch (NB * N) (read_write), 2 dout (M, N).
// Bindings, `reduce`: 0 params, 1 dbias (N) (read_write), 2 scratch (NB * N).
// Needs: 64 invocations per workgroup, no workgroup memory.

struct Params { M: u32, N: u32, RB: u32, NB: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> partial: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;

@group(0) @binding(1) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(2) var<storage, read> partialIn: array<f32>;

const WG = 64u;

@compute @workgroup_size(WG)
fn partials(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let n = wg.x * WG + li;
  let b = wg.y;
  if (n >= p.N || b >= p.NB) { return; }
  var acc = 0.0;
  let end = min((b + 1u) * p.RB, p.M);
  for (var m = b * p.RB; m < end; m++) { acc += dout[m * p.N + n]; }
  partial[b * p.N + n] = acc;
}

@compute @workgroup_size(WG)
fn reduce(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let n = wg.x * WG + li;
  if (n >= p.N) { return; }
  var acc = 0.0;
  for (var b = 0u; b < p.NB; b++) { acc += partialIn[b * p.N + n]; }
  dbias[n] += acc;
}
