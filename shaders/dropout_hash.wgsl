// The dropout hash, written once: a snippet, not a kernel. The TypeScript
// wrappers prepend it (withDropoutHash in src/kernels/dropout.ts) to every
// shader that drops elements: dropout.wgsl, attention_forward.wgsl,
// attention_backward.wgsl. A mask is a pure function of (seed, salt, index),
// so forward and backward regenerate it instead of storing it.
//
//   key  = mix(mix(salt + golden) ^ seed)          once per dispatch (or invocation)
//   hash = mix(mix(i ^ key) + key)                 per element i
//   keep = hash >= threshold,  threshold = floor(p * 2^32)
//
// mix is Chris Wellons' lowbias32 integer mixer. The bit-exact CPU twin is
// dropoutHash / dropoutMaskCpu in src/kernels/dropout.ts.

fn mix(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

// The per-site key of a step: seed (written each step) and salt (per call site).
fn dropoutKey(seed: u32, salt: u32) -> u32 {
  return mix(mix(salt + 0x9e3779b9u) ^ seed);
}

// The 32-bit hash of flat element i under a key; kept where >= the threshold.
fn dropoutHash(key: u32, i: u32) -> u32 {
  return mix(mix(i ^ key) + key);
}
