// LayerNorm backward, weight and bias gradients: column sums over the rows.
//
//   dweight[c] += sum_n dout[n, c] * (inp[n, c] - mean[n]) * rstd[n]
//   dbias[c]   += sum_n dout[n, c]                       (when HAS_BIAS)
//
// One workgroup owns COLS = 8 adjacent channels; its 256 invocations are 32
// lanes x 8 channels. Lane l sums rows l, l + 32, ... of its channel; the 32
// partial sums meet in a fixed tree in workgroup memory. Deterministic, one
// writer per gradient element, no atomics.
//
// Dispatch: ceil(C / 8) workgroups, folded into (x, y) past 65535.
// Bindings: 0 params {N, C}, 1 dweight (C) (read_write), 2 dbias (C) (read_write;
// written only when HAS_BIAS), 3 dout (N, C), 4 inp (N, C), 5 mean (N), 6 rstd (N).
// Needs: 256 invocations per workgroup, 2 KiB workgroup memory.

override HAS_BIAS: bool = true;

struct Params { N: u32, C: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(2) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read> inp: array<f32>;
@group(0) @binding(5) var<storage, read> mean: array<f32>;
@group(0) @binding(6) var<storage, read> rstd: array<f32>;

const COLS = 8u;
const LANES = 32u;

var<workgroup> partial: array<vec2<f32>, 256>;    // [LANES][COLS]

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let col = li % COLS;
  let lane = li / COLS;
  let c = (wg.y * nwg.x + wg.x) * COLS + col;
  var acc = vec2<f32>(0.0);                   // (dweight, dbias)
  if (c < p.C) {
    for (var n = lane; n < p.N; n += LANES) {
      let g = dout[n * p.C + c];
      acc += vec2<f32>(g * (inp[n * p.C + c] - mean[n]) * rstd[n], g);
    }
  }
  partial[li] = acc;
  workgroupBarrier();
  for (var s = LANES / 2u; s > 0u; s >>= 1u) {
    if (lane < s) { partial[li] += partial[li + s * COLS]; }
    workgroupBarrier();
  }
  if (lane == 0u && c < p.C) {
    let total = partial[col];
    dweight[c] += total.x;
    if (HAS_BIAS) { dbias[c] += total.y; }
  }
}
