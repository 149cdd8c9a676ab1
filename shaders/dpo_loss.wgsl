// DPO's sigmoid loss over P preference pairs, its statistics, and its
// gradient with respect to the policy's sequence log-probabilities.
//
// Sequences are laid out chosen 0..P-1, then rejected 0..P-1 (S = 2P).
//   reward_c[p] = beta (policy[p] - reference[p]),  reward_r[p] = beta (policy[P+p] - reference[P+p])
//   z_p = reward_c[p] - reward_r[p]
//   loss = (1/P) sum_p -log sigmoid(z_p) = (1/P) sum_p softplus(-z_p)      (stable form)
//   dlogp[p] = -(beta / P) sigmoid(-z_p),  dlogp[P+p] = +(beta / P) sigmoid(-z_p)
//   stats = [loss, mean reward_c, mean reward_r, mean margin z, accuracy (share of z_p > 0)]
//
// One workgroup of 64 invocations: invocation i takes pairs i, i + 64, ...,
// writes their rewards and gradients (one writer each) and keeps partial sums;
// the four sums meet in workgroup memory and are added in a fixed tree order
// (6 barriers), so the statistics are deterministic. P is a batch of pairs
// (tens), so one workgroup is the whole job; it sits between the log-prob pass
// and the backward pass of a DPO step.
//
// Dispatch: (1).
// Bindings: 0 params {P: u32, beta: f32}, 1 stats (5) read_write,
//   2 rewards (2P: chosen then rejected) read_write, 3 dlogp (2P) read_write,
//   4 policy logp (2P), 5 reference logp (2P).
// Needs: 64 invocations per workgroup, 1 KiB of workgroup memory.

struct Params { P: u32, beta: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> rewards: array<f32>;
@group(0) @binding(3) var<storage, read_write> dlogp: array<f32>;
@group(0) @binding(4) var<storage, read> policy: array<f32>;
@group(0) @binding(5) var<storage, read> reference: array<f32>;

const WG = 64u;
var<workgroup> red: array<vec4<f32>, WG>;

fn softplus(x: f32) -> f32 { return max(x, 0.0) + log(1.0 + exp(-abs(x))); }
fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32) {
  let P = p.P;
  let g = p.beta / f32(P);
  // (loss, reward_c, reward_r, correct) summed over this invocation's pairs
  var acc = vec4<f32>(0.0);
  for (var i = li; i < P; i += WG) {
    let rc = p.beta * (policy[i] - reference[i]);
    let rr = p.beta * (policy[P + i] - reference[P + i]);
    let z = rc - rr;
    rewards[i] = rc;
    rewards[P + i] = rr;
    let d = g * sigmoid(-z);
    dlogp[i] = -d;
    dlogp[P + i] = d;
    acc += vec4<f32>(softplus(-z), rc, rr, select(0.0, 1.0, z > 0.0));
  }
  red[li] = acc;
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    workgroupBarrier();
    if (li < k) { red[li] += red[li + k]; }
  }
  if (li == 0u) {
    let mean = red[0] / f32(P);
    stats[0] = mean.x;
    stats[1] = mean.y;
    stats[2] = mean.z;
    stats[3] = mean.y - mean.z;
    stats[4] = mean.w;
  }
}
