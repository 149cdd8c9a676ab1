// Per-tensor training health after an AdamW step, for every parameter tensor
// of the flat buffers (params, grads, m, v share one layout):
//
//   out[t] = (sum g^2, sum w_old^2, sum du^2, 0) over tensor t's range, where
//   g is the raw gradient (before clipping), w_old the weight before the step
//   and du = w_new - w_old the step's update. Both are rebuilt from the state
//   after the step (m, v, params) and the step's hyper-parameters:
//     a     = (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)   (what AdamW applied)
//     w_old = (w_new + lr a) / (1 - lr wd)   for decayed elements (i < decayCount), else w_new + lr a
//     du    = -lr (a + wd w_old)             (decayed), else -lr a
//
// Two passes, no atomics, fixed summation order (deterministic):
//   partials: one workgroup of 64 invocations per chunk (a range of at most
//             CHUNK elements inside one tensor, from the chunk table); each
//             invocation sums a strided slice, coalesced (neighbouring
//             invocations read neighbouring floats), then one barrier and a
//             64-term sum by invocation 0  -> partial[chunk] (vec4)
//   finish:   one invocation per tensor sums its chunks in order -> out[t]
// Chunks of 4096 floats give a few hundred workgroups for the reference model
// (2.7M parameters): enough to fill 40+ compute units in the first pass, and
// the second pass touches only a few floats per tensor.
//
// Dispatch: partials grid(nChunks) (linearised wg.y * num_workgroups.x + wg.x); finish ceil(nTensors / 64).
// Bindings (partials): 0 params {nChunks, decayCount}, 1 partial (nChunks, 4) written,
//   2 chunks (nChunks, 2) u32 [start, end) in floats, 3 grads (P), 4 params (P), 5 m (P), 6 v (P),
//   7 hyper f32[8] {lr, beta1, beta2, eps, weightDecay, maxNorm, 1 - beta1^t, 1 - beta2^t}.
// Bindings (finish): 0 params {nTensors, 0}, 1 out (nTensors, 4) written, 2 partial (nChunks, 4),
//   3 firstChunk (nTensors + 1) u32: tensor t owns chunks [firstChunk[t], firstChunk[t + 1]).
// Needs: 64 invocations per workgroup, 1 KiB of workgroup memory (partials), 7 storage buffers.

struct Params { n: u32, decayCount: u32 }

@group(0) @binding(0) var<uniform> p: Params;

const WG = 64u;

// ---------------------------------------------------------------- partials

@group(0) @binding(1) var<storage, read_write> partial: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> chunks: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read> grads: array<f32>;
@group(0) @binding(4) var<storage, read> params: array<f32>;
@group(0) @binding(5) var<storage, read> m: array<f32>;
@group(0) @binding(6) var<storage, read> v: array<f32>;
@group(0) @binding(7) var<storage, read> hyper: array<f32, 8>;

var<workgroup> red: array<vec4<f32>, 64>;

@compute @workgroup_size(WG)
fn partials(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let c = wg.y * nwg.x + wg.x;
  if (c >= p.n) { return; } // whole workgroup: uniform control flow for the barrier below
  let range = chunks[c];
  let lr = hyper[0];
  let eps = hyper[3];
  let wd = hyper[4];
  var acc = vec4<f32>(0.0);
  for (var i = range.x + li; i < range.y; i += WG) {
    let g = grads[i];
    let a = (m[i] / hyper[6]) / (sqrt(v[i] / hyper[7]) + eps);
    let w = params[i];
    var wOld = w + lr * a;
    var du = -lr * a;
    if (i < p.decayCount) {
      wOld = wOld / (1.0 - lr * wd);
      du -= lr * wd * wOld;
    }
    acc += vec4<f32>(g * g, wOld * wOld, du * du, 0.0);
  }
  red[li] = acc;
  workgroupBarrier();
  if (li == 0u) {
    var total = vec4<f32>(0.0);
    for (var k = 0u; k < WG; k += 8u) {
      var part = vec4<f32>(0.0);
      for (var j = k; j < k + 8u; j++) { part += red[j]; }
      total += part;
    }
    partial[c] = total;
  }
}

// ---------------------------------------------------------------- finish

@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> sums: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> firstChunk: array<u32>;

@compute @workgroup_size(WG)
fn finish(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x;
  if (t >= p.n) { return; }
  var total = vec4<f32>(0.0);
  for (var c = firstChunk[t]; c < firstChunk[t + 1u]; c++) { total += sums[c]; }
  out[t] = total;
}
