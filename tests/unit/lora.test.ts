// LoRA's layout, PEFT's trainable-parameters line, initialisation and the
// PEFT-format adapter files (export, import, refusals), including the
// lora-gelu fixture's adapters written by PEFT's naming.
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/model/config';
import { ARCHITECTURE_KEY, configFromJson } from '../../src/model/files';
import {
  LORA_MODULES, initLora, loraLayout, loraScale, loraTrainableLine, peftTrainableLine, validateLoraConfig,
} from '../../src/model/lora';
import { exportAdapter, importAdapter } from '../../src/model/adapterFiles';
import { readSafetensors, writeSafetensors } from '../../src/model/safetensors';
import { paramCount } from '../../src/model/validate';
import { loadLoraFixture } from '../reference/fineTuneFixtures';

const model: ModelConfig = { nLayer: 2, nHead: 2, nEmbd: 24, blockSize: 16, vocabSize: 29, dropout: 0, bias: true, tieWeights: false, activation: 'gelu' };

describe('LoRA layout', () => {
  it('holds A (r, in) and B (out, r) per adapted module at 64-float offsets, in PEFT order', () => {
    const layout = loraLayout(model, { r: 3, alpha: 6, modules: ['mlp.c_proj', 'attn.c_attn'] });
    expect(layout.tensors.map((t) => `${t.name} ${t.shape.join('x')}`)).toEqual([
      'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight 3x24',
      'base_model.model.transformer.h.0.attn.c_attn.lora_B.weight 72x3',
      'base_model.model.transformer.h.0.mlp.c_proj.lora_A.weight 3x96',
      'base_model.model.transformer.h.0.mlp.c_proj.lora_B.weight 24x3',
      'base_model.model.transformer.h.1.attn.c_attn.lora_A.weight 3x24',
      'base_model.model.transformer.h.1.attn.c_attn.lora_B.weight 72x3',
      'base_model.model.transformer.h.1.mlp.c_proj.lora_A.weight 3x96',
      'base_model.model.transformer.h.1.mlp.c_proj.lora_B.weight 24x3',
    ]);
    let end = 0;
    for (const t of layout.tensors) {
      expect(t.offset % 64).toBe(0);
      expect(t.offset).toBeGreaterThanOrEqual(end);
      end = t.offset + t.size;
    }
    expect(layout.total).toBeGreaterThanOrEqual(end);
    expect(layout.count).toBe(2 * (3 * 24 + 72 * 3 + 3 * 96 + 24 * 3));
    expect(loraScale(layout.lora)).toBe(2);
    expect(loraScale(layout.lora, 0.25)).toBe(0.5);
  });

  it("prints PEFT's trainable-parameters line", () => {
    expect(peftTrainableLine(4_194_304, 6_742_609_920)).toBe('trainable params: 4,194,304 || all params: 6,742,609,920 || trainable%: 0.0622');
    const layout = loraLayout(model, { r: 4, alpha: 8, modules: [...LORA_MODULES] });
    const all = paramCount(model) + layout.count;
    expect(loraTrainableLine(layout)).toBe(`trainable params: ${layout.count.toLocaleString('en-US')} || all params: ${all.toLocaleString('en-US')} || trainable%: ${((100 * layout.count) / all).toFixed(4)}`);
  });

  it('refuses unusable configs with sentences', () => {
    expect(validateLoraConfig({ r: 0, alpha: 8, modules: ['attn.c_attn'] })[0]).toMatch(/rank r must be a whole number from 1 to 64/);
    expect(validateLoraConfig({ r: 65, alpha: 8, modules: ['attn.c_attn'] })).toHaveLength(1);
    expect(validateLoraConfig({ r: 4, alpha: 0, modules: ['attn.c_attn'] })[0]).toMatch(/lora_alpha/);
    expect(validateLoraConfig({ r: 4, alpha: 8, modules: [] })[0]).toMatch(/at least one target module/);
    expect(() => loraLayout(model, { r: 2.5, alpha: 8, modules: ['mlp.c_fc'] })).toThrow(/whole number/);
  });

  it("initialises as PEFT does: A uniform in +-1/sqrt(in), B zero, padding zero", () => {
    const layout = loraLayout(model, { r: 4, alpha: 8, modules: ['attn.c_attn', 'mlp.c_proj'] });
    const flat = initLora(layout, 7);
    const inTensor = new Uint8Array(layout.total);
    for (const t of layout.tensors) {
      inTensor.fill(1, t.offset, t.offset + t.size);
      const v = flat.subarray(t.offset, t.offset + t.size);
      if (t.which === 'B') expect(v.every((x) => x === 0)).toBe(true);
      else {
        const bound = 1 / Math.sqrt(t.shape[1]);
        expect(v.every((x) => Math.abs(x) <= bound)).toBe(true);
        expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(0.8 * bound);
      }
    }
    for (let i = 0; i < layout.total; i++) if (!inTensor[i]) expect(flat[i]).toBe(0);
    expect(initLora(layout, 7)).toEqual(flat);
  });
});

describe('LoRA adapter files (PEFT format)', () => {
  it('export writes PEFT names, shapes and adapter_config; import reads them back exactly', () => {
    const layout = loraLayout(model, { r: 5, alpha: 10, modules: ['attn.c_proj', 'mlp.c_fc'] });
    const flat = initLora(layout, 3);
    for (const t of layout.tensors) if (t.which === 'B') for (let i = 0; i < t.size; i++) flat[t.offset + i] = (i % 7) * 0.01 - 0.03;
    const bytes = exportAdapter(layout, flat, ['a', 'b']);
    const file = readSafetensors(bytes);
    expect([...file.tensors.keys()]).toEqual(layout.tensors.map((t) => t.name));
    expect(file.tensors.get('base_model.model.transformer.h.1.mlp.c_fc.lora_B.weight')!.shape).toEqual([96, 5]);
    expect(file.tensors.get('base_model.model.transformer.h.0.attn.c_proj.lora_A.weight')!.shape).toEqual([5, 24]);
    const cfg = JSON.parse(file.metadata.adapter_config);
    expect(cfg).toMatchObject({ peft_type: 'LORA', r: 5, lora_alpha: 10, lora_dropout: 0, bias: 'none', fan_in_fan_out: false, target_modules: ['attn.c_proj', 'c_fc'] });
    expect(configFromJson(file.metadata.base_model_config, file.metadata[ARCHITECTURE_KEY])).toEqual(model);
    const back = importAdapter(bytes, model);
    expect(back.layout.lora).toEqual(layout.lora);
    expect(back.flat).toEqual(flat);
  });

  it("imports the lora-gelu fixture's adapters (written with PEFT's names) onto its base", () => {
    const fx = loadLoraFixture();
    const base = configFromJson(readSafetensors(fx.initBytes).metadata.config);
    const { layout, flat } = importAdapter(fx.initBytes, base);
    expect(layout.lora).toEqual({ r: 4, alpha: 8, modules: [...LORA_MODULES] });
    expect(layout.tensors.length).toBe(fx.adapters.size);
    for (const t of layout.tensors) expect(Float64Array.from(flat.subarray(t.offset, t.offset + t.size))).toEqual(fx.adapters.get(t.name));
  });

  it('refuses files that do not fit the base, with sentences', () => {
    const layout = loraLayout(model, { r: 2, alpha: 4, modules: ['attn.c_attn'] });
    const bytes = exportAdapter(layout, initLora(layout, 1), []);
    expect(() => importAdapter(bytes, { ...model, nEmbd: 32 })).toThrow(/has shape \[2, 24\], but this base model needs \[2, 32\]/);
    expect(() => importAdapter(bytes, { ...model, nLayer: 1 })).toThrow(/adapts layer 1, but the base model has layers 0 to 0 only/);
    const oneLayer = readSafetensors(bytes);
    oneLayer.tensors.delete('base_model.model.transformer.h.1.attn.c_attn.lora_B.weight');
    expect(() => importAdapter(oneLayer, model)).toThrow(/lacks base_model.model.transformer.h.1.attn.c_attn.lora_B.weight/);
    expect(() => importAdapter(writeSafetensors([['transformer.wte.weight', { shape: [1], data: new Float32Array(1) }]]), model)).toThrow(/no LoRA adapters/);
    const nan = readSafetensors(bytes);
    nan.tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight')!.data[0] = Number.NaN;
    expect(() => importAdapter(nan, model)).toThrow(/non-finite/);
  });
});
