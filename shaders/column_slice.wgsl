// A column slice of a row-major matrix: columns [col0, col0 + W) of N rows
// that are ld wide (a fused activation such as q | k | v), against a compact
// (N, W) matrix. One invocation per element of the slice.
//
//   sliceAdd:  wide[r * ld + col0 + j] += narrow[r * W + j]    (an adapter's product into its rows of a fused output)
//   sliceCopy: narrow[r * W + j] = wide[r * ld + col0 + j]     (the matching slice of a fused output's gradient)
//
// Dispatch: ceil(N * W / 256) workgroups of 256, folded into (x, y) when more
// than 65535 (src/gpu/runtime.ts `grid`).
// Bindings: 0 params {n = N * W, W, ld, col0: u32}, 1 out (read_write: wide
// for sliceAdd, narrow for sliceCopy), 2 inp (read: the other one).
// Needs: 256 invocations per workgroup, no workgroup memory.

struct Params { n: u32, W: u32, ld: u32, col0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;

fn flatIndex(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
  return (wg.y * nwg.x + wg.x) * 256u + li;
}

/** The wide matrix's index of element i of the (N, W) slice. */
fn wideIndex(i: u32) -> u32 {
  return (i / p.W) * p.ld + p.col0 + i % p.W;
}

@compute @workgroup_size(256)
fn sliceAdd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let i = flatIndex(wg, nwg, li);
  if (i >= p.n) { return; }
  let w = wideIndex(i);
  out[w] = out[w] + inp[i];
}

@compute @workgroup_size(256)
fn sliceCopy(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
  let i = flatIndex(wg, nwg, li);
  if (i >= p.n) { return; }
  out[i] = inp[wideIndex(i)];
}
