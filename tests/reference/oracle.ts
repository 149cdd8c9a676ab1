// The PyTorch oracle fixtures (../shared/data/oracle, README there): loading
// and the README's tolerances, shared by the CPU reference test and the GPU
// model test. A missing fixture throws, so the test FAILS rather than skips.

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readSafetensors } from '../../src/model/safetensors';
import { adamInit, adamwStep, clipGradNorm, type RefConfig, type Tensors } from './gpt';
import { parseLlamaConfig, type LlamaRefConfig } from './llama';

export const ORACLE_DIR = resolve(__dirname, '../../../shared/data/oracle');
export const FIXTURES = ['relu-untied', 'gelu-tied'] as const;

/** The README's float32 tolerances. */
export const TOL = {
  lossAbs: 1e-4,
  /** logits, gradients (and grad norms): relative to the tensor's largest magnitude */
  tensorRel: 1e-4,
  /** final parameters: error norm relative to the update's norm, and absolute */
  finalUpdateRel: 1e-2,
  finalAbs: 1e-4,
};

export interface Fixture {
  name: string;
  config: RefConfig;
  B: number;
  T: number;
  K: number;
  initBytes: Uint8Array;
  /** init state_dict in float64 (lm_head present even when tied) */
  init: Tensors;
  shapes: Map<string, number[]>;
  /** (K, B, T) */
  x: Int32Array;
  y: Int32Array;
  /** (B, T, V) */
  logits0: Float64Array;
  grad0: Tensors;
  losses: Float64Array;
  gradNorms: Float64Array;
  final: Tensors;
  optimizer: { lr: number; beta1: number; beta2: number; eps: number; weight_decay: number; grad_clip: number };
}

/** A fixture's `config` metadata (nanoGPT's GPTConfig fields) as the reference GPT's config. */
export function parseFixtureConfig(json: string): RefConfig {
  const raw = JSON.parse(json) as Record<string, unknown>;
  return {
    nLayer: raw.n_layer as number,
    nHead: raw.n_head as number,
    nEmbd: raw.n_embd as number,
    blockSize: raw.block_size as number,
    vocabSize: raw.vocab_size as number,
    bias: raw.bias as boolean,
    tieWeights: raw.tie_weights as boolean,
    activation: raw.activation as 'relu' | 'gelu',
  };
}

export function loadFixture(name: string): Fixture {
  const initPath = resolve(ORACLE_DIR, `${name}.init.safetensors`);
  const expPath = resolve(ORACLE_DIR, `${name}.expected.safetensors`);
  for (const path of [initPath, expPath]) {
    if (!existsSync(path)) throw new Error(`Oracle fixture missing: ${path} (the shared data folder must sit beside the repo).`);
  }
  const initBytes = new Uint8Array(readFileSync(initPath));
  const initFile = readSafetensors(initBytes);
  const exp = readSafetensors(new Uint8Array(readFileSync(expPath)));
  const config = parseFixtureConfig(initFile.metadata.config);
  const init: Tensors = new Map();
  const shapes = new Map<string, number[]>();
  for (const [k, t] of initFile.tensors) {
    init.set(k, Float64Array.from(t.data));
    shapes.set(k, t.shape);
  }
  const prefixed = (prefix: string): Tensors => {
    const out: Tensors = new Map();
    for (const [k, t] of exp.tensors) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), t.data as Float64Array);
    return out;
  };
  const x = exp.tensors.get('x')!;
  return {
    name,
    config,
    K: x.shape[0],
    B: x.shape[1],
    T: x.shape[2],
    initBytes,
    init,
    shapes,
    x: x.data as Int32Array,
    y: exp.tensors.get('y')!.data as Int32Array,
    logits0: exp.tensors.get('logits0')!.data as Float64Array,
    grad0: prefixed('grad0.'),
    losses: exp.tensors.get('losses')!.data as Float64Array,
    gradNorms: exp.tensors.get('grad_norms')!.data as Float64Array,
    final: prefixed('final.'),
    optimizer: JSON.parse(exp.metadata.optimizer),
  };
}

export interface Check {
  ok: boolean;
  line: string;
  /** max |got - want| */
  maxDiff: number;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** |got - want| <= rel * max|want| everywhere (logits, gradients). */
export function checkRelMax(label: string, got: ArrayLike<number>, want: ArrayLike<number>, rel = TOL.tensorRel): Check {
  if (got.length !== want.length) return { ok: false, maxDiff: Infinity, line: `${label}: length ${got.length} != ${want.length}` };
  let d = 0;
  let finite = true;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i])) finite = false;
    d = Math.max(d, Math.abs(got[i] - want[i]));
  }
  const scale = maxAbs(want);
  const ok = finite && d <= rel * scale;
  return { ok, maxDiff: d, line: `${label.padEnd(44)} maxdiff ${d.toExponential(2)}  (${(d / (scale || 1)).toExponential(2)} of max ${scale.toExponential(2)})${ok ? '' : '  FAIL'}` };
}

/** Final weights: ||got - want|| <= 1e-2 ||want - init|| and max |got - want| <= 1e-4. */
export function checkFinal(label: string, got: ArrayLike<number>, want: ArrayLike<number>, init: ArrayLike<number>): Check {
  let d = 0;
  let err2 = 0;
  let upd2 = 0;
  let finite = true;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i])) finite = false;
    const e = got[i] - want[i];
    d = Math.max(d, Math.abs(e));
    err2 += e * e;
    upd2 += (want[i] - init[i]) ** 2;
  }
  const ratio = Math.sqrt(err2) / Math.sqrt(upd2 || 1e-300);
  const ok = finite && got.length === want.length && d <= TOL.finalAbs && ratio <= TOL.finalUpdateRel;
  return { ok, maxDiff: d, line: `${label.padEnd(44)} maxdiff ${d.toExponential(2)}  err/update ${ratio.toExponential(2)}${ok ? '' : '  FAIL'}` };
}

/** Each step's loss within 1e-4 absolute. */
export function checkLosses(label: string, got: ArrayLike<number>, want: ArrayLike<number>): Check {
  let d = 0;
  let finite = true;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i])) finite = false;
    d = Math.max(d, Math.abs(got[i] - want[i]));
  }
  const ok = finite && got.length === want.length && d <= TOL.lossAbs;
  return { ok, maxDiff: d, line: `${label.padEnd(44)} maxdiff ${d.toExponential(2)}${ok ? '' : '  FAIL'}` };
}

/** The LLaMA-style fixture (llama-gqa): the same files, its `config` a Hugging Face LlamaConfig. */
export function loadLlamaFixture(name: string): Omit<Fixture, 'config'> & { config: LlamaRefConfig } {
  const fx = loadFixture(name);
  return { ...fx, config: parseLlamaConfig(readSafetensors(fx.initBytes).metadata.config) };
}

/**
 * Replays a fixture's K AdamW steps on a float64 reference model (forward and
 * backward of its own block) from the fixture's init, and checks step-0 logits
 * and gradients, every loss and gradient norm and every final weight against
 * PyTorch. `finalOf` reads a final tensor from the parameters (a tied lm_head
 * is the token embedding).
 */
export function replayOnCpu<C extends { tieWeights: boolean }, F extends { logits: Float64Array; loss: number }>(
  fx: Omit<Fixture, 'config'> & { config: C },
  forward: (cfg: C, P: Tensors, x: Int32Array, y: Int32Array, B: number, T: number) => F,
  backward: (cfg: C, P: Tensors, fwd: F) => Tensors,
  finalOf: (P: Tensors, name: string) => Float64Array = (P, n) => P.get(n)!,
): { checks: Check[]; gradNames: string[] } {
  const { config: cfg, B, T, K } = fx;
  const P: Tensors = new Map([...fx.init].map(([k, t]) => [k, Float64Array.from(t)]));
  const checks: Check[] = [];
  const losses: number[] = [];
  const norms: number[] = [];
  let adam: ReturnType<typeof adamInit> | null = null;
  let gradNames: string[] = [];
  const o = fx.optimizer;
  for (let k = 0; k < K; k++) {
    const x = fx.x.subarray(k * B * T, (k + 1) * B * T);
    const y = fx.y.subarray(k * B * T, (k + 1) * B * T);
    const fwd = forward(cfg, P, x, y, B, T);
    const G = backward(cfg, P, fwd);
    if (k === 0) {
      checks.push(checkRelMax('logits0', fwd.logits, fx.logits0));
      gradNames = [...G.keys()];
      for (const [n, want] of fx.grad0) checks.push(checkRelMax(`grad0.${n}`, G.get(n)!, want));
      adam = adamInit(G);
    }
    losses.push(fwd.loss);
    norms.push(clipGradNorm(G, o.grad_clip));
    adamwStep(P, G, fx.shapes, adam!, { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weight_decay });
  }
  checks.push(checkLosses('losses', losses, fx.losses));
  checks.push(checkRelMax('grad_norms', norms, fx.gradNorms));
  for (const [n, want] of fx.final) checks.push(checkFinal(`final.${n}`, finalOf(P, n), want, fx.init.get(n)!));
  return { checks, gradNames };
}
