// Dropout with a counter-based hash RNG: no random state, so forward and
// backward regenerate the same mask from (seed, salt, element index).
//
//   out[i] = keep(i) ? inp[i] * scale : 0        scale = 1 / (1 - p)
//   keep(i) = hash(seed, salt, i) >= threshold   threshold = floor(p * 2^32)
//
// The backward is the same map applied to dout (dinp = dout * mask * scale),
// so one entry point serves both. With RESIDUAL it also adds a residual
// stream, the block's residual branch in one pass:
//
//   out[i] = resid[i] + (keep(i) ? inp[i] * scale : 0)
// The hash (dropoutKey, dropoutHash) is
// shaders/dropout_hash.wgsl, prepended by the wrapper (src/kernels/dropout.ts,
// which also has the bit-exact CPU twin, dropoutMaskCpu).
// `seed` is a storage buffer written by the caller once per step (uniform
// params are cached by content); `salt` tells apart the dropout sites of one
// step (layer, position in the block) and is a per-call-site constant.
//
// Dispatch: ceil(n / 256) workgroups, folded into (x, y) past 65535.
// Bindings: 0 params {n, threshold, salt, scale: f32}, 1 out (read_write),
// 2 inp (a different buffer from out), 3 seed (u32[1]), 4 resid (n; read only with RESIDUAL).
// Needs: 256 invocations per workgroup, no workgroup memory.

override RESIDUAL: bool = false;

struct Params { n: u32, threshold: u32, salt: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> seed: array<u32>;
@group(0) @binding(4) var<storage, read> resid: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * nwg.x + wg.x) * 256u + li;
  if (i >= p.n) { return; }
  let h = dropoutHash(dropoutKey(seed[0], p.salt), i);
  var x = select(0.0, inp[i] * p.scale, h >= p.threshold);
  if (RESIDUAL) { x += resid[i]; }
  out[i] = x;
}
