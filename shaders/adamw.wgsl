// One AdamW step (PyTorch semantics) over params[offset .. offset + count).
//
//   g  = grad * clip,  clip = min(1, maxNorm / (norm + 1e-6)) when maxNorm > 0 (clip_grad_norm_), else 1
//   p -= lr * wd * p                            (only with DECAY: decoupled weight decay)
//   m  = beta1 m + (1 - beta1) g
//   v  = beta2 v + (1 - beta2) g^2
//   p -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
//
// Everything that changes per step comes from storage buffers written by the
// caller (hyper) or by gradNorm (norm), so the uniform params stay fixed.
// One invocation per element.
//
// Dispatch: (min(W, 65535), ceil(W / 65535)) with W = ceil(count / 256).
// Bindings: 0 params {offset, count}, 1 params (read_write), 2 grads, 3 m (read_write), 4 v (read_write),
//           5 hyper f32[8] {lr, beta1, beta2, eps, weightDecay, maxNorm, 1 - beta1^t, 1 - beta2^t}, 6 norm f32[1].
// Needs: 256 invocations per workgroup, 6 storage buffers.

override DECAY: bool = true;

struct Params { offset: u32, count: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read> hyper: array<f32, 8>;
@group(0) @binding(6) var<storage, read> norm: array<f32>;

const WG = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let k = (wg.x + wg.y * nwg.x) * WG + li;
  if (k >= p.count) { return; }
  let i = p.offset + k;
  let lr = hyper[0];
  let beta1 = hyper[1];
  let beta2 = hyper[2];
  let eps = hyper[3];
  let wd = hyper[4];
  let maxNorm = hyper[5];

  var g = grads[i];
  if (maxNorm > 0.0) { g *= min(1.0, maxNorm / (norm[0] + 1e-6)); }
  var w = params[i];
  if (DECAY) { w -= lr * wd * w; }
  let mi = beta1 * m[i] + (1.0 - beta1) * g;
  let vi = beta2 * v[i] + (1.0 - beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  params[i] = w - lr * (mi / hyper[6]) / (sqrt(vi / hyper[7]) + eps);
}
