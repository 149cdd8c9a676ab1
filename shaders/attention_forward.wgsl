// Causal multi-head self-attention, forward, FlashAttention-2 style: the
// (T, T) scores never leave the workgroup.
//
//   s[t, t2]   = q[b,t,h] . k[b,t2,h] / sqrt(HS)                    t2 <= t
//   lse[b,h,t] = log sum_t2 exp(s[t, t2])                            -> lse (B, NH, T)
//   out[b, t, h*HS + d] = sum_t2 keep(i) * scale * exp(s[t,t2] - lse) * v[b, t2, h*HS + d]
//   PROBS only: att[b, h, t, t2] = exp(s[t, t2] - lse), 0 for t2 > t  -> att (B, NH, T, T)
//
// qkv (B, T, W = C + 2 KV HS): q heads | k heads | v heads along the last dim
// (W = 3C when KV = NH); query head h at channels h*HS.., its key and value
// head g = h / (NH / KV) (grouped-query attention: KV divides NH) at
// C + g*HS.. and C + (KV + g)*HS.. .
//
// Work mapping: one workgroup of 64 invocations per (b, h, query tile of TILE
// rows); TILE rows x LANES = 64 / TILE lanes per row. The workgroup stages its
// query tile once, then walks the key tiles 0..(its own) in order: it stages
// the tile's keys and values in workgroup memory (consecutive invocations load
// consecutive groups of four channels of a row: coalesced), each lane scores
// TILE / LANES keys, the row's lanes take the tile's max and fold the tile into
// the running max m, sum l and output accumulator (online softmax), each lane
// owning the output channel groups lane, lane + LANES, ... in registers. Key tiles above the
// diagonal are never visited (causal: tile kt serves queries of tile >= kt),
// and workgroups are numbered heaviest query tile first so the long ones start
// early. Every K/V element fetched from global memory serves TILE queries;
// scores and probabilities stay in workgroup memory. Rows are staged as vec4
// (channels past HS zero-padded, so head sizes 5 or 7 need no special case:
// every workgroup-memory read serves four products) with an odd stride of KS
// vec4 so lanes reading different rows at the same channel hit different banks. Row statistics are recomputed by each lane of a
// row in the same order (identical values, no extra barrier).
//
// Dropout (nanoGPT's attn_dropout, training only; DROPOUT): keep(i) is the mask
// of shaders/dropout_hash.wgsl (prepended by src/kernels/attention.ts),
// dropoutHash(dropoutKey(seed, salt), i) >= threshold, at the flat index
// i = ((b * NH + h) * T + t) * T + t2 of the probability in (B, NH, T, T), and
// scale = 1 / (1 - p). The normaliser l sums the probabilities before dropout
// (the dropped ones are stored negated in the tile so one hash per element
// serves both sums). attention_backward.wgsl regenerates the same mask from the
// same (seed, salt, i): nothing of it is stored.
//
// PROBS (the attention views only; never in training) makes a second sweep over
// all key tiles of the row that recomputes the scores and writes the
// probabilities, exact zeros above the diagonal.
//
// Dispatch: B * NH * ceil(T / TILE) workgroups folded into (x, y) by grid();
// wg = wg.y * num_workgroups.x + wg.x, bounds-checked.
// Bindings: 0 params {B, T, C, NH, threshold, salt, scale: f32, KV}, 1 out (B,T,C),
//           2 lse (B,NH,T), 3 qkv (B,T,W), 4 seed (u32[1]; read only with DROPOUT),
//           5 att (B,NH,T,T; written only with PROBS, else any small buffer).
// Overrides: HS (head size), TILE (16, 8 or 4: rows of a tile, chosen by the
// head size to fit 16 KiB of workgroup memory; see attentionTile), DROPOUT, PROBS.

override HS: u32;
override TILE: u32 = 16u;
override DROPOUT: bool = false;
override PROBS: bool = false;

override LANES: u32 = 64u / TILE;                     // lanes per row
override H4: u32 = (HS + 3u) / 4u;                   // vec4 groups of channels per row
override KS: u32 = H4 | 1u;                           // odd row stride (vec4) in workgroup memory

struct Params { B: u32, T: u32, C: u32, NH: u32, threshold: u32, salt: u32, scale: f32, KV: u32 }

// Row width of qkv, and the channel offsets of query head h's key and value head.
fn rowWidth() -> u32 { return p.C + 2u * p.KV * HS; }
fn keyOffset(h: u32) -> u32 { return p.C + h / (p.NH / p.KV) * HS; }
fn valueOffset(h: u32) -> u32 { return p.C + (p.KV + h / (p.NH / p.KV)) * HS; }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;
@group(0) @binding(3) var<storage, read> qkv: array<f32>;
@group(0) @binding(4) var<storage, read> seed: array<u32>;
@group(0) @binding(5) var<storage, read_write> att: array<f32>;

var<workgroup> qs: array<vec4<f32>, TILE * KS>;       // (TILE, HS) queries of the tile
var<workgroup> ks: array<vec4<f32>, TILE * KS>;       // (TILE, HS) keys of the key tile
var<workgroup> vs: array<vec4<f32>, TILE * KS>;       // (TILE, HS) values of the key tile
var<workgroup> ss: array<f32, TILE * TILE>;           // (TILE, TILE) scores
var<workgroup> ps: array<f32, TILE * TILE>;           // (TILE, TILE) probabilities (negated: dropped)

const WG = 64u;
const NA = 4u;                                        // vec4 accumulators per lane: ceil(H4 / LANES) <= 4
const MASKED = -1.0e30;                               // score of a masked key: exp(MASKED - m) == 0, no infinities

// Stage the queries of rows row0..row0+TILE-1, head h, into qs; rows >= T as zeros.
fn stageQ(li: u32, b: u32, h: u32, row0: u32) {
  for (var e = li; e < TILE * H4; e += WG) {
    let i = e / H4;
    let c = e % H4;
    var x = vec4<f32>(0.0);
    if (row0 + i < p.T) { x = load4((b * p.T + row0 + i) * rowWidth() + h * HS, c * 4u); }
    qs[i * KS + c] = x;
  }
}

// qkv[base + d .. base + d + 3], channels d >= HS as zeros.
fn load4(base: u32, d: u32) -> vec4<f32> {
  var x = vec4<f32>(0.0);
  for (var k = 0u; k < 4u; k++) {
    if (d + k < HS) { x[k] = qkv[base + d + k]; }
  }
  return x;
}

// Stage the keys (and, withV, the values) of rows row0..row0+TILE-1 seen by query head h; rows >= T as zeros.
fn stageKV(li: u32, b: u32, h: u32, row0: u32, withV: bool) {
  for (var e = li; e < TILE * H4; e += WG) {
    let i = e / H4;
    let c = e % H4;
    var k = vec4<f32>(0.0);
    var v = vec4<f32>(0.0);
    if (row0 + i < p.T) {
      let base = (b * p.T + row0 + i) * rowWidth();
      k = load4(base + keyOffset(h), c * 4u);
      if (withV) { v = load4(base + valueOffset(h), c * 4u); }
    }
    ks[i * KS + c] = k;
    vs[i * KS + c] = v;
  }
}

// scale * q[r] . k[j] from workgroup memory.
fn score(r: u32, j: u32, scale: f32) -> f32 {
  var s = 0.0;
  for (var c = 0u; c < H4; c++) { s += dot(qs[r * KS + c], ks[j * KS + c]); }
  return s * scale;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let T = p.T;
  let nq = (T + TILE - 1u) / TILE;
  let w = wg.y * nwg.x + wg.x;
  if (w >= p.B * p.NH * nq) { return; }
  let qt = nq - 1u - w % nq;                          // heaviest (last) query tile first
  let bh = w / nq;                                    // b * NH + h
  let h = bh % p.NH;
  let b = bh / p.NH;
  let r = li / LANES;                                 // row of the tile
  let lane = li % LANES;
  let t = qt * TILE + r;                              // query position (>= T: padding, not written)
  let scale = 1.0 / sqrt(f32(HS));
  var key = 0u;
  if (DROPOUT) { key = dropoutKey(seed[0], p.salt); }
  let rowFlat = (bh * T + t) * T;                     // flat index of (b, h, t, 0) in (B, NH, T, T)

  stageQ(li, b, h, qt * TILE);
  var m = MASKED;
  var l = 0.0;
  var acc: array<vec4<f32>, NA>;
  for (var kt = 0u; kt <= qt; kt++) {
    workgroupBarrier();                               // the previous tile's readers are done
    stageKV(li, b, h, kt * TILE, true);
    workgroupBarrier();
    for (var j = lane; j < TILE; j += LANES) {
      let t2 = kt * TILE + j;
      ss[r * TILE + j] = select(MASKED, score(r, j, scale), t2 <= t);
    }
    workgroupBarrier();
    var mt = m;
    for (var j = 0u; j < TILE; j++) { mt = max(mt, ss[r * TILE + j]); }
    for (var j = lane; j < TILE; j += LANES) {
      let t2 = kt * TILE + j;
      var e = 0.0;
      if (t2 <= t) { e = exp(ss[r * TILE + j] - mt); }
      if (DROPOUT && dropoutHash(key, rowFlat + t2) < p.threshold) { e = -e; }
      ps[r * TILE + j] = e;
    }
    workgroupBarrier();
    let alpha = exp(m - mt);
    m = mt;
    var lt = 0.0;
    for (var j = 0u; j < TILE; j++) { lt += abs(ps[r * TILE + j]); }
    l = l * alpha + lt;
    for (var a = 0u; a < NA; a++) {
      let c = lane + a * LANES;
      if (c < H4) {
        var sum = vec4<f32>(0.0);
        for (var j = 0u; j < TILE; j++) { sum += max(ps[r * TILE + j], 0.0) * vs[j * KS + c]; }
        acc[a] = acc[a] * alpha + sum;
      }
    }
  }
  let valid = t < T;
  let inv = select(1.0, p.scale, DROPOUT) / l;
  if (valid) {
    let o = (b * T + t) * p.C + h * HS;
    for (var a = 0u; a < NA; a++) {
      let c = lane + a * LANES;
      for (var k = 0u; k < 4u; k++) {
        if (c < H4 && c * 4u + k < HS) { out[o + c * 4u + k] = acc[a][k] * inv; }
      }
    }
  }
  let logSum = m + log(l);
  if (valid && lane == 0u) { lse[bh * T + t] = logSum; }

  if (PROBS) {
    let nk = nq;
    for (var kt = 0u; kt < nk; kt++) {
      if (kt <= qt) {
        workgroupBarrier();
        stageKV(li, b, h, kt * TILE, false);
        workgroupBarrier();
      }
      for (var j = lane; j < TILE; j += LANES) {
        let t2 = kt * TILE + j;
        if (valid && t2 < T) {
          var pr = 0.0;
          if (t2 <= t) { pr = exp(score(r, j, scale) - logSum); }
          att[rowFlat + t2] = pr;
        }
      }
    }
  }
}
