// Tiled matrix multiply with register blocking.
//
//   C[M, N] (+)= op(A)[M, K] * op(B)[K, N] (+ bias[N])
//
//   op(A) = A stored (M, K) row-major, or with TRANS_A the matrix stored (K, M).
//   op(B) = B stored (K, N) row-major, or with TRANS_B the matrix stored (N, K)
//           (a PyTorch Linear weight (out, in) is used this way: y = x W^T + b).
//
// One workgroup (16 x 16 invocations) computes a 64 x 64 tile of C; one
// invocation computes a 4 x 4 block of it, accumulating over K in steps of 16
// through workgroup memory (8 KiB). Loads and stores are bounds-checked, so
// any M, N, K >= 1 works.
//
// Dispatch: (ceil(N / 64), ceil(M / 64), 1).
// Bindings: 0 params {M, N, K}, 1 C (read_write), 2 A, 3 B, 4 bias (N floats; read only when HAS_BIAS).
// Needs: 256 invocations per workgroup, 8 KiB workgroup memory (WebGPU defaults).

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false;

struct Params { M: u32, N: u32, K: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

const BM = 64u;
const BN = 64u;
const BK = 16u;

var<workgroup> tileA: array<f32, 1024>;        // [BK][BM]
var<workgroup> tileB: array<vec4<f32>, 256>;   // [BK][BN / 4]

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

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  var acc: array<vec4<f32>, 4>;
  for (var i = 0u; i < 4u; i++) { acc[i] = vec4<f32>(0.0); }

  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    // Each of the 256 invocations stages 4 elements of each tile. The index
    // order follows the stored layout so neighbouring invocations read
    // neighbouring addresses.
    for (var l = 0u; l < 4u; l++) {
      let idx = l * 256u + li;
      var mm: u32; var ka: u32;
      if (TRANS_A) { ka = idx / BM; mm = idx % BM; } else { mm = idx / BK; ka = idx % BK; }
      tileA[ka * BM + mm] = loadA(row0 + mm, k0 + ka);
      var nn: u32; var kb: u32;
      if (TRANS_B) { nn = idx / BK; kb = idx % BK; } else { kb = idx / BN; nn = idx % BN; }
      tileB[kb * (BN / 4u) + nn / 4u][nn % 4u] = loadB(k0 + kb, col0 + nn);
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      let bv = tileB[k * (BN / 4u) + lid.x];
      let base = k * BM + lid.y * 4u;
      acc[0] += tileA[base] * bv;
      acc[1] += tileA[base + 1u] * bv;
      acc[2] += tileA[base + 2u] * bv;
      acc[3] += tileA[base + 3u] * bv;
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let m = row0 + lid.y * 4u + i;
    if (m >= p.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = col0 + lid.x * 4u + j;
      if (n >= p.N) { break; }
      var v = acc[i][j];
      if (HAS_BIAS) { v += bias[n]; }
      let o = m * p.N + n;
      if (ACCUMULATE) { v += c[o]; }
      c[o] = v;
    }
  }
}
