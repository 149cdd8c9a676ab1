import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BUILTIN_CORPUS_IDS, PRESETS } from '../../src/model/config';
import { checkCorpusBytes } from '../../src/data/corpus';
import { BUILTIN_CORPORA } from '../../src/data/readCorpus';
import { paramCount, validateConfig } from '../../src/model/validate';
import { longestToyLine, toyTask } from '../../src/data/toyTasks';
import { intermediateSize } from '../../src/model/description';

const byId = (id: string) => PRESETS.find((p) => p.id === id)!;

describe('presets say what they are', () => {
  it("nanoGPT shakespeare-char is exactly config/train_shakespeare_char.py", () => {
    const p = byId('nanogpt-char');
    expect(p.label).toBe('nanoGPT shakespeare-char');
    expect(p.model).toEqual({ nLayer: 6, nHead: 6, nEmbd: 384, blockSize: 256, dropout: 0.2, bias: false, tieWeights: true, activation: 'gelu' });
    expect(p.train).toMatchObject({
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
    });
    // nanoGPT prints "number of parameters: 10.65M" for this config (position embeddings excluded).
    expect(((paramCount({ ...p.model, vocabSize: 65 }) - 256 * 384) / 1e6).toFixed(2)).toBe('10.65');
  });

  it('Tutorial GPT is the tutorial\'s model: ReLU, untied, constant 3e-4, dropout 0.1, 3,000 steps', () => {
    const p = byId('tutorial');
    expect(p.label).toBe('Tutorial GPT');
    expect(p.model).toEqual({ nLayer: 6, nHead: 6, nEmbd: 192, blockSize: 128, dropout: 0.1, bias: true, tieWeights: false, activation: 'relu' });
    expect(p.train).toMatchObject({ batchSize: 32, maxSteps: 3000, learningRate: 3e-4, lrDecay: false });
    expect(p.description).toMatch(/1\.38/);
  });

  it('every preset selects a built-in corpus; the Shakespeare ones train on the built-in Tiny Shakespeare', () => {
    expect(byId('names').corpus).toBe('names');
    expect(byId('tiny').corpus).toBe('moby-dick');
    for (const id of ['tutorial', 'nanogpt-char']) {
      expect(byId(id).corpus).toBe('tiny-shakespeare');
      expect(byId(id).publishedOn).toBeUndefined();
    }
    for (const p of PRESETS) expect(BUILTIN_CORPUS_IDS).toContain(p.corpus);
    for (const p of PRESETS) expect(validateConfig({ ...p.model, vocabSize: 65 }, p.train)).toEqual([]);
  });

  it('Induction trains a 2-layer attention model on the repeat task, whose lines fit its context', () => {
    const p = byId('induction');
    expect(p.label).toBe('Induction (2 layers, attention-heavy)');
    expect(p.model).toMatchObject({ nLayer: 2, nHead: 4, dropout: 0 });
    expect(p.train.learningRate).toBeGreaterThanOrEqual(1e-3);
    expect(p.train.learningRate).toBeLessThanOrEqual(3e-3);
    expect(p.toy?.kind).toBe('repeat');
    // Two copies and the newline before them fit one window.
    expect(longestToyLine(p.toy!) + 1).toBeLessThanOrEqual(p.model.blockSize);
    const made = toyTask(p.toy!, p.model.blockSize);
    expect('problem' in made).toBe(false);
    if ('problem' in made) return;
    expect(new Set(made.text).size).toBe(p.toy!.alphabet + 1); // the letters and the newline
    // Strings of one length: the copy jumps quickly (a varying length is the Dataset tab's option).
    expect(new Set(made.text.split('\n').filter(Boolean).map((l) => l.length))).toEqual(new Set([2 * p.toy!.length]));
    expect(validateConfig({ ...p.model, vocabSize: p.toy!.alphabet + 1 }, p.train)).toEqual([]);
  });
});

describe('the LLaMA-style preset', () => {
  it("is the Tiny preset's size with LLaMA's block, and says what that block is", () => {
    const p = byId('llama-tiny');
    const tiny = byId('tiny');
    expect(p.label).toBe('LLaMA-style (Tiny)');
    expect(p.model).toMatchObject({ block: 'llama', nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 48, blockSize: 32, dropout: 0 });
    expect(p.train).toEqual(tiny.train);
    expect(p.corpus).toBe(tiny.corpus);
    for (const word of ['RMSNorm', 'rotary', 'SwiGLU', 'grouped-query']) expect(p.description).toContain(word);
    // The default intermediate size it names: 8 * 48 / 3 = 128.
    const c = { ...p.model, vocabSize: 65 };
    expect(p.description).toContain(String(intermediateSize(c)));
    expect(validateConfig(c, p.train)).toEqual([]);
    // 4 query heads of 12 over 2 key/value heads: q is 48 wide, k and v 24 each; gate, up and down are 48 x 128.
    const perLayer = 48 + 48 * (48 + 24 + 24) + 48 * 48 + 48 + 3 * 48 * 128;
    expect(paramCount(c)).toBe(65 * 48 + 2 * perLayer + 48 + 48 * 65);
  });
});

describe('Tiny Shakespeare is built in', () => {
  it('ships the char-rnn input.txt unchanged, served from the app\'s own origin', () => {
    const shipped = readFileSync(resolve(__dirname, '../../public/data/tinyshakespeare.txt'));
    const original = readFileSync(resolve(__dirname, '../../../shared/data/tinyshakespeare/input.txt'));
    expect(createHash('sha256').update(shipped).digest('hex')).toBe('86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed');
    expect(shipped.equals(original)).toBe(true);
    const r = checkCorpusBytes('Tiny Shakespeare', new Uint8Array(shipped), 257);
    expect(r.ok && [r.stats.chars, r.stats.vocab.length, r.stats.trainChars, r.stats.valChars]).toEqual([1115394, 65, 1003854, 111540]);
    const entry = BUILTIN_CORPORA.find((c) => c.id === 'tiny-shakespeare')!;
    expect(entry.label).toBe('Tiny Shakespeare');
    expect(entry.urls).toEqual(['/data/tinyshakespeare.txt']);
  });
});
