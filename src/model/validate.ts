// Config validation before anything is allocated: parameter count (exactly
// PyTorch's numel sum for nanoGPT), the memory the GPU model allocates (its
// allocation table, ./allocation.ts), and a list of problems, one sentence each, for anything that is
// not a sane integer / range or would not fit the device.
//
// A config can arrive from a crafted URL, so every number is checked for
// type, sign, NaN and size BEFORE any product of them is trusted.

import { MAX_HEAD_SIZE } from '../kernels/attention';
import { allocationTable, bufferBytes, minimumFloats, tableBytes } from './allocation';
import type { ModelConfig, ModelShape, TrainConfig } from './config';
import { paramCount } from './description';

export { paramCount };

export interface MemoryEstimate {
  /** Bytes the model allocates on the GPU for training (the sum of ./allocation.ts's table). */
  totalBytes: number;
  /** Parameters + gradients + 2 AdamW moments + the activations backward needs, attention recomputed. */
  analyticMinimumBytes: number;
  /** Largest single buffer, checked against maxBufferSize / maxStorageBufferBindingSize. */
  largestBufferBytes: number;
}

export interface ConfigProblem {
  /** The config field at fault ('nEmbd', 'batchSize', 'memory', ...). */
  field: string;
  message: string;
}

export interface DeviceLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

/** WebGPU's default limits: what every browser grants without asking. */
export const DEFAULT_LIMITS: DeviceLimits = {
  maxStorageBufferBindingSize: 128 * 1024 * 1024,
  maxBufferSize: 256 * 1024 * 1024,
};

/**
 * Total GPU memory a training run may take (params, grads, moments, activations):
 * room for nanoGPT's shakespeare-char configuration (about 3.7 GiB at batch 64).
 */
export const DEFAULT_MEMORY_BUDGET = 4 * 1024 * 1024 * 1024;

/** Hard caps, far above every preset, so a crafted URL cannot ask for gigabytes. */
export const CAPS = {
  nLayer: 48,
  nHead: 64,
  nEmbd: 2048,
  blockSize: 2048,
  vocabSize: 1 << 17,
  batchSize: 512,
  maxSteps: 10_000_000,
  warmupSteps: 10_000_000,
  evalInterval: 10_000_000,
  evalIters: 10_000,
  checkpointInterval: 10_000_000,
};

/** Vocabulary size assumed for a shape whose corpus is not known yet. */
const ASSUMED_VOCAB = 256;

/** What a training run of this config with batch B allocates on the GPU: the model's allocation table, summed. */
export function memoryEstimate(config: ModelConfig, batchSize: number): MemoryEstimate {
  const table = allocationTable(config, batchSize);
  return {
    totalBytes: tableBytes(table),
    analyticMinimumBytes: 4 * minimumFloats(config, batchSize, paramCount(config)),
    largestBufferBytes: Math.max(...table.buffers.map((b) => bufferBytes(b.floats))),
  };
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(0)} MiB`;
}

/** A positive (or non-negative) integer no larger than `max`; one problem sentence if not. */
function checkInt(problems: ConfigProblem[], field: string, label: string, value: unknown, min: number, max: number): boolean {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    problems.push({ field, message: `${label} must be a number, got ${String(value)}.` });
    return false;
  }
  if (!Number.isInteger(value)) {
    problems.push({ field, message: `${label} must be a whole number, got ${value}.` });
    return false;
  }
  if (value < min) {
    problems.push({ field, message: `${label} must be at least ${min}, got ${value}.` });
    return false;
  }
  if (value > max) {
    problems.push({ field, message: `${label} must be at most ${max}, got ${value}.` });
    return false;
  }
  return true;
}

/** A finite real in [min, max] (or (min, max] / [min, max) by the flags). */
function checkReal(
  problems: ConfigProblem[],
  field: string,
  label: string,
  value: unknown,
  range: { min: number; max: number; minOpen?: boolean; maxOpen?: boolean },
): boolean {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    problems.push({ field, message: `${label} must be a number, got ${String(value)}.` });
    return false;
  }
  const { min, max, minOpen, maxOpen } = range;
  const below = minOpen ? value <= min : value < min;
  const above = maxOpen ? value >= max : value > max;
  if (below || above) {
    const interval = `${minOpen ? '(' : '['}${min}, ${max}${maxOpen ? ')' : ']'}`;
    problems.push({ field, message: `${label} must lie in ${interval}, got ${value}.` });
    return false;
  }
  return true;
}

export interface ValidateOptions extends Partial<DeviceLimits> {
  /** Total bytes a run may allocate; DEFAULT_MEMORY_BUDGET when absent. */
  memoryBudgetBytes?: number;
}

/**
 * Every problem with this model + training config, one sentence each; an empty
 * list means it is safe to allocate. Without vocabSize (a shape whose corpus is
 * not loaded yet) the memory checks assume a 256-character vocabulary.
 */
export function validateConfig(model: ModelShape | ModelConfig, train: TrainConfig, options: ValidateOptions = {}): ConfigProblem[] {
  const limits: DeviceLimits = {
    maxStorageBufferBindingSize: options.maxStorageBufferBindingSize ?? DEFAULT_LIMITS.maxStorageBufferBindingSize,
    maxBufferSize: options.maxBufferSize ?? DEFAULT_LIMITS.maxBufferSize,
  };
  const budget = options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET;
  const p: ConfigProblem[] = [];

  // Model shape.
  const okL = checkInt(p, 'nLayer', 'The number of layers', model.nLayer, 1, CAPS.nLayer);
  const okH = checkInt(p, 'nHead', 'The number of heads', model.nHead, 1, CAPS.nHead);
  const okC = checkInt(p, 'nEmbd', 'The embedding width', model.nEmbd, 1, CAPS.nEmbd);
  const okT = checkInt(p, 'blockSize', 'The context length (block size)', model.blockSize, 1, CAPS.blockSize);
  const hasVocab = 'vocabSize' in model;
  const okV = hasVocab ? checkInt(p, 'vocabSize', 'The vocabulary size', model.vocabSize, 1, CAPS.vocabSize) : true;
  if (okH && okC && model.nEmbd % model.nHead !== 0) {
    p.push({
      field: 'nHead',
      message: `The embedding width (${model.nEmbd}) must be divisible by the number of heads (${model.nHead}).`,
    });
  }
  if (okH && okC && model.nEmbd % model.nHead === 0 && model.nEmbd / model.nHead > MAX_HEAD_SIZE) {
    p.push({
      field: 'nHead',
      message: `The head size (${model.nEmbd} / ${model.nHead} = ${model.nEmbd / model.nHead}) is over ${MAX_HEAD_SIZE}: use more heads or a narrower model.`,
    });
  }
  checkReal(p, 'dropout', 'Dropout', model.dropout, { min: 0, max: 1, maxOpen: true });
  if (typeof model.bias !== 'boolean') p.push({ field: 'bias', message: 'Bias must be true or false.' });
  if (typeof model.tieWeights !== 'boolean') p.push({ field: 'tieWeights', message: 'Weight tying must be true or false.' });
  if (model.activation !== 'relu' && model.activation !== 'gelu') {
    p.push({ field: 'activation', message: `The activation must be "relu" or "gelu", got ${String(model.activation)}.` });
  }

  // The LLaMA-style block.
  let okBlock = true;
  if (model.block !== undefined && model.block !== 'gpt2' && model.block !== 'llama') {
    p.push({ field: 'block', message: `The block must be "gpt2" or "llama", got ${String(model.block)}.` });
    okBlock = false;
  }
  if (model.block === 'llama') {
    const kv = model.nKvHead ?? model.nHead;
    if (checkInt(p, 'nKvHead', 'The number of key/value heads', kv, 1, CAPS.nHead) && okH && model.nHead % kv !== 0) {
      p.push({ field: 'nKvHead', message: `The key/value heads (${kv}) must divide the query heads (${model.nHead}): each key/value head serves a group of query heads.` });
      okBlock = false;
    }
    if (okH && okC && model.nEmbd % model.nHead === 0 && (model.nEmbd / model.nHead) % 2 !== 0) {
      p.push({ field: 'nHead', message: `Rotary embeddings need an even head size; ${model.nEmbd} / ${model.nHead} = ${model.nEmbd / model.nHead}.` });
      okBlock = false;
    }
    if (model.ffnHidden !== undefined && !checkInt(p, 'ffnHidden', 'The MLP intermediate size', model.ffnHidden, 1, 4 * CAPS.nEmbd)) okBlock = false;
    if (model.ropeTheta !== undefined) checkReal(p, 'ropeTheta', 'The rotary base (rope_theta)', model.ropeTheta, { min: 1, max: 1e9 });
    if (model.rmsNormEps !== undefined) checkReal(p, 'rmsNormEps', 'RMSNorm epsilon', model.rmsNormEps, { min: 0, max: 1e-2, minOpen: true });
    if (model.dropout !== 0) p.push({ field: 'dropout', message: 'The LLaMA-style block trains without dropout: set dropout to 0.' });
  }

  // Training.
  const okB = checkInt(p, 'batchSize', 'The batch size', train.batchSize, 1, CAPS.batchSize);
  checkInt(p, 'maxSteps', 'The number of training steps', train.maxSteps, 1, CAPS.maxSteps);
  const okLr = checkReal(p, 'learningRate', 'The learning rate', train.learningRate, { min: 0, max: 1, minOpen: true });
  if (typeof train.lrDecay !== 'boolean') p.push({ field: 'lrDecay', message: 'Learning-rate decay must be on or off.' });
  checkInt(p, 'warmupSteps', 'The warmup steps', train.warmupSteps, 0, CAPS.warmupSteps);
  if (checkReal(p, 'minLr', 'The minimum learning rate', train.minLr, { min: 0, max: 1 }) && okLr && train.minLr > train.learningRate) {
    p.push({ field: 'minLr', message: `The minimum learning rate (${train.minLr}) must not exceed the learning rate (${train.learningRate}).` });
  }
  checkReal(p, 'beta1', 'Adam beta1', train.beta1, { min: 0, max: 1, maxOpen: true });
  checkReal(p, 'beta2', 'Adam beta2', train.beta2, { min: 0, max: 1, maxOpen: true });
  checkReal(p, 'eps', 'Adam epsilon', train.eps, { min: 0, max: 1, minOpen: true });
  checkReal(p, 'weightDecay', 'The weight decay', train.weightDecay, { min: 0, max: 10 });
  checkReal(p, 'gradClip', 'The gradient clip (0 = off)', train.gradClip, { min: 0, max: 1e6 });
  checkInt(p, 'evalInterval', 'The evaluation interval', train.evalInterval, 1, CAPS.evalInterval);
  checkInt(p, 'evalIters', 'The number of evaluation batches', train.evalIters, 1, CAPS.evalIters);
  checkInt(p, 'seed', 'The seed', train.seed, 0, 0xffffffff);
  checkInt(p, 'checkpointInterval', 'The checkpoint interval', train.checkpointInterval, 0, CAPS.checkpointInterval);

  // Memory: only once every factor is a sane integer, so no product can blow up.
  if (okL && okH && okC && okT && okV && okB && okBlock) {
    const config: ModelConfig = { ...(model as ModelShape), vocabSize: hasVocab ? (model as ModelConfig).vocabSize : ASSUMED_VOCAB };
    const V = config.vocabSize;
    const C = config.nEmbd;
    const binding = limits.maxStorageBufferBindingSize;
    const maxBuffer = Math.min(binding, limits.maxBufferSize);
    const vocabTooBig = 4 * V * C > maxBuffer;
    if (vocabTooBig) {
      p.push({
        field: 'vocabSize',
        message: `A vocabulary of ${V} characters at width ${C} needs a ${mib(4 * V * C)} embedding table, over this GPU's ${mib(maxBuffer)} buffer limit: use a smaller corpus alphabet or a narrower model.`,
      });
    }
    const est = memoryEstimate(config, train.batchSize);
    if (est.largestBufferBytes > maxBuffer && !(vocabTooBig && est.largestBufferBytes === 4 * V * C)) {
      p.push({
        field: 'memory',
        message: `The largest buffer (${mib(est.largestBufferBytes)}) exceeds this GPU's ${mib(maxBuffer)} buffer limit: reduce the batch size, context length or width.`,
      });
    }
    if (est.totalBytes > budget) {
      p.push({
        field: 'memory',
        message: `Training would need about ${mib(est.totalBytes)} of GPU memory, over the ${mib(budget)} budget: reduce the batch size, context length, width or number of layers.`,
      });
    }
  }
  return p;
}
