// Which preset a configuration is: the picker, its description and the link
// describe the open run, so a run opened from storage selects the preset its
// settings match, and settings that match none are called custom.
import { PRESETS, type ModelShape, type Preset, type TrainConfig } from '../model/config';

/** Fields only the LLaMA block reads: they do not tell two GPT-2 models apart. */
const LLAMA_ONLY = new Set<keyof ModelShape>(['nKvHead', 'ffnHidden', 'ropeTheta', 'rmsNormEps']);

/** The model fields on which two shapes differ. */
export function shapeDifferences(a: ModelShape, b: ModelShape): (keyof ModelShape)[] {
  const llama = (a.block ?? 'gpt2') === 'llama' || (b.block ?? 'gpt2') === 'llama';
  const keys = new Set([...Object.keys(a), ...Object.keys(b)] as (keyof ModelShape)[]);
  return [...keys].filter((k) => (llama || !LLAMA_ONLY.has(k)) && (a[k] ?? (k === 'block' ? 'gpt2' : undefined)) !== (b[k] ?? (k === 'block' ? 'gpt2' : undefined)));
}

/**
 * Whether a setup is the preset's: the same model, batch and learning rate (the
 * preset's description names them). Steps may differ: a run trained on past its
 * budget is still the preset's run.
 */
export function isPreset(preset: Preset, model: ModelShape, train: Pick<TrainConfig, 'batchSize' | 'learningRate'>): boolean {
  return shapeDifferences(preset.model, model).length === 0 && preset.train.batchSize === train.batchSize && preset.train.learningRate === train.learningRate;
}

/** The preset a setup is, or null for custom settings. */
export function matchingPreset(model: ModelShape, train: Pick<TrainConfig, 'batchSize' | 'learningRate'>): Preset | null {
  return PRESETS.find((p) => isPreset(p, model, train)) ?? null;
}

/**
 * The preset a stored run is shown under: the one its settings match; else the
 * one it was made from (`label`, as runs store it); else the one with the fewest
 * different model fields. The link is that preset plus the run's differences.
 */
export function presetForRun(model: ModelShape, train: Pick<TrainConfig, 'batchSize' | 'learningRate'>, label = ''): Preset {
  const match = matchingPreset(model, train);
  if (match) return match;
  const named = PRESETS.find((p) => p.label === label || p.id === label);
  if (named) return named;
  return PRESETS.map((p) => ({ p, d: shapeDifferences(p.model, model).length })).sort((x, y) => x.d - y.d)[0].p;
}
