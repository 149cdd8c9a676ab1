// The setup a link reproduces: preset, built-in corpus, model and training
// config, sampling settings, all in the query string. Parsing is defensive: a
// bad or hostile value falls back to the preset's with a notice, never throws,
// and nothing is sized from a link before the whole config passes validation.
import type { SamplingSettings } from '../engine/protocol';
import { BUILTIN_CORPUS_IDS, PRESET_ALIASES, PRESETS, type CorpusId, type ModelShape, type Preset, type TrainConfig } from '../model/config';
import { validateConfig } from '../model/validate';

const validateMessages = (model: ModelShape, train: TrainConfig): string[] => validateConfig(model, train).map((p) => p.message);

export const DEFAULT_SAMPLING: SamplingSettings = { temperature: 0.8, topK: 0, topP: 1, greedy: false, seed: 42 };

export interface Setup {
  preset: Preset['id'];
  corpus: CorpusId;
  model: ModelShape;
  train: TrainConfig;
  sampling: SamplingSettings;
}

export interface ParsedSetup extends Setup {
  /** One sentence per value of the link that was not used. */
  notices: string[];
}

type Field =
  | { kind: 'int'; min: number; max: number }
  | { kind: 'float'; min: number; max: number }
  | { kind: 'bool' }
  | { kind: 'enum'; values: readonly string[] };

const int = (min: number, max: number): Field => ({ kind: 'int', min, max });
const float = (min: number, max: number): Field => ({ kind: 'float', min, max });
const bool: Field = { kind: 'bool' };

// Hard bounds: the most any link may ask for before the config's own validation runs.
const MODEL_FIELDS: Record<keyof ModelShape, Field> = {
  nLayer: int(1, 64),
  nHead: int(1, 64),
  nEmbd: int(1, 4096),
  blockSize: int(1, 4096),
  dropout: float(0, 0.9),
  bias: bool,
  tieWeights: bool,
  activation: { kind: 'enum', values: ['relu', 'gelu'] },
  block: { kind: 'enum', values: ['gpt2', 'llama'] },
  nKvHead: int(1, 64),
  ffnHidden: int(1, 16384),
  ropeTheta: float(1, 1e7),
  rmsNormEps: float(0, 1e-2),
};

const TRAIN_FIELDS: Record<keyof TrainConfig, Field> = {
  batchSize: int(1, 1024),
  maxSteps: int(1, 1_000_000),
  learningRate: float(0, 1),
  lrDecay: bool,
  warmupSteps: int(0, 1_000_000),
  minLr: float(0, 1),
  beta1: float(0, 0.999999),
  beta2: float(0, 0.999999),
  eps: float(0, 1),
  weightDecay: float(0, 10),
  gradClip: float(0, 1000),
  evalInterval: int(1, 1_000_000),
  evalIters: int(1, 1000),
  seed: int(0, 0xffffffff),
  checkpointInterval: int(0, 1_000_000),
  lrDecaySteps: int(1, 1_000_000),
};

/** Short query keys for the sampling settings (seed would clash with the training seed). */
const SAMPLING_KEYS: Record<keyof SamplingSettings, string> = {
  temperature: 'temp',
  topK: 'topK',
  topP: 'topP',
  greedy: 'greedy',
  seed: 'sampleSeed',
};

const SAMPLING_FIELDS: Record<keyof SamplingSettings, Field> = {
  temperature: float(0, 2),
  topK: int(0, 4096),
  topP: float(0, 1),
  greedy: bool,
  seed: int(0, 0xffffffff),
};

function describe(f: Field): string {
  switch (f.kind) {
    case 'int':
      return `a whole number from ${f.min} to ${f.max}`;
    case 'float':
      return `a number from ${f.min} to ${f.max}`;
    case 'bool':
      return '0 or 1';
    case 'enum':
      return f.values.join(' or ');
  }
}

function parseValue(raw: string, f: Field): number | boolean | string | undefined {
  const s = raw.trim();
  switch (f.kind) {
    case 'int':
    case 'float': {
      // Number('') is 0 and Number('0x10') is 16: accept plain decimal notation only.
      if (s.length === 0 || s.length > 32 || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) return undefined;
      const x = Number(s);
      if (!Number.isFinite(x) || x < f.min || x > f.max) return undefined;
      if (f.kind === 'int' && !Number.isInteger(x)) return undefined;
      return x;
    }
    case 'bool':
      if (s === '1' || s === 'true') return true;
      if (s === '0' || s === 'false') return false;
      return undefined;
    case 'enum':
      return f.values.includes(s) ? s : undefined;
  }
}

function show(value: unknown): string {
  return String(value);
}

function clip(raw: string): string {
  return raw.length > 24 ? `${raw.slice(0, 24)}…` : raw;
}

function readFields<T extends object>(
  params: URLSearchParams,
  fields: Record<keyof T, Field>,
  base: T,
  notices: string[],
  keyOf: (k: keyof T) => string = (k) => String(k),
): T {
  const out = { ...base };
  for (const k of Object.keys(fields) as (keyof T)[]) {
    const key = keyOf(k);
    const raw = params.get(key);
    if (raw === null) continue;
    const value = parseValue(raw, fields[k]);
    if (value === undefined) {
      notices.push(`Ignored ${key}=${clip(raw)} from the link: it must be ${describe(fields[k])}. Using ${show(base[k])}.`);
      continue;
    }
    (out as Record<keyof T, unknown>)[k] = value;
  }
  return out;
}

export function presetById(id: string | null): Preset | undefined {
  const wanted = id !== null && Object.hasOwn(PRESET_ALIASES, id) ? PRESET_ALIASES[id] : id;
  return PRESETS.find((p) => p.id === wanted);
}

/**
 * Reads a setup from a query string. `validate` is the config's own check
 * (validateConfig); when it finds problems the whole model and training config
 * falls back to the preset's, since the values depend on one another.
 */
export function parseSetup(
  search: string,
  validate: (model: ModelShape, train: TrainConfig) => string[] = validateMessages,
): ParsedSetup {
  const notices: string[] = [];
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(search.length > 4000 ? '' : search);
    if (search.length > 4000) notices.push('The link is too long to be a setup; using the defaults.');
  } catch {
    params = new URLSearchParams();
  }
  const presetParam = params.get('preset');
  let preset = presetById(presetParam);
  if (!preset) {
    if (presetParam !== null) notices.push(`Unknown preset "${clip(presetParam)}" in the link; using ${PRESETS[0].label}.`);
    preset = PRESETS[0];
  }
  const corpusParam = params.get('corpus');
  let corpus: CorpusId = preset.corpus;
  if ((BUILTIN_CORPUS_IDS as readonly string[]).includes(corpusParam ?? '')) corpus = corpusParam as CorpusId;
  else if (corpusParam !== null) notices.push(`Unknown corpus "${clip(corpusParam)}" in the link; using ${preset.corpus}.`);

  let model = readFields(params, MODEL_FIELDS, preset.model, notices);
  let train = readFields(params, TRAIN_FIELDS, preset.train, notices);
  const problems = validate(model, train);
  if (problems.length > 0) {
    notices.push(`The link's model settings are not usable (${problems.join(' ')}) Using the ${preset.label} preset instead.`);
    model = { ...preset.model };
    train = { ...preset.train };
  }
  const sampling = readFields(params, SAMPLING_FIELDS, DEFAULT_SAMPLING, notices, (k) => SAMPLING_KEYS[k]);
  return { preset: preset.id, corpus, model, train, sampling, notices };
}

/** The query string for a setup: only what differs from the preset (and default sampling). */
export function serializeSetup(setup: Setup): string {
  const preset = presetById(setup.preset) ?? PRESETS[0];
  const params = new URLSearchParams();
  params.set('preset', preset.id);
  if (setup.corpus !== preset.corpus) params.set('corpus', setup.corpus);
  const put = <T extends object>(values: T, base: T, keyOf: (k: keyof T) => string = (k) => String(k)) => {
    for (const k of Object.keys(values) as (keyof T)[]) {
      const v = values[k];
      // An absent optional field (a LLaMA field left at its default) keeps the preset's.
      if (v === base[k] || v === undefined) continue;
      params.set(keyOf(k), typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
    }
  };
  put(setup.model, preset.model);
  put(setup.train, preset.train);
  put(setup.sampling, DEFAULT_SAMPLING, (k) => SAMPLING_KEYS[k]);
  return `?${params.toString()}`;
}
