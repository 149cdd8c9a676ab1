// The float64 DPO reference: the gradient into the logits against finite
// differences (awkward sizes, padded and partial masks), the loss at its
// limits, the gradient through the adapted GPT, and the whole of dpo-relu
// (PyTorch) within the README's tolerances.
import { describe, expect, it } from 'vitest';
import { adamInit, adamwStep, clipGradNorm, gptBackward, gptForward, type RefConfig, type Tensors } from '../reference/gpt';
import { gradcheck, gradReport } from '../reference/gradcheck';
import { dpoLoss, dpoObjective, logSigmoid, pairBatch, sequenceLogProbs, type SequenceBatch } from '../reference/dpo';
import { loadDpoFixture, stateDictTensor } from '../reference/fineTuneFixtures';
import { loraGptBackward, loraGptForward, loraName, moduleDims } from '../reference/lora';
import { checkFinal, checkLosses, checkRelMax, type Check } from '../reference/oracle';
import { randInts, randn, rng } from '../reference/random';

const f64 = (n: number, seed: number, scale = 1) => Float64Array.from(randn(n, seed, scale));

/** P pairs of T + 1 tokens: a prompt of 1..T/2 tokens, a response, zero padding after it. */
function randomPairs(P: number, T: number, V: number, seed: number): SequenceBatch {
  const r = rng(seed);
  const seqs = [randInts(P * (T + 1), V, seed + 1), randInts(P * (T + 1), V, seed + 2)];
  const masks = [new Float64Array(P * T), new Float64Array(P * T)];
  for (let k = 0; k < 2; k++) {
    for (let p = 0; p < P; p++) {
      const prompt = 1 + Math.floor(r() * (T / 2));
      const end = prompt + 1 + Math.floor(r() * (T - prompt)); // last token index, <= T
      for (let t = 0; t <= T; t++) if (t > end) seqs[k][p * (T + 1) + t] = 0;
      for (let t = 0; t < T; t++) masks[k][p * T + t] = t + 1 >= prompt && t + 1 <= end ? 1 : 0;
    }
  }
  return pairBatch(seqs[0], seqs[1], masks[0], masks[1], P, T);
}

describe('DPO reference', () => {
  it('log sigmoid is finite and exact at the extremes', () => {
    expect(logSigmoid(0)).toBeCloseTo(-Math.LN2, 15);
    expect(Math.abs(logSigmoid(800))).toBe(0);
    expect(logSigmoid(-800)).toBe(-800);
    expect(Math.abs(logSigmoid(-30) - (-30 - Math.log1p(Math.exp(-30))))).toBeLessThan(1e-14);
  });

  it('at policy = reference the loss is ln 2, rewards 0, accuracy 0', () => {
    const lp = f64(10, 1, 5);
    const l = dpoLoss(lp, lp, 5, 0.1);
    expect(Math.abs(l.loss - Math.LN2)).toBeLessThan(1e-15);
    expect(l.margin).toBe(0);
    expect(l.accuracy).toBe(0);
    expect([...l.rewardsChosen, ...l.rewardsRejected].every((v) => v === 0)).toBe(true);
  });

  it('the gradient into the logits matches finite differences of the loss (P=3, T=7, V=11)', () => {
    const [P, T, V, beta] = [3, 7, 11, 0.7];
    const batch = randomPairs(P, T, V, 5);
    const logits = f64(2 * P * T * V, 6, 2);
    const reference = f64(2 * P, 7, 3);
    const obj = dpoObjective(logits, reference, batch, V, beta);
    expect(obj.logp.length).toBe(2 * P);
    // Masked positions get no gradient.
    for (let i = 0; i < 2 * P * T; i++) {
      if (batch.mask[i] === 0) expect(obj.dlogits.subarray(i * V, (i + 1) * V).every((v) => v === 0)).toBe(true);
    }
    const res = gradcheck(([z]) => [dpoObjective(z, reference, batch, V, beta).loss], [logits], [obj.dlogits], [1], { atol: 1e-9, rtol: 1e-6, samples: 1000 });
    console.log(gradReport(res, 'DPO dloss/dlogits'));
    expect(res.checked).toBe(2 * P * T * V);
    expect(res.failures).toBe(0);
  });

  it('sequence log-probs add up the masked targets only', () => {
    const [S, T, V] = [2, 3, 4];
    const logits = new Float64Array(S * T * V); // uniform: each position log(1/4)
    const y = new Int32Array(S * T);
    const mask = Float64Array.from([1, 0, 1, 0, 0, 1]);
    const lp = sequenceLogProbs(logits, y, mask, S, T, V);
    expect(lp[0]).toBeCloseTo(2 * Math.log(0.25), 14);
    expect(lp[1]).toBeCloseTo(Math.log(0.25), 14);
  });

  it('DPO on LoRA adapters: adapter gradients match finite differences (a small GELU model)', () => {
    const cfg: RefConfig = { nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 6, vocabSize: 7, bias: true, tieWeights: true, activation: 'gelu' };
    const [P, T, r, s, beta] = [2, 5, 2, 2, 0.5];
    const C = cfg.nEmbd;
    const h = 'transformer.h.0';
    const sizes: Record<string, number> = {
      'transformer.wte.weight': 7 * C, 'transformer.wpe.weight': 6 * C, 'transformer.ln_f.weight': C, 'transformer.ln_f.bias': C,
      [`${h}.ln_1.weight`]: C, [`${h}.ln_1.bias`]: C, [`${h}.ln_2.weight`]: C, [`${h}.ln_2.bias`]: C,
      [`${h}.attn.c_attn.weight`]: 3 * C * C, [`${h}.attn.c_attn.bias`]: 3 * C, [`${h}.attn.c_proj.weight`]: C * C, [`${h}.attn.c_proj.bias`]: C,
      [`${h}.mlp.c_fc.weight`]: 4 * C * C, [`${h}.mlp.c_fc.bias`]: 4 * C, [`${h}.mlp.c_proj.weight`]: 4 * C * C, [`${h}.mlp.c_proj.bias`]: C,
    };
    let seed = 40;
    const base: Tensors = new Map(Object.entries(sizes).map(([k, n]) => [k, f64(n, seed++, 0.4)]));
    const adapters: Tensors = new Map();
    for (const module of ['attn.c_attn', 'mlp.c_proj'] as const) {
      const { IN, OUT } = moduleDims(cfg, module);
      adapters.set(loraName(0, module, 'A'), f64(r * IN, seed++, 0.4));
      adapters.set(loraName(0, module, 'B'), f64(OUT * r, seed++, 0.4));
    }
    const batch = randomPairs(P, T, 7, 9);
    // The frozen reference: the base without adapters.
    const refLogp = sequenceLogProbs(gptForward(cfg, base, batch.x, null, 2 * P, T).logits, batch.y, batch.mask, 2 * P, T, 7);
    const lossOf = (ad: Tensors) => {
      const f = loraGptForward(cfg, base, ad, s, batch.x, null, 2 * P, T);
      return { f, obj: dpoObjective(f.fwd.logits, refLogp, batch, 7, beta) };
    };
    const { f, obj } = lossOf(adapters);
    const G = loraGptBackward(cfg, adapters, s, f, obj.dlogits);
    const names = [...adapters.keys()];
    const res = gradcheck((inputs) => [lossOf(new Map(names.map((n, i) => [n, inputs[i]]))).obj.loss], names.map((n) => adapters.get(n)!),
      names.map((n) => G.get(n)!), [1], { atol: 1e-9, rtol: 1e-5 });
    console.log(gradReport(res, 'DPO through the adapted GPT, adapter gradients'));
    expect(res.failures).toBe(0);
  });
});

describe('float64 DPO reference vs PyTorch (dpo-relu)', () => {
  it('step-0 log-probs and loss ln 2, gradients, losses, grad norms, rewards and final weights', () => {
    const fx = loadDpoFixture();
    const { config: cfg, P, T, K } = fx;
    const V = cfg.vocabSize;
    const beta = fx.optimizer.beta;
    expect(beta).toBe(0.1);
    const policy: Tensors = new Map([...fx.init].map(([k, t]) => [k, Float64Array.from(t)]));
    const checks: Check[] = [];
    const losses: number[] = [];
    const norms: number[] = [];
    const rewardsC: number[] = [];
    const rewardsR: number[] = [];
    let adam = null as ReturnType<typeof adamInit> | null;
    const o = fx.optimizer;
    for (let k = 0; k < K; k++) {
      const seq = (a: Int32Array) => a.subarray(k * P * (T + 1), (k + 1) * P * (T + 1));
      const msk = (a: Float64Array) => a.subarray(k * P * T, (k + 1) * P * T);
      const batch = pairBatch(seq(fx.chosen), seq(fx.rejected), msk(fx.chosenMask), msk(fx.rejectedMask), P, T);
      const refLogp = sequenceLogProbs(gptForward(cfg, fx.init, batch.x, null, 2 * P, T).logits, batch.y, batch.mask, 2 * P, T, V);
      const fwd = gptForward(cfg, policy, batch.x, null, 2 * P, T);
      const obj = dpoObjective(fwd.logits, refLogp, batch, V, beta);
      const G = gptBackward(cfg, policy, fwd, obj.dlogits);
      if (k === 0) {
        checks.push(checkRelMax('policy_logp_chosen0', obj.logp.subarray(0, P), fx.policyLogpChosen0));
        checks.push(checkRelMax('policy_logp_rejected0', obj.logp.subarray(P), fx.policyLogpRejected0));
        checks.push(checkLosses('loss0 = ln 2', [obj.loss], [Math.LN2]));
        expect([...G.keys()].sort()).toEqual([...fx.grad0.keys()].sort());
        for (const [n, want] of fx.grad0) checks.push(checkRelMax(`grad0.${n}`, G.get(n)!, want));
        adam = adamInit(G);
      }
      losses.push(obj.loss);
      rewardsC.push(...obj.rewardsChosen);
      rewardsR.push(...obj.rewardsRejected);
      norms.push(clipGradNorm(G, o.grad_clip));
      adamwStep(policy, G, fx.shapes, adam!, { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weight_decay });
    }
    checks.push(checkLosses('losses', losses, fx.losses));
    checks.push(checkRelMax('grad_norms', norms, fx.gradNorms));
    checks.push(checkRelMax('rewards_chosen', rewardsC, fx.rewardsChosen));
    checks.push(checkRelMax('rewards_rejected', rewardsR, fx.rewardsRejected));
    for (const [n, want] of fx.final) checks.push(checkFinal(`final.${n}`, policy.get(stateDictTensor(cfg, n))!, want, fx.init.get(n)!));
    console.log(`[cpu oracle] dpo-relu (K=${K}, P=${P}, T=${T}, beta=${beta})\n${checks.map((c) => `  ${c.line}`).join('\n')}`);
    expect(checks.filter((c) => !c.ok).map((c) => c.line)).toEqual([]);
    expect(checks.length).toBe(3 + fx.grad0.size + 4 + fx.final.size);
    expect(Math.max(...checks.map((c) => c.maxDiff))).toBeLessThan(1e-10);
  });
});
