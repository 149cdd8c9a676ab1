// The GPU model with the LLaMA-style block against PyTorch's LlamaForCausalLM
// (the llama-gqa fixture: RMSNorm, rotary positions, SwiGLU, grouped-query
// attention, Hugging Face names): the init file goes through our Hugging Face
// import (fused q|k|v and gate|up from their row ranges), then step-0 logits and
// every gradient, each step's loss and grad norm over K AdamW steps and every
// final weight, with every kernel variant, within the README's tolerances.
// Also: the full forward, the prompt forward and the key/value-cache decoder
// agree, and the export reads back to the same tensors.
import { describe, expect, it } from 'vitest';
import { GptModel } from '../../src/model/gpt';
import { exportHfLlama, importHfLlama, llamaTensors } from '../../src/model/hfFiles';
import { checkFinal, checkLosses, checkRelMax, loadLlamaFixture, type Check } from '../reference/oracle';
import { checked, testGpu, VARIANTS, withVariant } from './context';

describe.each(VARIANTS)('GPU LLaMA block vs PyTorch (llama-gqa), %s kernels', (variant) => {
  it('logits, gradients, losses, grad norms and final weights; prompt forward and decoder agree', async () => {
    const { gpu } = await testGpu();
    const fx = loadLlamaFixture('llama-gqa');
    const { B, T, K } = fx;
    const imported = importHfLlama(fx.initBytes);
    const { layout } = imported;
    expect(layout.config.nKvHead).toBeLessThan(layout.config.nHead);
    const o = fx.optimizer;
    const checks: Check[] = [];
    const losses: number[] = [];
    const norms: number[] = [];
    const byName = (flat: Float32Array) => new Map(llamaTensors(layout, flat).map(([n, t]) => [n, t.data as Float32Array]));
    const got = await withVariant(gpu, variant, () => checked(gpu, async () => {
      const model = new GptModel(gpu, layout.config, B, { params: imported.params });
      const batch = (k: number) => ({ x: fx.x.slice(k * B * T, (k + 1) * B * T), y: fx.y.slice(k * B * T, (k + 1) * B * T) });
      const step0 = await model.inspect(batch(0));
      // One sequence three ways: the full forward's last row, the prompt forward, the decoder.
      const prompt = fx.x.slice(0, 11);
      const promptLogits = await model.logits(prompt);
      const dec = model.decoder();
      let decoded: Float32Array = new Float32Array(0);
      for (const id of prompt) decoded = await dec.push(id);
      dec.dispose();
      const pending = [];
      for (let k = 0; k < K; k++) {
        pending.push(model.step(batch(k), { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weight_decay, gradClip: o.grad_clip, t: k + 1, dropoutSeed: 0 }));
      }
      for (const r of await Promise.all(pending)) {
        losses.push(r.loss);
        norms.push(r.gradNorm);
      }
      const s = await model.readState();
      model.destroy();
      return { step0, promptLogits, decoded, params: s.params };
    }));
    checks.push(checkRelMax('logits0', got.step0.logits, fx.logits0));
    const grads = byName(got.step0.grads);
    for (const [n, want] of fx.grad0) checks.push(checkRelMax(`grad0.${n}`, grads.get(n)!, want));
    checks.push(checkLosses('losses', losses, fx.losses));
    checks.push(checkRelMax('grad_norms', norms, fx.gradNorms));
    const final = byName(got.params);
    for (const [n, want] of fx.final) checks.push(checkFinal(`final.${n}`, final.get(n)!, want, fx.init.get(n)!));
    const V = layout.config.vocabSize;
    const row10 = fx.logits0.subarray(10 * V, 11 * V);
    checks.push(checkRelMax('prompt forward = logits0 row 10', got.promptLogits, row10));
    checks.push(checkRelMax('decoder = logits0 row 10', got.decoded, row10));
    console.log(`[gpu oracle, ${variant}] llama-gqa (K=${K}, B=${B}, T=${T})\n${checks.map((c) => `  ${c.line}`).join('\n')}`);
    expect(checks.length).toBe(1 + fx.grad0.size + 2 + fx.final.size + 2);
    expect(checks.filter((c) => !c.ok).map((c) => c.line)).toEqual([]);

    // The export holds the same tensors under the same names, and reads back.
    const vocab = Array.from({ length: layout.config.vocabSize }, (_, i) => String.fromCharCode(65 + i));
    const { safetensors, configJson } = exportHfLlama(layout, imported.params, vocab);
    const back = importHfLlama(safetensors, configJson);
    expect(back.params).toEqual(imported.params);
    expect(back.layout.config).toEqual(layout.config);
    expect(back.vocab).toEqual(vocab);
  });
});
