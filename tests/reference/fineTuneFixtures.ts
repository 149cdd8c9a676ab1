// The fine-tuning oracle fixtures (../shared/data/oracle/README.md, "Fine-tuning
// fixtures"): lora-gelu and dpo-relu, read at run time with the README's
// tolerances (./oracle.ts). A missing file throws: the test fails, never skips.

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readSafetensors } from '../../src/model/safetensors';
import type { RefConfig, Tensors } from './gpt';
import { ORACLE_DIR, loadFixture, parseFixtureConfig, type Fixture } from './oracle';

function readFixtureFile(file: string) {
  const path = resolve(ORACLE_DIR, file);
  if (!existsSync(path)) throw new Error(`Oracle fixture missing: ${path} (the shared data folder must sit beside the repo).`);
  const bytes = new Uint8Array(readFileSync(path));
  return { bytes, file: readSafetensors(bytes) };
}

const F64 = (t: { data: ArrayLike<number> }) => Float64Array.from(t.data);

export interface LoraFixture {
  config: RefConfig;
  B: number;
  T: number;
  K: number;
  initBytes: Uint8Array;
  /** the frozen base (nanoGPT names) */
  base: Tensors;
  /** the adapters at step 0 (PEFT names) */
  adapters: Tensors;
  /** shapes of base and adapter tensors */
  shapes: Map<string, number[]>;
  /** PEFT's LoraConfig fields */
  adapterConfig: { r: number; lora_alpha: number; target_modules: string[]; lora_dropout: number; bias: string; fan_in_fan_out: boolean; peft_type: string };
  /** lora_alpha / r */
  scale: number;
  x: Int32Array;
  y: Int32Array;
  logits0: Float64Array;
  /** adapter gradients at step 0 */
  grad0: Tensors;
  losses: Float64Array;
  /** over the adapters only, before clipping */
  gradNorms: Float64Array;
  /** adapters after K steps */
  final: Tensors;
  /** W + scale B A after K steps, nanoGPT names */
  merged: Tensors;
  /** batch 0 through the adapted model after K steps (B, T, V) */
  logitsFinal: Float64Array;
  optimizer: Fixture['optimizer'];
}

export function loadLoraFixture(): LoraFixture {
  const fx = loadFixture('lora-gelu');
  const { file: init } = readFixtureFile('lora-gelu.init.safetensors');
  const { file: exp } = readFixtureFile('lora-gelu.expected.safetensors');
  const base: Tensors = new Map();
  const adapters: Tensors = new Map();
  for (const [k, t] of fx.init) (k.startsWith('base_model.model.') ? adapters : base).set(k, t);
  const merged: Tensors = new Map();
  for (const [k, t] of exp.tensors) if (k.startsWith('merged.')) merged.set(k.slice('merged.'.length), F64(t));
  const adapterConfig = JSON.parse(init.metadata.adapter_config) as LoraFixture['adapterConfig'];
  return {
    config: fx.config, B: fx.B, T: fx.T, K: fx.K, initBytes: fx.initBytes,
    base, adapters, shapes: fx.shapes, adapterConfig, scale: adapterConfig.lora_alpha / adapterConfig.r,
    x: fx.x, y: fx.y, logits0: fx.logits0, grad0: fx.grad0, losses: fx.losses, gradNorms: fx.gradNorms, final: fx.final,
    merged, logitsFinal: F64(exp.tensors.get('logits_final')!), optimizer: fx.optimizer,
  };
}

export interface DpoFixture {
  config: RefConfig;
  /** pairs per step */
  P: number;
  /** positions per sequence (sequences hold T + 1 tokens) */
  T: number;
  K: number;
  initBytes: Uint8Array;
  init: Tensors;
  shapes: Map<string, number[]>;
  /** (K, P, T+1) */
  chosen: Int32Array;
  rejected: Int32Array;
  /** (K, P, T) */
  chosenMask: Float64Array;
  rejectedMask: Float64Array;
  /** (P) */
  policyLogpChosen0: Float64Array;
  policyLogpRejected0: Float64Array;
  grad0: Tensors;
  losses: Float64Array;
  gradNorms: Float64Array;
  /** (K, P) */
  rewardsChosen: Float64Array;
  rewardsRejected: Float64Array;
  final: Tensors;
  optimizer: Fixture['optimizer'] & { beta: number };
}

export function loadDpoFixture(): DpoFixture {
  const { bytes: initBytes, file: init } = readFixtureFile('dpo-relu.init.safetensors');
  const { file: exp } = readFixtureFile('dpo-relu.expected.safetensors');
  const t = (k: string) => {
    const v = exp.tensors.get(k);
    if (!v) throw new Error(`dpo-relu.expected.safetensors has no tensor ${k}`);
    return v;
  };
  const prefixed = (prefix: string): Tensors => {
    const out: Tensors = new Map();
    for (const [k, v] of exp.tensors) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), F64(v));
    return out;
  };
  const initT: Tensors = new Map();
  const shapes = new Map<string, number[]>();
  for (const [k, v] of init.tensors) {
    initT.set(k, F64(v));
    shapes.set(k, v.shape);
  }
  const chosen = t('chosen');
  const [K, P, T1] = chosen.shape;
  return {
    config: parseFixtureConfig(init.metadata.config), P, T: T1 - 1, K, initBytes, init: initT, shapes,
    chosen: chosen.data as Int32Array, rejected: t('rejected').data as Int32Array,
    chosenMask: F64(t('chosen_mask')), rejectedMask: F64(t('rejected_mask')),
    policyLogpChosen0: F64(t('policy_logp_chosen0')), policyLogpRejected0: F64(t('policy_logp_rejected0')),
    grad0: prefixed('grad0.'), losses: F64(t('losses')), gradNorms: F64(t('grad_norms')),
    rewardsChosen: F64(t('rewards_chosen')), rewardsRejected: F64(t('rewards_rejected')),
    final: prefixed('final.'), optimizer: JSON.parse(exp.metadata.optimizer),
  };
}

/**
 * The tensor a state_dict name reads in our model: with tied weights PyTorch
 * lists lm_head.weight as an alias of the token embedding.
 */
export function stateDictTensor(cfg: RefConfig, name: string): string {
  return cfg.tieWeights && name === 'lm_head.weight' ? 'transformer.wte.weight' : name;
}
