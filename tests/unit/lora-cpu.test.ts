// The float64 LoRA reference: the adapter's products against finite
// differences and against the merged-weight identity, the adapted GPT's
// adapter gradients against finite differences, and the whole of lora-gelu
// (PyTorch + PEFT's formulation) within the README's tolerances.
import { describe, expect, it } from 'vitest';
import { adamInit, adamwStep, clipGradNorm, gptForward, type RefConfig, type Tensors } from '../reference/gpt';
import { gradcheck, gradReport } from '../reference/gradcheck';
import { loadLoraFixture } from '../reference/fineTuneFixtures';
import {
  LORA_MODULES, adaptedModules, loraGptBackward, loraGptForward, loraLinearBackward, loraLinearForward, loraName, mergeLora, moduleDims,
} from '../reference/lora';
import { checkFinal, checkLosses, checkRelMax, type Check } from '../reference/oracle';
import { randInts, randn } from '../reference/random';

const f64 = (n: number, seed: number, scale = 1) => Float64Array.from(randn(n, seed, scale));

describe('LoRA Linear reference', () => {
  const [N, IN, OUT, r, s] = [7, 11, 13, 3, 2.5];
  const inp = f64(N * IN, 1);
  const A = f64(r * IN, 2, 0.5);
  const B = f64(OUT * r, 3, 0.5);

  it('forward equals x (s B A)^T', () => {
    const out = new Float64Array(N * OUT);
    loraLinearForward(out, inp, A, B, s, N, IN, OUT, r);
    let d = 0;
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < OUT; o++) {
        let want = 0;
        for (let i = 0; i < IN; i++) {
          let ba = 0;
          for (let k = 0; k < r; k++) ba += B[o * r + k] * A[k * IN + i];
          want += inp[n * IN + i] * s * ba;
        }
        d = Math.max(d, Math.abs(out[n * OUT + o] - want));
      }
    }
    console.log(`lora linear forward vs merged product: maxdiff ${d.toExponential(2)}`);
    expect(d).toBeLessThan(1e-12);
  });

  it('backward matches finite differences for the input, A and B', () => {
    const dout = f64(N * OUT, 4);
    const [dinp, dA, dB] = [new Float64Array(N * IN), new Float64Array(r * IN), new Float64Array(OUT * r)];
    const out0 = new Float64Array(N * OUT);
    const xa = loraLinearForward(out0, inp, A, B, s, N, IN, OUT, r);
    loraLinearBackward(dinp, dA, dB, dout, inp, xa, A, B, s, N, IN, OUT, r);
    const res = gradcheck(([x, a, b]) => {
      const out = new Float64Array(N * OUT);
      loraLinearForward(out, x, a, b, s, N, IN, OUT, r);
      return out;
    }, [inp, A, B], [dinp, dA, dB], dout);
    console.log(gradReport(res, 'lora linear backward'));
    expect(res.checked).toBe(N * IN + r * IN + OUT * r);
    expect(res.failures).toBe(0);
  });
});

describe('LoRA-adapted GPT reference', () => {
  it('adapter gradients match finite differences of the loss (every element, a small model)', () => {
    const cfg: RefConfig = { nLayer: 2, nHead: 2, nEmbd: 8, blockSize: 6, vocabSize: 7, bias: true, tieWeights: false, activation: 'gelu' };
    const [Bt, T, r, s] = [2, 5, 2, 1.5];
    const base: Tensors = new Map();
    const C = cfg.nEmbd;
    const shapes: Record<string, number> = { 'transformer.wte.weight': 7 * C, 'transformer.wpe.weight': 6 * C, 'transformer.ln_f.weight': C, 'transformer.ln_f.bias': C, 'lm_head.weight': 7 * C };
    for (let l = 0; l < 2; l++) {
      const h = `transformer.h.${l}`;
      Object.assign(shapes, {
        [`${h}.ln_1.weight`]: C, [`${h}.ln_1.bias`]: C, [`${h}.ln_2.weight`]: C, [`${h}.ln_2.bias`]: C,
        [`${h}.attn.c_attn.weight`]: 3 * C * C, [`${h}.attn.c_attn.bias`]: 3 * C, [`${h}.attn.c_proj.weight`]: C * C, [`${h}.attn.c_proj.bias`]: C,
        [`${h}.mlp.c_fc.weight`]: 4 * C * C, [`${h}.mlp.c_fc.bias`]: 4 * C, [`${h}.mlp.c_proj.weight`]: 4 * C * C, [`${h}.mlp.c_proj.bias`]: C,
      });
    }
    let seed = 10;
    for (const [k, n] of Object.entries(shapes)) base.set(k, k.includes('ln_') && k.endsWith('weight') ? Float64Array.from({ length: n }, () => 1) : f64(n, seed++, 0.3));
    // Layer 0 adapts every module, layer 1 only attn.c_proj: both shapes of target lists.
    const adapters: Tensors = new Map();
    for (const [l, modules] of [[0, LORA_MODULES], [1, ['attn.c_proj'] as const]] as const) {
      for (const module of modules) {
        const { IN, OUT } = moduleDims(cfg, module);
        adapters.set(loraName(l, module, 'A'), f64(r * IN, seed++, 0.3));
        adapters.set(loraName(l, module, 'B'), f64(OUT * r, seed++, 0.3));
      }
    }
    expect(adaptedModules(cfg, adapters).length).toBe(5);
    const x = randInts(Bt * T, 7, 1);
    const y = randInts(Bt * T, 7, 2);
    const names = [...adapters.keys()];
    const G = loraGptBackward(cfg, adapters, s, loraGptForward(cfg, base, adapters, s, x, y, Bt, T));
    expect([...G.keys()]).toEqual(names);
    const res = gradcheck((inputs) => {
      const ad: Tensors = new Map(names.map((n, i) => [n, inputs[i]]));
      return [loraGptForward(cfg, base, ad, s, x, y, Bt, T).fwd.loss];
    }, names.map((n) => adapters.get(n)!), names.map((n) => G.get(n)!), [1], { atol: 1e-8, rtol: 1e-5 });
    console.log(gradReport(res, 'adapted GPT, adapter gradients'));
    expect(res.failures).toBe(0);
  });
});

// lora-gelu: the init file holds the base and the adapters before training;
// the expected file pins the whole trajectory (logits0, grad0, losses, grad
// norms, final adapters) and the merged weights after it.
describe('float64 LoRA reference vs PyTorch + PEFT (lora-gelu)', () => {
  it("the trained adapters (final.*) give PEFT merge_and_unload's weights and logits_final, adapted and merged", () => {
    const fx = loadLoraFixture();
    const { config: cfg, B, T, scale: s, base } = fx;
    expect(fx.adapterConfig.r).toBe(4);
    expect(s).toBe(2);
    expect(adaptedModules(cfg, fx.final).length).toBe(cfg.nLayer * LORA_MODULES.length);
    const checks: Check[] = [];
    const merged = mergeLora(cfg, base, fx.final, s);
    for (const [n, want] of fx.merged) checks.push(checkFinal(`merged.${n}`, merged.get(n)!, want, base.get(n)!));
    const x0 = fx.x.subarray(0, B * T);
    checks.push(checkRelMax('logits_final (adapted)', loraGptForward(cfg, base, fx.final, s, x0, null, B, T).fwd.logits, fx.logitsFinal));
    checks.push(checkRelMax('logits_final (merged model)', gptForward(cfg, merged, x0, null, B, T).logits, fx.logitsFinal));
    console.log(`[cpu oracle] lora-gelu trained adapters\n${checks.map((c) => `  ${c.line}`).join('\n')}`);
    expect(checks.filter((c) => !c.ok).map((c) => c.line)).toEqual([]);
    expect(checks.length).toBe(fx.merged.size + 2);
    expect(Math.max(...checks.map((c) => c.maxDiff))).toBeLessThan(1e-10);
  });

  it('from the init file: logits0, grad0, losses, grad norms and final adapters', () => {
    const fx = loadLoraFixture();
    const { config: cfg, B, T, K, scale: s, base } = fx;
    const adapters: Tensors = new Map([...fx.adapters].map(([k, t]) => [k, Float64Array.from(t)]));
    const baseBefore = new Map([...base].map(([k, t]) => [k, Float64Array.from(t)]));
    const checks: Check[] = [];
    const losses: number[] = [];
    const norms: number[] = [];
    const adam = adamInit(adapters);
    const o = fx.optimizer;
    for (let k = 0; k < K; k++) {
      const x = fx.x.subarray(k * B * T, (k + 1) * B * T);
      const y = fx.y.subarray(k * B * T, (k + 1) * B * T);
      const f = loraGptForward(cfg, base, adapters, s, x, y, B, T);
      const G = loraGptBackward(cfg, adapters, s, f);
      if (k === 0) {
        checks.push(checkRelMax('logits0', f.fwd.logits, fx.logits0));
        expect([...G.keys()].sort()).toEqual([...fx.grad0.keys()].sort());
        for (const [n, want] of fx.grad0) checks.push(checkRelMax(`grad0.${n}`, G.get(n)!, want));
      }
      losses.push(f.fwd.loss);
      norms.push(clipGradNorm(G, o.grad_clip));
      adamwStep(adapters, G, fx.shapes, adam, { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weight_decay });
    }
    // The base stayed frozen.
    for (const [n, t] of base) expect(t).toEqual(baseBefore.get(n));
    checks.push(checkLosses('losses', losses, fx.losses));
    checks.push(checkRelMax('grad_norms', norms, fx.gradNorms));
    for (const [n, want] of fx.final) checks.push(checkFinal(`final.${n}`, adapters.get(n)!, want, fx.adapters.get(n)!));
    const failed = checks.filter((c) => !c.ok);
    console.log(`[cpu oracle] lora-gelu trajectory from the init file: ${failed.length} of ${checks.length} checks out of tolerance\n  ${checks.map((c) => c.line).join('\n  ')}`);
    expect(failed.map((c) => c.line)).toEqual([]);
  });
});
