// LoRA adapter files in PEFT's format: tensors under PEFT's saved names and
// shapes (`base_model.model.transformer.h.{l}.attn.c_attn.lora_A.weight` (r, in),
// `...lora_B.weight` (out, r); on the LLaMA block
// `base_model.model.model.layers.{l}.self_attn.q_proj.lora_A.weight` etc.),
// written as PEFT's adapter folder (adapter_config.json beside
// adapter_model.safetensors); the safetensors file also keeps the LoraConfig,
// the base's config and vocabulary in its metadata, so it imports alone.

import type { ModelConfig } from './config';
import { ARCHITECTURE_KEY, architectureToJson, configToJson } from './files';
import { loraLayout, loraModulesOf, peftName, type LoraConfig, type LoraLayout, type LoraModule } from './lora';
import { nonFiniteTensors, readSafetensors, writeSafetensors, type SafetensorsFile } from './safetensors';

/**
 * PEFT's LoraConfig for an adapter on `model`, as its adapter_config.json
 * holds it. target_modules are module names (c_attn, c_fc, q_proj, ...); a
 * name two modules share (GPT-2's c_proj in attn and mlp) keeps its parent
 * when only one of them is adapted, as PEFT matches names as suffixes.
 * Our GPT-2 block stores nn.Linear weights (nanoGPT's), so fan_in_fan_out is false.
 */
export function peftAdapterConfig(lora: LoraConfig, model: ModelConfig, baseModel: string): Record<string, unknown> {
  const all = loraModulesOf(model);
  const short = (m: string) => m.slice(m.lastIndexOf('.') + 1);
  const names = lora.modules.map((m) => (all.filter((o) => short(o) === short(m)).every((o) => lora.modules.includes(o)) ? short(m) : m));
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: lora.r,
    lora_alpha: lora.alpha,
    lora_dropout: 0,
    target_modules: [...new Set(names)],
    bias: 'none',
    fan_in_fan_out: false,
    init_lora_weights: true,
    inference_mode: true,
    modules_to_save: null,
  };
}

/** The adapter as a safetensors file: PEFT's names and shapes, PEFT's LoraConfig as `adapter_config`, the base's config. */
export function exportAdapter(layout: LoraLayout, flat: Float32Array, vocab: string[], baseModel = 'gpt-playground-run'): Uint8Array {
  const tensors = layout.tensors.map((t) => [t.name, { shape: [...t.shape], data: flat.slice(t.offset, t.offset + t.size) }] as [string, { shape: number[]; data: Float32Array }]);
  return writeSafetensors(tensors, {
    format: 'pt',
    adapter_config: JSON.stringify(peftAdapterConfig(layout.lora, layout.model, baseModel)),
    base_model_config: configToJson(layout.model),
    [ARCHITECTURE_KEY]: architectureToJson(layout.model),
    vocab: JSON.stringify(vocab),
  });
}

/** PEFT's adapter folder: adapter_config.json and adapter_model.safetensors (which keeps our metadata too). */
export function adapterFolder(layout: LoraLayout, flat: Float32Array, vocab: string[], baseModel: string): { 'adapter_config.json': string; 'adapter_model.safetensors': Uint8Array } {
  return {
    'adapter_config.json': JSON.stringify(peftAdapterConfig(layout.lora, layout.model, baseModel), null, 2),
    'adapter_model.safetensors': exportAdapter(layout, flat, vocab, baseModel),
  };
}

export interface ImportedAdapter {
  layout: LoraLayout;
  /** (layout.total) the adapters in the flat layout */
  flat: Float32Array;
}

/**
 * Read a PEFT LoRA safetensors file onto a base model of config `model`: the
 * adapters present decide the modules and rank (every layer must carry the
 * same set), lora_alpha comes from adapter_config.json (`configJson`, given
 * with the file) or the file's `adapter_config` metadata (else alpha = r,
 * scale 1). Anything that does not fit the base is refused with a sentence.
 */
export function importAdapter(input: Uint8Array | ArrayBuffer | SafetensorsFile, model: ModelConfig, configJson?: string): ImportedAdapter {
  const file = 'tensors' in input ? input : readSafetensors(input);
  const bad = nonFiniteTensors(file);
  if (bad.length) throw new Error(`The adapter file has non-finite values in ${bad.slice(0, 3).join(', ')}.`);
  // PEFT's names: base_model.model.<the Linear's file name>.lora_A.weight, under GPT-2's or LLaMA's layer paths.
  const pattern = /^base_model\.model\.(?:transformer\.h|model\.layers)\.(\d+)\.(.+)\.lora_([AB])\.weight$/;
  const known = loraModulesOf(model);
  const found = new Map<string, { l: number; module: LoraModule; which: 'A' | 'B' }>();
  for (const name of file.tensors.keys()) {
    const m = pattern.exec(name);
    const module = m ? known.find((mod) => `.${m[2]}`.endsWith(`.${mod}`)) : undefined;
    if (!m || !module) {
      if (name.includes('lora_')) throw new Error(`The adapter tensor "${name}" does not name a Linear layer of this model (expected ${known.slice(0, -1).join(', ')} or ${known.at(-1)}).`);
      continue;
    }
    found.set(name, { l: Number(m[1]), module, which: m[3] as 'A' | 'B' });
  }
  if (found.size === 0) throw new Error(`The file holds no LoRA adapters (no tensor named like ${peftName(0, known[0], 'A', model)}).`);
  const modules = known.filter((mod) => [...found.values()].some((f) => f.module === mod));
  for (const f of found.values()) {
    if (f.l >= model.nLayer) throw new Error(`The adapter adapts layer ${f.l}, but the base model has layers 0 to ${model.nLayer - 1} only.`);
  }
  const firstName = peftName(0, modules[0], 'A', model);
  const first = file.tensors.get(firstName);
  if (!first || first.shape.length !== 2) throw new Error(`The adapter lacks ${firstName}; every layer must carry the same adapted modules.`);
  const r = first.shape[0];
  let alpha = r;
  const configText = configJson ?? file.metadata.adapter_config;
  if (configText !== undefined) {
    let cfg: { r?: unknown; lora_alpha?: unknown; peft_type?: unknown } | null;
    try {
      cfg = JSON.parse(configText) as typeof cfg;
    } catch {
      throw new Error('The adapter_config is not valid JSON.');
    }
    if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) throw new Error('The adapter_config is not a JSON object of LoraConfig fields.');
    if (cfg.peft_type !== undefined && cfg.peft_type !== 'LORA') throw new Error(`The adapter_config is for PEFT type ${JSON.stringify(cfg.peft_type)}; this app reads LoRA adapters (peft_type "LORA").`);
    if (cfg.lora_alpha !== undefined) {
      if (typeof cfg.lora_alpha !== 'number' || !(cfg.lora_alpha > 0)) throw new Error('The adapter_config\'s lora_alpha is not a positive number.');
      alpha = cfg.lora_alpha;
    }
    if (cfg.r !== undefined && cfg.r !== r) throw new Error(`The adapter_config says r = ${JSON.stringify(cfg.r)}, but the tensors have rank ${r}.`);
  }
  const layout = loraLayout(model, { r, alpha, modules });
  const flat = new Float32Array(layout.total);
  for (const t of layout.tensors) {
    const got = file.tensors.get(t.name);
    if (!got) throw new Error(`The adapter lacks ${t.name}; every layer must carry the same adapted modules.`);
    if (got.shape.length !== 2 || got.shape[0] !== t.shape[0] || got.shape[1] !== t.shape[1]) {
      throw new Error(`${t.name} has shape [${got.shape.join(', ')}], but this base model needs [${t.shape.join(', ')}].`);
    }
    flat.set(got.data, t.offset);
  }
  if (found.size !== layout.tensors.length) throw new Error('The adapter adapts different modules in different layers; this app needs the same set in every layer.');
  return { layout, flat };
}

