// Embedding gradients, accumulated (llm.c encoder_backward), deterministic
// and without float atomics: every gradient element has exactly one writer,
// which adds its terms in a fixed order.
//
// Token embeddings:  dwte[v, c] += sum over i with tokens[i] == v of dout[i, c]
//
// Entry point `wte` (GPU): one workgroup per (token v, slice of 16 channels),
//   256 invocations = 64 position lanes x 4 channel quads. Position lane j
//   scans positions j, j + 64, j + 128, ... and adds dout[i, quad] (4
//   channels) wherever tokens[i] == v; the 64 lane sums of each quad are then
//   added by a tree in workgroup memory (6 halving steps, fixed order). No
//   sorting and no scratch: every workgroup reads the BT token ids (16 KiB at
//   B*T = 4096, from cache), each dout row is read by the workgroups of its
//   own token only. V * ceil(C / 16) workgroups: 780 at V = 65, C = 192.
//   Dispatch: V * ceil(C / 16) workgroups, folded into (x, y) past 65535.
//   Needs: 256 invocations per workgroup, 4 KiB workgroup memory.
//
// Entry point `wteSerial` (CPU adapters): one invocation per (v, block of 16
//   channels), scanning the BT token ids in order and adding dout[i, c..c+16]
//   for each match (a sum per block of 256 tokens, then the block sums). No
//   workgroup memory, no barriers.
//   Dispatch: ceil(V * ceil(C / 16) / 64) workgroups, folded into (x, y) past 65535.
//
// Position embeddings, entry point `wpe`:  dwpe[t, c] += sum over b of dout[b * T + t, c]
//   One invocation per (t, c), summing over b in order; neighbouring
//   invocations read neighbouring channels (coalesced). T * C / 64 workgroups:
//   384 at T = 128, C = 192.
//   Dispatch: ceil(T * C / 64) workgroups, folded into (x, y) past 65535.
//
// Entry point `both` (GPU): the two in one dispatch, the `wte` workgroups
//   first, then ceil(T * C / 256) workgroups of 256 (t, c) sums each.
//   Dispatch: V * ceil(C / 16) + ceil(T * C / 256) workgroups, folded into (x, y) past 65535.
//
// With DROP (training) dout is the gradient before the embeddings' dropout:
// each element is masked and scaled as it is read (the mask of
// shaders/dropout.wgsl over (BT, C), element i kept when
// hash(key(seed, salt), i) >= threshold), so no dropout pass runs before.
//
// Bindings: 0 params {B, T, C, V, wteWG, threshold, salt, scale (f32)}, 1 dwte
// (or dwpe for `wpe`) (read_write), 2 dout (BT, C), 3 seed (u32[1]; read only
// with DROP), 4 tokens (BT, i32; not `wpe`), 5 dwpe (read_write; `both` only).

override DROP: bool = false;

struct Params { B: u32, T: u32, C: u32, V: u32, wteWG: u32, threshold: u32, salt: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> grad: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> seed: array<u32>;
@group(0) @binding(4) var<storage, read> tokens: array<i32>;
@group(0) @binding(5) var<storage, read_write> gradPos: array<f32>;

var<private> dropKey: u32;    // dropoutKey(seed, salt), with DROP

fn setKey() {
  if (DROP) { dropKey = dropoutKey(seed[0], p.salt); }
}

/** dout[k], through the dropout with DROP. */
fn g(k: u32) -> f32 {
  let x = dout[k];
  if (DROP) { return select(0.0, x * p.scale, dropoutHash(dropKey, k) >= p.threshold); }
  return x;
}

const WG = 64u;
const BLOCK = 256u;

const CH = 16u;               // channels per invocation in `wte`

// dout[i, c..c+4), zero past the row's end.
fn dout4(i: u32, c: u32) -> vec4<f32> {
  let r = i * p.C;
  let last = p.C - 1u;
  return vec4<f32>(
    select(0.0, g(r + min(c, last)), c < p.C),
    select(0.0, g(r + min(c + 1u, last)), c + 1u < p.C),
    select(0.0, g(r + min(c + 2u, last)), c + 2u < p.C),
    select(0.0, g(r + min(c + 3u, last)), c + 3u < p.C));
}

@compute @workgroup_size(WG)
fn wteSerial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  setKey();
  let blocks = (p.C + CH - 1u) / CH;
  let idx = gid.y * nwg.x * WG + gid.x;       // v * blocks + channel block
  if (idx >= p.V * blocks) { return; }
  let v = i32(idx / blocks);
  let c0 = (idx % blocks) * CH;
  let BT = p.B * p.T;
  var acc: array<vec4<f32>, 4>;               // channels c0 + 4k .. c0 + 4k + 3
  for (var k = 0u; k < 4u; k++) { acc[k] = vec4<f32>(0.0); }
  for (var i0 = 0u; i0 < BT; i0 += BLOCK) {
    var part: array<vec4<f32>, 4>;
    for (var k = 0u; k < 4u; k++) { part[k] = vec4<f32>(0.0); }
    let end = min(i0 + BLOCK, BT);
    for (var i = i0; i < end; i++) {
      if (tokens[i] == v) {
        for (var k = 0u; k < 4u; k++) { part[k] += dout4(i, c0 + 4u * k); }
      }
    }
    for (var k = 0u; k < 4u; k++) { acc[k] += part[k]; }
  }
  let row = u32(v) * p.C;
  for (var c = c0; c < min(c0 + CH, p.C); c++) {
    grad[row + c] += acc[(c - c0) / 4u][(c - c0) % 4u];
  }
}

const POS_LANES = 64u;        // position lanes per workgroup in `wte` (times 4 channel quads)
var<workgroup> red: array<vec4<f32>, 256>;

@compute @workgroup_size(256)
fn wte(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) li: u32) {
  setKey();
  wteSlice(wg.y * nwg.x + wg.x, li);
}

/** Workgroup `idx` of `wte`: token v = idx / blocks, its channel slice idx % blocks (call in uniform control flow). */
fn wteSlice(idx: u32, li: u32) {
  let blocks = (p.C + CH - 1u) / CH;
  if (idx >= p.V * blocks) { return; }        // uniform across the workgroup
  let v = i32(idx / blocks);
  let q = li % 4u;                            // channel quad
  let j = li / 4u;                            // position lane
  let c = (idx % blocks) * CH + 4u * q;
  let BT = p.B * p.T;
  var acc = vec4<f32>(0.0);
  for (var i = j; i < BT; i += POS_LANES) {
    if (tokens[i] == v) { acc += dout4(i, c); }
  }
  red[li] = acc;
  workgroupBarrier();
  for (var s = POS_LANES / 2u; s > 0u; s >>= 1u) {
    if (j < s) { red[li] += red[li + 4u * s]; }
    workgroupBarrier();
  }
  if (j == 0u) {
    let row = u32(v) * p.C;
    let sum = red[q];
    for (var k = 0u; k < 4u; k++) {
      if (c + k < p.C) { grad[row + c + k] += sum[k]; }
    }
  }
}

@compute @workgroup_size(WG)
fn wpe(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  setKey();
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.T * p.C) { return; }
  grad[i] += positionSum(i);
}

/** sum over b of dout[b, t, c], i = t * C + c, in batch order. */
fn positionSum(i: u32) -> f32 {
  var acc = 0.0;
  for (var b = 0u; b < p.B; b++) {
    acc += g(b * p.T * p.C + i);
  }
  return acc;
}

@compute @workgroup_size(256)
fn both(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  setKey();
  let w = wg.y * nwg.x + wg.x;
  if (w < p.wteWG) {
    wteSlice(w, li);
    return;
  }
  let i = (w - p.wteWG) * 256u + li;
  if (i < p.T * p.C) { gradPos[i] += positionSum(i); }
}
