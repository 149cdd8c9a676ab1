// The float64 CPU reference LLaMA against PyTorch (llama-gqa: RMSNorm, RoPE,
// grouped-query attention, SwiGLU, untied lm_head): step-0 logits, every
// step-0 gradient, every step's loss and gradient norm, every final weight,
// within the fixture's README tolerances. Its gradients are also checked
// against central differences of its own loss on tiny random models, tied and
// untied, and its parameter count against the fixture's tensors.
import { describe, expect, it } from 'vitest';
import type { Tensors } from '../reference/gpt';
import { gradcheck, gradReport } from '../reference/gradcheck';
import { llamaBackward, llamaForward, llamaParamCount, llamaShapes, type LlamaRefConfig } from '../reference/llama';
import { loadLlamaFixture, replayOnCpu } from '../reference/oracle';
import { randInts, randn } from '../reference/random';

describe('float64 CPU LLaMA vs PyTorch', () => {
  it('llama-gqa: logits, gradients, losses, grad norms and final weights', () => {
    const fx = loadLlamaFixture('llama-gqa');
    const { config: cfg, B, T, K } = fx;
    expect([cfg.nHead, cfg.nKVHead, cfg.headDim, cfg.tieWeights]).toEqual([4, 2, 8, false]);
    const { checks, gradNames } = replayOnCpu(fx, llamaForward, llamaBackward);
    expect(gradNames.sort()).toEqual([...fx.grad0.keys()].sort());
    console.log(`[cpu oracle] llama-gqa (K=${K}, B=${B}, T=${T})\n${checks.map((c) => `  ${c.line}`).join('\n')}`);
    expect(checks.filter((c) => !c.ok).map((c) => c.line)).toEqual([]);
    expect(checks.length).toBe(1 + fx.grad0.size + 2 + fx.final.size);
    // Both sides are float64 from the same float32 init: far inside the float32 tolerances.
    expect(Math.max(...checks.map((c) => c.maxDiff))).toBeLessThan(1e-10);
  });

  it("llamaParamCount equals the fixture's tensor sizes and its shapes match", () => {
    const fx = loadLlamaFixture('llama-gqa');
    let total = 0;
    for (const t of fx.init.values()) total += t.length;
    expect(llamaParamCount(fx.config)).toBe(total);
    expect(new Map([...llamaShapes(fx.config)])).toEqual(fx.shapes);
    // tied: lm_head is embed_tokens, counted once
    const tied = { ...fx.config, tieWeights: true };
    expect(llamaParamCount(tied)).toBe(total - fx.config.vocabSize * fx.config.nEmbd);
  });
});

describe('float64 CPU LLaMA gradients vs central differences', () => {
  const base: LlamaRefConfig = {
    nLayer: 2, nHead: 4, nKVHead: 2, nEmbd: 10, headDim: 4, intermediate: 7, vocabSize: 11,
    blockSize: 5, tieWeights: false, ropeTheta: 10000, rmsEps: 1e-5,
  };
  const cases: Array<[string, LlamaRefConfig]> = [
    ['untied, H=4 KV=2, H*D != C', base],
    ['tied, H=3 KV=1, D=6', { ...base, nHead: 3, nKVHead: 1, headDim: 6, tieWeights: true }],
  ];
  for (const [label, cfg] of cases) {
    it(label, () => {
      const B = 2;
      const T = 5;
      const shapes = llamaShapes(cfg);
      const names = [...shapes.keys()];
      let seed = 10;
      const P: Tensors = new Map(
        names.map((n) => {
          const size = shapes.get(n)!.reduce((a, b) => a * b, 1);
          const t = Float64Array.from(randn(size, seed++, 0.5));
          if (n.endsWith('norm.weight')) for (let i = 0; i < t.length; i++) t[i] += 1;
          return [n, t];
        }),
      );
      const x = randInts(B * T, cfg.vocabSize, 3);
      const y = randInts(B * T, cfg.vocabSize, 4);
      const G = llamaBackward(cfg, P, llamaForward(cfg, P, x, y, B, T));
      expect([...G.keys()]).toEqual(names);
      const loss = (xs: Float64Array[]) => [llamaForward(cfg, new Map(names.map((n, i) => [n, xs[i]])), x, y, B, T).loss];
      const r = gradcheck(loss, names.map((n) => P.get(n)!), names.map((n) => G.get(n)!), [1], { samples: 12, atol: 1e-8, rtol: 1e-5 });
      console.log(gradReport(r, `llama ${label}`));
      expect(r.checked).toBeGreaterThan(100);
      expect(r.failures).toBe(0);
    });
  }
});
