// The GPU fine-tuning paths against PyTorch and the float64 references:
//   - DPO on all weights (dpo-relu): the reference's log-probs taken before
//     the first update (the frozen model as DPO started), step-0
//     log-probs, loss ln 2 and every gradient, then losses, grad norms,
//     rewards and final weights over K steps;
//   - LoRA on a frozen base (lora-gelu): the trained adapters give PyTorch's
//     logits and PEFT's merged weights; from the init file's adapters, step-0
//     logits and adapter gradients, then losses, grad norms and final
//     adapters over K steps against PyTorch (and the float64 reference); the
//     base stays bit-identical; strength 0 gives the base model's logits, in
//     the full forward and in the decoder.
import { describe, expect, it } from 'vitest';
import { GptModel, type SequenceBatch } from '../../src/model/gpt';
import { importAdapter } from '../../src/model/adapterFiles';
import { configFromJson, importSafetensors } from '../../src/model/files';
import { mergeAdapters } from '../../src/model/lora';
import { readSafetensors } from '../../src/model/safetensors';
import { pairBatch } from '../reference/dpo';
import { loadDpoFixture, loadLoraFixture, stateDictTensor } from '../reference/fineTuneFixtures';
import { adamInit, adamwStep, clipGradNorm, type Tensors } from '../reference/gpt';
import { loraGptBackward, loraGptForward } from '../reference/lora';
import { checkFinal, checkLosses, checkRelMax, type Check } from '../reference/oracle';
import { checked, testGpu, VARIANTS, withVariant } from './context';

const report = (title: string, checks: Check[]) => console.log(`${title}\n${checks.map((c) => `  ${c.line}`).join('\n')}`);

describe.each(VARIANTS)('GPU DPO vs PyTorch (dpo-relu), %s kernels', (variant) => {
  it('step-0 log-probs, ln 2 and gradients; losses, grad norms, rewards and final weights', async () => {
    const { gpu } = await testGpu();
    const fx = loadDpoFixture();
    const { P, T, K } = fx;
    const S = 2 * P;
    const imported = importSafetensors(fx.initBytes);
    const { layout } = imported;
    const o = fx.optimizer;
    const checks: Check[] = [];
    const losses: number[] = [];
    const norms: number[] = [];
    const rewardsC: number[] = [];
    const rewardsR: number[] = [];
    const params = await withVariant(gpu, variant, () => checked(gpu, async () => {
      const policy = new GptModel(gpu, layout.config, S, { params: imported.params });
      const batches: SequenceBatch[] = [];
      for (let k = 0; k < K; k++) {
        const seq = (a: Int32Array) => a.subarray(k * P * (T + 1), (k + 1) * P * (T + 1));
        const msk = (a: Float64Array) => a.subarray(k * P * T, (k + 1) * P * T);
        const b = pairBatch(seq(fx.chosen), seq(fx.rejected), msk(fx.chosenMask), msk(fx.rejectedMask), P, T);
        batches.push({ x: b.x, y: b.y, mask: Float32Array.from(b.mask) });
      }
      // The frozen reference: the model as it was when DPO started, so its log-probs of every pair are taken before any update.
      const refs = [];
      for (const batch of batches) refs.push(await policy.sequenceLogProbs(batch));
      for (let k = 0; k < K; k++) {
        const hyper = { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weight_decay, gradClip: o.grad_clip, t: k + 1, dropoutSeed: 0 };
        if (k === 0) {
          const r0 = await policy.dpoStep(batches[0], refs[0], hyper, o.beta, { update: false });
          checks.push(checkRelMax('policy_logp_chosen0', r0.logp.subarray(0, P), fx.policyLogpChosen0));
          checks.push(checkRelMax('policy_logp_rejected0', r0.logp.subarray(P), fx.policyLogpRejected0));
          checks.push(checkLosses('loss0 = ln 2', [r0.loss], [Math.LN2]));
          for (const t of layout.tensors) checks.push(checkRelMax(`grad0.${t.name}`, r0.grads!.subarray(t.offset, t.offset + t.size), fx.grad0.get(t.name)!));
        }
        const r = await policy.dpoStep(batches[k], refs[k], hyper, o.beta);
        losses.push(r.loss);
        norms.push(r.gradNorm);
        rewardsC.push(...r.rewardsChosen);
        rewardsR.push(...r.rewardsRejected);
      }
      const s = await policy.readState();
      policy.destroy();
      return s.params;
    }));
    checks.push(checkLosses('losses', losses, fx.losses));
    checks.push(checkRelMax('grad_norms', norms, fx.gradNorms));
    checks.push(checkRelMax('rewards_chosen', rewardsC, fx.rewardsChosen));
    checks.push(checkRelMax('rewards_rejected', rewardsR, fx.rewardsRejected));
    for (const [n, want] of fx.final) {
      const t = layout.byName.get(stateDictTensor(fx.config, n))!;
      checks.push(checkFinal(`final.${n}`, params.subarray(t.offset, t.offset + t.size), want, fx.init.get(n)!));
    }
    report(`[gpu oracle, ${variant}] dpo-relu (K=${K}, P=${P}, T=${T}, beta=${o.beta})`, checks);
    expect(checks.length).toBe(3 + fx.grad0.size + 4 + fx.final.size);
    expect(checks.filter((c) => !c.ok).map((c) => c.line)).toEqual([]);
  });
});

describe.each(VARIANTS)('GPU LoRA vs PyTorch + PEFT (lora-gelu) and the float64 reference, %s kernels', (variant) => {
  it('trained adapters give logits_final and merged weights; K steps from the init file match PyTorch; the base stays frozen; strength 0 is the base', async () => {
    const { gpu } = await testGpu();
    const fx = loadLoraFixture();
    const { config: cfg, B, T, K, scale: s } = fx;
    const file = readSafetensors(fx.initBytes);
    const imported0 = importAdapter(file, configFromJson(file.metadata.config));
    for (const k of [...file.tensors.keys()]) if (k.startsWith('base_model.model.')) file.tensors.delete(k);
    const base = importSafetensors(file);
    const lora = imported0.layout;
    const toFlat = (tensors: Tensors) => {
      const flat = new Float32Array(lora.total);
      for (const t of lora.tensors) flat.set(tensors.get(t.name)!, t.offset);
      return flat;
    };
    const o = fx.optimizer;
    const batch = (k: number) => ({ x: fx.x.slice(k * B * T, (k + 1) * B * T), y: fx.y.slice(k * B * T, (k + 1) * B * T) });
    const checks: Check[] = [];

    // The float64 reference trajectory from the init file's adapters.
    const refAdapters: Tensors = new Map([...fx.adapters].map(([k, t]) => [k, Float64Array.from(t)]));
    const refLosses: number[] = [];
    const refNorms: number[] = [];
    let refGrad0: Tensors | null = null;
    const adam = adamInit(refAdapters);
    for (let k = 0; k < K; k++) {
      const { x, y } = batch(k);
      const f = loraGptForward(cfg, fx.base, refAdapters, s, x, y, B, T);
      const G = loraGptBackward(cfg, refAdapters, s, f);
      if (k === 0) refGrad0 = new Map([...G].map(([n, g]) => [n, Float64Array.from(g)]));
      refLosses.push(f.fwd.loss);
      refNorms.push(clipGradNorm(G, o.grad_clip));
      adamwStep(refAdapters, G, fx.shapes, adam, { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weight_decay });
    }

    const got = await withVariant(gpu, variant, () => checked(gpu, async () => {
      const model = new GptModel(gpu, base.layout.config, B, { params: base.params, lora: { layout: lora, adapters: toFlat(fx.final) } });
      const full = new GptModel(gpu, base.layout.config, B, { params: base.params });
      // The trained adapters (PyTorch's final.*): logits of batch 0.
      const trained = await model.inspect(batch(0));
      // Strength 0 is the base model, in the full forward and in the decoder; strength 1 adapts.
      const prompt = fx.x.slice(0, 9);
      const baseLogits = await full.logits(prompt);
      model.loraStrength = 0;
      const zeroLogits = await model.logits(prompt);
      const dec = model.decoder();
      let zeroDecoded: Float32Array = new Float32Array(0);
      for (const id of prompt) zeroDecoded = await dec.push(id);
      dec.dispose();
      model.loraStrength = 0.5;
      const halfLogits = await model.logits(prompt);
      const dec2 = model.decoder();
      let halfDecoded: Float32Array = new Float32Array(0);
      for (const id of prompt) halfDecoded = await dec2.push(id);
      dec2.dispose();
      model.loraStrength = 1;
      const oneLogits = await model.logits(prompt);
      // The trajectory from the init file's adapters.
      model.writeAdapters({ adapters: toFlat(fx.adapters), step: 0 });
      const step0 = await model.inspect(batch(0));
      const pending = [];
      for (let k = 0; k < K; k++) {
        pending.push(model.step(batch(k), { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weight_decay, gradClip: o.grad_clip, t: k + 1, dropoutSeed: 0 }));
      }
      const steps = await Promise.all(pending);
      const after = await model.readAdapters();
      const state = await model.readState();
      const bytes = { lora: model.liveBytes(), full: full.liveBytes() };
      model.destroy();
      full.destroy();
      return { trained, baseLogits, zeroLogits, zeroDecoded, halfLogits, halfDecoded, oneLogits, step0, steps, after, state, bytes };
    }));

    checks.push(checkRelMax('logits_final (trained adapters)', got.trained.logits, fx.logitsFinal));
    const merged = mergeAdapters(base.layout, base.params, lora, toFlat(fx.final));
    for (const [n, want] of fx.merged) {
      const t = base.layout.byName.get(n)!;
      checks.push(checkFinal(`merged.${n}`, merged.subarray(t.offset, t.offset + t.size), want, fx.base.get(n)!));
    }
    // PyTorch's trajectory from the init file's adapters.
    checks.push(checkRelMax('logits0', got.step0.logits, fx.logits0));
    for (const t of lora.tensors) checks.push(checkRelMax(`grad0.${t.name}`, got.step0.grads.subarray(t.offset, t.offset + t.size), fx.grad0.get(t.name)!));
    checks.push(checkLosses('losses', got.steps.map((r) => r.loss), fx.losses));
    checks.push(checkRelMax('grad_norms', got.steps.map((r) => r.gradNorm), fx.gradNorms));
    for (const t of lora.tensors) {
      const after = got.after.adapters.subarray(t.offset, t.offset + t.size);
      checks.push(checkFinal(`final.${t.name}`, after, fx.final.get(t.name)!, fx.adapters.get(t.name)!));
      checks.push(checkFinal(`final.${t.name} (vs float64 reference)`, after, refAdapters.get(t.name)!, fx.adapters.get(t.name)!));
    }
    // The float64 reference agrees with the same run.
    for (const t of lora.tensors) checks.push(checkRelMax(`grad0.${t.name} (vs float64 reference)`, got.step0.grads.subarray(t.offset, t.offset + t.size), refGrad0!.get(t.name)!));
    checks.push(checkLosses('losses (vs float64 reference)', got.steps.map((r) => r.loss), refLosses));
    checks.push(checkRelMax('grad_norms (vs float64 reference)', got.steps.map((r) => r.gradNorm), refNorms));
    checks.push(checkRelMax('strength 0 = base logits', got.zeroLogits, got.baseLogits, 1e-6));
    checks.push(checkRelMax('strength 0 decoder = base logits', got.zeroDecoded, got.baseLogits, 1e-4));
    checks.push(checkRelMax('strength 0.5 decoder = full forward', got.halfDecoded, got.halfLogits, 1e-4));
    report(`[gpu oracle, ${variant}] lora-gelu (K=${K}, B=${B}, T=${T}, r=${lora.lora.r}, scale=${s}); GPU memory with LoRA ${got.bytes.lora} bytes, full fine-tune ${got.bytes.full} bytes`, checks);
    expect(checks.filter((c) => !c.ok).map((c) => c.line)).toEqual([]);
    // The adapters change the distribution, and strength scales them.
    const dist = (a: Float32Array, b: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    expect(dist(got.oneLogits, got.baseLogits)).toBeGreaterThan(1e-3);
    expect(dist(got.halfLogits, got.baseLogits)).toBeGreaterThan(1e-4);
    expect(dist(got.halfLogits, got.oneLogits)).toBeGreaterThan(1e-4);
    // The base never moved, and has no AdamW moments.
    expect(got.state.params).toEqual(base.params);
    expect(got.state.m.length).toBe(0);
    expect(got.bytes.lora).toBeLessThan(got.bytes.full);
  });
});
