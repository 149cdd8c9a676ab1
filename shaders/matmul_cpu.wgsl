// Tiled matrix multiply with register blocking: the variant for CPU adapters
// (SwiftShader), chosen by src/kernels/matmul.ts when gpu.kernels is 'cpu'.
// Real GPUs get shaders/matmul.wgsl (256-invocation workgroups, vec4 global
// loads, split-K); on a CPU implementation, where every barrier switches
// between all invocations of a workgroup, this 64-invocation kernel with one
// pass per product is the faster shape.
//
//   C[M, N] (+)= op(A)[M, K] * op(B)[K, N] (+ bias[N]) (+ residual[M, N])
//
//   op(A) = A stored (M, K) row-major, or with TRANS_A the matrix stored (K, M).
//   op(B) = B stored (K, N) row-major, or with TRANS_B the matrix stored (N, K)
//           (a PyTorch Linear weight (out, in) is used this way: y = x W^T + b).
//
// One workgroup (8 x 8 invocations) computes a 64 x 64 tile of C; one
// invocation computes an 8 x 8 block of it: rows {ty*4 + i, 32 + ty*4 + i} and
// columns {tx*4 + j, 32 + tx*4 + j} for i, j < 4, so neighbouring invocations
// read neighbouring vec4s of the staged tiles (no bank conflicts) and every
// value read from workgroup memory feeds 8 multiply-adds. The K loop stages
// 16-deep slices of A and B in workgroup memory (8 KiB), two barriers per slice.
// Loads and stores are bounds-checked, so any M, N, K >= 1 works.
//
// 64 accumulators per invocation keep the arithmetic per workgroup-memory read
// high, and only 64 invocations meet at each barrier.
//
// Dispatch: (ceil(N / 64), ceil(M / 64), 1).
// Bindings: 0 params {M, N, K, epilogue}, 1 C (read_write), 2 A, 3 B, 4 bias (N floats; read only with the bias bit),
//           5 residual (M, N; read only with the residual bit; a buffer other than C).
// Needs: 64 invocations per workgroup, 8 KiB workgroup memory (WebGPU defaults).

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

const BM = 64u;
const BN = 64u;
const BK = 16u;

var<workgroup> tileA: array<vec4<f32>, 256>;   // [BK][BM / 4]: op(A) slice, k-major
var<workgroup> tileB: array<vec4<f32>, 256>;   // [BK][BN / 4]: op(B) slice, k-major

fn loadA(m: u32, k: u32) -> f32 {
  if (m >= p.M || k >= p.K) { return 0.0; }
  if (TRANS_A) { return a[k * p.M + m]; }
  return a[m * p.K + k];
}

fn loadB(k: u32, n: u32) -> f32 {
  if (k >= p.K || n >= p.N) { return 0.0; }
  if (TRANS_B) { return b[n * p.K + k]; }
  return b[k * p.N + n];
}

fn store(m: u32, n0: u32, v: vec4<f32>) {
  if (m >= p.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + j;
    if (n >= p.N) { return; }
    var x = v[j];
    if ((p.epilogue & HAS_BIAS_BIT) != 0u) { x += bias[n]; }
    let o = m * p.N + n;
    if ((p.epilogue & HAS_RESIDUAL_BIT) != 0u) { x += residual[o]; }
    if ((p.epilogue & ACCUMULATE_BIT) != 0u) { x += c[o]; }
    c[o] = x;
  }
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  let tx = lid.x;
  let ty = lid.y;
  // acc[2 * r + h]: row r of the block (r < 4: ty*4 + r, else 32 + ty*4 + r - 4),
  // columns tx*4 .. +4 (h = 0) or 32 + tx*4 .. +4 (h = 1).
  var acc: array<vec4<f32>, 16>;

  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    // 64 invocations stage 16 elements of each tile. The index order follows
    // the stored layout so neighbouring invocations read neighbouring addresses.
    for (var l = 0u; l < 16u; l++) {
      let idx = l * 64u + li;
      var mm: u32; var ka: u32;
      if (TRANS_A) { ka = idx / BM; mm = idx % BM; } else { mm = idx / BK; ka = idx % BK; }
      tileA[ka * (BM / 4u) + mm / 4u][mm % 4u] = loadA(row0 + mm, k0 + ka);
      var nn: u32; var kb: u32;
      if (TRANS_B) { nn = idx / BK; kb = idx % BK; } else { kb = idx / BN; nn = idx % BN; }
      tileB[kb * (BN / 4u) + nn / 4u][nn % 4u] = loadB(k0 + kb, col0 + nn);
    }
    workgroupBarrier();
    // The last slice stops at K. (A bound known only at run time also keeps the compiler from
    // unrolling this loop 16 times: on a CPU adapter that halves the seconds a pipeline takes to build.)
    let kEnd = min(BK, p.K - k0);
    for (var k = 0u; k < kEnd; k++) {
      let a0 = tileA[k * 16u + ty];
      let a1 = tileA[k * 16u + 8u + ty];
      let b0 = tileB[k * 16u + tx];
      let b1 = tileB[k * 16u + 8u + tx];
      acc[0] += a0.x * b0;  acc[1] += a0.x * b1;
      acc[2] += a0.y * b0;  acc[3] += a0.y * b1;
      acc[4] += a0.z * b0;  acc[5] += a0.z * b1;
      acc[6] += a0.w * b0;  acc[7] += a0.w * b1;
      acc[8] += a1.x * b0;  acc[9] += a1.x * b1;
      acc[10] += a1.y * b0; acc[11] += a1.y * b1;
      acc[12] += a1.z * b0; acc[13] += a1.z * b1;
      acc[14] += a1.w * b0; acc[15] += a1.w * b1;
    }
    workgroupBarrier();
  }

  for (var r = 0u; r < 8u; r++) {
    let m = row0 + (r / 4u) * 32u + ty * 4u + r % 4u;
    store(m, col0 + tx * 4u, acc[2u * r]);
    store(m, col0 + 32u + tx * 4u, acc[2u * r + 1u]);
  }
}
