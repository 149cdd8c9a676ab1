// Model files: nanoGPT's safetensors (F32 tensors under state_dict names; with
// tied weights both transformer.wte.weight and lm_head.weight are written,
// equal), metadata `config` (nanoGPT's GPTConfig fields as snake_case JSON),
// `playground_architecture` (what GPTConfig lacks) and `vocab` (JSON array),
// the format of the PyTorch fixtures. Optional AdamW state travels as
// `optimizer.m.<name>` / `optimizer.v.<name>` and metadata `step`.
// The tensors and their names come from the model description.

import { DEFAULT_ROPE_THETA, DEFAULT_TRAIN, RMS_NORM_EPS, type ModelConfig } from './config';
import { intermediateSize, roleName } from './description';
import { paramLayout, type ParamLayout, type ParamTensor } from './layout';
import { nonFiniteTensors, readSafetensors, writeSafetensors, type SafetensorsFile, type TensorData } from './safetensors';
import { validateConfig } from './validate';
import type { TokenizerSpec } from './runTokenizer';

/**
 * The "config" metadata: exactly nanoGPT's GPTConfig fields, so
 * GPTConfig(**json.loads(metadata["config"])) builds the model in nanoGPT.
 */
export function configToJson(c: ModelConfig): string {
  return JSON.stringify({
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_embd: c.nEmbd,
    block_size: c.blockSize,
    vocab_size: c.vocabSize,
    bias: c.bias,
    dropout: c.dropout,
  });
}

/** Metadata key for what GPTConfig does not have (nanoGPT's model.py fixes them: GELU, tied, eps 1e-5). */
export const ARCHITECTURE_KEY = 'playground_architecture';

export function architectureToJson(c: ModelConfig): string {
  if (c.block === 'llama') {
    return JSON.stringify({
      block: 'llama',
      tie_weights: c.tieWeights,
      n_kv_head: c.nKvHead ?? c.nHead,
      ffn_hidden: intermediateSize(c),
      rope_theta: c.ropeTheta ?? DEFAULT_ROPE_THETA,
      rms_norm_eps: c.rmsNormEps ?? RMS_NORM_EPS,
    });
  }
  return JSON.stringify({ activation: c.activation, tie_weights: c.tieWeights, layernorm_eps: 1e-5 });
}

/** True when nanoGPT's model.py computes the same function as this config (GELU, tied embeddings). */
export function nanoGptComputes(c: Pick<ModelConfig, 'activation' | 'tieWeights' | 'block'>): boolean {
  return c.block !== 'llama' && c.activation === 'gelu' && c.tieWeights;
}

/**
 * Parse and validate the metadata config; throws a sentence on anything unfit.
 * Older files keep activation and tie_weights inside "config"; newer ones in
 * `architecture` (the ARCHITECTURE_KEY metadata). Without either, the file is
 * nanoGPT's: GELU and tied.
 */
export function configFromJson(json: string, architecture?: string): ModelConfig {
  let raw: Record<string, unknown>;
  let arch: Record<string, unknown> = {};
  try {
    raw = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new Error('The file\'s "config" metadata is not valid JSON.');
  }
  if (typeof raw !== 'object' || raw === null) throw new Error('The file\'s "config" metadata is not a JSON object.');
  if (architecture !== undefined) {
    try {
      arch = JSON.parse(architecture) as Record<string, unknown>;
    } catch {
      throw new Error(`The file's "${ARCHITECTURE_KEY}" metadata is not valid JSON.`);
    }
    if (typeof arch !== 'object' || arch === null) throw new Error(`The file's "${ARCHITECTURE_KEY}" metadata is not a JSON object.`);
  }
  const pick = (key: string, fallback: unknown) => arch[key] ?? raw[key] ?? fallback;
  const config = {
    nLayer: raw.n_layer,
    nHead: raw.n_head,
    nEmbd: raw.n_embd,
    blockSize: raw.block_size,
    vocabSize: raw.vocab_size,
    dropout: raw.dropout ?? 0,
    bias: raw.bias ?? true,
    tieWeights: pick('tie_weights', true),
    activation: pick('activation', 'gelu'),
  } as ModelConfig;
  if (arch.block !== undefined && arch.block !== 'gpt2') {
    if (arch.block !== 'llama') throw new Error(`The file's block "${String(arch.block)}" is not one this app runs (gpt2 or llama).`);
    const num = (key: string, fallback: number): number => {
      const v = arch[key] ?? fallback;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`The file's "${ARCHITECTURE_KEY}" metadata needs a number "${key}".`);
      return v;
    };
    config.block = 'llama';
    config.activation = 'gelu';
    config.nKvHead = num('n_kv_head', config.nHead);
    config.ffnHidden = num('ffn_hidden', intermediateSize(config));
    config.ropeTheta = num('rope_theta', DEFAULT_ROPE_THETA);
    config.rmsNormEps = num('rms_norm_eps', RMS_NORM_EPS);
  }
  const eps = config.block === 'llama' ? undefined : pick('layernorm_eps', undefined);
  if (eps !== undefined && eps !== 1e-5) {
    throw new Error(`The file uses LayerNorm eps ${String(eps)}; this model uses 1e-5.`);
  }
  // Checked at batch 1: whether a training batch fits is decided when training starts.
  const problems = validateConfig(config, { ...DEFAULT_TRAIN, batchSize: 1 }).filter((p) => !(p.field in DEFAULT_TRAIN));
  if (problems.length) throw new Error(`The file's model config is not usable: ${problems.map((p) => p.message).join(' ')}`);
  return config;
}

export interface AdamState {
  m: Float32Array;
  v: Float32Array;
  /** Steps taken (AdamW's t). */
  step: number;
}

const M_PREFIX = 'optimizer.m.';
const V_PREFIX = 'optimizer.v.';

/** A safetensors file of these flat parameters under nanoGPT names (+ vocab, + optional AdamW state, + the tokenizer, + more metadata). */
export function exportSafetensors(
  layout: ParamLayout,
  params: Float32Array,
  vocab: string[],
  adam?: AdamState,
  tokenizer?: TokenizerSpec,
  extra: Record<string, string> = {},
): Uint8Array {
  const list: Array<[string, { shape: number[]; data: TensorData }]> = [];
  const slice = (flat: Float32Array, t: ParamTensor) => flat.subarray(t.offset, t.offset + t.size);
  const wte = layout.byName.get(roleName(layout.config, 'tokenEmbedding')!)!;
  for (const t of layout.tensors) list.push([t.name, { shape: t.shape, data: slice(params, t) }]);
  if (layout.config.tieWeights) list.push(['lm_head.weight', { shape: wte.shape, data: slice(params, wte) }]);
  if (adam) {
    for (const t of layout.tensors) list.push([M_PREFIX + t.name, { shape: t.shape, data: slice(adam.m, t) }]);
    for (const t of layout.tensors) list.push([V_PREFIX + t.name, { shape: t.shape, data: slice(adam.v, t) }]);
  }
  const metadata: Record<string, string> = {
    ...extra,
    format: 'nanogpt-state-dict',
    config: configToJson(layout.config),
    [ARCHITECTURE_KEY]: architectureToJson(layout.config),
    vocab: JSON.stringify(vocab),
  };
  if (adam) metadata.step = String(adam.step);
  // A run on tokens: its tokenizer, so an import reads the corpus with the same one.
  if (tokenizer && tokenizer.kind !== 'char') metadata.tokenizer = JSON.stringify(tokenizer);
  return writeSafetensors(list, metadata);
}

export interface ImportedModel {
  layout: ParamLayout;
  params: Float32Array;
  vocab: string[];
  adam: AdamState | null;
  /** A run on tokens: the tokenizer its ids belong to (absent: the vocabulary's characters). */
  tokenizer?: TokenizerSpec;
  /** The file's metadata as written (the engine reads a run's record and nanoGPT's iter_num from it). */
  metadata?: Record<string, string>;
}

/**
 * Read a nanoGPT safetensors file (bytes or already parsed). The config comes
 * from the metadata; every tensor must exist with its exact shape, and no
 * unknown tensor may appear. Throws a sentence on any mismatch.
 */
export function importSafetensors(input: Uint8Array | ArrayBuffer | SafetensorsFile): ImportedModel {
  const file = input instanceof Uint8Array || input instanceof ArrayBuffer ? readSafetensors(input) : input;
  if (file.metadata.config === undefined) throw new Error('The file has no "config" metadata, so its model shape is unknown.');
  const config = configFromJson(file.metadata.config, file.metadata[ARCHITECTURE_KEY]);
  let vocab: string[];
  try {
    vocab = JSON.parse(file.metadata.vocab ?? 'null') as string[];
  } catch {
    throw new Error('The file\'s "vocab" metadata is not valid JSON.');
  }
  if (!Array.isArray(vocab) || !vocab.every((ch) => typeof ch === 'string')) {
    throw new Error('The file has no "vocab" metadata (a JSON array of characters).');
  }
  if (vocab.length !== config.vocabSize) {
    throw new Error(`The file's vocabulary has ${vocab.length} characters but its config says ${config.vocabSize}.`);
  }
  const layout = paramLayout(config);
  const known = new Set(layout.tensors.map((t) => t.name));
  if (config.tieWeights) known.add('lm_head.weight');
  for (const name of file.tensors.keys()) {
    const base = name.startsWith(M_PREFIX) ? name.slice(M_PREFIX.length) : name.startsWith(V_PREFIX) ? name.slice(V_PREFIX.length) : name;
    if (!known.has(base) || (base !== name && !layout.byName.has(base))) {
      throw new Error(`The file has a tensor "${name}" that this model config does not have.`);
    }
  }

  const gather = (prefix: string): Float32Array => {
    const flat = new Float32Array(layout.total);
    for (const t of layout.tensors) {
      const got = file.tensors.get(prefix + t.name);
      if (!got) throw new Error(`The file is missing the tensor "${prefix + t.name}".`);
      if (got.dtype === 'I32') throw new Error(`Tensor "${prefix + t.name}" holds integers, not weights.`);
      if (got.shape.length !== t.shape.length || got.shape.some((d, i) => d !== t.shape[i])) {
        throw new Error(`Tensor "${prefix + t.name}" has shape [${got.shape.join(', ')}] but the config needs [${t.shape.join(', ')}].`);
      }
      flat.set(got.data, t.offset);
    }
    return flat;
  };
  const params = gather('');
  const nonFinite = nonFiniteTensors(file);
  if (nonFinite.length) {
    const shown = nonFinite.slice(0, 3).map((n) => `"${n}"`).join(', ');
    throw new Error(`The file holds NaN or infinite values in ${nonFinite.length} tensor(s) (${shown}${nonFinite.length > 3 ? ', ...' : ''}); it cannot be loaded.`);
  }
  const lmHead = file.tensors.get('lm_head.weight');
  if (config.tieWeights && lmHead) {
    const wte = layout.byName.get(roleName(config, 'tokenEmbedding')!)!;
    const same = lmHead.data.length === wte.size && lmHead.data.every((v, i) => Math.fround(v) === params[wte.offset + i]);
    if (!same) throw new Error(`The config ties lm_head.weight to ${wte.name}, but the file holds different values for them.`);
  }
  const hasM = [...file.tensors.keys()].some((n) => n.startsWith(M_PREFIX));
  const hasV = [...file.tensors.keys()].some((n) => n.startsWith(V_PREFIX));
  let adam: AdamState | null = null;
  if (hasM || hasV) {
    const step = Number(file.metadata.step);
    if (!Number.isSafeInteger(step) || step < 0) throw new Error('The file holds optimizer moments but no valid "step" metadata.');
    adam = { m: gather(M_PREFIX), v: gather(V_PREFIX), step };
  }
  let tokenizer: TokenizerSpec | undefined;
  if (file.metadata.tokenizer !== undefined) {
    try {
      tokenizer = JSON.parse(file.metadata.tokenizer) as TokenizerSpec;
    } catch {
      throw new Error('The file\'s "tokenizer" metadata is not valid JSON.');
    }
    if (typeof tokenizer !== 'object' || tokenizer === null || typeof tokenizer.kind !== 'string') throw new Error('The file\'s "tokenizer" metadata names no tokenizer.');
  }
  return { layout, params, vocab, adam, ...(tokenizer ? { tokenizer } : {}), metadata: file.metadata };
}
