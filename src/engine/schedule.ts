// The learning-rate schedule, exactly nanoGPT's get_lr: linear warmup, then
// cosine decay to minLr by maxSteps (lr_decay_iters = max_iters). With decay
// off the rate is constant (nanoGPT's decay_lr = False, the reference run).
import type { TrainConfig } from '../model/config';

/** Learning rate for 0-based step `it`. */
export function learningRate(it: number, c: Pick<TrainConfig, 'learningRate' | 'lrDecay' | 'warmupSteps' | 'minLr' | 'maxSteps'>): number {
  if (!c.lrDecay) return c.learningRate;
  if (it < c.warmupSteps) return (c.learningRate * (it + 1)) / (c.warmupSteps + 1);
  if (it > c.maxSteps) return c.minLr;
  const span = c.maxSteps - c.warmupSteps;
  if (span <= 0) return c.minLr;
  const ratio = (it - c.warmupSteps) / span;
  const coeff = 0.5 * (1 + Math.cos(Math.PI * ratio));
  return c.minLr + coeff * (c.learningRate - c.minLr);
}
