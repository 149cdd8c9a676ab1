// Ablation of a channel range of an activation (N, S) in place, the
// TransformerLens interventions on hook_z (one head's slice of the attention
// output before its output projection) and on a branch output (a whole
// attention or MLP sublayer):
//
//   zero:  x[n, c] = 0                      for n < N, lo <= c < lo + width
//   mean:  x[n, c] = (1/N) sum_m x[m, c]    (the mean over the rows: batch and positions)
//
// One invocation owns one channel c: it sums its column (N rows, stride S)
// and then writes it, so no other invocation reads what it writes and no
// barrier is needed. N is a probe batch (B*T, a few thousand rows at most),
// so a serial column sum is short.
// Dispatch: ceil(width / 64) workgroups of 64.
// Bindings: 0 params {N, S, lo, width, mode (0 zero, 1 mean)}, 1 x (N, S) read_write.
// Needs: 64 invocations per workgroup, no workgroup memory.

struct Params { N: u32, S: u32, lo: u32, width: u32, mode: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(64)
fn ablate(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= p.width) { return; }
  let c = p.lo + gid.x;
  var value = 0.0;
  if (p.mode == 1u) {
    var sum = 0.0;
    for (var n = 0u; n < p.N; n++) { sum += x[n * p.S + c]; }
    value = sum / f32(p.N);
  }
  for (var n = 0u; n < p.N; n++) { x[n * p.S + c] = value; }
}
