// The GPU model against PyTorch: each fixture's init file goes through our
// safetensors import, then step-0 logits and every gradient, every step's loss
// and grad norm (K AdamW steps with the fixture's optimizer settings) and every
// final weight are compared within the fixtures' README tolerances, with every
// kernel variant (CPU-shaped, GPU-shaped with workgroup-memory and with subgroup reductions).
import { describe, expect, it } from 'vitest';
import { GptModel } from '../../src/model/gpt';
import { importSafetensors } from '../../src/model/files';
import { FIXTURES, checkFinal, checkLosses, checkRelMax, loadFixture, type Check } from '../reference/oracle';
import { checked, testGpu, VARIANTS, withVariant } from './context';

describe.each(VARIANTS)('GPU GPT vs PyTorch fixtures, %s kernels', (variant) => {
  for (const name of FIXTURES) {
    it(`${name}: logits, gradients, losses, grad norms and final weights`, async () => {
      const { gpu } = await testGpu();
      const fx = loadFixture(name);
      const { B, T, K } = fx;
      const imported = importSafetensors(fx.initBytes);
      const { layout } = imported;
      expect(layout.config.dropout).toBe(0);
      const o = fx.optimizer;
      const checks: Check[] = [];
      const losses: number[] = [];
      const norms: number[] = [];
      const state = await withVariant(gpu, variant, () => checked(gpu, async () => {
        const model = new GptModel(gpu, layout.config, B, { params: imported.params });
        const batch = (k: number) => ({ x: fx.x.slice(k * B * T, (k + 1) * B * T), y: fx.y.slice(k * B * T, (k + 1) * B * T) });
        const step0 = await model.inspect(batch(0));
        checks.push(checkRelMax('logits0', step0.logits, fx.logits0));
        for (const t of layout.tensors) {
          checks.push(checkRelMax(`grad0.${t.name}`, step0.grads.subarray(t.offset, t.offset + t.size), fx.grad0.get(t.name)!));
        }
        const pending = [];
        for (let k = 0; k < K; k++) {
          pending.push(
            model.step(batch(k), {
              lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weight_decay, gradClip: o.grad_clip,
              t: k + 1, dropoutSeed: 0,
            }),
          );
        }
        for (const r of await Promise.all(pending)) {
          losses.push(r.loss);
          norms.push(r.gradNorm);
        }
        const s = await model.readState();
        model.destroy();
        return s;
      }));
      checks.push(checkLosses('losses', losses, fx.losses));
      checks.push(checkRelMax('grad_norms', norms, fx.gradNorms));
      for (const [n, want] of fx.final) {
        const t = layout.byName.get(layout.config.tieWeights && n === 'lm_head.weight' ? 'transformer.wte.weight' : n)!;
        checks.push(checkFinal(`final.${n}`, state.params.subarray(t.offset, t.offset + t.size), want, fx.init.get(n)!));
      }
      console.log(`[gpu oracle, ${variant}] ${name} (K=${K}, B=${B}, T=${T})\n${checks.map((c) => `  ${c.line}`).join('\n')}`);
      expect(checks.length).toBe(1 + fx.grad0.size + 2 + fx.final.size);
      expect(checks.filter((c) => !c.ok).map((c) => c.line)).toEqual([]);
    });
  }
});
