// Model files in and out beyond our own checkpoint: a LLaMA run as a Hugging
// Face folder zipped (model.safetensors + config.json), and any file the
// import accepts, told apart by its contents: a zip holding model.safetensors
// (and config.json), a Hugging Face model.safetensors (its config in the
// metadata, or config.json picked with it), or our own checkpoint file; and a
// LoRA run's adapters as PEFT's adapter folder zipped, read back from that zip,
// the folder's two files, or our single adapter file.
import { strToU8, unzipSync, zipSync } from 'fflate';
import { importSafetensors, ARCHITECTURE_KEY, type ImportedModel } from '../model/files';
import { adapterFolder } from '../model/adapterFiles';
import { exportHfLlama, importHfLlama } from '../model/hfFiles';
import type { ParamLayout } from '../model/layout';
import type { LoraLayout } from '../model/lora';
import type { TokenizerSpec } from '../model/runTokenizer';
import { readSafetensors } from '../model/safetensors';

/** One zip: model.safetensors (our vocabulary, and a run on tokens' tokenizer, in its metadata) and config.json, Hugging Face's folder layout. */
export function hfZip(layout: ParamLayout, params: Float32Array, vocab: string[], tokenizer?: TokenizerSpec): Uint8Array {
  const { safetensors, configJson } = exportHfLlama(layout, params, vocab, tokenizer);
  return zipSync({ 'model.safetensors': safetensors, 'config.json': strToU8(configJson) }, { level: 0 });
}

const isZip = (b: Uint8Array) => b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;

/** The file's base name inside a zip (a folder zipped whole keeps its folder in the names). */
const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1);

/** A zip's files, and a lookup by file name in any folder; a sentence when it cannot be read. */
function openZip(bytes: Uint8Array): { files: Record<string, Uint8Array>; find: (name: string) => Uint8Array | undefined } {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    throw new Error(`The zip could not be read: ${(e as Error).message}.`);
  }
  return { files, find: (name) => Object.entries(files).find(([path]) => baseName(path) === name)?.[1] };
}

/**
 * A model file as weights, vocabulary and (for our checkpoints) AdamW state.
 * Throws a sentence for anything it cannot read, including a LLaMA file
 * without a vocabulary.
 */
export function readModelFile(bytes: Uint8Array, configJson?: string): ImportedModel {
  let weights = bytes;
  let config = configJson;
  if (isZip(bytes)) {
    const { files, find } = openZip(bytes);
    const model = find('model.safetensors') ?? Object.entries(files).find(([path]) => path.endsWith('.safetensors'))?.[1];
    if (!model) throw new Error('The zip holds no model.safetensors.');
    weights = model;
    const json = find('config.json');
    if (json && config === undefined) config = new TextDecoder().decode(json);
  }
  const file = readSafetensors(weights);
  const ours = file.metadata.format === 'nanogpt-state-dict' || file.metadata[ARCHITECTURE_KEY] !== undefined;
  if (ours) return importSafetensors(file);
  const hf = file.tensors.has('model.embed_tokens.weight') || config !== undefined;
  if (!hf) return importSafetensors(file);
  const imported = importHfLlama(file, config);
  if (!imported.vocab) {
    throw new Error(
      'This LLaMA file has no vocabulary (the "vocab" metadata our export writes), so its token ids cannot be matched to characters. ' +
        'Import a file exported from this app, whose model.safetensors keeps the vocabulary.',
    );
  }
  return { layout: imported.layout, params: imported.params, vocab: imported.vocab, adam: null, metadata: file.metadata, ...(imported.tokenizer ? { tokenizer: imported.tokenizer } : {}) };
}

/** A LoRA run's adapters as PEFT's folder zipped: adapter_config.json and adapter_model.safetensors. */
export function adapterZip(layout: LoraLayout, flat: Float32Array, vocab: string[], baseModel: string): Uint8Array {
  const folder = adapterFolder(layout, flat, vocab, baseModel);
  return zipSync({ 'adapter_config.json': strToU8(folder['adapter_config.json']), 'adapter_model.safetensors': folder['adapter_model.safetensors'] }, { level: 0 });
}

/**
 * The adapter's tensors file and its adapter_config.json (when there is one)
 * from what the person picked: PEFT's folder zipped, adapter_model.safetensors
 * with `configJson` beside it, or our single safetensors file. Throws a
 * sentence for a zip that is not PEFT's folder.
 */
export function readAdapterInput(bytes: Uint8Array, configJson?: string): { safetensors: Uint8Array; configJson?: string } {
  if (!isZip(bytes)) return { safetensors: bytes, ...(configJson !== undefined ? { configJson } : {}) };
  const { find } = openZip(bytes);
  const safetensors = find('adapter_model.safetensors');
  if (!safetensors) throw new Error("The zip holds no adapter_model.safetensors: PEFT's adapter folder keeps the adapter's tensors there.");
  const json = find('adapter_config.json');
  if (!json) throw new Error("The zip holds no adapter_config.json: PEFT's adapter folder keeps the adapter's LoraConfig (r, lora_alpha, target_modules) there.");
  return { safetensors, configJson: new TextDecoder().decode(json) };
}
