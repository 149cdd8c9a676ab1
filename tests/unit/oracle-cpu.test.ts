// The float64 CPU reference GPT against PyTorch: step-0 logits, every step-0
// gradient, every step's loss and gradient norm, every final weight, within
// the fixtures' README tolerances (it should land far inside them).
import { describe, expect, it } from 'vitest';
import { erf, gptBackward, gptForward, type Tensors } from '../reference/gpt';
import { FIXTURES, loadFixture, replayOnCpu } from '../reference/oracle';

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
      const tiedHead = (P: Tensors, n: string) => P.get(cfg.tieWeights && n === 'lm_head.weight' ? 'transformer.wte.weight' : n)!;
      const { checks, gradNames } = replayOnCpu(fx, gptForward, (c, P, fwd) => gptBackward(c, P, fwd), tiedHead);
      expect(gradNames.sort()).toEqual([...fx.grad0.keys()].sort());
      console.log(`[cpu oracle] ${name} (K=${K}, B=${B}, T=${T})\n${checks.map((c) => `  ${c.line}`).join('\n')}`);
      expect(checks.filter((c) => !c.ok).map((c) => c.line)).toEqual([]);
      expect(checks.length).toBe(1 + fx.grad0.size + 2 + fx.final.size);
      // Both sides are float64 from the same float32 init: far inside the float32 tolerances.
      expect(Math.max(...checks.map((c) => c.maxDiff))).toBeLessThan(1e-10);
    });
  }
});
