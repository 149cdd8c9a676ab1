// Hugging Face LLaMA files: config.json fields we cannot run are refused with a
// sentence naming the field; the parameter count equals LlamaForCausalLM's;
// export then import is the identity on every tensor.
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/model/config';
import { paramCount } from '../../src/model/description';
import { configFromLlamaJson, exportHfLlama, importHfLlama, llamaConfigJson } from '../../src/model/hfFiles';
import { initParams, paramLayout } from '../../src/model/layout';
import { validateConfig } from '../../src/model/validate';
import { DEFAULT_TRAIN } from '../../src/model/config';
import { readSafetensors, writeSafetensors } from '../../src/model/safetensors';
import { llamaParamCount, parseLlamaConfig } from '../reference/llama';

const base = {
  model_type: 'llama', vocab_size: 11, hidden_size: 24, intermediate_size: 40, num_hidden_layers: 2, num_attention_heads: 6,
  num_key_value_heads: 2, max_position_embeddings: 16, rms_norm_eps: 1e-6, rope_theta: 5000, hidden_act: 'silu', tie_word_embeddings: false,
};

describe('Hugging Face LLaMA files', () => {
  it('reads a LlamaConfig, and its parameter count is LlamaForCausalLM\'s', () => {
    for (const tie of [false, true]) {
      const json = JSON.stringify({ ...base, tie_word_embeddings: tie });
      const c = configFromLlamaJson(json);
      expect(c).toMatchObject({ block: 'llama', nLayer: 2, nHead: 6, nKvHead: 2, nEmbd: 24, ffnHidden: 40, blockSize: 16, vocabSize: 11, ropeTheta: 5000, rmsNormEps: 1e-6, tieWeights: tie });
      expect(paramCount(c)).toBe(llamaParamCount(parseLlamaConfig(json)));
      // Written back, the config reads the same.
      expect(configFromLlamaJson(JSON.stringify(llamaConfigJson(c)))).toEqual(c);
    }
  });

  it('refuses what it cannot run, naming the field', () => {
    const bad = (patch: Record<string, unknown>) => () => configFromLlamaJson(JSON.stringify({ ...base, ...patch }));
    expect(bad({ num_attention_heads: 5 })).toThrow(/"num_attention_heads" \(5\) must divide "hidden_size" \(24\)/);
    expect(bad({ num_key_value_heads: 4 })).toThrow(/"num_key_value_heads" \(4\) must divide "num_attention_heads" \(6\)/);
    expect(bad({ num_attention_heads: 8 })).toThrow(/head size \(3\) is odd/);
    expect(bad({ rope_scaling: { type: 'linear', factor: 2 } })).toThrow(/"rope_scaling"/);
    expect(bad({ attention_bias: true })).toThrow(/"attention_bias"/);
    expect(bad({ mlp_bias: true })).toThrow(/"mlp_bias"/);
    expect(bad({ sliding_window: 8 })).toThrow(/"sliding_window"/);
    expect(bad({ hidden_act: 'gelu' })).toThrow(/"hidden_act"/);
    expect(bad({ head_dim: 8 })).toThrow(/"head_dim"/);
    expect(() => configFromLlamaJson('{')).toThrow(/not valid JSON/);
  });

  it('the model form refuses a LLaMA shape it cannot run', () => {
    const c: ModelConfig = { ...configFromLlamaJson(JSON.stringify(base)) };
    const problems = (patch: Partial<ModelConfig>) => validateConfig({ ...c, ...patch }, DEFAULT_TRAIN).map((p) => p.field);
    expect(problems({})).toEqual([]);
    expect(problems({ nKvHead: 4 })).toContain('nKvHead');
    expect(problems({ dropout: 0.1 })).toContain('dropout');
    expect(problems({ nHead: 8 })).toContain('nHead');
  });

  it('export then import gives every tensor back; a missing or misshapen tensor is named', () => {
    const c = configFromLlamaJson(JSON.stringify(base));
    const layout = paramLayout(c);
    const params = initParams(layout, 7);
    const vocab = Array.from({ length: 11 }, (_, i) => String.fromCharCode(97 + i));
    const { safetensors, configJson } = exportHfLlama(layout, params, vocab);
    const file = readSafetensors(safetensors);
    expect(file.tensors.get('model.layers.1.self_attn.k_proj.weight')!.shape).toEqual([8, 24]);
    expect(file.tensors.get('model.layers.0.mlp.gate_proj.weight')!.shape).toEqual([40, 24]);
    const back = importHfLlama(safetensors, configJson);
    expect(back.params).toEqual(params);
    expect(back.vocab).toEqual(vocab);
    const without = [...file.tensors].filter(([n]) => n !== 'model.layers.1.mlp.up_proj.weight').map(([n, t]) => [n, { shape: t.shape, data: t.data }] as [string, { shape: number[]; data: Float32Array }]);
    expect(() => importHfLlama(writeSafetensors(without, file.metadata), configJson)).toThrow(/missing the tensor "model.layers.1.mlp.up_proj.weight"/);
  });
});
