// A training step's settings from the training config: the learning-rate
// schedule (exactly nanoGPT's get_lr: linear warmup, then cosine decay to minLr
// by maxSteps, lr_decay_iters = max_iters; with decay off the rate is constant,
// nanoGPT's decay_lr = False, the reference run), AdamW's step count, the
// dropout seed, and the f32[8] the AdamW kernel reads. The trainer, the
// benchmarks and the tests all build steps through stepHyper.
import { adamwHyper } from '../kernels/adamw';
import type { TrainConfig } from './config';

export interface StepHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Global gradient-norm clip, 0 = off. */
  gradClip: number;
  /** AdamW's step count, from 1 (bias correction). */
  t: number;
  /** Seeds this step's dropout masks. */
  dropoutSeed: number;
  /** Also measure each parameter tensor's health (GptModel.recordHealth) after this step. */
  health?: boolean;
}

/**
 * Learning rate for 0-based step `it`. Warmup and minLr belong to the cosine
 * schedule: with decay off the rate is constant and neither applies. The decay
 * ends at lrDecaySteps (maxSteps when absent), so a run continued past its end
 * keeps its schedule and trains on at minLr, as nanoGPT past lr_decay_iters.
 */
export function learningRate(
  it: number,
  c: Pick<TrainConfig, 'learningRate' | 'lrDecay' | 'warmupSteps' | 'minLr' | 'maxSteps' | 'lrDecaySteps'>,
): number {
  if (!c.lrDecay) return c.learningRate;
  if (it < c.warmupSteps) return (c.learningRate * (it + 1)) / (c.warmupSteps + 1);
  const end = c.lrDecaySteps ?? c.maxSteps;
  if (it > end) return c.minLr;
  const span = end - c.warmupSteps;
  if (span <= 0) return c.minLr;
  const ratio = (it - c.warmupSteps) / span;
  const coeff = 0.5 * (1 + Math.cos(Math.PI * ratio));
  return c.minLr + coeff * (c.learningRate - c.minLr);
}

/** A 32-bit mix of two integers (a run's seed and a step), so nearby steps get unrelated streams. */
export function mixSeed(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The settings of 0-based step `it` under a training config. */
export function stepHyper(train: TrainConfig, it: number): StepHyper {
  return {
    lr: learningRate(it, train),
    beta1: train.beta1,
    beta2: train.beta2,
    eps: train.eps,
    weightDecay: train.weightDecay,
    gradClip: train.gradClip,
    t: it + 1,
    dropoutSeed: mixSeed(train.seed, it),
  };
}

/** The f32[8] the AdamW kernel reads for this step (lr, betas, eps, decay, clip, bias corrections). */
export function hyperFloats(h: StepHyper): Float32Array {
  return adamwHyper({ ...h, maxNorm: h.gradClip });
}
