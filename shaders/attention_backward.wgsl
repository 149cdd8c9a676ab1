// Causal multi-head self-attention, backward. Two entry points, run in order:
//
//   queryRows: one invocation per query row t of (b, h):
//     dp[t2]  = m[t, t2] * dout[t] . v[t2]                       (t2 <= t)
//     D       = sum_t2 att[t, t2] * dp[t2]
//     ds[t2]  = att[t, t2] * (dp[t2] - D) / sqrt(hs)             -> scratch (B,NH,T,T), t2 <= t
//     dq[t]   = sum_t2 ds[t2] * k[t2]                            -> dqkv q part (overwrite)
//   keyRows: one invocation per (b, h, group of four keys t2, group of four dims d):
//     dk[t2, d] = sum_{t >= t2} ds[t, t2] * q[t, d]              -> dqkv k part (overwrite)
//     dv[t2, d] = sum_{t >= t2} m[t, t2] * att[t, t2] * dout[t, d]  -> dqkv v part (overwrite)
//
// m = 1 without dropout. With DROPOUT (attn_dropout, see attention_forward.wgsl)
// m[t, t2] = keep * scale, the forward's mask regenerated from (seed, salt,
// flat index in (B,NH,T,T)): queryRows hashes each of its entries once and
// leaves the dropped probability m * att[t, t2] for t2 < t at scratch[t2, t]
// (the upper triangle, which holds no ds), so keyRows reads it instead of att
// and hashes only the diagonal. Without DROPOUT that code is compiled out.
//
// Each output element has exactly one writer which adds its terms in a fixed
// order: no atomics, deterministic. No workgroup memory and no barriers: a
// queryRows invocation re-reads only the scratch row it wrote itself, and
// keyRows runs after queryRows finished. Inner steps cover four keys or four
// dims (keyRows: four keys x four dims) so each load serves four products (the
// last group clamped, its extra results dropped). Neighbouring keyRows
// invocations are neighbouring dims of one key group, so their q / dout reads
// are contiguous.
//
// Dispatch: queryRows n = B * NH * T, keyRows n = B * NH * ceil(T / 4) * ceil(hs / 4);
// ceil(n / 64) workgroups folded into (min(w, 65535), ceil(w / 65535)),
// index = gid.x + gid.y * num_workgroups.x * 64.
// Bindings: 0 params {B, T, C, NH, threshold, salt, scale: f32}, 1 dqkv (B,T,3C),
//           2 scratch (B,NH,T,T), 3 dout (B,T,C), 4 qkv (B,T,3C), 5 att (B,NH,T,T),
//           6 seed (u32[1]; read only with DROPOUT).
// Needs: 64 invocations per workgroup, 6 storage buffers, no workgroup memory.

override DROPOUT: bool = false;

struct Params { B: u32, T: u32, C: u32, NH: u32, threshold: u32, salt: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dqkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> scratch: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read> qkv: array<f32>;
@group(0) @binding(5) var<storage, read> att: array<f32>;
@group(0) @binding(6) var<storage, read> seed: array<u32>;

const WG = 64u;

// The hash of shaders/dropout.wgsl (CPU twin: dropoutHash in src/kernels/dropout.ts).
fn mix(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

// m at flat index i: scale where the forward kept the probability, else 0.
fn dropFactor(key: u32, i: u32) -> f32 {
  return select(0.0, p.scale, mix(mix(i ^ key) + key) >= p.threshold);
}

fn dropKey() -> u32 {
  return mix(mix(p.salt + 0x9e3779b9u) ^ seed[0]);
}

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

  // dp = dout . v, four keys at a time (keys past t clamped, their results dropped).
  var key = 0u;
  if (DROPOUT) { key = dropKey(); }
  var D = 0.0;
  for (var t2 = 0u; t2 <= t; t2 += 4u) {
    let v0 = kv0 + 2u * C + min(t2, t) * 3u * C;
    let v1 = kv0 + 2u * C + min(t2 + 1u, t) * 3u * C;
    let v2 = kv0 + 2u * C + min(t2 + 2u, t) * 3u * C;
    let v3 = kv0 + 2u * C + min(t2 + 3u, t) * 3u * C;
    var s = vec4<f32>(0.0);
    for (var d = 0u; d < hs; d++) {
      s += dout[g0 + d] * vec4<f32>(qkv[v0 + d], qkv[v1 + d], qkv[v2 + d], qkv[v3 + d]);
    }
    for (var k = 0u; k < 4u; k++) {
      if (t2 + k <= t) {
        var dp = s[k];
        let a = att[attRow + t2 + k];
        if (DROPOUT) {
          let m = dropFactor(key, attRow + t2 + k);
          dp *= m;
          // the dropped probability for keyRows, at scratch[t2 + k, t] (row t's
          // own column of the upper triangle)
          if (t2 + k < t) { scratch[(row - t + t2 + k) * T + t] = m * a; }
        }
        scratch[attRow + t2 + k] = dp;
        D += a * dp;
      }
    }
  }
  for (var t2 = 0u; t2 <= t; t2++) {
    scratch[attRow + t2] = att[attRow + t2] * (scratch[attRow + t2] - D) * scale;
  }
  // dq = ds k, four dims at a time (dims past hs clamped, not written).
  let dq0 = (b * T + t) * 3u * C + h * hs;
  let k0 = kv0 + C;
  for (var d = 0u; d < hs; d += 4u) {
    let d1 = min(d + 1u, hs - 1u);
    let d2 = min(d + 2u, hs - 1u);
    let d3 = min(d + 3u, hs - 1u);
    var acc = vec4<f32>(0.0);
    for (var t2 = 0u; t2 <= t; t2++) {
      let r = k0 + t2 * 3u * C;
      acc += scratch[attRow + t2] * vec4<f32>(qkv[r + d], qkv[r + d1], qkv[r + d2], qkv[r + d3]);
    }
    for (var k = 0u; k < 4u; k++) {
      if (d + k < hs) { dqkv[dq0 + d + k] = acc[k]; }
    }
  }
}

@compute @workgroup_size(WG)
fn keyRows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let T = p.T;
  let C = p.C;
  let hs = C / p.NH;
  let nd = (hs + 3u) / 4u;                    // groups of four dims
  let nk = (T + 3u) / 4u;                     // groups of four keys
  let idx = gid.x + gid.y * nwg.x * WG;       // ((b * NH + h) * nk + key group) * nd + dim group
  if (idx >= p.B * p.NH * nk * nd) { return; }
  let d = (idx % nd) * 4u;
  let kg = idx / nd;
  let key0 = (kg % nk) * 4u;
  let bh = kg / nk;
  let h = bh % p.NH;
  let b = bh / p.NH;
  let head = bh * T;                          // first row of (b, h) in att / scratch
  let c0 = h * hs + d;
  let c1 = h * hs + min(d + 1u, hs - 1u);
  let c2 = h * hs + min(d + 2u, hs - 1u);
  let c3 = h * hs + min(d + 3u, hs - 1u);

  // dkK / dvK: dims d..d+3 of key key0 + K. Terms with t < key (above the
  // diagonal, where scratch holds no ds) are exact zeros.
  var dk0 = vec4<f32>(0.0); var dk1 = vec4<f32>(0.0); var dk2 = vec4<f32>(0.0); var dk3 = vec4<f32>(0.0);
  var dv0 = vec4<f32>(0.0); var dv1 = vec4<f32>(0.0); var dv2 = vec4<f32>(0.0); var dv3 = vec4<f32>(0.0);
  for (var t = key0; t < T; t++) {
    let q = (b * T + t) * 3u * C;
    let g = (b * T + t) * C;
    let qv = vec4<f32>(qkv[q + c0], qkv[q + c1], qkv[q + c2], qkv[q + c3]);
    let gv = vec4<f32>(dout[g + c0], dout[g + c1], dout[g + c2], dout[g + c3]);
    let rowA = (head + t) * T;
    let i = min(vec4<u32>(key0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(t));   // clamped key columns
    let on = vec4<u32>(key0) + vec4<u32>(0u, 1u, 2u, 3u) <= vec4<u32>(t);
    let ds = select(vec4<f32>(0.0), vec4<f32>(scratch[rowA + i.x], scratch[rowA + i.y], scratch[rowA + i.z], scratch[rowA + i.w]), on);
    var pr: vec4<f32>;
    if (DROPOUT) {
      // m * att: below the diagonal from scratch[key, t] (written by queryRows), on it hashed here.
      let keys = vec4<u32>(key0) + vec4<u32>(0u, 1u, 2u, 3u);
      let r = (vec4<u32>(head) + min(keys, vec4<u32>(T - 1u))) * T + t;
      pr = select(vec4<f32>(0.0), vec4<f32>(scratch[r.x], scratch[r.y], scratch[r.z], scratch[r.w]), keys < vec4<u32>(t));
      if (t < key0 + 4u) {
        let diag = dropFactor(dropKey(), rowA + t) * att[rowA + t];
        pr = select(pr, vec4<f32>(diag), keys == vec4<u32>(t));
      }
    } else {
      pr = select(vec4<f32>(0.0), vec4<f32>(att[rowA + i.x], att[rowA + i.y], att[rowA + i.z], att[rowA + i.w]), on);
    }
    dk0 += ds.x * qv; dk1 += ds.y * qv; dk2 += ds.z * qv; dk3 += ds.w * qv;
    dv0 += pr.x * gv; dv1 += pr.y * gv; dv2 += pr.z * gv; dv3 += pr.w * gv;
  }
  writeKey(b, h, key0, d, dk0, dv0);
  writeKey(b, h, key0 + 1u, d, dk1, dv1);
  writeKey(b, h, key0 + 2u, d, dk2, dv2);
  writeKey(b, h, key0 + 3u, d, dk3, dv3);
}

// dims d..d+3 (those below hs) of key's dk and dv into dqkv, when key < T.
fn writeKey(b: u32, h: u32, key: u32, d: u32, dk: vec4<f32>, dv: vec4<f32>) {
  let hs = p.C / p.NH;
  if (key >= p.T) { return; }
  let o = (b * p.T + key) * 3u * p.C + h * hs + d;
  for (var j = 0u; j < 4u; j++) {
    if (d + j < hs) {
      dqkv[o + p.C + j] = dk[j];
      dqkv[o + 2u * p.C + j] = dv[j];
    }
  }
}
