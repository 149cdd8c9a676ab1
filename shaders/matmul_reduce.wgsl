// Split-K reduction: sums the K-slice partial products of matmul.wgsl (SPLIT)
// in a fixed order and applies the epilogue.
//
//   C[i] = sum_{s < S} partial[s][i] (+ bias[i % N]) (+ residual[i]) (+ C[i], with ACCUMULATE)
//   for i < M * N; partial is (S, M, N), C and residual (M, N), bias (N).
//
// One invocation per element of C: it reads its S partials one after another
// (slice s at s * M * N + i), so each read of a warp is 32 consecutive floats
// and the sum's order is the same on every run (deterministic, no atomics).
// The pass moves (S + 2) * M * N floats, small next to the product it finishes.
//
// With BIAS_GRAD (a weight gradient dW = dY^T X whose Linear has a bias) the
// same dispatch also finishes the bias gradient from the per-slice row sums of
// op(A) = dY^T that matmul.wgsl (BIAS_SUM) left after the partial products,
// S rows of NBias at partial[PB + s * BS ..]:
//
//   dbias[j] += sum_{s < S} partial[PB + s * BS + j]        j < NBias, in slice order
//
// on NBias / 256 extra workgroups after the mainWG that reduce C: the bias
// gradient costs no dispatch of its own.
//
// Dispatch: grid(mainWG (+ ceil(NBias / 256) with BIAS_GRAD)) workgroups of
// 256, mainWG = ceil(M * N / 256), linearised as wg.y * num_workgroups.x +
// wg.x and bounds-checked.
// Bindings: 0 params {MN, N, S, mainWG, NBias, PB, BS}; 1 c (read_write); 2 partial (read);
// 3 bias (read only with HAS_BIAS); 4 residual (read only with HAS_RESIDUAL);
// 5 dbias (read_write, used only with BIAS_GRAD).

override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACCUMULATE: bool = false;
override BIAS_GRAD: bool = false;

struct Params { MN: u32, N: u32, S: u32, mainWG: u32, NBias: u32, PB: u32, BS: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
@group(0) @binding(2) var<storage, read> partial: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbias: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let g = wg.y * nwg.x + wg.x;
  if (BIAS_GRAD && g >= p.mainWG) {
    let j = (g - p.mainWG) * 256u + li;
    if (j >= p.NBias) { return; }
    var acc = 0.0;
    for (var s = 0u; s < p.S; s++) { acc += partial[p.PB + s * p.BS + j]; }
    dbias[j] += acc;
    return;
  }
  let i = g * 256u + li;
  if (i >= p.MN) { return; }
  var x = 0.0;
  for (var s = 0u; s < p.S; s++) { x += partial[s * p.MN + i]; }
  if (HAS_BIAS) { x += bias[i % p.N]; }
  if (HAS_RESIDUAL) { x += residual[i]; }
  if (ACCUMULATE) { x += c[i]; }
  c[i] = x;
}
