// A LoRA run's adapters as PEFT's adapter folder, zipped: adapter_config.json
// (LoraConfig's fields, module names, the base run's name) beside
// adapter_model.safetensors (PEFT's tensor names); read back from the zip,
// from the two files picked together, or from our single file; a zip that is
// not PEFT's folder, or a bad config, gets a sentence.
import { describe, expect, it } from 'vitest';
import { strToU8, unzipSync, zipSync } from 'fflate';
import type { ModelConfig } from '../../src/model/config';
import { importAdapter, peftAdapterConfig } from '../../src/model/adapterFiles';
import { initLora, loraLayout } from '../../src/model/lora';
import { readSafetensors } from '../../src/model/safetensors';
import { adapterZip, readAdapterInput } from '../../src/engine/modelFiles';

const gpt2: ModelConfig = { nLayer: 2, nHead: 2, nEmbd: 24, blockSize: 16, vocabSize: 5, dropout: 0, bias: true, tieWeights: false, activation: 'gelu' };
const llama: ModelConfig = {
  block: 'llama', nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 24, ffnHidden: 40, blockSize: 9, vocabSize: 5,
  ropeTheta: 10000, rmsNormEps: 1e-5, tieWeights: false, dropout: 0, bias: false, activation: 'gelu',
};
const vocab = ['\n', ' ', 'a', 'b', 'c'];

function adapters(model: ModelConfig, modules: string[], r = 3, alpha = 6) {
  const layout = loraLayout(model, { r, alpha, modules: modules as never });
  const flat = initLora(layout, 5);
  for (const t of layout.tensors) if (t.which === 'B') for (let i = 0; i < t.size; i++) flat[t.offset + i] = ((i * 7) % 11) * 0.01 - 0.05;
  return { layout, flat };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("PEFT's adapter folder, zipped", () => {
  it('holds adapter_config.json with LoraConfig fields and adapter_model.safetensors with PEFT names, and imports back exactly', () => {
    const { layout, flat } = adapters(gpt2, ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj']);
    const zip = adapterZip(layout, flat, vocab, 'Tiny on Moby Dick');
    const files = unzipSync(zip);
    expect(Object.keys(files).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const config = JSON.parse(text(files['adapter_config.json']!));
    expect(config).toEqual({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: 'Tiny on Moby Dick',
      r: 3,
      lora_alpha: 6,
      lora_dropout: 0,
      target_modules: ['c_attn', 'c_proj', 'c_fc'],
      bias: 'none',
      fan_in_fan_out: false,
      init_lora_weights: true,
      inference_mode: true,
      modules_to_save: null,
    });
    const tensors = readSafetensors(files['adapter_model.safetensors']!).tensors;
    expect([...tensors.keys()].sort()).toEqual(
      [0, 1].flatMap((l) => ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'].flatMap((m) => ['A', 'B'].map((w) => `base_model.model.transformer.h.${l}.${m}.lora_${w}.weight`))).sort(),
    );
    expect(tensors.get('base_model.model.transformer.h.1.mlp.c_fc.lora_A.weight')!.shape).toEqual([3, 24]);
    expect(tensors.get('base_model.model.transformer.h.1.mlp.c_fc.lora_B.weight')!.shape).toEqual([96, 3]);

    // The zip, the two files picked together, and the safetensors file alone all import the same adapters.
    const fromZip = readAdapterInput(zip);
    expect(fromZip.configJson).toBe(text(files['adapter_config.json']!));
    const viaZip = importAdapter(fromZip.safetensors, gpt2, fromZip.configJson);
    expect(viaZip.layout.lora).toEqual(layout.lora);
    expect(viaZip.flat).toEqual(flat);
    const two = readAdapterInput(files['adapter_model.safetensors']!, text(files['adapter_config.json']!));
    expect(importAdapter(two.safetensors, gpt2, two.configJson).flat).toEqual(flat);
    const single = readAdapterInput(files['adapter_model.safetensors']!);
    expect(single.configJson).toBeUndefined();
    expect(importAdapter(single.safetensors, gpt2).layout.lora).toEqual(layout.lora);
    // A folder zipped whole keeps its folder name in the paths.
    const nested = zipSync({ 'my-adapter/adapter_config.json': files['adapter_config.json']!, 'my-adapter/adapter_model.safetensors': files['adapter_model.safetensors']! });
    expect(importAdapter(readAdapterInput(nested).safetensors, gpt2).flat).toEqual(flat);
  });

  it('names modules as PEFT matches them: c_proj keeps its parent when only one of the two is adapted; LLaMA names as they are', () => {
    const one = peftAdapterConfig({ r: 2, alpha: 4, modules: ['attn.c_attn', 'mlp.c_proj'] }, gpt2, 'Base');
    expect(one.target_modules).toEqual(['c_attn', 'mlp.c_proj']);
    const l = peftAdapterConfig({ r: 2, alpha: 4, modules: ['q_proj', 'v_proj', 'down_proj'] }, llama, 'Llama run');
    expect(l).toMatchObject({ target_modules: ['q_proj', 'v_proj', 'down_proj'], fan_in_fan_out: false, base_model_name_or_path: 'Llama run' });
    const { layout, flat } = adapters(llama, ['q_proj', 'v_proj', 'down_proj'], 2, 4);
    const files = unzipSync(adapterZip(layout, flat, vocab, 'Llama run'));
    expect([...readSafetensors(files['adapter_model.safetensors']!).tensors.keys()]).toContain('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight');
    const input = readAdapterInput(zipSync({ 'adapter_config.json': files['adapter_config.json']!, 'adapter_model.safetensors': files['adapter_model.safetensors']! }));
    expect(importAdapter(input.safetensors, llama, input.configJson).flat).toEqual(flat);
  });

  it("lora_alpha comes from adapter_config.json when it is picked with the file", () => {
    const { layout, flat } = adapters(gpt2, ['mlp.c_fc']);
    const st = unzipSync(adapterZip(layout, flat, vocab, 'Base'))['adapter_model.safetensors']!;
    const cfg = JSON.stringify({ peft_type: 'LORA', r: 3, lora_alpha: 12, target_modules: ['c_fc'] });
    expect(importAdapter(st, gpt2, cfg).layout.lora).toEqual({ r: 3, alpha: 12, modules: ['mlp.c_fc'] });
  });

  it('refuses a zip that is not PEFT\'s folder, and a bad adapter_config, with a sentence', () => {
    const { layout, flat } = adapters(gpt2, ['mlp.c_fc']);
    const files = unzipSync(adapterZip(layout, flat, vocab, 'Base'));
    const st = files['adapter_model.safetensors']!;
    expect(() => readAdapterInput(zipSync({ 'adapter_model.safetensors': st }))).toThrow(
      "The zip holds no adapter_config.json: PEFT's adapter folder keeps the adapter's LoraConfig (r, lora_alpha, target_modules) there.",
    );
    expect(() => readAdapterInput(zipSync({ 'adapter_config.json': files['adapter_config.json']! }))).toThrow(/The zip holds no adapter_model\.safetensors/);
    expect(() => readAdapterInput(strToU8('PK\u0003\u0004 not really a zip'))).toThrow(/The zip could not be read/);
    expect(() => importAdapter(st, gpt2, '{r: 3')).toThrow('The adapter_config is not valid JSON.');
    expect(() => importAdapter(st, gpt2, '[1]')).toThrow('The adapter_config is not a JSON object of LoraConfig fields.');
    expect(() => importAdapter(st, gpt2, JSON.stringify({ peft_type: 'PREFIX_TUNING' }))).toThrow('The adapter_config is for PEFT type "PREFIX_TUNING"; this app reads LoRA adapters (peft_type "LORA").');
    expect(() => importAdapter(st, gpt2, JSON.stringify({ peft_type: 'LORA', r: 8 }))).toThrow('The adapter_config says r = 8, but the tensors have rank 3.');
    expect(() => importAdapter(st, gpt2, JSON.stringify({ lora_alpha: -1 }))).toThrow("The adapter_config's lora_alpha is not a positive number.");
  });
});
