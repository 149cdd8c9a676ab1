// Bias gradient: column sums of the output gradient, accumulated.
//
//   dbias[n] += sum over m of dout[m, n]        dout (M, N), dbias (N)
//
// One workgroup owns COLS = 8 adjacent columns; its 256 invocations are 32
// lanes x 8 columns. Lane l sums rows l, l + 32, l + 64, ... of its column,
// then the 32 partial sums are added by a fixed tree in workgroup memory. The
// order of additions never changes, so the result is deterministic, and each
// dbias element is written by exactly one invocation (no atomics, no races).
//
// Dispatch: ceil(N / 8) workgroups, folded into (x, y) past 65535.
// Bindings: 0 params {M, N}, 1 dbias (read_write), 2 dout.
// Needs: 256 invocations per workgroup, 1 KiB workgroup memory.

struct Params { M: u32, N: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;

const COLS = 8u;
const LANES = 32u;

var<workgroup> partial: array<f32, 256>;    // [LANES][COLS]

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let col = li % COLS;
  let lane = li / COLS;
  let n = (wg.y * nwg.x + wg.x) * COLS + col;
  var acc = 0.0;
  if (n < p.N) {
    for (var m = lane; m < p.M; m += LANES) {
      acc += dout[m * p.N + n];
    }
  }
  partial[li] = acc;
  workgroupBarrier();
  for (var s = LANES / 2u; s > 0u; s >>= 1u) {
    if (lane < s) { partial[li] += partial[li + s * COLS]; }
    workgroupBarrier();
  }
  if (lane == 0u && n < p.N) {
    dbias[n] += partial[col];
  }
}
