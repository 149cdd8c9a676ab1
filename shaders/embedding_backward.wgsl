// Embedding gradients, accumulated (llm.c encoder_backward), deterministic
// and without float atomics: every gradient element has exactly one writer,
// which adds its terms in a fixed order.
//
// Entry point `wte`:  dwte[v, c] += sum over i with tokens[i] == v of dout[i, c]
//   One invocation per (v, block of 16 channels), scanning the BT token ids in
//   order and adding dout[i, c..c+16] for each match (a sum per block of 256
//   tokens, then the block sums, which keeps the rounding error of a frequent
//   token about 10x lower than one running sum). No workgroup memory, no
//   barriers; the scan of token ids, the bulk of the work, is shared by 16
//   channels. Neighbouring invocations are neighbouring channel blocks of one
//   row, so they read the same token id and contiguous dout.
//   Dispatch: ceil(V * ceil(C / 16) / 64) workgroups, folded into (x, y) past 65535.
//
// Entry point `wpe`:  dwpe[t, c] += sum over b of dout[b * T + t, c]
//   One invocation per (t, c), summing over b in order.
//   Dispatch: ceil(T * C / 64) workgroups, folded into (x, y) past 65535.
//
// Bindings: 0 params {B, T, C, V}, 1 dwte or dwpe (read_write), 2 dout (BT, C),
// 3 tokens (BT, i32; `wte` only).
// Needs: 64 invocations per workgroup, no workgroup memory.

struct Params { B: u32, T: u32, C: u32, V: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> grad: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> tokens: array<i32>;

const WG = 64u;
const BLOCK = 256u;

const CH = 16u;               // channels per invocation in `wte`

// dout[i, c..c+4), zero past the row's end.
fn dout4(i: u32, c: u32) -> vec4<f32> {
  let r = i * p.C;
  let last = p.C - 1u;
  return vec4<f32>(
    select(0.0, dout[r + min(c, last)], c < p.C),
    select(0.0, dout[r + min(c + 1u, last)], c + 1u < p.C),
    select(0.0, dout[r + min(c + 2u, last)], c + 2u < p.C),
    select(0.0, dout[r + min(c + 3u, last)], c + 3u < p.C));
}

@compute @workgroup_size(WG)
fn wte(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
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

@compute @workgroup_size(WG)
fn wpe(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.T * p.C) { return; }
  var acc = 0.0;
  for (var b = 0u; b < p.B; b++) {
    acc += dout[b * p.T * p.C + i];
  }
  grad[i] += acc;
}
