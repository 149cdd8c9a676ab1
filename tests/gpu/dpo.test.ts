// DPO's kernels against the float64 reference (tests/reference/dpo.ts, itself
// checked against finite differences and PyTorch): masked per-sequence
// log-probabilities, the loss with its rewards, statistics and gradient, and
// the gradient into the logits, on awkward sizes (T past the 64 lanes of a
// sequence's workgroup, P past the 64 lanes of the loss), padded masks, and
// extreme logits and rewards. Outputs are poisoned with NaN first.
import { describe, expect, it } from 'vitest';
import { DPO_STATS, dpoLoss, sequenceLogProbs, sequenceLogProbsBackward } from '../../src/kernels/dpo';
import { compare, report } from '../reference/compare';
import { dpoLoss as dpoLossRef, dpoObjective, sequenceLogProbs as logProbsRef, sequenceLogProbsBackward as backwardRef } from '../reference/dpo';
import { randInts, randn, rng } from '../reference/random';
import { checked, poisoned, testGpu } from './context';

/** (S*T) masks: each sequence has a prompt, a response and padding, some rows fully masked. */
function makeMask(S: number, T: number, seed: number): Float32Array {
  const r = rng(seed);
  const mask = new Float32Array(S * T);
  for (let s = 0; s < S; s++) {
    const start = Math.floor(r() * (T / 2));
    const end = start + Math.floor(r() * (T - start + 1));
    for (let t = start; t < end; t++) mask[s * T + t] = 1;
  }
  return mask;
}

function makeLogits(n: number, seed: number, extreme: boolean): Float32Array {
  if (!extreme) return randn(n, seed, 3);
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() < 0.5 ? -1e4 : 1e4) * r());
}

async function runSequences(S: number, T: number, V: number, extreme: boolean) {
  const { gpu } = await testGpu();
  const seed = S * 1009 + T * 31 + V;
  const logits = makeLogits(S * T * V, seed, extreme);
  const targets = randInts(S * T, V, seed + 1);
  const mask = makeMask(S, T, seed + 2);
  const dlogp = randn(S, seed + 3, 0.05);
  const got = await checked(gpu, async () => {
    const logp = poisoned(gpu, S, 'logp');
    const dlogits = poisoned(gpu, S * T * V, 'dlogits');
    const bufs = { logits: gpu.upload(logits), targets: gpu.upload(targets), mask: gpu.upload(mask), dlogp: gpu.upload(dlogp) };
    gpu.submit((enc) => {
      const pass = enc.beginComputePass();
      sequenceLogProbs(gpu, pass, { logp, logits: bufs.logits, targets: bufs.targets, mask: bufs.mask, S, T, V });
      sequenceLogProbsBackward(gpu, pass, { dlogits, dlogp: bufs.dlogp, logits: bufs.logits, targets: bufs.targets, mask: bufs.mask, S, T, V });
      pass.end();
    });
    const r = { logp: await gpu.readF32(logp, S), dlogits: await gpu.readF32(dlogits, S * T * V) };
    for (const b of [logp, dlogits, ...Object.values(bufs)]) gpu.destroy(b);
    return r;
  });
  const wantLogp = logProbsRef(logits, targets, mask, S, T, V);
  const wantGrad = new Float64Array(S * T * V);
  backwardRef(wantGrad, logits, targets, mask, dlogp, S, T, V);
  const name = `S=${S} T=${T} V=${V}${extreme ? ' extreme' : ''}`;
  // A sum of up to T f32 log-softmaxes, each within a few ulps of |logit| (1e4 when extreme).
  const cmpLogp = compare(got.logp, wantLogp, (extreme ? 2e-3 : 2e-5) * T, 1e-5);
  const cmpGrad = compare(got.dlogits, wantGrad, 1e-8, 1e-4);
  console.log(report(cmpLogp, `logp ${name}`));
  console.log(report(cmpGrad, `dlogits ${name}`));
  expect(cmpLogp.failures).toBe(0);
  expect(cmpGrad.failures).toBe(0);
}

async function runLoss(P: number, spread: number, beta: number) {
  const { gpu } = await testGpu();
  const seed = P * 7 + spread;
  const policy = randn(2 * P, seed, spread);
  const reference = Float32Array.from(policy, (v, i) => v + randn(2 * P, seed + 1, spread)[i]);
  const got = await checked(gpu, async () => {
    const stats = poisoned(gpu, DPO_STATS.count, 'stats');
    const rewards = poisoned(gpu, 2 * P, 'rewards');
    const dlogp = poisoned(gpu, 2 * P, 'dlogp');
    const pol = gpu.upload(policy);
    const ref = gpu.upload(reference);
    gpu.submit((enc) => dpoLoss(gpu, enc, { stats, rewards, dlogp, policy: pol, reference: ref, P, beta }));
    const r = { stats: await gpu.readF32(stats), rewards: await gpu.readF32(rewards), dlogp: await gpu.readF32(dlogp) };
    for (const b of [stats, rewards, dlogp, pol, ref]) gpu.destroy(b);
    return r;
  });
  const want = dpoLossRef(policy, reference, P, beta);
  const name = `P=${P} beta=${beta} |logp - ref| ~ ${spread}`;
  // beta (policy - reference) of f32 inputs as large as `spread`: a few ulps of it.
  const atol = 1e-6 * beta * spread;
  const cmpRewards = compare(got.rewards, [...want.rewardsChosen, ...want.rewardsRejected], atol, 1e-5);
  const cmpDlogp = compare(got.dlogp, want.dlogp, 1e-7 * beta, 1e-4);
  const cmpStats = compare(got.stats.subarray(0, 4), [want.loss, mean(want.rewardsChosen), mean(want.rewardsRejected), want.margin], atol, 1e-5);
  console.log(report(cmpRewards, `rewards ${name}`));
  console.log(report(cmpDlogp, `dlogp ${name}`));
  console.log(report(cmpStats, `loss, rewards, margin ${name}`));
  expect(cmpRewards.failures).toBe(0);
  expect(cmpDlogp.failures).toBe(0);
  expect(cmpStats.failures).toBe(0);
  expect(got.stats[DPO_STATS.accuracy]).toBe(Math.fround(want.accuracy)); // an exact count, divided in f32
}

const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;

describe('DPO kernels vs float64 reference', () => {
  it('log-probs and their gradient, S=6 T=13 V=37', () => runSequences(6, 13, 37, false));
  it('log-probs and their gradient, S=2 T=70 V=65 (positions past one workgroup)', () => runSequences(2, 70, 65, false));
  it('log-probs and their gradient, S=1 T=1 V=3', () => runSequences(1, 1, 3, false));
  it('log-probs and their gradient with logits of +-1e4, S=4 T=9 V=29', () => runSequences(4, 9, 29, true));
  it('loss, rewards, statistics and gradient, P=3', () => runLoss(3, 2, 0.1));
  it('loss, rewards, statistics and gradient, P=70 (pairs past one workgroup)', () => runLoss(70, 5, 0.5));
  it('loss stays finite for margins in the thousands, P=5 beta=10', () => runLoss(5, 300, 10));

  it('the three kernels in a row give dpoObjective\'s loss and logits gradient, P=3 T=11 V=23', async () => {
    const { gpu } = await testGpu();
    const [P, T, V, beta] = [3, 11, 23, 0.3];
    const S = 2 * P;
    const logits = makeLogits(S * T * V, 77, false);
    const targets = randInts(S * T, V, 78);
    const mask = makeMask(S, T, 79);
    const refLogp = randn(S, 80, 4);
    const got = await checked(gpu, async () => {
      const out = {
        logp: poisoned(gpu, S), stats: poisoned(gpu, DPO_STATS.count), rewards: poisoned(gpu, S), dlogp: poisoned(gpu, S), dlogits: poisoned(gpu, S * T * V),
      };
      const inp = { logits: gpu.upload(logits), targets: gpu.upload(targets), mask: gpu.upload(mask), ref: gpu.upload(refLogp) };
      gpu.submit((enc) => {
        const pass = enc.beginComputePass();
        const seq = { logits: inp.logits, targets: inp.targets, mask: inp.mask, S, T, V };
        sequenceLogProbs(gpu, pass, { ...seq, logp: out.logp });
        dpoLoss(gpu, pass, { stats: out.stats, rewards: out.rewards, dlogp: out.dlogp, policy: out.logp, reference: inp.ref, P, beta });
        sequenceLogProbsBackward(gpu, pass, { ...seq, dlogits: out.dlogits, dlogp: out.dlogp });
        pass.end();
      });
      const r = { stats: await gpu.readF32(out.stats), dlogits: await gpu.readF32(out.dlogits) };
      for (const b of [...Object.values(out), ...Object.values(inp)]) gpu.destroy(b);
      return r;
    });
    const y = Int32Array.from(targets);
    const want = dpoObjective(logits, refLogp, { x: new Int32Array(S * T), y, mask: Float64Array.from(mask), S, T }, V, beta);
    const cmpLoss = compare([got.stats[DPO_STATS.loss]], [want.loss], 1e-5, 1e-5);
    const cmpGrad = compare(got.dlogits, want.dlogits, 1e-8, 1e-4);
    console.log(report(cmpLoss, 'chained loss'));
    console.log(report(cmpGrad, 'chained dlogits'));
    expect(cmpLoss.failures).toBe(0);
    expect(cmpGrad.failures).toBe(0);
  });
});
