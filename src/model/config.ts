// Model and training configuration: small typed objects, presets that only
// override the defaults (nanoGPT's config style).

import type { Activation } from '../kernels/activation';

export type { Activation };

/** nanoGPT's GPTConfig. vocabSize comes from the corpus, not from presets. */
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
}

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

export type CorpusId = 'moby-dick' | 'names';

export interface Preset {
  id: 'baby' | 'tiny' | 'names';
  label: string;
  description: string;
  model: ModelShape;
  train: TrainConfig;
  corpus: CorpusId;
}

export const PRESETS: Preset[] = [
  {
    id: 'baby',
    label: 'Baby GPT (reference)',
    description: "nanoGPT's baby character model: 6 layers, 6 heads, 192 wide, context 128, batch 32. About 2.7M parameters.",
    model: { ...DEFAULT_MODEL },
    train: { ...DEFAULT_TRAIN },
    corpus: 'moby-dick',
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
    id: 'names',
    label: 'Names',
    description: 'Invent new first names: 3 layers, 4 heads, 64 wide, context 16, trained on lists of English first names.',
    model: { ...DEFAULT_MODEL, nLayer: 3, nHead: 4, nEmbd: 64, blockSize: 16, dropout: 0 },
    train: { ...DEFAULT_TRAIN, batchSize: 32, maxSteps: 1000, learningRate: 1e-3, evalInterval: 100, evalIters: 5, checkpointInterval: 100 },
    corpus: 'names',
  },
];
