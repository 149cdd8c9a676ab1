// Matrix multiply for thin products on CPU adapters (SwiftShader), chosen by
// src/kernels/matmul.ts when gpu.kernels is 'cpu' and the product has a side
// of at most 16 (M, N or K): LoRA's adapter products with rank r, where the
// 64 x 64 tiles of matmul_cpu.wgsl would compute up to 64 / r times the work.
//
//   C[M, N] (+)= op(A)[M, K] * op(B)[K, N] (+ bias[N]) (+ residual[M, N])
//
// One invocation computes 4 consecutive columns n..n+3 of one row m: a dot
// product over the whole K, read straight from storage. No workgroup memory
// and no barriers (on a CPU implementation a long serial loop is cheap and a
// barrier is not); every output is written once by one invocation.
//
// Dispatch: 64-invocation workgroups over M * ceil(N / 4) invocations,
// flattened as wg.y * num_workgroups.x + wg.x.
// Bindings: 0 params {M, N, K, epilogue}, 1 C (read_write), 2 A, 3 B, 4 bias (N; read
// only with the bias bit), 5 residual (M, N; read only with the residual bit; not C).

override TRANS_A: bool = false;
override TRANS_B: bool = false;

// The epilogue is chosen at run time (p.epilogue: 1 bias, 2 residual, 4 accumulate), not by
// override constants: on a CPU adapter every pipeline costs seconds of compiling, and a
// uniform test per stored element costs nothing beside the K loop.
struct Params { M: u32, N: u32, K: u32, epilogue: u32 }

const HAS_BIAS_BIT = 1u;
const HAS_RESIDUAL_BIT = 2u;
const ACCUMULATE_BIT = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> residual: array<f32>;

fn loadB(k: u32, n: u32) -> f32 {
  if (n >= p.N) { return 0.0; }
  if (TRANS_B) { return b[n * p.K + k]; }
  return b[k * p.N + n];
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let nq = (p.N + 3u) / 4u;
  let idx = (wg.y * nwg.x + wg.x) * 64u + li;
  if (idx >= p.M * nq) { return; }
  let m = idx / nq;
  let n0 = (idx % nq) * 4u;
  var acc = vec4<f32>(0.0);
  for (var k = 0u; k < p.K; k++) {
    var av: f32;
    if (TRANS_A) { av = a[k * p.M + m]; } else { av = a[m * p.K + k]; }
    acc = fma(vec4<f32>(av), vec4<f32>(loadB(k, n0), loadB(k, n0 + 1u), loadB(k, n0 + 2u), loadB(k, n0 + 3u)), acc);
  }
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + j;
    if (n >= p.N) { return; }
    var x = acc[j];
    if ((p.epilogue & HAS_BIAS_BIT) != 0u) { x += bias[n]; }
    let o = m * p.N + n;
    if ((p.epilogue & HAS_RESIDUAL_BIT) != 0u) { x += residual[o]; }
    if ((p.epilogue & ACCUMULATE_BIT) != 0u) { x += c[o]; }
    c[o] = x;
  }
}
