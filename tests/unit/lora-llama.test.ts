// LoRA on the LLaMA block, model layer and float64 reference: PEFT's names and
// shapes for LlamaForCausalLM, targets derived from the description's row
// ranges (q_proj, k_proj, v_proj inside the fused qkv_proj, gate_proj and
// up_proj inside gate_up_proj), merge into those rows (the merged model's
// float64 forward equals the adapted one's), the reference's adapter
// gradients against central differences, and the adapter file round trip.
import { describe, expect, it } from 'vitest';
import { exportAdapter, importAdapter } from '../../src/model/adapterFiles';
import type { ModelConfig } from '../../src/model/config';
import { blockDims } from '../../src/model/description';
import { llamaConfigJson, llamaTensors } from '../../src/model/hfFiles';
import { paramLayout } from '../../src/model/layout';
import { LLAMA_LORA_MODULES, loraLayout, loraScale, loraTarget, mergeAdapters, validateLoraConfig, type LoraLayout } from '../../src/model/lora';
import { writeSafetensors } from '../../src/model/safetensors';
import type { Tensors } from '../reference/gpt';
import { gradcheck, gradReport } from '../reference/gradcheck';
import { llamaBackward, llamaForward, parseLlamaConfig, type LlamaLora } from '../reference/llama';
import { randInts, randn } from '../reference/random';

const llama = (patch: Partial<ModelConfig> = {}): ModelConfig => ({
  block: 'llama', nLayer: 2, nHead: 6, nKvHead: 2, nEmbd: 24, ffnHidden: 11, blockSize: 5, vocabSize: 13,
  dropout: 0, bias: false, activation: 'gelu', tieWeights: false, ropeTheta: 5000, rmsNormEps: 1e-6, ...patch,
});

const refConfig = (c: ModelConfig) => parseLlamaConfig(JSON.stringify(llamaConfigJson(c)));

/** Random packed parameters (norm gains near 1) and adapters with B != 0, so every adapter changes the model. */
function randomModel(c: ModelConfig, lora: LoraLayout, seed: number) {
  const layout = paramLayout(c);
  const params = randn(layout.total, seed, 0.4);
  for (const t of layout.tensors) if (t.role.startsWith('norm')) for (let i = 0; i < t.size; i++) params[t.offset + i] += 1;
  const flat = new Float32Array(lora.total);
  for (const t of lora.tensors) flat.set(randn(t.size, seed + 1 + t.offset, 0.3), t.offset);
  return { layout, params, flat };
}

const asTensors = (pairs: Array<[string, { data: ArrayLike<number> }]>): Tensors => new Map(pairs.map(([n, t]) => [n, Float64Array.from(t.data)]));

function peftAdapters(lora: LoraLayout, flat: Float32Array): Tensors {
  return new Map(lora.tensors.map((t) => [t.name, Float64Array.from(flat.subarray(t.offset, t.offset + t.size))]));
}

describe('LoRA on the LLaMA block: names, targets, merge', () => {
  it("PEFT's LlamaForCausalLM names and shapes; targets are the description's row ranges", () => {
    const c = llama();
    const { H, KV, D, mlpHidden: I } = blockDims(c);
    expect([H, KV, D, I]).toEqual([6, 2, 4, 11]);
    const lora = loraLayout(c, { r: 3, alpha: 5, modules: [...LLAMA_LORA_MODULES] });
    const byName = new Map(lora.tensors.map((t) => [t.name, t.shape]));
    const p = (l: number, path: string, w: 'A' | 'B') => `base_model.model.model.layers.${l}.${path}.lora_${w}.weight`;
    expect(byName.get(p(0, 'self_attn.q_proj', 'A'))).toEqual([3, 24]);
    expect(byName.get(p(0, 'self_attn.q_proj', 'B'))).toEqual([H * D, 3]);
    expect(byName.get(p(1, 'self_attn.k_proj', 'B'))).toEqual([KV * D, 3]);
    expect(byName.get(p(1, 'self_attn.v_proj', 'B'))).toEqual([KV * D, 3]);
    expect(byName.get(p(0, 'self_attn.o_proj', 'A'))).toEqual([3, H * D]);
    expect(byName.get(p(0, 'mlp.gate_proj', 'B'))).toEqual([I, 3]);
    expect(byName.get(p(1, 'mlp.up_proj', 'B'))).toEqual([I, 3]);
    expect(byName.get(p(1, 'mlp.down_proj', 'A'))).toEqual([3, I]);
    expect(lora.tensors).toHaveLength(2 * 2 * 7);
    // PEFT's count: r (in + out) per adapted Linear
    const perLayer = 3 * ((24 + H * D) + 2 * (24 + KV * D) + (H * D + 24) + 2 * (24 + I) + (I + 24));
    expect(lora.count).toBe(2 * perLayer);
    expect(loraTarget(c, 1, 'k_proj')).toEqual({ module: 'k_proj', param: 'model.layers.1.self_attn.qkv_proj.weight', row0: H * D, OUT: KV * D, IN: 24, ld: (H + 2 * KV) * D, stem: 'model.layers.1.self_attn.k_proj' });
    expect(loraTarget(c, 0, 'up_proj')).toMatchObject({ param: 'model.layers.0.mlp.gate_up_proj.weight', row0: I, OUT: I });
    expect(validateLoraConfig({ r: 2, alpha: 2, modules: ['attn.c_attn'] }, c)[0]).toMatch(/"attn.c_attn" is not a Linear layer of the model; choose among q_proj, k_proj/);
    expect(validateLoraConfig({ r: 2, alpha: 2, modules: ['q_proj'] }, llama({ block: 'gpt2' }))[0]).toMatch(/choose among attn.c_attn/);
  });

  for (const [label, patch, modules] of [
    ['untied, GQA (KV < H), every module', {}, [...LLAMA_LORA_MODULES]],
    ['tied, H = KV, k_proj and up_proj only', { tieWeights: true, nKvHead: 6 }, ['k_proj', 'up_proj']],
    ['untied, one kv head, v_proj, o_proj and gate_proj', { nHead: 3, nKvHead: 1, nEmbd: 12 }, ['v_proj', 'gate_proj', 'o_proj']],
  ] as const) {
    it(`merge adds s B A into the adapted rows: the merged forward equals the adapted one (${label})`, () => {
      const c = llama(patch);
      const lora = loraLayout(c, { r: 2, alpha: 3, modules: [...modules] });
      const { layout, params, flat } = randomModel(c, lora, 7);
      const cfg = refConfig(c);
      const B = 2;
      const T = c.blockSize;
      const x = randInts(B * T, c.vocabSize, 3);
      const base = asTensors(llamaTensors(layout, params));
      const s = loraScale(lora.lora, 0.7);
      const adapted = llamaForward(cfg, base, x, null, B, T, { s, adapters: peftAdapters(lora, flat) });
      const merged = llamaForward(cfg, asTensors(llamaTensors(layout, mergeAdapters(layout, params, lora, flat, 0.7))), x, null, B, T);
      const plain = llamaForward(cfg, base, x, null, B, T);
      let diff = 0;
      let moved = 0;
      for (let i = 0; i < adapted.logits.length; i++) {
        diff = Math.max(diff, Math.abs(adapted.logits[i] - merged.logits[i]));
        moved = Math.max(moved, Math.abs(adapted.logits[i] - plain.logits[i]));
      }
      console.log(`[lora llama] ${label}: merged vs adapted maxdiff ${diff.toExponential(2)}, adapters move logits by ${moved.toExponential(2)}`);
      expect(Number.isFinite(moved) && Number.isFinite(diff)).toBe(true);
      expect(moved).toBeGreaterThan(1e-2);
      expect(diff).toBeLessThan(1e-5); // float32 storage of the merged weights
      // Only the adapted rows of a fused tensor moved.
      const m = mergeAdapters(layout, params, lora, flat, 1);
      const { H, KV, D } = blockDims(c);
      const qkv = layout.byName.get('model.layers.0.self_attn.qkv_proj.weight')!;
      const rowMoved = (row: number) => [...Array(c.nEmbd).keys()].some((i) => m[qkv.offset + row * c.nEmbd + i] !== params[qkv.offset + row * c.nEmbd + i]);
      expect([rowMoved(0), rowMoved(H * D), rowMoved((H + KV) * D)]).toEqual(['q_proj', 'k_proj', 'v_proj'].map((q) => (modules as readonly string[]).includes(q)));
    });
  }

  it("the reference's adapter gradients match central differences (GQA, untied and tied)", () => {
    for (const tie of [false, true]) {
      const c = llama({ nLayer: 1, tieWeights: tie, nEmbd: 16, nHead: 4, nKvHead: 2, ffnHidden: 7, blockSize: 4, vocabSize: 9 });
      const lora = loraLayout(c, { r: 2, alpha: 4, modules: [...LLAMA_LORA_MODULES] });
      const { layout, params, flat } = randomModel(c, lora, 21);
      const cfg = refConfig(c);
      const P = asTensors(llamaTensors(layout, params));
      const adapters = peftAdapters(lora, flat);
      const names = [...adapters.keys()];
      const s = loraScale(lora.lora);
      const B = 2;
      const x = randInts(B * c.blockSize, c.vocabSize, 5);
      const y = randInts(B * c.blockSize, c.vocabSize, 6);
      const fwd = llamaForward(cfg, P, x, y, B, c.blockSize, { s, adapters });
      expect(Number.isFinite(fwd.loss)).toBe(true);
      const G = llamaBackward(cfg, P, fwd);
      const loss = (xs: Float64Array[]) => {
        const l: LlamaLora = { s, adapters: new Map(names.map((n, i) => [n, xs[i]])) };
        return [llamaForward(cfg, P, x, y, B, c.blockSize, l).loss];
      };
      const r = gradcheck(loss, names.map((n) => adapters.get(n)!), names.map((n) => G.get(n)!), [1], { samples: 10, atol: 1e-8, rtol: 1e-5 });
      console.log(gradReport(r, `llama lora ${tie ? 'tied' : 'untied'}`));
      expect(r.checked).toBeGreaterThan(100);
      expect(r.failures).toBe(0);
    }
  });

  it("adapter files: PEFT's LLaMA names round-trip; a GPT-2 adapter is refused on a LLaMA base", () => {
    const c = llama();
    const lora = loraLayout(c, { r: 2, alpha: 6, modules: ['q_proj', 'v_proj', 'down_proj'] });
    const { flat } = randomModel(c, lora, 3);
    const back = importAdapter(exportAdapter(lora, flat, 'abcdefghijkl\n'.split('')), c);
    expect(back.layout.lora).toEqual({ r: 2, alpha: 6, modules: ['q_proj', 'v_proj', 'down_proj'] });
    expect(back.layout.tensors.map((t) => t.name)).toEqual(lora.tensors.map((t) => t.name));
    expect(back.flat).toEqual(flat);
    const gpt2 = writeSafetensors([['base_model.model.transformer.h.0.attn.c_attn.lora_A.weight', { shape: [2, 24], data: new Float32Array(48) }]]);
    expect(() => importAdapter(gpt2, c)).toThrow(/does not name a Linear layer of this model \(expected q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj or down_proj\)/);
  });
});
