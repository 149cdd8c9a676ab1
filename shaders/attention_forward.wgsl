// Causal multi-head self-attention, forward.
//
//   att[b, h, t, t2] = softmax_t2( q[b,t,h] . k[b,t2,h] / sqrt(hs) ), t2 <= t; exactly 0 for t2 > t
//   out[b, t, h*hs + d] = sum_t2 att[b, h, t, t2] * v[b, t2, h*hs + d]
//
// qkv (B, T, 3C): q | k | v along the last dim, head h uses channels h*hs..(h+1)*hs of each.
//
// One workgroup handles QB query rows of one (b, h): QB x 16 invocations, one
// row per 16 lanes. Keys are visited in tiles of 16 staged in workgroup memory;
// lane j owns keys j, j+16, ... of its row, so the scores it writes into `att`
// (the output doubles as score storage) are only ever re-read by itself. Rows
// stop at the causal limit: key tiles past the block's last query are skipped.
// The mask uses a finite sentinel (-3e38), never -inf arithmetic.
//
// Dispatch: (ceil(T / QB), NH, B).
// Bindings: 0 params {B, T, C, NH}, 1 out (B,T,C), 2 att (B,NH,T,T), 3 qkv (B,T,3C).
// Needs: QB * 16 <= 256 invocations, 14.1 KiB workgroup memory; hs <= HS_MAX,
// QB * HS_MAX = 1024 (QB 16 for hs <= 64, QB 8 for hs <= 128).

override QB: u32 = 16u;
override HS_MAX: u32 = 64u;
override WG: u32 = QB * 16u;

struct Params { B: u32, T: u32, C: u32, NH: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> att: array<f32>;
@group(0) @binding(3) var<storage, read> qkv: array<f32>;

const KT = 16u;               // keys per tile
const MASKED = -3.0e38;       // finite "minus infinity"

var<workgroup> qTile: array<f32, 1024>;          // [QB][HS_MAX]
var<workgroup> kvTile: array<f32, 2064>;         // [KT][HS_MAX + 1] (padded against bank conflicts)
var<workgroup> pTile: array<f32, 256>;           // [QB][KT]
var<workgroup> red: array<f32, 256>;             // [QB][16]

// Stage rows key0..key0+KT of k (part = 1) or v (part = 2) of head h into kvTile.
fn loadKV(b: u32, h: u32, key0: u32, part: u32, li: u32) {
  let hs = p.C / p.NH;
  let stride = HS_MAX + 1u;
  for (var idx = li; idx < KT * hs; idx += WG) {
    let r = idx / hs;
    let d = idx % hs;
    let key = key0 + r;
    var x = 0.0;
    if (key < p.T) { x = qkv[(b * p.T + key) * 3u * p.C + part * p.C + h * hs + d]; }
    kvTile[r * stride + d] = x;
  }
}

// Combine the 16 lanes' values of row i (written to red by the caller) by max or sum.
fn rowReduce(i: u32, isMax: bool) -> f32 {
  var acc = red[i * 16u];
  for (var l = 1u; l < 16u; l++) {
    if (isMax) { acc = max(acc, red[i * 16u + l]); } else { acc += red[i * 16u + l]; }
  }
  return acc;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let T = p.T;
  let C = p.C;
  let hs = C / p.NH;
  let h = wg.y;
  let b = wg.z;
  let row0 = wg.x * QB;
  let i = li / 16u;             // row within the block
  let j = li % 16u;             // lane
  let t = row0 + i;             // query position
  let live = t < T;
  let scale = 1.0 / sqrt(f32(hs));
  let stride = HS_MAX + 1u;
  let attRow = ((b * p.NH + h) * T + min(t, T - 1u)) * T;

  for (var idx = li; idx < QB * hs; idx += WG) {
    let r = idx / hs;
    let d = idx % hs;
    var x = 0.0;
    if (row0 + r < T) { x = qkv[(b * T + row0 + r) * 3u * C + h * hs + d]; }
    qTile[r * HS_MAX + d] = x;
  }

  // Pass 1: scores (into att) and the running max of this lane's keys.
  let nTiles = (min(row0 + QB, T) + KT - 1u) / KT;
  var mx = MASKED;
  for (var kt = 0u; kt < nTiles; kt++) {
    workgroupBarrier();
    loadKV(b, h, kt * KT, 1u, li);
    workgroupBarrier();
    let key = kt * KT + j;
    if (live && key <= t) {
      var s = 0.0;
      for (var d = 0u; d < hs; d++) { s += qTile[i * HS_MAX + d] * kvTile[j * stride + d]; }
      s *= scale;
      att[attRow + key] = s;
      mx = max(mx, s);
    }
  }
  red[li] = mx;
  workgroupBarrier();
  mx = rowReduce(i, true);
  workgroupBarrier();

  // Pass 2: exponentials and their sum.
  var sum = 0.0;
  if (live) {
    for (var key = j; key <= t; key += 16u) {
      let e = exp(att[attRow + key] - mx);
      att[attRow + key] = e;
      sum += e;
    }
  }
  red[li] = sum;
  workgroupBarrier();
  let inv = 1.0 / rowReduce(i, false);

  // Pass 3: normalise; the masked upper triangle is written as exact zeros.
  if (live) {
    for (var key = j; key < T; key += 16u) {
      var pr = 0.0;
      if (key <= t) { pr = att[attRow + key] * inv; }
      att[attRow + key] = pr;
    }
  }

  // Pass 4: out = att @ v; lane j accumulates dims j, j+16, ... of its row.
  var acc: array<f32, 8>;
  for (var c = 0u; c < 8u; c++) { acc[c] = 0.0; }
  for (var kt = 0u; kt < nTiles; kt++) {
    workgroupBarrier();
    loadKV(b, h, kt * KT, 2u, li);
    let key = kt * KT + j;
    var pr = 0.0;
    if (live && key <= t) { pr = att[attRow + key]; }
    pTile[i * KT + j] = pr;
    workgroupBarrier();
    for (var jj = 0u; jj < KT; jj++) {
      let w = pTile[i * KT + jj];
      for (var c = 0u; c < HS_MAX / 16u; c++) {
        let d = j + 16u * c;
        if (d < hs) { acc[c] += w * kvTile[jj * stride + d]; }
      }
    }
  }
  if (live) {
    for (var c = 0u; c < HS_MAX / 16u; c++) {
      let d = j + 16u * c;
      if (d < hs) { out[(b * T + t) * C + h * hs + d] = acc[c]; }
    }
  }
}
