// LayerNorm backward, weight and bias gradients: column sums over the rows,
// as a two-stage deterministic reduction (no atomics, one writer per element).
//
//   dweight[c] += sum_n dout[n, c] * (inp[n, c] - mean[n]) * rstd[n]
//   dbias[c]   += sum_n dout[n, c]                       (when HAS_BIAS)
//
// Entry point `partials` (stage 1): the N rows are cut into NB blocks of RB
// rows; one invocation per (block, channel) sums its block's rows in order
// and writes the two partial sums to scratch. 64 channels per workgroup,
// neighbouring invocations reading neighbouring channels of a row
// (coalesced); no workgroup memory, no barriers. The wrapper picks NB so the
// grid has about 192 workgroups (C = 192, N = 4096: 3 x 64).
//   Dispatch: (ceil(C / 64), NB).
// Entry point `reduce` (stage 2): one invocation per channel adds the NB
// partials in block order (a fixed order: deterministic) and adds the sums
// into dweight and dbias, as gradients accumulate. It reads only 2 * NB * C
// floats, a small fraction of stage 1's traffic.
//   Dispatch: ceil(C / 64) workgroups.
//
// Scratch layout (2, NB, C): dweight partials, then dbias partials.
// Bindings, `partials`: 0 params {N, C, RB, NB}, 1 scratch (2 * NB * C) (read_write),
// 2 dout (N, C), 3 inp (N, C), 4 mean (N), 5 rstd (N).
// Bindings, `reduce`: 0 params, 1 dweight (C) (read_write), 2 dbias (C)
// (read_write; written only when HAS_BIAS), 3 scratch (2 * NB * C).
// Needs: 64 invocations per workgroup, no workgroup memory.

override HAS_BIAS: bool = true;

struct Params { N: u32, C: u32, RB: u32, NB: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> partial: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;
@group(0) @binding(4) var<storage, read> mean: array<f32>;
@group(0) @binding(5) var<storage, read> rstd: array<f32>;

@group(0) @binding(1) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(2) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(3) var<storage, read> partialIn: array<f32>;

const WG = 64u;

@compute @workgroup_size(WG)
fn partials(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let c = wg.x * WG + li;
  let b = wg.y;
  if (c >= p.C || b >= p.NB) { return; }
  var acc = vec2<f32>(0.0);                   // (dweight, dbias)
  let end = min((b + 1u) * p.RB, p.N);
  for (var n = b * p.RB; n < end; n++) {
    let g = dout[n * p.C + c];
    acc += vec2<f32>(g * (inp[n * p.C + c] - mean[n]) * rstd[n], g);
  }
  partial[b * p.C + c] = acc.x;
  if (HAS_BIAS) { partial[(p.NB + b) * p.C + c] = acc.y; }
}

@compute @workgroup_size(WG)
fn reduce(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let c = wg.x * WG + li;
  if (c >= p.C) { return; }
  var acc = vec2<f32>(0.0);
  for (var b = 0u; b < p.NB; b++) {
    acc.x += partialIn[b * p.C + c];
    if (HAS_BIAS) { acc.y += partialIn[(p.NB + b) * p.C + c]; }
  }
  dweight[c] += acc.x;
  if (HAS_BIAS) { dbias[c] += acc.y; }
}
