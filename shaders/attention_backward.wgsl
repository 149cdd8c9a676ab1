// Causal multi-head self-attention, backward. Two entry points, run in order:
//
//   queryRows: one invocation per query row t of (b, h):
//     dp[t2]  = dout[t] . v[t2]                                  (t2 <= t)
//     D       = sum_t2 att[t, t2] * dp[t2]
//     ds[t2]  = att[t, t2] * (dp[t2] - D) / sqrt(hs)             -> scratch (B,NH,T,T), t2 <= t
//     dq[t]   = sum_t2 ds[t2] * k[t2]                            -> dqkv q part (overwrite)
//   keyRows: one invocation per (b, h, key t2, dim d):
//     dk[t2, d] = sum_{t >= t2} ds[t, t2] * q[t, d]              -> dqkv k part (overwrite)
//     dv[t2, d] = sum_{t >= t2} att[t, t2] * dout[t, d]          -> dqkv v part (overwrite)
//
// Each output element has exactly one writer which adds its terms in a fixed
// order: no atomics, deterministic. No workgroup memory and no barriers: a
// queryRows invocation re-reads only the scratch row it wrote itself, and
// keyRows runs after queryRows finished. Neighbouring keyRows invocations are
// neighbouring dims of one key, so their q / dout reads are contiguous.
//
// Dispatch: queryRows n = B * NH * T, keyRows n = B * T * C (= B * NH * T * hs);
// ceil(n / 64) workgroups folded into (min(w, 65535), ceil(w / 65535)),
// index = gid.x + gid.y * num_workgroups.x * 64.
// Bindings: 0 params {B, T, C, NH}, 1 dqkv (B,T,3C), 2 scratch (B,NH,T,T),
//           3 dout (B,T,C), 4 qkv (B,T,3C), 5 att (B,NH,T,T).
// Needs: 64 invocations per workgroup, no workgroup memory.

struct Params { B: u32, T: u32, C: u32, NH: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dqkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> scratch: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read> qkv: array<f32>;
@group(0) @binding(5) var<storage, read> att: array<f32>;

const WG = 64u;

@compute @workgroup_size(WG)
fn queryRows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let T = p.T;
  let C = p.C;
  let hs = C / p.NH;
  let row = gid.x + gid.y * nwg.x * WG;       // (b * NH + h) * T + t
  if (row >= p.B * p.NH * T) { return; }
  let t = row % T;
  let bh = row / T;
  let h = bh % p.NH;
  let b = bh / p.NH;
  let scale = 1.0 / sqrt(f32(hs));
  let attRow = row * T;
  let g0 = (b * T + t) * C + h * hs;          // dout[b, t, h, 0]
  let kv0 = b * T * 3u * C + h * hs;          // q[b, 0, h, 0]; k at + C, v at + 2C

  var D = 0.0;
  for (var t2 = 0u; t2 <= t; t2++) {
    let v0 = kv0 + t2 * 3u * C + 2u * C;
    var s = 0.0;
    for (var d = 0u; d < hs; d++) { s += dout[g0 + d] * qkv[v0 + d]; }
    scratch[attRow + t2] = s;
    D += att[attRow + t2] * s;
  }
  for (var t2 = 0u; t2 <= t; t2++) {
    scratch[attRow + t2] = att[attRow + t2] * (scratch[attRow + t2] - D) * scale;
  }
  let dq0 = (b * T + t) * 3u * C + h * hs;
  for (var d = 0u; d < hs; d++) {
    var acc = 0.0;
    for (var t2 = 0u; t2 <= t; t2++) { acc += scratch[attRow + t2] * qkv[kv0 + t2 * 3u * C + C + d]; }
    dqkv[dq0 + d] = acc;
  }
}

@compute @workgroup_size(WG)
fn keyRows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let T = p.T;
  let C = p.C;
  let hs = C / p.NH;
  let idx = gid.x + gid.y * nwg.x * WG;       // ((b * NH + h) * T + key) * hs + d
  if (idx >= p.B * T * C) { return; }
  let d = idx % hs;
  let row = idx / hs;
  let key = row % T;
  let bh = row / T;
  let h = bh % p.NH;
  let b = bh / p.NH;
  let head = bh * T;                          // first row of (b, h) in att / scratch
  let col = h * hs + d;

  var dk = 0.0;
  var dv = 0.0;
  for (var t = key; t < T; t++) {
    let a = (head + t) * T + key;
    dk += scratch[a] * qkv[(b * T + t) * 3u * C + col];
    dv += att[a] * dout[(b * T + t) * C + col];
  }
  let o = (b * T + key) * 3u * C + col;
  dqkv[o + C] = dk;
  dqkv[o + 2u * C] = dv;
}
