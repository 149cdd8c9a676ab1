// Key/value cache append (a KV-cache decoder's one new position).
//
//   kCache[pos, i] = qkv[qOff + i]            i in [0, n)
//   vCache[pos, i] = qkv[qOff + n + i]
//
// qkv is one row laid out q heads | k heads | v heads: qOff = C floats of
// queries, then n = KV * hs floats of keys and n of values. The caches are
// (Tmax, n) row-major. Replaces two copyBufferToBuffer commands, so a decoded
// token stays inside one compute pass.
//
// Dispatch: ceil(n / 64) workgroups of 64, one invocation per channel (both caches).
// Bindings: 0 params {n, qOff, pos}, 1 kCache (read_write), 2 vCache (read_write), 3 qkv (read).
// Needs: 64 invocations per workgroup, no workgroup memory.

struct Params { n: u32, qOff: u32, pos: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> kCache: array<f32>;
@group(0) @binding(2) var<storage, read_write> vCache: array<f32>;
@group(0) @binding(3) var<storage, read> qkv: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.n) { return; }
  kCache[p.pos * p.n + i] = qkv[p.qOff + i];
  vCache[p.pos * p.n + i] = qkv[p.qOff + p.n + i];
}
