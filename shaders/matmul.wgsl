// Tiled matrix multiply, register-blocked, with fused epilogues and split-K.
//
//   C[M, N] = op(A)[M, K] * op(B)[K, N] (+ bias[N]) (+ residual[M, N]) (+ C, with ACCUMULATE)
//   with ACT = 1:      C = relu(op(A) op(B) (+ bias))            a Linear and its ReLU (forward)
//   with ACT_GRAD > 0: C = f'(saved[M, N]) * op(A) op(B)        the next Linear's dX through the
//                      activation f (1 ReLU, 2 exact GELU); saved is f's input (GELU) or either
//                      its input or output (ReLU: both are > 0 at the same places)
//
//   op(A) = A stored (M, K) row-major, or with TRANS_A the matrix stored (K, M).
//   op(B) = B stored (K, N) row-major, or with TRANS_B the matrix stored (N, K)
//           (a PyTorch Linear weight (out, in) is used this way: y = x W^T + b).
//
// Work mapping. A workgroup of 256 invocations computes one BM x BN tile of C,
// BM = (256 / WG_N) * ROWS and BN = WG_N * 4 (override constants chosen per call
// site: 128 x 64 for wide products, 64 x 64, 128 x 32 for narrow N such as the
// lm_head's 65 columns). Invocation (tx, ty) = (li % WG_N, li / WG_N) owns
// ROWS consecutive rows ty*ROWS.. and the 4 consecutive columns tx*4..: ROWS
// vec4 accumulators in registers, each k step reading ROWS/4 + 1 vec4s from
// workgroup memory for 4*ROWS multiply-adds. The K loop stages BK = 16 deep
// slices of op(A) and op(B) in workgroup memory, k-major (tileA[k][m],
// tileB[k][n]), so the inner loop reads contiguous vec4s: B reads are 16
// consecutive vec4s per row of invocations and A reads are broadcasts.
//
// Staging. Each operand is read from global memory in vec4s along its
// contiguous dimension (VEC4_A / VEC4_B, when that dimension's length is a
// multiple of 4; otherwise the same 4 elements are read as guarded scalars).
// An operand contiguous in m or n lands in the tile as whole vec4 writes at
// consecutive addresses. An operand contiguous in k (A, or B with TRANS_B) is
// transposed on the way in: a warp's 32 invocations take 16 rows x 2 vec4s of
// k, and tile rows are padded to BM + 4 (BN + 4) floats, so the scalar writes
// (4kq + j) * (BM + 4) + r fall in bank 16kq + 4j + r (mod 32): all 32 banks
// distinct, no conflicts.
//
// Split-K. With SPLIT, workgroup z computes the partial product of the K slice
// [z * kSlice, min(K, (z + 1) * kSlice)) and writes it, without epilogue, to
// C + z * M * N (a scratch buffer); matmul_reduce.wgsl then sums the slices in
// order. This gives thin products with long K (weight gradients, K = B * T)
// enough workgroups to fill a GPU.
//
// Bias sums. With BIAS_SUM (SPLIT only: a weight gradient dW = dY^T X whose
// Linear has a bias), the workgroups of the first column tile (wg.x = 0) also
// add up the op(A) rows they stage, over their K slice: invocation li < BM / 4
// sums tileA's vec4 column li, 16 vec4 reads per K step, and writes the 4 sums
// to C + S * M * N + z * MP + row0 + 4 li (MP = M rounded up to 4, S slices).
// matmul_reduce.wgsl then adds the S sums into dbias: the column sums of dY
// without reading dY again and without a dispatch of their own.
//
// Dropout (shaders/dropout_hash.wgsl, the mask of shaders/dropout.wgsl: element i kept when
// hash(key(seed, salt), i) >= threshold, then scaled). DROP = 1, a residual branch's dropout in
// the epilogue (a Linear whose output joins the residual stream, no SPLIT):
//   C = residual + dropout(op(A) op(B) (+ bias)), the mask indexed by m * N + n;
// DROP = 2, the gradient through that dropout on the way in: every element of A is masked and
// scaled as it is loaded, indexed by its place in A's storage (the dropped tensor's own index),
// so dX and dW read d(out) itself and the bias sums see the dropped gradient.
//
// Dispatch: (ceil(N / BN), ceil(M / BM), slices); slices = 1 without SPLIT.
// Bindings: 0 params {M, N, K, kSlice, threshold, salt, scale (f32)}; 1 c, 2 c4: C as f32 / vec4 (read_write;
// the vec4 view is used when VEC4_C, i.e. N % 4 == 0, the other view is a dummy);
// 3 a, 4 a4: A as f32 / vec4 (read; vec4 view with VEC4_A); 5 b, 6 b4 likewise;
// 7 bias (N; read only with HAS_BIAS); 8 residual (M, N; read only with HAS_RESIDUAL), or saved (M, N)
// with ACT_GRAD; 9 seed (u32[1]; read only with DROP). The activation epilogues are not used with SPLIT, ACCUMULATE or HAS_RESIDUAL.
// Needs: 256 invocations per workgroup, 12.5 KiB workgroup memory (WebGPU defaults).

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override ACCUMULATE: bool = false;
override SPLIT: bool = false;
override VEC4_A: bool = false;
override VEC4_B: bool = false;
override VEC4_C: bool = false;
/** Invocations along N (16 or 8); the other 256 / WG_N run along M. */
override WG_N: u32 = 16u;
/** Rows per invocation (4 or 8). */
override ROWS: u32 = 4u;
/** Sum op(A)'s rows too (see the header); SPLIT only. */
override BIAS_SUM: bool = false;
/** 1: C = relu(product (+ bias)). */
override ACT: u32 = 0u;
/** 1 (ReLU) or 2 (GELU): C = f'(saved) * product, saved bound at binding 8. */
override ACT_GRAD: u32 = 0u;
/** 1: dropout in the epilogue, before the residual; 2: dropout on A as it is loaded (see the header). */
override DROP: u32 = 0u;

const BK = 16u;
const WG = 256u;
override BM: u32 = (WG / WG_N) * ROWS;   // 64 or 128
override BN: u32 = WG_N * 4u;            // 64 or 32
override SA: u32 = BM / 4u + 1u;         // tileA row stride in vec4s (padded)
override SB: u32 = BN / 4u + 1u;         // tileB row stride in vec4s (padded)

struct Params { M: u32, N: u32, K: u32, kSlice: u32, threshold: u32, salt: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
@group(0) @binding(2) var<storage, read_write> c4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> a: array<f32>;
@group(0) @binding(4) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> b: array<f32>;
@group(0) @binding(6) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> bias: array<f32>;
@group(0) @binding(8) var<storage, read> residual: array<f32>;
@group(0) @binding(9) var<storage, read> seed: array<u32>;

var<private> dropKey: u32;    // dropoutKey(seed, salt), with DROP

/** dropout(x) of element i: x * scale where kept, else 0. */
fn dropped(x: f32, i: u32) -> f32 {
  return select(0.0, x * p.scale, dropoutHash(dropKey, i) >= p.threshold);
}

var<workgroup> tileA: array<vec4<f32>, 528>;   // [BK][SA]: op(A) slice, k-major (BM <= 128)
var<workgroup> tileB: array<vec4<f32>, 272>;   // [BK][SB]: op(B) slice, k-major (BN <= 64)

const INV_SQRT2 = 0.70710678118654752;
const INV_SQRT_2PI = 0.39894228040143268;

/** erfc, the Numerical Recipes Chebyshev fit (as shaders/activation.wgsl). */
fn erfc(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
             t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let r = t * exp(-z * z + poly);
  return select(2.0 - r, r, x >= 0.0);
}

/** f'(x) of the activation ACT_GRAD names. */
fn activationGrad(x: f32) -> f32 {
  if (ACT_GRAD == 1u) { return select(0.0, 1.0, x > 0.0); }
  return 0.5 * erfc(-x * INV_SQRT2) + x * INV_SQRT_2PI * exp(-0.5 * x * x);
}

/** 4 consecutive elements of A (or B) from element `i`, `valid` of them in range. */
fn loadA4(i: u32, valid: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (VEC4_A) {
    if (valid >= 4u) { v = a4[i / 4u]; }
  } else {
    for (var j = 0u; j < 4u; j++) { if (j < valid) { v[j] = a[i + j]; } }
  }
  if (DROP == 2u) {
    for (var j = 0u; j < 4u; j++) { v[j] = dropped(v[j], i + j); }
  }
  return v;
}

fn loadB4(i: u32, valid: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (VEC4_B) {
    if (valid >= 4u) { v = b4[i / 4u]; }
    return v;
  }
  for (var j = 0u; j < 4u; j++) { if (j < valid) { v[j] = b[i + j]; } }
  return v;
}

/** How many of x, x+1, x+2, x+3 are below end. */
fn inRange(x: u32, end: u32) -> u32 {
  return select(min(end - x, 4u), 0u, x >= end);
}

/** Stage vec4 slot `s` (of 4 * BM) of the op(A) slice [row0, +BM) x [k0, +BK). */
fn stageA(s: u32, row0: u32, k0: u32, kEnd: u32) {
  if (TRANS_A) {
    // A (K, M): m contiguous; slot s = (k, mq), consecutive slots consecutive in m.
    let mq = s % (BM / 4u);
    let k = s / (BM / 4u);
    let m = row0 + 4u * mq;
    var v = vec4<f32>(0.0);
    if (k0 + k < kEnd) { v = loadA4((k0 + k) * p.M + m, inRange(m, p.M)); }
    tileA[k * SA + mq] = v;
  } else {
    // A (M, K): k contiguous; a warp takes 16 rows x 2 vec4s of k (see header).
    let lane = s % 32u;
    let g = s / 32u;
    let r = (g % (BM / 16u)) * 16u + lane % 16u;
    let kq = (g / (BM / 16u)) * 2u + lane / 16u;
    let m = row0 + r;
    var v = vec4<f32>(0.0);
    if (m < p.M) { v = loadA4(m * p.K + k0 + 4u * kq, inRange(k0 + 4u * kq, kEnd)); }
    for (var j = 0u; j < 4u; j++) { tileA[(4u * kq + j) * SA + r / 4u][r % 4u] = v[j]; }
  }
}

/** Stage vec4 slot `s` (of 4 * BN) of the op(B) slice [k0, +BK) x [col0, +BN). */
fn stageB(s: u32, col0: u32, k0: u32, kEnd: u32) {
  if (TRANS_B) {
    // B (N, K): k contiguous, transposed like A above.
    let lane = s % 32u;
    let g = s / 32u;
    let r = (g % (BN / 16u)) * 16u + lane % 16u;
    let kq = (g / (BN / 16u)) * 2u + lane / 16u;
    let n = col0 + r;
    var v = vec4<f32>(0.0);
    if (n < p.N) { v = loadB4(n * p.K + k0 + 4u * kq, inRange(k0 + 4u * kq, kEnd)); }
    for (var j = 0u; j < 4u; j++) { tileB[(4u * kq + j) * SB + r / 4u][r % 4u] = v[j]; }
  } else {
    // B (K, N): n contiguous.
    let nq = s % (BN / 4u);
    let k = s / (BN / 4u);
    let n = col0 + 4u * nq;
    var v = vec4<f32>(0.0);
    if (k0 + k < kEnd) { v = loadB4((k0 + k) * p.N + n, inRange(n, p.N)); }
    tileB[k * SB + nq] = v;
  }
}

/** Write 4 results at row m, columns n.. (o = m * N + n, plus the slice offset under SPLIT). */
fn store(m: u32, n: u32, o: u32, acc: vec4<f32>) {
  if (m >= p.M || n >= p.N) { return; }
  var x = acc;
  let valid = inRange(n, p.N);
  if (!SPLIT) {
    for (var j = 0u; j < 4u; j++) {
      if (j < valid) {
        if (HAS_BIAS) { x[j] += bias[n + j]; }
        if (DROP == 1u) { x[j] = dropped(x[j], o + j); }
        if (HAS_RESIDUAL) { x[j] += residual[o + j]; }
        if (ACT == 1u) { x[j] = max(x[j], 0.0); }
        if (ACT_GRAD != 0u) { x[j] *= activationGrad(residual[o + j]); }
      }
    }
  }
  if (VEC4_C) {
    // N % 4 == 0: the 4 columns are all in range and o is a multiple of 4.
    if (ACCUMULATE && !SPLIT) { x += c4[o / 4u]; }
    c4[o / 4u] = x;
    return;
  }
  for (var j = 0u; j < 4u; j++) {
    if (j < valid) {
      if (ACCUMULATE && !SPLIT) { x[j] += c[o + j]; }
      c[o + j] = x[j];
    }
  }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  if (DROP != 0u) { dropKey = dropoutKey(seed[0], p.salt); }
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  let tx = li % WG_N;
  let ty = li / WG_N;
  let kBegin = wg.z * p.kSlice;
  let kEnd = min(p.K, kBegin + p.kSlice);
  var acc: array<vec4<f32>, 8>;   // rows ty*ROWS + r (r < ROWS), columns tx*4 .. +4
  let sums = BIAS_SUM && wg.x == 0u && li < BM / 4u;
  var bsum = vec4<f32>(0.0);      // with sums: op(A) rows row0 + 4 li .. +4 summed over the slice

  for (var k0 = kBegin; k0 < kEnd; k0 += BK) {
    for (var s = li; s < 4u * BM; s += WG) { stageA(s, row0, k0, kEnd); }
    for (var s = li; s < 4u * BN; s += WG) { stageB(s, col0, k0, kEnd); }
    workgroupBarrier();
    if (sums) {
      for (var k = 0u; k < BK; k++) { bsum += tileA[k * SA + li]; }
    }
    for (var k = 0u; k < BK; k++) {
      let bv = tileB[k * SB + tx];
      for (var q = 0u; q < ROWS / 4u; q++) {
        let av = tileA[k * SA + ty * (ROWS / 4u) + q];
        acc[4u * q] = fma(vec4<f32>(av.x), bv, acc[4u * q]);
        acc[4u * q + 1u] = fma(vec4<f32>(av.y), bv, acc[4u * q + 1u]);
        acc[4u * q + 2u] = fma(vec4<f32>(av.z), bv, acc[4u * q + 2u]);
        acc[4u * q + 3u] = fma(vec4<f32>(av.w), bv, acc[4u * q + 3u]);
      }
    }
    workgroupBarrier();
  }

  let n = col0 + tx * 4u;
  let slice = select(0u, wg.z * p.M * p.N, SPLIT);
  for (var r = 0u; r < ROWS; r++) {
    let m = row0 + ty * ROWS + r;
    store(m, n, slice + m * p.N + n, acc[r]);
  }
  let m0 = row0 + 4u * li;
  if (sums && m0 < p.M) {
    // rows m0.. of this slice's sums; MP and every offset are multiples of 4, so the vec4 view lines up
    let o = nwg.z * p.M * p.N + wg.z * ((p.M + 3u) & ~3u) + m0;
    if (VEC4_C) {
      c4[o / 4u] = bsum;
    } else {
      for (var j = 0u; j < 4u; j++) { c[o + j] = bsum[j]; }
    }
  }
}
