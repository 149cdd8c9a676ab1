// Matrix-vector product for a single row (M = 1, the key/value-cache decoder).
//
//   y[N] = x[K] * op(B)[K, N] (+ bias[N]) (+ residual[N]) (+ y, with ACCUMULATE)
//
//   op(B) = B stored (K, N) row-major, or with TRANS_B the matrix stored (N, K)
//           (a PyTorch Linear weight (out, in): y = x W^T + b).
//
// Work mapping. A workgroup of 256 invocations computes COLS outputs; the other
// factor, LANES = 256 / COLS, splits K: lane l of column n sums k = l, l + LANES,
// ... and the LANES partial sums are added by a tree in workgroup memory
// (log2(LANES) steps, fixed order: deterministic). The invocation index maps to
// (column, lane) so that a warp reads consecutive addresses of B: with TRANS_B a
// weight row is contiguous in k, so lanes are the fast index (COLS = 4,
// LANES = 64); without it B is contiguous in n, so columns are (COLS = 64,
// LANES = 4). Every element of B is read once, by one invocation: the kernel is
// bound by reading B, which is what a decode step on a GPU is.
//
// Dispatch: grid(ceil(N / COLS)) workgroups of 256, linearised as
// wg.y * num_workgroups.x + wg.x and bounds-checked.
// Bindings: 0 params {N, K}; 1 y (read_write); 2 x (K); 3 B; 4 bias (N; read only
// with HAS_BIAS); 5 residual (N; read only with HAS_RESIDUAL).

override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACCUMULATE: bool = false;
/** Output columns per workgroup (a power of two dividing 256). */
override COLS: u32 = 4u;
override LANES: u32 = 256u / COLS;

struct Params { N: u32, K: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> residual: array<f32>;

var<workgroup> partial: array<f32, 256>;   // [COLS][LANES]

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  var col: u32;
  var lane: u32;
  if (TRANS_B) { col = li / LANES; lane = li % LANES; } else { col = li % COLS; lane = li / COLS; }
  let n = (wg.y * nwg.x + wg.x) * COLS + col;
  var sum = 0.0;
  if (n < p.N) {
    for (var k = lane; k < p.K; k += LANES) {
      var w: f32;
      if (TRANS_B) { w = b[n * p.K + k]; } else { w = b[k * p.N + n]; }
      sum = fma(x[k], w, sum);
    }
  }
  partial[col * LANES + lane] = sum;
  for (var stride = LANES / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (lane < stride) { partial[col * LANES + lane] += partial[col * LANES + lane + stride]; }
  }
  if (lane == 0u && n < p.N) {
    var out = partial[col * LANES];
    if (HAS_BIAS) { out += bias[n]; }
    if (HAS_RESIDUAL) { out += residual[n]; }
    if (ACCUMULATE) { out += y[n]; }
    y[n] = out;
  }
}
