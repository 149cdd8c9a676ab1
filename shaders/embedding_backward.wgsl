// Embedding gradients, accumulated (llm.c encoder_backward), deterministic
// and without float atomics: every gradient element has exactly one writer,
// which adds its terms in a fixed order.
//
// Entry point `wte`:  dwte[v, c] += sum over i with tokens[i] == v of dout[i, c]
//   One workgroup per vocabulary row v. The workgroup walks the BT tokens in
//   chunks of 256 staged in workgroup memory; invocation c (and c + 256, ...)
//   adds dout[i, c] for each matching i in increasing i (a sum per chunk, then
//   the chunk sums). Rows of tokens that
//   do not occur cost only the scan of the token ids.
//   Dispatch: V workgroups, folded into (x, y) past 65535.
//
// Entry point `wpe`:  dwpe[t, c] += sum over b of dout[b * T + t, c]
//   One invocation per (t, c), summing over b in order.
//   Dispatch: ceil(T * C / 256) workgroups, folded into (x, y) past 65535.
//
// Bindings: 0 params {B, T, C, V}, 1 dwte or dwpe (read_write), 2 dout (BT, C),
// 3 tokens (BT, i32; `wte` only).
// Needs: 256 invocations per workgroup, 1 KiB workgroup memory.

struct Params { B: u32, T: u32, C: u32, V: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> grad: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> tokens: array<i32>;

var<workgroup> chunk: array<i32, 256>;

@compute @workgroup_size(256)
fn wte(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) li: u32) {
  let v = wg.y * nwg.x + wg.x;
  if (v >= p.V) { return; }                   // uniform across the workgroup
  let BT = p.B * p.T;
  for (var c0 = 0u; c0 < p.C; c0 += 256u) {
    let c = c0 + li;
    var acc = 0.0;
    for (var i0 = 0u; i0 < BT; i0 += 256u) {
      workgroupBarrier();                     // the previous chunk has been read
      chunk[li] = select(-1, tokens[min(i0 + li, BT - 1u)], i0 + li < BT);
      workgroupBarrier();
      if (c < p.C) {
        // Summing each chunk apart, then the chunk sums, keeps the rounding
        // error of a frequent token (up to BT terms) about 10x lower than one
        // running sum.
        var part = 0.0;
        let count = min(256u, BT - i0);
        for (var k = 0u; k < count; k++) {
          if (chunk[k] == i32(v)) { part += dout[(i0 + k) * p.C + c]; }
        }
        acc += part;
      }
    }
    if (c < p.C) { grad[v * p.C + c] += acc; }
  }
}

@compute @workgroup_size(256)
fn wpe(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * nwg.x + wg.x) * 256u + li;
  if (i >= p.T * p.C) { return; }
  var acc = 0.0;
  for (var b = 0u; b < p.B; b++) {
    acc += dout[b * p.T * p.C + i];
  }
  grad[i] += acc;
}
