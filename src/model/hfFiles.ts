// LLaMA-style models as a Hugging Face folder's contents: `model.safetensors`
// with LlamaForCausalLM's tensor names and `config.json` with LlamaConfig's
// fields. The tensors come from the model description: our fused qkv_proj and
// gate_up_proj are written as (and read from) q_proj, k_proj, v_proj and
// gate_proj, up_proj, row ranges of them. The safetensors metadata also keeps
// the config (`config`) and our vocabulary (`vocab`), so one file is enough to
// reopen a model here.

import { DEFAULT_ROPE_THETA, DEFAULT_TRAIN, RMS_NORM_EPS, type ModelConfig } from './config';
import { blockDims, describeParams, intermediateSize } from './description';
import { paramLayout, type ParamLayout } from './layout';
import { tokenizerFromMetadata, tokenizerMetadata, type TokenizerSpec } from './runTokenizer';
import { nonFiniteTensors, readSafetensors, writeSafetensors, type SafetensorsFile, type TensorData } from './safetensors';
import { validateConfig } from './validate';

/** LlamaConfig's fields for a config (what `LlamaConfig(**json.load(f))` reads). */
export function llamaConfigJson(c: ModelConfig): Record<string, unknown> {
  const { H, KV, D } = blockDims(c);
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: c.vocabSize,
    hidden_size: c.nEmbd,
    intermediate_size: intermediateSize(c),
    num_hidden_layers: c.nLayer,
    num_attention_heads: H,
    num_key_value_heads: KV,
    head_dim: D,
    max_position_embeddings: c.blockSize,
    rms_norm_eps: c.rmsNormEps ?? RMS_NORM_EPS,
    rope_theta: c.ropeTheta ?? DEFAULT_ROPE_THETA,
    rope_scaling: null,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    attention_dropout: 0,
    tie_word_embeddings: c.tieWeights,
    torch_dtype: 'float32',
  };
}

/**
 * A LlamaConfig (config.json) as our config; throws a sentence naming the
 * field for any model this app cannot run.
 */
export function configFromLlamaJson(json: string): ModelConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new Error('config.json is not valid JSON.');
  }
  if (typeof raw !== 'object' || raw === null) throw new Error('config.json is not a JSON object.');
  const num = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`config.json needs a number "${key}".`);
    return v;
  };
  const refuse = (key: string, why: string) => {
    throw new Error(`config.json's "${key}" ${why}; this app runs LLaMA models without it.`);
  };
  if (raw.model_type !== undefined && raw.model_type !== 'llama') refuse('model_type', `is "${String(raw.model_type)}", not "llama"`);
  if (raw.hidden_act !== undefined && raw.hidden_act !== 'silu') refuse('hidden_act', `is "${String(raw.hidden_act)}" (SwiGLU needs "silu")`);
  if (raw.rope_scaling !== undefined && raw.rope_scaling !== null) refuse('rope_scaling', 'scales the rotary positions');
  if (raw.attention_bias === true) refuse('attention_bias', 'adds biases to the attention projections');
  if (raw.mlp_bias === true) refuse('mlp_bias', 'adds biases to the MLP');
  for (const key of ['sliding_window', 'use_sliding_window']) if (raw[key] !== undefined && raw[key] !== null && raw[key] !== false) refuse(key, 'limits attention to a window');
  const C = num('hidden_size');
  const H = num('num_attention_heads');
  if (C % H !== 0) throw new Error(`config.json's "num_attention_heads" (${H}) must divide "hidden_size" (${C}).`);
  const KV = num('num_key_value_heads', H);
  if (H % KV !== 0) throw new Error(`config.json's "num_key_value_heads" (${KV}) must divide "num_attention_heads" (${H}).`);
  if (raw.head_dim !== undefined && raw.head_dim !== null && raw.head_dim !== C / H) {
    throw new Error(`config.json's "head_dim" (${String(raw.head_dim)}) must be hidden_size / num_attention_heads (${C / H}) here.`);
  }
  if ((C / H) % 2 !== 0) throw new Error(`config.json's head size (${C / H}) is odd; rotary embeddings need an even head size.`);
  const config: ModelConfig = {
    block: 'llama',
    nLayer: num('num_hidden_layers'),
    nHead: H,
    nKvHead: KV,
    nEmbd: C,
    ffnHidden: num('intermediate_size'),
    blockSize: num('max_position_embeddings'),
    vocabSize: num('vocab_size'),
    ropeTheta: num('rope_theta', DEFAULT_ROPE_THETA),
    rmsNormEps: num('rms_norm_eps', 1e-6),
    tieWeights: raw.tie_word_embeddings === true,
    dropout: 0,
    bias: false,
    activation: 'gelu',
  };
  const problems = validateConfig(config, { ...DEFAULT_TRAIN, batchSize: 1 }).filter((p) => !(p.field in DEFAULT_TRAIN));
  if (problems.length) throw new Error(`config.json describes a model this app cannot run: ${problems.map((p) => p.message).join(' ')}`);
  return config;
}

/** Hugging Face's tensors of a LLaMA model: every file tensor as a row range of ours (a tied lm_head written too). */
export function llamaTensors(layout: ParamLayout, params: Float32Array): Array<[string, { shape: number[]; data: TensorData }]> {
  const out: Array<[string, { shape: number[]; data: TensorData }]> = [];
  for (const t of describeParams(layout.config)) {
    const ours = layout.byName.get(t.name)!;
    const width = t.shape.length > 1 ? t.shape[1]! : 1;
    for (const f of t.files) {
      const start = ours.offset + f.row0 * width;
      out.push([f.name, { shape: t.shape.length > 1 ? [f.rows, width] : [f.rows], data: params.slice(start, start + f.rows * width) }]);
    }
  }
  if (layout.config.tieWeights) {
    const wte = layout.byName.get('model.embed_tokens.weight')!;
    out.push(['lm_head.weight', { shape: wte.shape, data: params.slice(wte.offset, wte.offset + wte.size) }]);
  }
  return out;
}

/** model.safetensors (LlamaForCausalLM names; metadata: the config, our vocabulary and a run on tokens' tokenizer) and config.json's text. */
export function exportHfLlama(layout: ParamLayout, params: Float32Array, vocab: string[], tokenizer?: TokenizerSpec): { safetensors: Uint8Array; configJson: string } {
  const configJson = JSON.stringify(llamaConfigJson(layout.config), null, 2);
  const metadata = { format: 'pt', config: JSON.stringify(llamaConfigJson(layout.config)), vocab: JSON.stringify(vocab), ...tokenizerMetadata(tokenizer) };
  const safetensors = writeSafetensors(llamaTensors(layout, params), metadata);
  return { safetensors, configJson };
}

export interface ImportedLlama {
  layout: ParamLayout;
  params: Float32Array;
  /** The file's vocabulary (our `vocab` metadata), or null when it has none. */
  vocab: string[] | null;
  /** A run on tokens: its tokenizer (our `tokenizer` metadata). */
  tokenizer?: TokenizerSpec;
}

/**
 * Read a Hugging Face LLaMA safetensors file; the config comes from
 * `configJson` (config.json) or else the file's `config` metadata. Every
 * tensor must be present with its exact shape; anything else is refused with
 * a sentence.
 */
export function importHfLlama(input: Uint8Array | ArrayBuffer | SafetensorsFile, configJson?: string): ImportedLlama {
  const file = input instanceof Uint8Array || input instanceof ArrayBuffer ? readSafetensors(input) : input;
  const json = configJson ?? file.metadata.config;
  if (json === undefined) throw new Error('A Hugging Face model needs its config.json (the safetensors file has no "config" metadata).');
  const config = configFromLlamaJson(json);
  let vocab: string[] | null = null;
  if (file.metadata.vocab !== undefined) {
    try {
      vocab = JSON.parse(file.metadata.vocab) as string[];
    } catch {
      throw new Error('The file\'s "vocab" metadata is not valid JSON.');
    }
    if (!Array.isArray(vocab) || vocab.length !== config.vocabSize) throw new Error(`The file's vocabulary does not have the config's ${config.vocabSize} entries.`);
  }
  const bad = nonFiniteTensors(file);
  if (bad.length) throw new Error(`The file holds NaN or infinite values in ${bad.slice(0, 3).map((n) => `"${n}"`).join(', ')}; it cannot be loaded.`);
  const layout = paramLayout(config);
  const params = new Float32Array(layout.total);
  const known = new Set<string>();
  for (const t of describeParams(config)) {
    const ours = layout.byName.get(t.name)!;
    const width = t.shape.length > 1 ? t.shape[1]! : 1;
    for (const f of t.files) {
      known.add(f.name);
      const got = file.tensors.get(f.name);
      if (!got) throw new Error(`The file is missing the tensor "${f.name}".`);
      const want = t.shape.length > 1 ? [f.rows, width] : [f.rows];
      if (got.dtype === 'I32' || got.shape.length !== want.length || got.shape.some((d, i) => d !== want[i])) {
        throw new Error(`Tensor "${f.name}" has shape [${got.shape.join(', ')}] but the config needs [${want.join(', ')}].`);
      }
      params.set(got.data, ours.offset + f.row0 * width);
    }
  }
  if (config.tieWeights) known.add('lm_head.weight');
  for (const name of file.tensors.keys()) {
    if (!known.has(name) && !name.endsWith('rotary_emb.inv_freq')) throw new Error(`The file has a tensor "${name}" that this model config does not have.`);
  }
  const tokenizer = tokenizerFromMetadata(file.metadata);
  return { layout, params, vocab, ...(tokenizer ? { tokenizer } : {}) };
}
