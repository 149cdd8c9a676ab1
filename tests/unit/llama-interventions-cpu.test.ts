// The LLaMA block's float64 intervention references (tests/reference/llamaInterventions.ts)
// against the plain LLaMA reference and exact identities: the hooked forward
// without hooks is llamaForward; attribution through the frozen RMSNorm sums to
// the logit; patching everything at the final residual restores all of it and
// patching nothing restores none; a zero-ablated head equals the same head's
// o_proj columns set to zero.
import { describe, expect, it } from 'vitest';
import type { Tensors } from '../reference/gpt';
import { llamaForward, llamaShapes, type LlamaRefConfig } from '../reference/llama';
import { llamaDirectLogitAttribution, llamaHeadAblation, llamaPatching, llamaRunWithHooks } from '../reference/llamaInterventions';
import { randInts, randn } from '../reference/random';

const cfg: LlamaRefConfig = {
  nLayer: 2, nHead: 4, nKVHead: 2, nEmbd: 12, headDim: 4, intermediate: 7, vocabSize: 9, blockSize: 8, tieWeights: false, ropeTheta: 10000, rmsEps: 1e-6,
};

function params(seed: number): Tensors {
  const P: Tensors = new Map();
  let k = seed;
  for (const [name, shape] of llamaShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const r = randn(n, k++, 0.5);
    P.set(name, Float64Array.from(r, (v) => (shape.length === 1 ? 1 + v : v)));
  }
  return P;
}

describe('LLaMA intervention references', () => {
  const P = params(3);
  const T = 7;
  const x = randInts(2 * T, cfg.vocabSize, 5);
  const y = randInts(2 * T, cfg.vocabSize, 6);

  it('the hooked forward without hooks is the plain forward', () => {
    const a = llamaRunWithHooks(cfg, P, x, y, 2, T);
    const b = llamaForward(cfg, P, x, y, 2, T);
    expect(Math.max(...a.logits.map((v, i) => Math.abs(v - b.logits[i])))).toBeLessThan(1e-12);
    expect(a.loss).toBeCloseTo(b.loss, 12);
  });

  it('zero-ablating a head equals zeroing its columns of o_proj', () => {
    const got = llamaHeadAblation(cfg, P, x, y, 2, T, 1, 2, 'zero').ablated;
    const Q = new Map(P);
    const O = Float64Array.from(P.get('model.layers.1.self_attn.o_proj.weight')!);
    const HD = cfg.nHead * cfg.headDim;
    for (let o = 0; o < cfg.nEmbd; o++) for (let c = 2 * cfg.headDim; c < 3 * cfg.headDim; c++) O[o * HD + c] = 0;
    Q.set('model.layers.1.self_attn.o_proj.weight', O);
    expect(got).toBeCloseTo(llamaForward(cfg, Q, x, y, 2, T).loss, 12);
  });

  it('attribution through the frozen RMSNorm sums to the logit', () => {
    const ids = x.subarray(0, T);
    const a = llamaDirectLogitAttribution(cfg, P, ids, 4, 3, 7);
    expect(a.names).toEqual(['embed', 'L0.H0', 'L0.H1', 'L0.H2', 'L0.H3', 'L0.mlp', 'L1.H0', 'L1.H1', 'L1.H2', 'L1.H3', 'L1.mlp']);
    const sum = a.contributions.reduce((s, v) => s + v, 0);
    expect(Math.abs(sum - a.logit)).toBeLessThan(1e-12);
  });

  it('patching the final residual at the last position restores everything; the first layer at an unchanged position nothing', () => {
    const clean = x.subarray(0, T);
    const corrupted = clean.slice();
    corrupted[3] = (clean[3] + 1) % cfg.vocabSize;
    const p = llamaPatching(cfg, P, { clean, corrupted, target: 1, other: 2 });
    expect(p.resid.restored[cfg.nLayer * T + T - 1]).toBeCloseTo(1, 12);
    expect(p.resid.restored[0 * T + 2]).toBeCloseTo(0, 12);
    expect(p.resid.restored[0 * T + 3]).toBeCloseTo(1, 12);
  });
});
