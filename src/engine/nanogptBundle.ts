// "Continue on GPUs with nanoGPT": one zip that nanoGPT's own train.py runs
// unchanged, on one GPU or many. It holds the corpus and nanoGPT's prepare
// step for it (same vocabulary order as ours), a training config with every
// hyperparameter under nanoGPT's name, our checkpoint, converters both ways
// between it and nanoGPT's ckpt.pt, and a README with the exact commands.
import { strToU8, zipSync } from 'fflate';
import type { ModelConfig, TrainConfig } from '../model/config';
import prepareTemplate from './nanogpt/prepare.py?raw';
import toCkpt from './nanogpt/playground_to_ckpt.py?raw';
import fromCkpt from './nanogpt/ckpt_to_playground.py?raw';
import { idsFile, metaPickle, needsWide, type TokenData } from './nanogpt/tokenData';

export interface BundleInput {
  /** File-name stem of the run ("tiny-on-moby-dick"), also nanoGPT's dataset name. */
  stem: string;
  /** The run's name for people. */
  runName: string;
  text: string;
  /** Our vocabulary, in id order. */
  vocab: string[];
  model: ModelConfig;
  train: TrainConfig;
  /** Steps done: nanoGPT's iter_num on resume. */
  step: number;
  /** Our .checkpoint.safetensors of the run (weights, AdamW moments, step). */
  checkpoint: Uint8Array;
  /** A run on tokens: its splits, already encoded (no prepare.py: the .bin files and meta.pkl come ready). */
  tokens?: TokenData;
}

/** Largest of 8, 4, 2, 1 that divides the batch: micro-batches per step, so 1, 2, 4 or 8 GPUs run the same global batch. */
export function accumulationSteps(batchSize: number): number {
  for (const g of [8, 4, 2]) if (batchSize % g === 0) return g;
  return 1;
}

const py = (v: number | boolean | string): string => (typeof v === 'boolean' ? (v ? 'True' : 'False') : typeof v === 'string' ? JSON.stringify(v) : String(v));

/** nanoGPT's names for our settings: what config/train_<run>.py sets. */
export function nanoGptConfig(input: Pick<BundleInput, 'stem' | 'model' | 'train'>): Record<string, number | boolean | string> {
  const { stem, model, train } = input;
  const g = accumulationSteps(train.batchSize);
  return {
    out_dir: `out-${stem}`,
    eval_interval: train.evalInterval,
    eval_iters: train.evalIters,
    log_interval: 10,
    always_save_checkpoint: true,
    init_from: 'resume',
    wandb_log: false,
    dataset: stem,
    gradient_accumulation_steps: g,
    batch_size: train.batchSize / g,
    block_size: model.blockSize,
    n_layer: model.nLayer,
    n_head: model.nHead,
    n_embd: model.nEmbd,
    dropout: model.dropout,
    bias: model.bias,
    learning_rate: train.learningRate,
    max_iters: train.maxSteps,
    weight_decay: train.weightDecay,
    beta1: train.beta1,
    beta2: train.beta2,
    grad_clip: train.gradClip,
    decay_lr: train.lrDecay,
    warmup_iters: train.lrDecay ? train.warmupSteps : 0,
    lr_decay_iters: train.lrDecaySteps ?? train.maxSteps,
    min_lr: train.lrDecay ? train.minLr : train.learningRate,
    seed: train.seed,
  };
}

export function configFile(input: Pick<BundleInput, 'stem' | 'model' | 'train' | 'runName' | 'step'>): string {
  const c = nanoGptConfig(input);
  const lines = [
    `# ${input.runName}: trained ${input.step} steps in GPT Playground; continue with nanoGPT's train.py.`,
    `# batch_size x gradient_accumulation_steps = ${input.train.batchSize}, the browser's batch; runs unchanged on 1, 2, 4 or 8 GPUs`,
    '# whose count divides gradient_accumulation_steps. Raise max_iters to train longer (lr_decay_iters keeps the schedule).',
  ];
  if (input.train.eps !== 1e-8) lines.push(`# The browser used Adam eps ${input.train.eps}; nanoGPT's AdamW uses PyTorch's 1e-8.`);
  if (input.train.gradClip === 0) lines.push('# grad_clip = 0.0 turns clipping off, as in the browser.');
  for (const [k, v] of Object.entries(c)) lines.push(`${k} = ${py(v)}`);
  return lines.join('\n') + '\n';
}

function tokenNote(input: BundleInput): string {
  const t = input.tokens!;
  const wide = needsWide(t.vocab.length);
  return `
This run reads tokens (${t.label}): data/${input.stem}/train.bin and val.bin hold its ${t.train.length.toLocaleString('en-US')} training and
${t.val.length.toLocaleString('en-US')} validation token ids (${wide ? 'uint32' : 'uint16'}, the text cut at 90% of its characters, then each part
encoded), and meta.pkl its ${t.vocab.length.toLocaleString('en-US')}-token vocabulary (vocab_size, itos, stoi). They are ready: skip prepare.py.
meta.pkl's playground_tokenizer holds the tokenizer as JSON (ckpt_to_playground.py copies it into the checkpoint, so the
browser reads the corpus with the same tokens).${bpeNote(input)}
${wide ? "The ids exceed 65,535, so they are uint32: change np.uint16 to np.uint32 in train.py's get_batch before training.\n" : ''}sample.py's encode looks up stoi one character at a time: start its prompt with a single-character piece such as "\\n".
`;
}

/** A trained BPE: its ranks as tiktoken's own file, and how Python's tiktoken loads it. */
function bpeNote(input: BundleInput): string {
  const spec = input.tokens?.spec;
  if (spec?.kind !== 'bpe') return '';
  return `
data/${input.stem}/${input.stem}.tiktoken is the BPE in tiktoken's rank format (base64 of each token's bytes, then its id);
with Python's tiktoken:

\`\`\`python
import tiktoken
from tiktoken.load import load_tiktoken_bpe
enc = tiktoken.Encoding(name=${JSON.stringify(spec.name)}, pat_str=${JSON.stringify(spec.pattern)},
                        mergeable_ranks=load_tiktoken_bpe('data/${input.stem}/${input.stem}.tiktoken'), special_tokens={})
\`\`\``;
}

export function readme(input: BundleInput): string {
  const { stem } = input;
  const ckpt = `${stem}-step${input.step}.checkpoint.safetensors`;
  const prepareLine = input.tokens ? '' : `python data/${stem}/prepare.py\n`;
  const vocabText = input.tokens ? `${input.vocab.length} tokens of ${input.tokens.label}` : `${input.vocab.length} characters`;
  return `# ${input.runName}, continued with nanoGPT

Trained ${input.step} of ${input.train.maxSteps} steps in GPT Playground (${input.model.nLayer} layers, ${input.model.nHead} heads,
${input.model.nEmbd} wide, context ${input.model.blockSize}, ${vocabText}; GELU with tied embeddings, as nanoGPT's model.py).

Unzip this into a clone of https://github.com/karpathy/nanoGPT (PyTorch and numpy installed), then, from that directory:

\`\`\`sh
${prepareLine}python playground_to_ckpt.py ${ckpt} out-${stem}
python train.py config/train_${stem}.py
\`\`\`

On 8 GPUs of one machine, the last line becomes:

\`\`\`sh
torchrun --standalone --nproc_per_node=8 train.py config/train_${stem}.py
\`\`\`

(1, 2, 4 or 8 GPUs: any count that divides gradient_accumulation_steps in the config.) Training resumes at step ${input.step}
(iter_num) with the browser's weights and AdamW moments, the same learning-rate schedule and the same batch size. Raise
max_iters in config/train_${stem}.py to train past step ${input.train.maxSteps}.

Back into the browser (Import on the Model & training tab, with data/${stem}/input.txt loaded as the corpus):

\`\`\`sh
python ckpt_to_playground.py out-${stem}/ckpt.pt data/${stem}/meta.pkl ${stem}-cluster.checkpoint.safetensors
\`\`\`

Files: data/${stem}/input.txt (your corpus, only here), data/${stem}/prepare.py (nanoGPT's shakespeare_char preparation,
same character ids as the browser), config/train_${stem}.py, ${ckpt}, playground_to_ckpt.py, ckpt_to_playground.py.
${input.tokens ? tokenNote(input) : ''}`;
}

/** The zip's files by path. */
export function bundleFiles(input: BundleInput): Record<string, Uint8Array> {
  const { stem } = input;
  const prepare = prepareTemplate.replace('__VOCAB__', py(JSON.stringify(input.vocab)));
  const t = input.tokens;
  const data: Record<string, Uint8Array> = t
    ? {
        [`data/${stem}/train.bin`]: idsFile(t.train, needsWide(t.vocab.length)),
        [`data/${stem}/val.bin`]: idsFile(t.val, needsWide(t.vocab.length)),
        [`data/${stem}/meta.pkl`]: metaPickle(t.vocab, t.spec),
        ...(t.spec?.kind === 'bpe' ? { [`data/${stem}/${stem}.tiktoken`]: strToU8(t.spec.tiktoken) } : {}),
      }
    : { [`data/${stem}/prepare.py`]: strToU8(prepare) };
  return {
    'README.md': strToU8(readme(input)),
    [`data/${stem}/input.txt`]: strToU8(input.text),
    ...data,
    [`config/train_${stem}.py`]: strToU8(configFile(input)),
    [`${stem}-step${input.step}.checkpoint.safetensors`]: input.checkpoint,
    'playground_to_ckpt.py': strToU8(toCkpt),
    'ckpt_to_playground.py': strToU8(fromCkpt),
  };
}

export function buildBundle(input: BundleInput): Uint8Array {
  return zipSync(bundleFiles(input), { level: 6 });
}
