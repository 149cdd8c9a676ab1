import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, DEFAULT_TRAIN, PRESETS, type ModelConfig, type TrainConfig } from '../../src/model/config';
import { allocationTable, bufferBytes, gradPartialFloats, minimumFloats, tableBytes } from '../../src/model/allocation';
import { memoryEstimate, paramCount, validateConfig } from '../../src/model/validate';
import { parseFixtureConfig } from '../reference/oracle';

const ORACLE = resolve(__dirname, '../../../shared/data/oracle');

/** The tensors of a safetensors file's header: name -> shape (header only, independent of src/). */
function headerShapes(path: string): { shapes: Map<string, number[]>; config: Record<string, unknown> } {
  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const shapes = new Map<string, number[]>();
  for (const [name, info] of Object.entries(header)) {
    if (name !== '__metadata__') shapes.set(name, (info as { shape: number[] }).shape);
  }
  const metadata = header.__metadata__ as Record<string, string>;
  return { shapes, config: JSON.parse(metadata.config) };
}

/** The fixture's nanoGPT GPTConfig fields as our ModelConfig (the reference's reading, plus dropout). */
function configOf(raw: Record<string, unknown>): ModelConfig {
  return { ...parseFixtureConfig(JSON.stringify(raw)), dropout: raw.dropout as number };
}

const baby: ModelConfig = { ...DEFAULT_MODEL, vocabSize: 65 };
const fields = (model: Partial<ModelConfig>, train: Partial<TrainConfig> = {}, opts = {}) =>
  validateConfig({ ...baby, ...model }, { ...DEFAULT_TRAIN, ...train }, opts).map((p) => p.field);

describe('paramCount', () => {
  for (const name of ['relu-untied', 'gelu-tied']) {
    it(`equals the numel sum of the ${name} fixture (tied lm_head counted once)`, () => {
      const { shapes, config } = headerShapes(resolve(ORACLE, `${name}.init.safetensors`));
      const cfg = configOf(config);
      let numel = 0;
      for (const [tensor, shape] of shapes) {
        if (cfg.tieWeights && tensor === 'lm_head.weight') continue;
        numel += shape.reduce((a, b) => a * b, 1);
      }
      expect(paramCount(cfg)).toBe(numel);
    });
  }

  it("matches nanoGPT's baby GPT by hand (V=65, C=192, T=128, L=6, bias, untied)", () => {
    // wte 65*192 = 12,480; wpe 128*192 = 24,576.
    // Per block: weights 12*C^2 = 12*36,864 = 442,368; linear biases 3C+C+4C+C = 9C = 1,728;
    // LayerNorm gains and biases 4C = 768; block total 444,864; six blocks 2,669,184.
    // ln_f 2C = 384; lm_head (untied, no bias) 12,480.
    // Total 12,480 + 24,576 + 2,669,184 + 384 + 12,480 = 2,719,104.
    expect(paramCount(baby)).toBe(2_719_104);
    expect(paramCount({ ...baby, tieWeights: true })).toBe(2_719_104 - 12_480);
    // Without bias: no linear biases (9C) nor LayerNorm biases (2C per block, C for ln_f).
    expect(paramCount({ ...baby, bias: false })).toBe(2_719_104 - 6 * (9 * 192 + 2 * 192) - 192);
  });
});

describe('memoryEstimate', () => {
  it('counts params, grads and both moments in the analytic minimum', () => {
    const est = memoryEstimate(baby, 32);
    expect(est.analyticMinimumBytes).toBeGreaterThan(16 * paramCount(baby));
    expect(est.totalBytes).toBeGreaterThanOrEqual(est.analyticMinimumBytes);
    // The largest buffer of the baby GPT at batch 32 is the logits (BT, V) or its gradient, d fch (BT, 4C),
    // or the partial sums of one block's weight gradients kept for its gradient reduce.
    const partials = gradPartialFloats(baby, 32 * 128);
    expect(partials).toBeGreaterThan(0);
    expect(est.largestBufferBytes).toBe(4 * Math.max(32 * 128 * 65, paramCount(baby), 32 * 128 * 4 * 192, partials));
  });

  it('grows linearly with the batch for the saved activations; scratch (split-K slices) grows with it', () => {
    const [a, b, c] = [8, 16, 24].map((B) => allocationTable(baby, B));
    expect(tableBytes(c, 'saved') - tableBytes(b, 'saved')).toBe(tableBytes(b, 'saved') - tableBytes(a, 'saved'));
    expect(tableBytes(b, 'saved')).toBeGreaterThan(tableBytes(a, 'saved'));
    expect(tableBytes(a, 'state')).toBe(tableBytes(c, 'state'));
    expect(tableBytes(c, 'scratch')).toBeGreaterThan(tableBytes(a, 'scratch'));
  });

  it('is the sum of the allocation table, one uniquely named entry per buffer', () => {
    const table = allocationTable(baby, 32);
    const est = memoryEstimate(baby, 32);
    expect(est.totalBytes).toBe(table.buffers.reduce((s, b) => s + bufferBytes(b.floats), 0));
    expect(new Set(table.buffers.map((b) => b.name)).size).toBe(table.buffers.length);
    expect(est.analyticMinimumBytes).toBe(4 * minimumFloats(baby, 32, paramCount(baby)));
  });

  it('the baby GPT at batch 32 takes at most 1.2x the analytic minimum (attention recomputed, nothing (T, T) stored)', () => {
    for (const dropout of [0, 0.1]) {
      const est = memoryEstimate({ ...baby, dropout }, 32);
      const mib = (x: number) => (x / 2 ** 20).toFixed(1);
      const ratio = est.totalBytes / est.analyticMinimumBytes;
      console.log(`[memory] baby GPT B=32 dropout ${dropout}: ${mib(est.totalBytes)} MiB allocated, analytic minimum ${mib(est.analyticMinimumBytes)} MiB (${ratio.toFixed(3)}x)`);
      expect(ratio).toBeLessThanOrEqual(1.2);
    }
  });
});

describe('validateConfig', () => {
  it('accepts every preset, with and without a vocabulary', () => {
    for (const preset of PRESETS) {
      expect(validateConfig(preset.model, preset.train)).toEqual([]);
      expect(validateConfig({ ...preset.model, vocabSize: 65 }, preset.train)).toEqual([]);
    }
  });

  it('rejects non-integer, zero, negative, NaN and huge shapes, one sentence each', () => {
    expect(fields({ nLayer: 2.5 })).toEqual(['nLayer']);
    expect(fields({ nLayer: 0 })).toEqual(['nLayer']);
    expect(fields({ nHead: -2 })).toEqual(['nHead']);
    expect(fields({ nEmbd: Number.NaN })).toEqual(['nEmbd']);
    expect(fields({ blockSize: Number.POSITIVE_INFINITY })).toEqual(['blockSize']);
    expect(fields({ nLayer: 1000 })).toEqual(['nLayer']);
    expect(fields({ nEmbd: 1 << 20, nHead: 1 })).toEqual(['nEmbd']);
    expect(fields({ nEmbd: 4096, nHead: 64 })).toEqual(['nEmbd']);
    expect(fields({ blockSize: 1e9 })).toEqual(['blockSize']);
    expect(fields({}, { batchSize: 1e6 })).toEqual(['batchSize']);
    expect(fields({}, { batchSize: 0 })).toEqual(['batchSize']);
    expect(fields({ nLayer: '6' as unknown as number })).toEqual(['nLayer']);
    for (const p of validateConfig({ ...baby, nLayer: 0 }, DEFAULT_TRAIN)) {
      expect(p.message).toMatch(/^[A-Z].*\.$/);
    }
  });

  it('rejects a width not divisible by the head count', () => {
    const problems = validateConfig({ ...baby, nEmbd: 100, nHead: 6 }, DEFAULT_TRAIN);
    expect(problems).toEqual([
      { field: 'nHead', message: 'The embedding width (100) must be divisible by the number of heads (6).' },
    ]);
  });

  it('rejects a head size over what the attention kernels support', () => {
    expect(fields({ nEmbd: 512, nHead: 2 })).toEqual(['nHead']);
    expect(fields({ nEmbd: 512, nHead: 4 })).toEqual([]);
  });

  it('rejects dropout outside [0, 1)', () => {
    expect(fields({ dropout: 1 })).toEqual(['dropout']);
    expect(fields({ dropout: -0.1 })).toEqual(['dropout']);
    expect(fields({ dropout: Number.NaN })).toEqual(['dropout']);
    expect(fields({ dropout: 0 })).toEqual([]);
    expect(fields({ dropout: 0.99 })).toEqual([]);
  });

  it('rejects a learning rate that is not positive or above 1', () => {
    expect(fields({}, { learningRate: 0 })).toEqual(['learningRate']);
    expect(fields({}, { learningRate: -1e-3 })).toEqual(['learningRate']);
    expect(fields({}, { learningRate: 2 })).toEqual(['learningRate']);
    expect(fields({}, { learningRate: Number.NaN })).toEqual(['learningRate']);
    expect(fields({}, { learningRate: 1 })).toEqual([]);
  });

  it('rejects other training fields out of range', () => {
    expect(fields({}, { beta1: 1 })).toEqual(['beta1']);
    expect(fields({}, { beta2: -0.5 })).toEqual(['beta2']);
    expect(fields({}, { eps: 0 })).toEqual(['eps']);
    expect(fields({}, { weightDecay: -1 })).toEqual(['weightDecay']);
    expect(fields({}, { gradClip: -1 })).toEqual(['gradClip']);
    expect(fields({}, { minLr: 1e-2 })).toEqual(['minLr']);
    expect(fields({}, { maxSteps: 0 })).toEqual(['maxSteps']);
    expect(fields({}, { seed: -1 })).toEqual(['seed']);
  });

  it('rejects a vocabulary whose embedding table exceeds the binding limit', () => {
    // 100,000 x 2048 floats = 781 MiB > 128 MiB; well under the caps on each factor.
    const problems = validateConfig({ ...baby, vocabSize: 100_000, nEmbd: 2048, nHead: 16 }, DEFAULT_TRAIN);
    expect(problems.map((p) => p.field)).toContain('vocabSize');
    expect(problems.find((p) => p.field === 'vocabSize')!.message).toMatch(/vocabulary of 100000 characters/);
  });

  it('rejects any buffer over maxStorageBufferBindingSize / maxBufferSize', () => {
    // Baby GPT at batch 32: logits (4096, 65) floats = 1.0 MiB, fch (4096, 768) = 12 MiB.
    expect(fields({}, {}, { maxStorageBufferBindingSize: 8 * 1024 * 1024 })).toEqual(['memory']);
    expect(fields({}, {}, { maxBufferSize: 8 * 1024 * 1024 })).toEqual(['memory']);
    expect(fields({}, {}, { maxStorageBufferBindingSize: 64 * 1024 * 1024 })).toEqual([]);
  });

  it('rejects a total over the memory budget', () => {
    const est = memoryEstimate(baby, 32);
    expect(fields({}, {}, { memoryBudgetBytes: est.totalBytes - 1 })).toEqual(['memory']);
    expect(fields({}, {}, { memoryBudgetBytes: est.totalBytes })).toEqual([]);
    // Everything at its cap: refused for memory, not allocated.
    const huge = validateConfig(
      { ...baby, nLayer: 48, nEmbd: 2048, nHead: 16, blockSize: 2048 },
      { ...DEFAULT_TRAIN, batchSize: 512 },
    );
    expect(huge.map((p) => p.field)).toContain('memory');
  });
});
