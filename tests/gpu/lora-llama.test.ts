// LoRA on the GPU LLaMA block against the float64 reference (PEFT semantics:
// q_proj, k_proj, v_proj adapters add into their columns of the fused qkv
// before the rotation, gate_proj and up_proj into theirs of gate | up):
// logits, loss and every adapter gradient of one forward + backward, at
// awkward sizes with grouped-query attention (KV < H), tied and untied; the
// prompt forward and the key/value-cache decoder agree with the full forward
// under adapters; a few AdamW steps on the adapters lower the loss, and the
// base stays frozen.
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/model/config';
import { GptModel } from '../../src/model/gpt';
import { llamaConfigJson, llamaTensors } from '../../src/model/hfFiles';
import { paramLayout } from '../../src/model/layout';
import { LLAMA_LORA_MODULES, loraLayout, loraScale } from '../../src/model/lora';
import { compare, report } from '../reference/compare';
import type { Tensors } from '../reference/gpt';
import { llamaBackward, llamaForward, parseLlamaConfig } from '../reference/llama';
import { randInts, randn } from '../reference/random';
import { checked, testGpu } from './context';

const llama = (patch: Partial<ModelConfig>): ModelConfig => ({
  block: 'llama', nLayer: 2, nHead: 6, nKvHead: 2, nEmbd: 24, ffnHidden: 13, blockSize: 7, vocabSize: 17,
  dropout: 0, bias: false, activation: 'gelu', tieWeights: false, ropeTheta: 5000, rmsNormEps: 1e-6, ...patch,
});

describe('GPU LoRA on the LLaMA block vs float64 reference', () => {
  for (const [label, patch, modules] of [
    ['untied, H=6 KV=2, every module', {}, [...LLAMA_LORA_MODULES]],
    ['tied, H=4 KV=1, k_proj, up_proj, o_proj', { tieWeights: true, nHead: 4, nKvHead: 1, nEmbd: 24, ffnHidden: 9 }, ['k_proj', 'up_proj', 'o_proj']],
  ] as const) {
    it(`forward and adapter gradients (${label}); prompt forward and decoder agree; adapters train`, async () => {
      const { gpu } = await testGpu();
      const c = llama(patch);
      const B = 2;
      const T = c.blockSize;
      const layout = paramLayout(c);
      const lora = loraLayout(c, { r: 3, alpha: 5, modules: [...modules] });
      const params = randn(layout.total, 5, 0.3);
      for (const t of layout.tensors) if (t.role.startsWith('norm')) for (let i = 0; i < t.size; i++) params[t.offset + i] += 1;
      const adapters = new Float32Array(lora.total);
      for (const t of lora.tensors) adapters.set(randn(t.size, 100 + t.offset, 0.3), t.offset);
      const x = randInts(B * T, c.vocabSize, 8);
      const y = randInts(B * T, c.vocabSize, 9);
      const prompt = x.slice(0, 5);

      const got = await checked(gpu, async () => {
        const model = new GptModel(gpu, c, B, { params, lora: { layout: lora, adapters } });
        const step0 = await model.inspect({ x, y });
        const promptLogits = await model.logits(prompt);
        const dec = model.decoder();
        let decoded: Float32Array = new Float32Array(0);
        for (const id of prompt) decoded = await dec.push(id);
        dec.dispose();
        const losses: number[] = [];
        for (let t = 1; t <= 8; t++) losses.push((await model.step({ x, y }, { lr: 3e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0, gradClip: 1, t, dropoutSeed: 0 })).loss);
        const after = await model.evalLoss({ x, y });
        const state = await model.readState();
        model.destroy();
        return { step0, promptLogits, decoded, losses, after, state };
      });

      const cfg = parseLlamaConfig(JSON.stringify(llamaConfigJson(c)));
      const P: Tensors = new Map(llamaTensors(layout, params).map(([n, t]) => [n, Float64Array.from(t.data)]));
      const A: Tensors = new Map(lora.tensors.map((t) => [t.name, Float64Array.from(adapters.subarray(t.offset, t.offset + t.size))]));
      const fwd = llamaForward(cfg, P, x, y, B, T, { s: loraScale(lora.lora), adapters: A });
      const G = llamaBackward(cfg, P, fwd);
      const lines: string[] = [];
      const results = [compare(got.step0.logits, fwd.logits, 2e-5, 1e-4), compare([got.step0.loss], [fwd.loss], 1e-5, 1e-5)];
      lines.push(report(results[0], 'logits'), report(results[1], 'loss'));
      for (const t of lora.tensors) {
        const want = G.get(t.name)!;
        const scaleOf = Math.max(...want.map(Math.abs));
        const r = compare(got.step0.grads.subarray(t.offset, t.offset + t.size), want, 1e-4 * scaleOf + 1e-7, 1e-3);
        results.push(r);
        lines.push(report(r, `d ${t.name}`));
      }
      const V = c.vocabSize;
      const row = fwd.logits.subarray(4 * V, 5 * V); // sequence 0, position 4: the prompt's last
      for (const [name, v] of [['prompt forward', got.promptLogits], ['decoder', got.decoded]] as const) {
        const r = compare(v, row, 2e-5, 1e-4);
        results.push(r);
        lines.push(report(r, name));
      }
      console.log(`[gpu lora llama] ${label}\n  ${lines.join('\n  ')}\n  losses ${got.losses.map((l) => l.toFixed(4)).join(' ')} -> ${got.after.toFixed(4)}`);
      expect(results.filter((r) => !r.ok).length).toBe(0);
      expect(lora.tensors.length).toBe(2 * c.nLayer * modules.length);
      expect(got.after).toBeLessThan(got.losses[0] - 0.05);
      expect(got.state.params).toEqual(params); // the base is frozen
      expect(got.state.lora!.adapters).not.toEqual(adapters);
    });
  }
});
