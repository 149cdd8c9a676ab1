// Causal multi-head self-attention, backward, FlashAttention-2 style: the
// probabilities are recomputed from q, k and the forward's logsumexp, never
// read from memory. Two entry points, recorded in this order:
//
//   queries: one workgroup per (b, h, query tile of TILE rows t):
//     D[b,h,t]  = dout[b,t,h] . out[b,t,h]                            -> delta (B, NH, T)
//     P[t, t2]  = exp(q[t] . k[t2] / sqrt(HS) - lse[t])                  t2 <= t
//     dP[t, t2] = m[t, t2] * dout[t] . v[t2]
//     dS[t, t2] = P * (dP - D[t]) / sqrt(HS)
//     dq[t]     = sum_t2 dS[t, t2] k[t2]                              -> dqkv q part (overwrite)
//   keys: one workgroup per (b, key/value head g, key tile of TILE rows t2), after queries:
//     dk[t2]    = sum_{h in group g} sum_{t >= t2} dS_h[t, t2] q_h[t]        -> dqkv k part (overwrite)
//     dv[t2]    = sum_{h in group g} sum_{t >= t2} m P_h[t, t2] dout_h[t]    -> dqkv v part (overwrite)
//
// qkv and dqkv (B, T, W = C + 2 KV HS): q heads | k heads | v heads (W = 3C
// when KV = NH); query head h reads key/value head g = h / (NH / KV)
// (grouped-query attention). The keys pass walks its group's NH / KV query
// heads one after the other, in order, so each dk / dv element still has one
// writer summing in a fixed order (no atomics); with KV = NH it is exactly
// the multi-head pass, B * NH * ceil(T / TILE) workgroups.
//
// D = rowsum(dP * P) equals dout . out (out already carries the dropout), the
// FlashAttention-2 preprocess; the queries pass computes it for its own rows
// and leaves it in `delta` for the keys pass, so the backward is two passes.
//
// m = 1 without dropout. With DROPOUT (attn_dropout) m[t, t2] = keep * scale is
// the forward's mask regenerated, not stored: keep = hash(seed, salt, i) >=
// threshold with the hash of shaders/dropout_hash.wgsl (prepended by
// src/kernels/attention.ts) at the flat index
// i = ((b * NH + h) * T + t) * T + t2 of (B, NH, T, T), the same (seed, salt, i)
// as attention_forward.wgsl, scale = 1 / (1 - p).
//
// Work mapping (both passes): 64 invocations, TILE rows of the workgroup's own
// tile x LANES = 64 / TILE lanes per row; each lane owns the output channel
// groups (vec4) lane, lane + LANES, ... of its row in registers. The workgroup stages its own
// rows once, then walks the other side's tiles along the causal triangle only
// (queries: key tiles 0..own; keys: query tiles own..last), staging each in
// workgroup memory with coalesced loads (so each global element serves TILE
// rows), scoring TILE / LANES pairs per lane into workgroup memory, then
// accumulating. Workgroups are numbered heaviest tile first. Each output
// element has exactly one writer adding its terms in a fixed order: no
// atomics, deterministic. Rows are staged as vec4 (channels past HS
// zero-padded, so head sizes 5 or 7 need no special case) with an odd stride
// of KS vec4 so lanes reading different rows at the same channel hit different banks.
//
// Dispatch: queries B * NH * ceil(T / TILE), keys B * KV * ceil(T / TILE)
// workgroups folded into (x, y) by grid(); wg = wg.y * num_workgroups.x + wg.x, bounds-checked.
// Bindings: 0 params {B, T, C, NH, threshold, salt, scale: f32, KV}, 1 dqkv (B,T,W),
//           2 delta (B,NH,T), 3 lse (B,NH,T), 4 dout (B,T,C), 5 qkv (B,T,W),
//           6 seed (u32[1]; read only with DROPOUT), 7 out (B,T,C; queries only).
// Overrides: HS (head size), TILE (16, 8 or 4, by head size to fit 16 KiB of
// workgroup memory; see attentionTile), DROPOUT.

override HS: u32;
override TILE: u32 = 16u;
override DROPOUT: bool = false;

override LANES: u32 = 64u / TILE;                     // lanes per row
override H4: u32 = (HS + 3u) / 4u;                   // vec4 groups of channels per row
override KS: u32 = H4 | 1u;                           // odd row stride (vec4) in workgroup memory

struct Params { B: u32, T: u32, C: u32, NH: u32, threshold: u32, salt: u32, scale: f32, KV: u32 }

// Row width of qkv, and the channel offsets of query head h's key and value head.
fn rowWidth() -> u32 { return p.C + 2u * p.KV * HS; }
fn keyOffset(h: u32) -> u32 { return p.C + h / (p.NH / p.KV) * HS; }
fn valueOffset(h: u32) -> u32 { return p.C + (p.KV + h / (p.NH / p.KV)) * HS; }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dqkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> delta: array<f32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> dout: array<f32>;
@group(0) @binding(5) var<storage, read> qkv: array<f32>;
@group(0) @binding(6) var<storage, read> seed: array<u32>;
@group(0) @binding(7) var<storage, read> out: array<f32>;

var<workgroup> qs: array<vec4<f32>, TILE * KS>;       // (TILE, HS) queries
var<workgroup> gs: array<vec4<f32>, TILE * KS>;       // (TILE, HS) output gradients of those queries
var<workgroup> ks: array<vec4<f32>, TILE * KS>;       // (TILE, HS) keys
var<workgroup> vs: array<vec4<f32>, TILE * KS>;       // (TILE, HS) values
var<workgroup> dss: array<f32, TILE * TILE>;          // (TILE own rows, TILE) score gradients dS
var<workgroup> pss: array<f32, TILE * TILE>;          // (TILE keys, TILE queries) m * P (keys pass)
var<workgroup> ls: array<f32, TILE>;                  // lse of the staged queries (keys pass)
var<workgroup> dd: array<f32, TILE>;                  // D of the staged queries (keys pass)
var<workgroup> red: array<f32, 64>;                   // partial sums of D (queries pass)

const WG = 64u;
const NA = 4u;                                        // vec4 accumulators per lane: ceil(H4 / LANES) <= 4

// m at flat index i of (B, NH, T, T): scale where the forward kept the probability, else 0.
fn dropFactor(key: u32, i: u32) -> f32 {
  return select(0.0, p.scale, dropoutHash(key, i) >= p.threshold);
}

// Stage queries and output gradients of rows row0..row0+TILE-1, head h, into qs / gs; rows >= T as zeros.
fn stageQG(li: u32, b: u32, h: u32, row0: u32) {
  for (var e = li; e < TILE * H4; e += WG) {
    let i = e / H4;
    let d = (e % H4) * 4u;
    var q = vec4<f32>(0.0);
    var g = vec4<f32>(0.0);
    if (row0 + i < p.T) {
      let qb = (b * p.T + row0 + i) * rowWidth() + h * HS + d;
      let gb = (b * p.T + row0 + i) * p.C + h * HS + d;
      for (var k = 0u; k < 4u; k++) {
        if (d + k < HS) {
          q[k] = qkv[qb + k];
          g[k] = dout[gb + k];
        }
      }
    }
    qs[i * KS + d / 4u] = q;
    gs[i * KS + d / 4u] = g;
  }
}

// Stage keys and values of rows row0..row0+TILE-1 seen by query head h into ks / vs; rows >= T as zeros.
fn stageKV(li: u32, b: u32, h: u32, row0: u32) {
  for (var e = li; e < TILE * H4; e += WG) {
    let i = e / H4;
    let d = (e % H4) * 4u;
    var kx = vec4<f32>(0.0);
    var vx = vec4<f32>(0.0);
    if (row0 + i < p.T) {
      let row = (b * p.T + row0 + i) * rowWidth() + d;
      for (var k = 0u; k < 4u; k++) {
        if (d + k < HS) {
          kx[k] = qkv[row + keyOffset(h) + k];
          vx[k] = qkv[row + valueOffset(h) + k];
        }
      }
    }
    ks[i * KS + d / 4u] = kx;
    vs[i * KS + d / 4u] = vx;
  }
}

// q[i] . k[j] and dout[i] . v[j] from workgroup memory.
fn dotQK(i: u32, j: u32) -> f32 {
  var s = 0.0;
  for (var c = 0u; c < H4; c++) { s += dot(qs[i * KS + c], ks[j * KS + c]); }
  return s;
}

fn dotGV(i: u32, j: u32) -> f32 {
  var s = 0.0;
  for (var c = 0u; c < H4; c++) { s += dot(gs[i * KS + c], vs[j * KS + c]); }
  return s;
}

@compute @workgroup_size(WG)
fn queries(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let T = p.T;
  let nq = (T + TILE - 1u) / TILE;
  let w = wg.y * nwg.x + wg.x;
  if (w >= p.B * p.NH * nq) { return; }
  let qt = nq - 1u - w % nq;                          // heaviest (last) query tile first
  let bh = w / nq;                                    // b * NH + h
  let h = bh % p.NH;
  let b = bh / p.NH;
  let r = li / LANES;
  let lane = li % LANES;
  let t = qt * TILE + r;                              // query position (>= T: padding, not written)
  let valid = t < T;
  let scale = 1.0 / sqrt(f32(HS));
  var key = 0u;
  if (DROPOUT) { key = dropoutKey(seed[0], p.salt); }
  let rowFlat = (bh * T + t) * T;

  stageQG(li, b, h, qt * TILE);
  // D = dout[t] . out[t]: each lane its channels, then the row's lanes in order.
  var part = 0.0;
  if (valid) {
    let o = (b * T + t) * p.C + h * HS;
    for (var d = lane; d < HS; d += LANES) { part += dout[o + d] * out[o + d]; }
  }
  red[li] = part;
  workgroupBarrier();
  var D = 0.0;
  for (var k = 0u; k < LANES; k++) { D += red[r * LANES + k]; }
  var lseT = 0.0;
  if (valid) {
    lseT = lse[bh * T + t];
    if (lane == 0u) { delta[bh * T + t] = D; }
  }

  var acc: array<vec4<f32>, NA>;
  for (var kt = 0u; kt <= qt; kt++) {
    workgroupBarrier();                               // the previous tile's readers are done
    stageKV(li, b, h, kt * TILE);
    workgroupBarrier();
    for (var j = lane; j < TILE; j += LANES) {
      let t2 = kt * TILE + j;
      var ds = 0.0;
      if (t2 <= t) {
        let pr = exp(dotQK(r, j) * scale - lseT);
        var dp = dotGV(r, j);
        if (DROPOUT) { dp *= dropFactor(key, rowFlat + t2); }
        ds = pr * (dp - D) * scale;
      }
      dss[r * TILE + j] = ds;
    }
    workgroupBarrier();
    for (var a = 0u; a < NA; a++) {
      let c = lane + a * LANES;
      if (c < H4) {
        var sum = vec4<f32>(0.0);
        for (var j = 0u; j < TILE; j++) { sum += dss[r * TILE + j] * ks[j * KS + c]; }
        acc[a] += sum;
      }
    }
  }
  if (valid) {
    let o = (b * T + t) * rowWidth() + h * HS;
    for (var a = 0u; a < NA; a++) {
      let c = lane + a * LANES;
      for (var k = 0u; k < 4u; k++) {
        if (c < H4 && c * 4u + k < HS) { dqkv[o + c * 4u + k] = acc[a][k]; }
      }
    }
  }
}

@compute @workgroup_size(WG)
fn keys(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let T = p.T;
  let nk = (T + TILE - 1u) / TILE;
  let w = wg.y * nwg.x + wg.x;
  if (w >= p.B * p.KV * nk) { return; }
  let kt = w % nk;                                    // heaviest (first) key tile first
  let bg = w / nk;                                    // b * KV + g
  let group = p.NH / p.KV;                            // query heads per key/value head
  let h0 = (bg % p.KV) * group;                       // the group's first query head
  let b = bg / p.KV;
  let r = li / LANES;
  let lane = li % LANES;
  let t2 = kt * TILE + r;                             // key position (>= T: padding, not written)
  let scale = 1.0 / sqrt(f32(HS));
  var key = 0u;
  if (DROPOUT) { key = dropoutKey(seed[0], p.salt); }

  stageKV(li, b, h0, kt * TILE);
  var dk: array<vec4<f32>, NA>;
  var dv: array<vec4<f32>, NA>;
  for (var h = h0; h < h0 + group; h++) {          // the group's query heads, in order (deterministic sums)
    let bh = b * p.NH + h;
    for (var qt = kt; qt < nk; qt++) {
      workgroupBarrier();                               // the previous tile's readers are done
      stageQG(li, b, h, qt * TILE);
      if (li < TILE) {
        let t = qt * TILE + li;
        var l = 0.0;
        var D = 0.0;
        if (t < T) {
          l = lse[bh * T + t];
          D = delta[bh * T + t];
        }
        ls[li] = l;
        dd[li] = D;
      }
      workgroupBarrier();
      for (var i = lane; i < TILE; i += LANES) {
        let t = qt * TILE + i;
        var ds = 0.0;
        var pm = 0.0;
        if (t2 <= t && t < T) {
          let pr = exp(dotQK(i, r) * scale - ls[i]);
          var m = 1.0;
          if (DROPOUT) { m = dropFactor(key, (bh * T + t) * T + t2); }
          ds = pr * (m * dotGV(i, r) - dd[i]) * scale;
          pm = m * pr;
        }
        dss[r * TILE + i] = ds;
        pss[r * TILE + i] = pm;
      }
      workgroupBarrier();
      for (var a = 0u; a < NA; a++) {
        let c = lane + a * LANES;
        if (c < H4) {
          var sk = vec4<f32>(0.0);
          var sv = vec4<f32>(0.0);
          for (var i = 0u; i < TILE; i++) {
            sk += dss[r * TILE + i] * qs[i * KS + c];
            sv += pss[r * TILE + i] * gs[i * KS + c];
          }
          dk[a] += sk;
          dv[a] += sv;
        }
      }
    }
  }
  if (t2 < T) {
    let o = (b * T + t2) * rowWidth();
    for (var a = 0u; a < NA; a++) {
      let c = lane + a * LANES;
      for (var k = 0u; k < 4u; k++) {
        if (c < H4 && c * 4u + k < HS) {
          dqkv[o + keyOffset(h0) + c * 4u + k] = dk[a][k];
          dqkv[o + valueOffset(h0) + c * 4u + k] = dv[a][k];
        }
      }
    }
  }
}
