// Model and training configuration: small typed objects, presets that only
// override the defaults (nanoGPT's config style).

import type { Activation } from '../kernels/activation';

export type { Activation };

/**
 * nanoGPT's GPTConfig, plus the block it is built from. vocabSize comes from
 * the corpus, not from presets. The LLaMA-style block (./description.ts) has
 * no biases and no learned positions; it ignores `bias` and `activation`.
 */
export interface ModelConfig {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  blockSize: number;
  vocabSize: number;
  dropout: number;
  bias: boolean;
  tieWeights: boolean;
  activation: Activation;
  /** 'gpt2' (the default) or 'llama': RMSNorm, rotary positions, SwiGLU, grouped-query attention. */
  block?: BlockKind;
  /** LLaMA: key/value heads (dividing nHead; nHead when absent). */
  nKvHead?: number;
  /** LLaMA: the MLP's intermediate size (8C/3 rounded up to a multiple of 8 when absent). */
  ffnHidden?: number;
  /** LLaMA: the rotary base (10000 when absent). */
  ropeTheta?: number;
  /** LLaMA: RMSNorm's epsilon (1e-5 when absent). */
  rmsNormEps?: number;
}

export type BlockKind = 'gpt2' | 'llama';

/** LLaMA's RMSNorm epsilon and default rotary base (Hugging Face's LlamaConfig defaults for small models). */
export const RMS_NORM_EPS = 1e-5;
export const DEFAULT_ROPE_THETA = 10000;

export interface TrainConfig {
  batchSize: number;
  maxSteps: number;
  learningRate: number;
  /** Cosine decay to minLr after warmup; off = constant learning rate (the reference). */
  lrDecay: boolean;
  warmupSteps: number;
  minLr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Global gradient-norm clip; 0 turns clipping off. */
  gradClip: number;
  evalInterval: number;
  evalIters: number;
  /** Seeds initialisation, batch sampling and dropout. */
  seed: number;
  /** Save a checkpoint to IndexedDB every this many steps (and on pause). */
  checkpointInterval: number;
  /**
   * Where the cosine decay ends (nanoGPT's lr_decay_iters); maxSteps when absent.
   * A run continued past its end keeps its original horizon, then trains at minLr.
   */
  lrDecaySteps?: number;
}

export type ModelShape = Omit<ModelConfig, 'vocabSize'>;

export const DEFAULT_MODEL: ModelShape = {
  nLayer: 6,
  nHead: 6,
  nEmbd: 192,
  blockSize: 128,
  dropout: 0.1,
  bias: true,
  tieWeights: false,
  activation: 'relu',
};

export const DEFAULT_TRAIN: TrainConfig = {
  batchSize: 32,
  maxSteps: 3000,
  learningRate: 3e-4,
  lrDecay: false,
  warmupSteps: 100,
  minLr: 3e-5,
  beta1: 0.9,
  beta2: 0.99,
  eps: 1e-8,
  weightDecay: 0.1,
  gradClip: 1.0,
  evalInterval: 250,
  evalIters: 20,
  seed: 1337,
  checkpointInterval: 100,
};

/** The built-in corpora, served from the app's own origin. */
export const BUILTIN_CORPUS_IDS = ['tiny-shakespeare', 'moby-dick', 'names'] as const;

export type CorpusId = (typeof BUILTIN_CORPUS_IDS)[number];

export type PresetId = 'tutorial' | 'nanogpt-char' | 'tiny' | 'llama-tiny' | 'names' | 'induction';

export interface Preset {
  id: PresetId;
  label: string;
  description: string;
  model: ModelShape;
  train: TrainConfig;
  /** The built-in corpus the preset selects (the link's corpus when the preset trains on a toy task). */
  corpus: CorpusId;
  /** A toy task the preset trains on instead of a built-in corpus (generated from its seed). */
  toy?: ToyTaskSpec;
  /**
   * The text a preset's published losses were measured on, when it is not
   * built in: the preset then keeps a text the person loaded themselves.
   */
  publishedOn?: string;
}

export const PRESETS: Preset[] = [
  {
    id: 'tutorial',
    label: 'Tutorial GPT',
    description:
      'The classic "build a GPT from scratch" tutorial\'s model: 6 layers, 6 heads, 192 wide, context 128, batch 32, ReLU, ' +
      'a separate lm_head, AdamW at a constant 3e-4, dropout 0.1, 3,000 steps (about 2.7M parameters). ' +
      'The tutorial reports a training loss near 1.38 on Tiny Shakespeare.',
    model: { ...DEFAULT_MODEL },
    train: { ...DEFAULT_TRAIN },
    corpus: 'tiny-shakespeare',
  },
  {
    id: 'nanogpt-char',
    label: 'nanoGPT shakespeare-char',
    description:
      "nanoGPT's config/train_shakespeare_char.py: 6 layers, 6 heads, 384 wide, context 256, batch 64, dropout 0.2, GELU, " +
      'tied embeddings, no bias, lr 1e-3 with 100 warmup steps and cosine decay to 1e-4 over 5,000 steps, β2 0.99, ' +
      'evaluation every 250 steps over 200 batches (about 10.7M parameters). nanoGPT reports a validation loss near 1.47.',
    model: { nLayer: 6, nHead: 6, nEmbd: 384, blockSize: 256, dropout: 0.2, bias: false, tieWeights: true, activation: 'gelu' },
    train: {
      ...DEFAULT_TRAIN,
      batchSize: 64,
      maxSteps: 5000,
      learningRate: 1e-3,
      lrDecay: true,
      warmupSteps: 100,
      minLr: 1e-4,
      beta1: 0.9,
      beta2: 0.99,
      weightDecay: 0.1,
      gradClip: 1.0,
      evalInterval: 250,
      evalIters: 200,
      checkpointInterval: 250,
    },
    corpus: 'tiny-shakespeare',
  },
  {
    id: 'tiny',
    label: 'Tiny (learns in a minute)',
    description: '2 layers, 2 heads, 48 wide, context 32, batch 8: visibly learns in under a minute even on a slow GPU.',
    model: { ...DEFAULT_MODEL, nLayer: 2, nHead: 2, nEmbd: 48, blockSize: 32, dropout: 0 },
    train: { ...DEFAULT_TRAIN, batchSize: 8, maxSteps: 400, learningRate: 3e-3, evalInterval: 50, evalIters: 4, checkpointInterval: 50 },
    corpus: 'moby-dick',
  },
  {
    id: 'llama-tiny',
    label: 'LLaMA-style (Tiny)',
    description:
      "The Tiny preset's size built from LLaMA's block: RMSNorm before attention and the MLP, rotary position embeddings on queries and keys " +
      '(no learned positions), a SwiGLU MLP (intermediate size 8C/3 rounded up to 8: 128), grouped-query attention (4 query heads sharing 2 ' +
      'key/value heads) and no biases. 2 layers, 48 wide, context 32, batch 8, dropout 0, 400 steps at 3e-3.',
    model: { ...DEFAULT_MODEL, block: 'llama', nKvHead: 2, nLayer: 2, nHead: 4, nEmbd: 48, blockSize: 32, dropout: 0, bias: false },
    train: { ...DEFAULT_TRAIN, batchSize: 8, maxSteps: 400, learningRate: 3e-3, evalInterval: 50, evalIters: 4, checkpointInterval: 50 },
    corpus: 'moby-dick',
  },
  {
    id: 'names',
    label: 'Names',
    description: 'Invent new first names: 3 layers, 4 heads, 64 wide, context 16, trained on the built-in lists of English first names.',
    model: { ...DEFAULT_MODEL, nLayer: 3, nHead: 4, nEmbd: 64, blockSize: 16, dropout: 0 },
    train: { ...DEFAULT_TRAIN, batchSize: 32, maxSteps: 1000, learningRate: 1e-3, evalInterval: 100, evalIters: 5, checkpointInterval: 100 },
    corpus: 'names',
  },
  {
    id: 'induction',
    label: 'Induction (2 layers, attention-heavy)',
    description:
      'Where copying circuits form: 2 layers, 4 heads, 64 wide, context 32, trained on the Repeat toy task (12 random letters of 16, ' +
      'written twice); its accuracy on held-out strings is plotted with the loss and jumps within about 150 steps. Every string has ' +
      'the same length, so a head reading a fixed offset back can solve it; tick "vary the length" in the Dataset tab for a task only ' +
      'an induction head solves (it takes longer).',
    model: { ...DEFAULT_MODEL, nLayer: 2, nHead: 4, nEmbd: 64, blockSize: 32, dropout: 0 },
    train: { ...DEFAULT_TRAIN, batchSize: 16, maxSteps: 400, learningRate: 3e-3, evalInterval: 50, evalIters: 4, checkpointInterval: 100 },
    corpus: 'moby-dick',
    toy: { kind: 'repeat', length: 12, alphabet: 16, reversedDigits: false, examples: 4000, seed: 1 },
  },
];

/** Preset ids of older links, read as today's presets. */
export const PRESET_ALIASES: Record<string, PresetId> = { baby: 'tutorial' };

/** A toy task's generator settings (src/data/toyTasks.ts makes the text). */
export type ToyTaskKind = 'repeat' | 'copy' | 'reverse' | 'sort' | 'add' | 'brackets';

export interface ToyTaskSpec {
  kind: ToyTaskKind;
  /**
   * String length (repeat, copy, reverse, sort); the most digits of an operand
   * (add); the longest bracket string (brackets, even lengths 2..length).
   */
  length: number;
  /** Distinct symbols, the first letters a, b, c, ... (repeat, copy, reverse, sort). */
  alphabet: number;
  /** add: numbers written least significant digit first. */
  reversedDigits: boolean;
  /**
   * repeat: each string's length drawn from ceil(length/2)..length, so the
   * copies are a varying distance apart and only an induction head (not a head
   * reading a fixed offset back) can copy it. Off: every string is `length` long.
   */
  varyLength?: boolean;
  /** Training examples in the corpus text. */
  examples: number;
  seed: number;
}

