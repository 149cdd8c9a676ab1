// Copy a block of rows and channels from one activation to another, the
// activation-patching primitive (and the cache of a clean run it reads):
//
//   dst[dstBase + (dstR0 + r) * S + lo + j] = src[srcBase + (r0 + r) * S + lo + j]
//       for 0 <= r < rows, 0 <= j < width
//
// e.g. one position's residual row (rows 1, width C), one head's slice of
// hook_z at a position (rows 1, lo = h * D, width D), or a whole (T, S)
// activation into a cache (r0 0, rows T, width S). Bases are in floats, so
// ranges need no 256-byte binding alignment.
// One invocation per copied element. Dispatch: ceil(rows * width / 64) workgroups of 64.
// Bindings: 0 params {S, r0, dstR0, rows, lo, width, srcBase, dstBase}, 1 dst read_write, 2 src.
// Needs: 64 invocations per workgroup, no workgroup memory.

struct Params { S: u32, r0: u32, dstR0: u32, rows: u32, lo: u32, width: u32, srcBase: u32, dstBase: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;

@compute @workgroup_size(64)
fn patchRows(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= p.rows * p.width) { return; }
  let r = gid.x / p.width;
  let c = p.lo + gid.x % p.width;
  dst[p.dstBase + (p.dstR0 + r) * p.S + c] = src[p.srcBase + (p.r0 + r) * p.S + c];
}
