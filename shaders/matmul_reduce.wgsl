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
// Dispatch: grid(ceil(M * N / 256)) workgroups of 256, linearised as
// wg.y * num_workgroups.x + wg.x and bounds-checked.
// Bindings: 0 params {MN, N, S}; 1 c (read_write); 2 partial (read);
// 3 bias (read only with HAS_BIAS); 4 residual (read only with HAS_RESIDUAL).

override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACCUMULATE: bool = false;

struct Params { MN: u32, N: u32, S: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
@group(0) @binding(2) var<storage, read> partial: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * nwg.x + wg.x) * 256u + li;
  if (i >= p.MN) { return; }
  var x = 0.0;
  for (var s = 0u; s < p.S; s++) { x += partial[s * p.MN + i]; }
  if (HAS_BIAS) { x += bias[i % p.N]; }
  if (HAS_RESIDUAL) { x += residual[i]; }
  if (ACCUMULATE) { x += c[i]; }
  c[i] = x;
}
