// The float64 CPU reference GPT against PyTorch: step-0 logits, every step-0
// gradient, every step's loss and gradient norm, every final weight, within
// the fixtures' README tolerances (it should land far inside them).
import { describe, expect, it } from 'vitest';
import { adamInit, adamwStep, clipGradNorm, erf, gptBackward, gptForward, type Tensors } from '../reference/gpt';
import { FIXTURES, checkFinal, checkLosses, checkRelMax, loadFixture, type Check } from '../reference/oracle';

describe('reference erf', () => {
  it('matches known values to 1e-15', () => {
    const known: Array<[number, number]> = [
      [0, 0], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149],
      [2, 0.9953222650189527], [2.5, 0.999593047982555], [3, 0.9999779095030014], [-1.5, -0.9661051464753108],
    ];
    for (const [x, want] of known) expect(Math.abs(erf(x) - want)).toBeLessThan(1e-15);
  });
});

describe('float64 CPU GPT vs PyTorch', () => {
  for (const name of FIXTURES) {
    it(`${name}: logits, gradients, losses, grad norms and final weights`, () => {
      const fx = loadFixture(name);
      const { config: cfg, B, T, K } = fx;
      const P: Tensors = new Map([...fx.init].map(([k, t]) => [k, Float64Array.from(t)]));
      const checks: Check[] = [];
      const losses: number[] = [];
      const norms: number[] = [];
      let adam = null as ReturnType<typeof adamInit> | null;
      const o = fx.optimizer;
      for (let k = 0; k < K; k++) {
        const x = fx.x.subarray(k * B * T, (k + 1) * B * T);
        const y = fx.y.subarray(k * B * T, (k + 1) * B * T);
        const fwd = gptForward(cfg, P, x, y, B, T);
        const G = gptBackward(cfg, P, fwd);
        if (k === 0) {
          checks.push(checkRelMax('logits0', fwd.logits, fx.logits0));
          expect([...G.keys()].sort()).toEqual([...fx.grad0.keys()].sort());
          for (const [n, want] of fx.grad0) checks.push(checkRelMax(`grad0.${n}`, G.get(n)!, want));
          adam = adamInit(G);
        }
        losses.push(fwd.loss);
        norms.push(clipGradNorm(G, o.grad_clip));
        adamwStep(P, G, fx.shapes, adam!, { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weight_decay });
      }
      checks.push(checkLosses('losses', losses, fx.losses));
      checks.push(checkRelMax('grad_norms', norms, fx.gradNorms));
      for (const [n, want] of fx.final) {
        const got = cfg.tieWeights && n === 'lm_head.weight' ? P.get('transformer.wte.weight')! : P.get(n)!;
        checks.push(checkFinal(`final.${n}`, got, want, fx.init.get(n)!));
      }
      console.log(`[cpu oracle] ${name} (K=${K}, B=${B}, T=${T})\n${checks.map((c) => `  ${c.line}`).join('\n')}`);
      expect(checks.filter((c) => !c.ok).map((c) => c.line)).toEqual([]);
      expect(checks.length).toBe(1 + fx.grad0.size + 2 + fx.final.size);
      // Both sides are float64 from the same float32 init: far inside the float32 tolerances.
      expect(Math.max(...checks.map((c) => c.maxDiff))).toBeLessThan(1e-10);
    });
  }
});
