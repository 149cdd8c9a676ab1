// SwiGLU gate of LLaMA's MLP, one invocation per output element (N * I).
//
//   inp (N, 2I) = gate | up along the last dim (gate_proj's output, then
//   up_proj's: one fused matmul with the two weights stacked produces both)
//   forward:  out[n, i] = silu(gate) * up,  silu(g) = g * sigmoid(g)
//   backward: dinp[n, i]     = dout[n, i] * up * sigmoid(g) * (1 + g * (1 - sigmoid(g)))
//             dinp[n, I + i] = dout[n, i] * silu(g)                 (overwrites dinp)
//
// sigmoid(g) = 1 / (1 + exp(-g)): for g below about -88 exp overflows to
// +inf and the sigmoid is exactly 0, its true value to f32 precision.
// Neighbouring invocations read neighbouring gate and up channels (two
// coalesced streams per row).
//
// Dispatch: ceil(N * I / 256) workgroups, folded into (x, y) past 65535.
// Bindings: 0 params {N, I}, 1 out (N, I) / dinp (N, 2I) (read_write),
// 2 inp (N, 2I), 3 dout (N, I) (backward only).
// Needs: 256 invocations per workgroup, no workgroup memory.

struct Params { N: u32, I: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;

fn index(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
  return (wg.y * nwg.x + wg.x) * 256u + li;
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let k = index(wg, nwg, li);
  if (k >= p.N * p.I) { return; }
  let n = k / p.I;
  let i = k - n * p.I;
  let g = inp[n * 2u * p.I + i];
  let u = inp[n * 2u * p.I + p.I + i];
  out[k] = g / (1.0 + exp(-g)) * u;
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let k = index(wg, nwg, li);
  if (k >= p.N * p.I) { return; }
  let n = k / p.I;
  let i = k - n * p.I;
  let row = n * 2u * p.I;
  let g = inp[row + i];
  let u = inp[row + p.I + i];
  let s = 1.0 / (1.0 + exp(-g));
  let d = dout[k];
  out[row + i] = d * u * s * (1.0 + g * (1.0 - s));
  out[row + p.I + i] = d * g * s;
}
