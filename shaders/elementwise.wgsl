// Element-wise kernels over flat f32 arrays of n elements, one invocation per element.
//
//   add:        out[i] = a[i] + b[i]        (residual connections)
//   addInPlace: out[i] += a[i]              (dst += src)
//   scale:      out[i] *= p.value
//   fill:       out[i] = p.value
//
// `value` sits in the uniform params, which are cached by content: use it for
// constants of a call site (0, 1/accumulation steps), never for per-step values.
//
// Dispatch: ceil(n / 256) workgroups of 256, folded into (x, y) when more than
// 65535 (src/kernels/elementwise.ts `grid`); the element index is linearised
// from workgroup_id and num_workgroups.
// Bindings: 0 params {n: u32, value: f32}, 1 out (read_write), 2 a, 3 b; each
// entry point uses a prefix of them (add 1-3, addInPlace 1-2, scale and fill 1).
// Needs: 256 invocations per workgroup, no workgroup memory.

struct Params { n: u32, value: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;

fn flatIndex(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
  return (wg.y * nwg.x + wg.x) * 256u + li;
}

@compute @workgroup_size(256)
fn add(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) li: u32) {
  let i = flatIndex(wg, nwg, li);
  if (i >= p.n) { return; }
  out[i] = a[i] + b[i];
}

@compute @workgroup_size(256)
fn addInPlace(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
  let i = flatIndex(wg, nwg, li);
  if (i >= p.n) { return; }
  out[i] = out[i] + a[i];
}

@compute @workgroup_size(256)
fn scale(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) li: u32) {
  let i = flatIndex(wg, nwg, li);
  if (i >= p.n) { return; }
  out[i] = out[i] * p.value;
}

@compute @workgroup_size(256)
fn fill(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = flatIndex(wg, nwg, li);
  if (i >= p.n) { return; }
  out[i] = p.value;
}
