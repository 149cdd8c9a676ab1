import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, type ModelConfig } from '../../src/model/config';
import { exportSafetensors, importSafetensors } from '../../src/model/files';
import { GPU_ALIGN_FLOATS, gpuToPacked, initParams, packedToGpu, paramLayout } from '../../src/model/layout';
import { readSafetensors, writeSafetensors } from '../../src/model/safetensors';
import { paramCount } from '../../src/model/validate';

const ORACLE = resolve(__dirname, '../../../shared/data/oracle');
const fixture = (name: string) => new Uint8Array(readFileSync(resolve(ORACLE, name)));

const small: ModelConfig = { ...DEFAULT_MODEL, nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 8, vocabSize: 11 };

describe('parameter layout', () => {
  for (const [label, cfg] of [
    ['bias, untied', small],
    ['no bias, tied', { ...small, bias: false, tieWeights: true }],
  ] as Array<[string, ModelConfig]>) {
    it(`tiles the flat buffer with nanoGPT names, decayed tensors first (${label})`, () => {
      const layout = paramLayout(cfg);
      expect(layout.total).toBe(paramCount(cfg));
      let offset = 0;
      for (const t of layout.tensors) {
        expect(t.offset).toBe(offset);
        expect(t.size).toBe(t.shape.reduce((a, b) => a * b, 1));
        expect(t.decay).toBe(t.shape.length >= 2);
        expect(t.decay).toBe(t.offset < layout.decayCount);
        offset += t.size;
      }
      expect(offset).toBe(layout.total);
      const C = cfg.nEmbd;
      expect(layout.byName.get('transformer.wte.weight')!.shape).toEqual([cfg.vocabSize, C]);
      expect(layout.byName.get('transformer.wpe.weight')!.shape).toEqual([cfg.blockSize, C]);
      expect(layout.byName.get('transformer.h.1.attn.c_attn.weight')!.shape).toEqual([3 * C, C]);
      expect(layout.byName.get('transformer.h.1.mlp.c_proj.weight')!.shape).toEqual([C, 4 * C]);
      expect(layout.byName.has('lm_head.weight')).toBe(!cfg.tieWeights);
      expect(layout.byName.has('transformer.h.0.ln_1.bias')).toBe(cfg.bias);
      expect(layout.byName.has('transformer.h.0.attn.c_attn.bias')).toBe(cfg.bias);
    });

    it(`places every tensor at a 256-byte-aligned GPU offset, in the same order, and round-trips packed <-> GPU (${label})`, () => {
      const layout = paramLayout(cfg);
      let end = 0;
      for (const t of layout.tensors) {
        expect(t.gpuOffset % GPU_ALIGN_FLOATS).toBe(0);
        expect(t.gpuOffset).toBeGreaterThanOrEqual(end); // no overlap
        expect(t.gpuOffset - end).toBeLessThan(GPU_ALIGN_FLOATS); // gaps are padding only
        expect(t.decay).toBe(t.gpuOffset < layout.gpuDecayCount);
        end = t.gpuOffset + t.size;
      }
      expect(layout.gpuTotal % GPU_ALIGN_FLOATS).toBe(0);
      expect(layout.gpuTotal - end).toBeLessThan(GPU_ALIGN_FLOATS);
      expect(layout.gpuDecayCount % GPU_ALIGN_FLOATS).toBe(0);
      // The small config's 16-wide vectors need padding, so the two layouts really differ.
      expect(layout.gpuTotal).toBeGreaterThan(layout.total);

      const packed = initParams(layout, 5);
      const aligned = packedToGpu(layout, packed);
      expect(aligned.length).toBe(layout.gpuTotal);
      for (const t of layout.tensors) {
        expect(aligned.subarray(t.gpuOffset, t.gpuOffset + t.size)).toEqual(packed.subarray(t.offset, t.offset + t.size));
      }
      const inTensor = new Uint8Array(layout.gpuTotal);
      for (const t of layout.tensors) inTensor.fill(1, t.gpuOffset, t.gpuOffset + t.size);
      expect(aligned.every((v, i) => inTensor[i] === 1 || v === 0)).toBe(true); // padding is zero
      expect(gpuToPacked(layout, aligned)).toEqual(packed);
      expect(() => packedToGpu(layout, new Float32Array(3))).toThrow(/Expected \d+ packed values, got 3/);
      expect(() => gpuToPacked(layout, packed)).toThrow(/GPU-layout values/);
    });
  }

  it('has the same tensor names and shapes as the PyTorch fixtures', () => {
    for (const name of ['relu-untied', 'gelu-tied']) {
      const f = readSafetensors(fixture(`${name}.init.safetensors`));
      const { layout } = importSafetensors(f);
      const fromFile = [...f.tensors.keys()].filter((n) => !(layout.config.tieWeights && n === 'lm_head.weight')).sort();
      expect(layout.tensors.map((t) => t.name).sort()).toEqual(fromFile);
      for (const t of layout.tensors) expect(t.shape).toEqual(f.tensors.get(t.name)!.shape);
    }
  });
});

describe("nanoGPT's init", () => {
  it('draws N(0, 0.02), c_proj N(0, 0.02/sqrt(2L)), zero biases and unit LayerNorm gains, reproducibly', () => {
    const cfg = { ...small, nEmbd: 64, nLayer: 4, vocabSize: 50 };
    const layout = paramLayout(cfg);
    const p = initParams(layout, 7);
    const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => x === b[i]);
    expect(same(initParams(layout, 7), p)).toBe(true);
    expect(same(initParams(layout, 8), p)).toBe(false);
    const std = (name: string) => {
      const t = layout.byName.get(name)!;
      let s = 0;
      for (let i = 0; i < t.size; i++) s += p[t.offset + i] ** 2;
      return Math.sqrt(s / t.size);
    };
    expect(std('transformer.h.0.mlp.c_fc.weight')).toBeCloseTo(0.02, 3);
    expect(std('transformer.wte.weight')).toBeCloseTo(0.02, 2);
    expect(std('transformer.h.2.mlp.c_proj.weight')).toBeCloseTo(0.02 / Math.sqrt(8), 3);
    expect(std('transformer.h.1.attn.c_proj.weight')).toBeCloseTo(0.02 / Math.sqrt(8), 3);
    expect(std('transformer.h.3.attn.c_attn.bias')).toBe(0);
    const ln = layout.byName.get('transformer.ln_f.weight')!;
    expect(Array.from(p.subarray(ln.offset, ln.offset + ln.size)).every((v) => v === 1)).toBe(true);
  });
});

describe('safetensors import / export', () => {
  it('imports the fixtures with their config and vocab', () => {
    const tied = importSafetensors(fixture('gelu-tied.init.safetensors'));
    expect(tied.layout.config).toEqual({
      nLayer: 2, nHead: 4, nEmbd: 48, blockSize: 24, vocabSize: 58, dropout: 0, bias: true, tieWeights: true, activation: 'gelu',
    });
    expect(tied.vocab[0]).toBe('\n');
    expect(tied.adam).toBeNull();
    const f = readSafetensors(fixture('gelu-tied.init.safetensors'));
    const t = tied.layout.byName.get('transformer.h.1.mlp.c_fc.weight')!;
    expect(tied.params.subarray(t.offset, t.offset + t.size)).toEqual(f.tensors.get(t.name)!.data);
  });

  it('round-trips params, vocab and AdamW state, writing lm_head too when tied', () => {
    const cfg = { ...small, tieWeights: true };
    const layout = paramLayout(cfg);
    const params = initParams(layout, 1);
    const m = initParams(layout, 2);
    const v = initParams(layout, 3).map(Math.abs);
    const vocab = 'abcdefghijk'.split('');
    const bytes = exportSafetensors(layout, params, vocab, { m, v, step: 42 });
    const file = readSafetensors(bytes);
    expect(file.tensors.get('lm_head.weight')!.data).toEqual(file.tensors.get('transformer.wte.weight')!.data);
    expect(JSON.parse(file.metadata.config).n_embd).toBe(16);
    const back = importSafetensors(bytes);
    expect(back.layout.config).toEqual(cfg);
    expect(back.params).toEqual(params);
    expect(back.vocab).toEqual(vocab);
    expect(back.adam!.step).toBe(42);
    expect(back.adam!.m).toEqual(m);
    expect(back.adam!.v).toEqual(v);
    expect(importSafetensors(exportSafetensors(layout, params, vocab)).adam).toBeNull();
  });

  it('rejects names and shapes that do not fit the config, with a sentence', () => {
    const layout = paramLayout(small);
    const params = initParams(layout, 1);
    const vocab = 'abcdefghijk'.split('');
    const good = readSafetensors(exportSafetensors(layout, params, vocab));
    const edit = (fn: (t: Map<string, { shape: number[]; data: Float32Array }>, meta: Record<string, string>) => void) => {
      const tensors = new Map([...good.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data as Float32Array }]));
      const meta = { ...good.metadata };
      fn(tensors, meta);
      return () => importSafetensors(writeSafetensors(tensors, meta));
    };
    expect(edit((t) => t.set('transformer.h.5.ln_1.weight', { shape: [16], data: new Float32Array(16) }))).toThrow(
      /tensor "transformer.h.5.ln_1.weight" that this model config does not have/,
    );
    expect(edit((t) => t.delete('transformer.h.1.ln_2.bias'))).toThrow(/missing the tensor "transformer.h.1.ln_2.bias"/);
    expect(edit((t) => t.set('transformer.wpe.weight', { shape: [16, 8], data: new Float32Array(128) }))).toThrow(
      /"transformer.wpe.weight" has shape \[16, 8\] but the config needs \[8, 16\]/,
    );
    expect(edit((_, m) => delete m.config)).toThrow(/no "config" metadata/);
    expect(
      edit((t) => {
        const w = Float32Array.from(t.get('transformer.h.0.mlp.c_fc.weight')!.data);
        w[17] = Number.NaN;
        t.set('transformer.h.0.mlp.c_fc.weight', { shape: [64, 16], data: w });
      }),
    ).toThrow(/NaN or infinite values in 1 tensor\(s\) \("transformer.h.0.mlp.c_fc.weight"\)/);
    expect(edit((_, m) => (m.config = m.config.replace('"n_head":2', '"n_head":3')))).toThrow(/divisible by the number of heads/);
    expect(edit((_, m) => (m.config = m.config.replace('"n_layer":2', '"n_layer":100000')))).toThrow(/at most 48/);
    expect(edit((_, m) => (m.vocab = '["a"]'))).toThrow(/vocabulary has 1 characters but its config says 11/);
    const tied = { ...small, tieWeights: true };
    const tiedFile = readSafetensors(exportSafetensors(paramLayout(tied), initParams(paramLayout(tied), 1), vocab));
    const tensors = new Map([...tiedFile.tensors].map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(t.data) }]));
    tensors.get('lm_head.weight')!.data[3] += 1;
    expect(() => importSafetensors(writeSafetensors(tensors, tiedFile.metadata))).toThrow(/different values/);
  });
});
