// The "Continue on GPUs with nanoGPT" zip: its files, the config under
// nanoGPT's names, and (where python3 is installed) scripts that compile, and a
// prepare.py that writes the same token ids and split as the browser.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { strFromU8, unzipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { accumulationSteps, buildBundle, nanoGptConfig, type BundleInput } from '../../src/engine/nanogptBundle';
import { PRESETS } from '../../src/model/config';
import { splitCorpus } from '../../src/model/data';
import { CharTokenizer } from '../../src/model/tokenizer';

const TEXT = 'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak. — “Ünïcode” ok? 😀\n'.repeat(7);
const tok = CharTokenizer.fromText(TEXT);
const preset = PRESETS.find((p) => p.id === 'nanogpt-char')!;

function input(over: Partial<BundleInput> = {}): BundleInput {
  return {
    stem: 'my-run-2',
    runName: 'My run 2',
    text: TEXT,
    vocab: tok.vocab,
    model: { ...preset.model, nLayer: 2, nEmbd: 48, blockSize: 16, vocabSize: tok.size },
    train: { ...preset.train, batchSize: 12, maxSteps: 300, lrDecaySteps: 250, eps: 1e-6 },
    step: 300,
    checkpoint: new Uint8Array([1, 2, 3, 4, 5]),
    ...over,
  };
}

/** `key = value` lines of a nanoGPT config file, values as Python literals. */
function parseConfig(src: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of src.split('\n')) {
    const m = /^(\w+) = (.+)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

const python = (() => {
  try {
    execFileSync('python3', ['--version']);
    return true;
  } catch {
    return false;
  }
})();

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('the nanoGPT continuation zip', () => {
  const files = unzipSync(buildBundle(input()));

  it('holds the corpus, prepare, config, checkpoint, both converters and a README', () => {
    expect(Object.keys(files).sort()).toEqual(
      [
        'README.md',
        'ckpt_to_playground.py',
        'config/train_my-run-2.py',
        'data/my-run-2/input.txt',
        'data/my-run-2/prepare.py',
        'my-run-2-step300.checkpoint.safetensors',
        'playground_to_ckpt.py',
      ].sort(),
    );
    expect(strFromU8(files['data/my-run-2/input.txt'])).toBe(TEXT);
    expect(Array.from(files['my-run-2-step300.checkpoint.safetensors'])).toEqual([1, 2, 3, 4, 5]);
    const readme = strFromU8(files['README.md']);
    for (const cmd of [
      'python data/my-run-2/prepare.py',
      'python playground_to_ckpt.py my-run-2-step300.checkpoint.safetensors out-my-run-2',
      'python train.py config/train_my-run-2.py',
      'torchrun --standalone --nproc_per_node=8 train.py config/train_my-run-2.py',
      'python ckpt_to_playground.py out-my-run-2/ckpt.pt data/my-run-2/meta.pkl',
    ]) {
      expect(readme).toContain(cmd);
    }
  });

  it("maps every hyperparameter to nanoGPT's name", () => {
    const c = parseConfig(strFromU8(files['config/train_my-run-2.py']));
    expect(c).toEqual({
      out_dir: '"out-my-run-2"',
      eval_interval: '250',
      eval_iters: '200',
      log_interval: '10',
      always_save_checkpoint: 'True',
      init_from: '"resume"',
      wandb_log: 'False',
      dataset: '"my-run-2"',
      // 12 = 4 micro-batches of 3: the browser's batch on 1, 2 or 4 GPUs.
      gradient_accumulation_steps: '4',
      batch_size: '3',
      block_size: '16',
      n_layer: '2',
      n_head: '6',
      n_embd: '48',
      dropout: '0.2',
      bias: 'False',
      learning_rate: '0.001',
      max_iters: '300',
      weight_decay: '0.1',
      beta1: '0.9',
      beta2: '0.99',
      grad_clip: '1',
      decay_lr: 'True',
      warmup_iters: '100',
      lr_decay_iters: '250',
      min_lr: '0.0001',
      seed: '1337',
    });
    expect(strFromU8(files['config/train_my-run-2.py'])).toMatch(/Adam eps 0\.000001/);
    // A constant rate is nanoGPT's decay_lr = False, with no warmup.
    const constant = nanoGptConfig({ stem: 's', model: input().model, train: { ...input().train, lrDecay: false, lrDecaySteps: undefined } });
    expect(constant).toMatchObject({ decay_lr: false, warmup_iters: 0, lr_decay_iters: 300, min_lr: 0.001 });
    expect([64, 32, 12, 6, 7].map(accumulationSteps)).toEqual([8, 8, 4, 2, 1]);
  });

  it.runIf(python)('has Python that compiles, and a prepare.py that writes the browser\'s ids and split', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nanogpt-bundle-'));
    dirs.push(dir);
    for (const [path, bytes] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), bytes);
    }
    const scripts = ['data/my-run-2/prepare.py', 'config/train_my-run-2.py', 'playground_to_ckpt.py', 'ckpt_to_playground.py'];
    execFileSync('python3', ['-m', 'py_compile', ...scripts.map((s) => join(dir, s))]);
    let numpy = true;
    try {
      execFileSync('python3', ['-c', 'import numpy']);
    } catch {
      numpy = false;
    }
    if (!numpy) return;
    execFileSync('python3', [join(dir, 'data/my-run-2/prepare.py')]);
    const read = (name: string) => {
      const b = readFileSync(join(dir, 'data/my-run-2', name));
      return Array.from(new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2));
    };
    const splits = splitCorpus(tok.encode(TEXT).ids, 16);
    expect(read('train.bin')).toEqual(Array.from(splits.train));
    expect(read('val.bin')).toEqual(Array.from(splits.val));
    // A text with other characters is refused, not silently renumbered.
    writeFileSync(join(dir, 'data/my-run-2/input.txt'), TEXT + '#');
    expect(() => execFileSync('python3', [join(dir, 'data/my-run-2/prepare.py')], { stdio: 'pipe' })).toThrow(/does not have the characters/);
  }, 120_000);
});
