// Token + position embedding (llm.c encoder_forward).
//
//   out[i, c] = wte[tokens[i], c] + wpe[pos0 + i % T, c]      out (BT, C), i = b * T + t
//
// pos0 is the position of the first row (0 in training; the cached length
// when a decoder embeds the one new token).
//
// One invocation per output element, channel fastest (coalesced rows).
// Token ids must lie in [0, V): they come from the tokenizer, which checks
// them; an out-of-range id reads whatever robust buffer access gives, never
// outside the buffer.
//
// With DROP (training) the embeddings' dropout is applied on the way out, the
// mask of shaders/dropout.wgsl over (BT, C) (element i kept when
// hash(key(seed, salt), i) >= threshold, then scaled):
//   out[i, c] = dropout(wte[tokens[i], c] + wpe[pos0 + i % T, c])
//
// Dispatch: ceil(BT * C / 256) workgroups, folded into (x, y) past 65535.
// Bindings: 0 params {BT, T, C, pos0, threshold, salt, scale (f32)}, 1 out
// (read_write), 2 tokens (BT, i32), 3 wte (V, C), 4 wpe (>= pos0 + T, C),
// 5 seed (u32[1]; read only with DROP).
// Needs: 256 invocations per workgroup, no workgroup memory.

struct Params { BT: u32, T: u32, C: u32, pos0: u32, threshold: u32, salt: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> tokens: array<i32>;
@group(0) @binding(3) var<storage, read> wte: array<f32>;
@group(0) @binding(4) var<storage, read> wpe: array<f32>;
@group(0) @binding(5) var<storage, read> seed: array<u32>;

// false: token embeddings only (rotary models have no learned positions; wpe is then not read)
override POSITIONS: bool = true;
// the embeddings' dropout (training)
override DROP: bool = false;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * nwg.x + wg.x) * 256u + li;
  if (i >= p.BT * p.C) { return; }
  let row = i / p.C;
  let c = i % p.C;
  let t = p.pos0 + row % p.T;
  let v = u32(tokens[row]);
  var e = wte[v * p.C + c];
  if (POSITIONS) { e += wpe[t * p.C + c]; }
  if (DROP) { e = select(0.0, e * p.scale, dropoutHash(dropoutKey(seed[0], p.salt), i) >= p.threshold); }
  out[i] = e;
}
