// Causal multi-head self-attention, backward. Two entry points, run in order:
//
//   queryRows: per query row t of (b, h):
//     dp[t2]  = dout[t] . v[t2]                                  (t2 <= t)
//     D       = sum_t2 att[t, t2] * dp[t2]
//     ds[t2]  = att[t, t2] * (dp[t2] - D) / sqrt(hs)             -> scratch (B,NH,T,T)
//     dq[t]   = sum_t2 ds[t2] * k[t2]                            -> dqkv q part (overwrite)
//   keyRows: per key row t2 of (b, h):
//     dk[t2]  = sum_{t >= t2} ds[t, t2] * q[t]                   -> dqkv k part (overwrite)
//     dv[t2]  = sum_{t >= t2} att[t, t2] * dout[t]               -> dqkv v part (overwrite)
//
// Each output element has exactly one writer: no atomics, deterministic.
// Both use QB x 16 invocations (QB rows, 16 lanes per row; lane j owns keys
// j, j+16, ... in queryRows and dims j, j+16, ... of the accumulators);
// k / v / q / dout tiles are staged in workgroup memory.
//
// Dispatch (both): (ceil(T / QB), NH, B).
// Bindings: 0 params {B, T, C, NH}, 1 dqkv (B,T,3C), 2 scratch (B,NH,T,T),
//           3 dout (B,T,C), 4 qkv (B,T,3C), 5 att (B,NH,T,T).
// Needs: QB * 16 <= 256 invocations, 14.1 KiB workgroup memory; hs <= HS_MAX,
// QB * HS_MAX = 1024 (QB 16 for hs <= 64, QB 8 for hs <= 128).

override QB: u32 = 16u;
override HS_MAX: u32 = 64u;
override WG: u32 = QB * 16u;

struct Params { B: u32, T: u32, C: u32, NH: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dqkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> scratch: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read> qkv: array<f32>;
@group(0) @binding(5) var<storage, read> att: array<f32>;

const KT = 16u;

var<workgroup> rowTile: array<f32, 1024>;        // [QB][HS_MAX]: dout rows (queryRows) or q rows (keyRows)
var<workgroup> kvTile: array<f32, 2064>;         // [KT][HS_MAX + 1] k or v rows (queryRows); dout rows [QB][HS_MAX] (keyRows)
var<workgroup> sTile: array<f32, 256>;           // [QB][KT] ds (queryRows) / [QB q][QB k] ds (keyRows)
var<workgroup> red: array<f32, 256>;             // [QB][16] row sums (queryRows) / [QB q][QB k] att (keyRows)

// rows r0..r0+n of qkv part (0 q, 1 k, 2 v) or of dout (part 3) of head h -> dst[r * stride + d].
fn loadRows(b: u32, h: u32, r0: u32, n: u32, part: u32, stride: u32, toKV: bool, li: u32) {
  let hs = p.C / p.NH;
  for (var idx = li; idx < n * hs; idx += WG) {
    let r = idx / hs;
    let d = idx % hs;
    let t = r0 + r;
    var x = 0.0;
    if (t < p.T) {
      if (part == 3u) { x = dout[(b * p.T + t) * p.C + h * hs + d]; }
      else { x = qkv[(b * p.T + t) * 3u * p.C + part * p.C + h * hs + d]; }
    }
    if (toKV) { kvTile[r * stride + d] = x; } else { rowTile[r * stride + d] = x; }
  }
}

@compute @workgroup_size(WG)
fn queryRows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let T = p.T;
  let C = p.C;
  let hs = C / p.NH;
  let h = wg.y;
  let b = wg.z;
  let row0 = wg.x * QB;
  let i = li / 16u;
  let j = li % 16u;
  let t = row0 + i;
  let live = t < T;
  let scale = 1.0 / sqrt(f32(hs));
  let stride = HS_MAX + 1u;
  let attRow = ((b * p.NH + h) * T + min(t, T - 1u)) * T;

  loadRows(b, h, row0, QB, 3u, HS_MAX, false, li);
  let nTiles = (min(row0 + QB, T) + KT - 1u) / KT;

  // dp = dout . v (kept in scratch) and this lane's part of D.
  var dsum = 0.0;
  for (var kt = 0u; kt < nTiles; kt++) {
    workgroupBarrier();
    loadRows(b, h, kt * KT, KT, 2u, stride, true, li);
    workgroupBarrier();
    let key = kt * KT + j;
    if (live && key <= t) {
      var s = 0.0;
      for (var d = 0u; d < hs; d++) { s += rowTile[i * HS_MAX + d] * kvTile[j * stride + d]; }
      scratch[attRow + key] = s;
      dsum += att[attRow + key] * s;
    }
  }
  red[li] = dsum;
  workgroupBarrier();
  var D = 0.0;
  for (var l = 0u; l < 16u; l++) { D += red[i * 16u + l]; }

  // ds (into scratch) and dq = ds @ k.
  var acc: array<f32, 8>;
  for (var c = 0u; c < 8u; c++) { acc[c] = 0.0; }
  for (var kt = 0u; kt < nTiles; kt++) {
    workgroupBarrier();
    loadRows(b, h, kt * KT, KT, 1u, stride, true, li);
    let key = kt * KT + j;
    var ds = 0.0;
    if (live && key <= t) {
      ds = att[attRow + key] * (scratch[attRow + key] - D) * scale;
      scratch[attRow + key] = ds;
    }
    sTile[i * KT + j] = ds;
    workgroupBarrier();
    for (var jj = 0u; jj < KT; jj++) {
      let w = sTile[i * KT + jj];
      for (var c = 0u; c < HS_MAX / 16u; c++) {
        let d = j + 16u * c;
        if (d < hs) { acc[c] += w * kvTile[jj * stride + d]; }
      }
    }
  }
  if (live) {
    for (var c = 0u; c < HS_MAX / 16u; c++) {
      let d = j + 16u * c;
      if (d < hs) { dqkv[(b * T + t) * 3u * C + h * hs + d] = acc[c]; }
    }
  }
}

@compute @workgroup_size(WG)
fn keyRows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let T = p.T;
  let C = p.C;
  let hs = C / p.NH;
  let h = wg.y;
  let b = wg.z;
  let key0 = wg.x * QB;
  let i = li / 16u;             // key within the block
  let j = li % 16u;
  let key = key0 + i;
  let head = (b * p.NH + h) * T;

  var dk: array<f32, 8>;
  var dv: array<f32, 8>;
  for (var c = 0u; c < 8u; c++) { dk[c] = 0.0; dv[c] = 0.0; }
  // Queries t >= key only: tiles of QB query rows starting at the block's first key.
  for (var q0 = key0; q0 < T; q0 += QB) {
    workgroupBarrier();
    loadRows(b, h, q0, QB, 0u, HS_MAX, false, li);
    loadRows(b, h, q0, QB, 3u, HS_MAX, true, li);
    for (var idx = li; idx < QB * QB; idx += WG) {
      let qi = idx / QB;
      let ki = idx % QB;
      let t = q0 + qi;
      let k = key0 + ki;
      var ds = 0.0;
      var pr = 0.0;
      if (t < T && k <= t) {
        ds = scratch[(head + t) * T + k];
        pr = att[(head + t) * T + k];
      }
      sTile[idx] = ds;
      red[idx] = pr;
    }
    workgroupBarrier();
    for (var qi = 0u; qi < QB; qi++) {
      let ds = sTile[qi * QB + i];
      let pr = red[qi * QB + i];
      for (var c = 0u; c < HS_MAX / 16u; c++) {
        let d = j + 16u * c;
        if (d < hs) {
          dk[c] += ds * rowTile[qi * HS_MAX + d];
          dv[c] += pr * kvTile[qi * HS_MAX + d];
        }
      }
    }
  }
  if (key < T) {
    for (var c = 0u; c < HS_MAX / 16u; c++) {
      let d = j + 16u * c;
      if (d < hs) {
        dqkv[(b * T + key) * 3u * C + C + h * hs + d] = dk[c];
        dqkv[(b * T + key) * 3u * C + 2u * C + h * hs + d] = dv[c];
      }
    }
  }
}
