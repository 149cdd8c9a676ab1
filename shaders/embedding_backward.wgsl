// Embedding gradients, accumulated (llm.c encoder_backward), deterministic
// and without float atomics: every gradient element has exactly one writer,
// which adds its terms in a fixed order.
//
// Entry point `wte`:  dwte[v, c] += sum over i with tokens[i] == v of dout[i, c]
//   One invocation per (v, c), scanning the BT token ids in order and adding
//   dout[i, c] for each match (a sum per block of 256 tokens, then the block
//   sums, which keeps the rounding error of a frequent token about 10x lower
//   than one running sum). No workgroup memory, no barriers: neighbouring
//   invocations are neighbouring channels of one row, so they read the same
//   token id and contiguous dout.
//   Dispatch: ceil(V * C / 64) workgroups, folded into (x, y) past 65535.
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

@compute @workgroup_size(WG)
fn wte(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.y * nwg.x * WG + gid.x;       // v * C + c
  if (idx >= p.V * p.C) { return; }
  let v = i32(idx / p.C);
  let c = idx % p.C;
  let BT = p.B * p.T;
  var acc = 0.0;
  for (var i0 = 0u; i0 < BT; i0 += BLOCK) {
    var part = 0.0;
    let end = min(i0 + BLOCK, BT);
    for (var i = i0; i < end; i++) {
      if (tokens[i] == v) { part += dout[i * p.C + c]; }
    }
    acc += part;
  }
  grad[idx] += acc;
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
