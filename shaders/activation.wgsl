// Point-wise activations, one invocation per element (n elements).
//
//   forward:  out[i] = f(inp[i])
//   backward: dinp[i] = f'(inp[i]) * dout[i]        (overwrites dinp)
//
// KIND 0 = ReLU (f'(0) = 0, as PyTorch). KIND 1 = exact GELU, PyTorch's
// nn.GELU(): f(x) = x * Phi(x) with Phi(x) = erfc(-x / sqrt 2) / 2, and
// f'(x) = Phi(x) + x * phi(x), phi the standard normal density. erfc is the
// Numerical Recipes Chebyshev fit (fractional error < 1.2e-7 for every x);
// using erfc rather than 1 + erf keeps the tiny values of GELU at large
// negative x accurate instead of cancelling them to 0.
//
// Dispatch: ceil(n / 256) workgroups, folded into (x, y) past 65535.
// Bindings: 0 params {n}, 1 out / dinp (read_write), 2 inp, 3 dout (backward only).
// Needs: 256 invocations per workgroup, no workgroup memory.

override KIND: u32 = 0u;

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;

const INV_SQRT2 = 0.70710678118654752;
const INV_SQRT_2PI = 0.39894228040143268;

// Complementary error function (Numerical Recipes erfcc).
fn erfc(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
             t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let r = t * exp(-z * z + poly);
  return select(2.0 - r, r, x >= 0.0);
}

// Standard normal CDF.
fn phiCdf(x: f32) -> f32 {
  return 0.5 * erfc(-x * INV_SQRT2);
}

fn index(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
  return (wg.y * nwg.x + wg.x) * 256u + li;
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let i = index(wg, nwg, li);
  if (i >= p.n) { return; }
  let x = inp[i];
  if (KIND == 0u) {
    out[i] = max(x, 0.0);
  } else {
    out[i] = x * phiCdf(x);
  }
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let i = index(wg, nwg, li);
  if (i >= p.n) { return; }
  let x = inp[i];
  var grad: f32;
  if (KIND == 0u) {
    grad = select(0.0, 1.0, x > 0.0);
  } else {
    grad = phiCdf(x) + x * INV_SQRT_2PI * exp(-0.5 * x * x);
  }
  out[i] = grad * dout[i];
}
