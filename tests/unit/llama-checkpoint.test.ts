// Our own checkpoint file (.checkpoint.safetensors, weights + AdamW moments)
// for a LLaMA-style run: the architecture metadata carries the block and its
// fields, so the import rebuilds the same LLaMA config and every tensor.
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/model/config';
import { ARCHITECTURE_KEY, exportSafetensors, importSafetensors, nanoGptComputes } from '../../src/model/files';
import { initParams, paramLayout } from '../../src/model/layout';
import { readSafetensors, writeSafetensors } from '../../src/model/safetensors';

const llama = (patch: Partial<ModelConfig> = {}): ModelConfig => ({
  block: 'llama', nLayer: 2, nHead: 6, nKvHead: 2, nEmbd: 36, ffnHidden: 52, blockSize: 13, vocabSize: 11,
  ropeTheta: 5000, rmsNormEps: 1e-6, tieWeights: false, dropout: 0, bias: false, activation: 'gelu', ...patch,
});
const vocab = 'abcdefghij\n'.split('');

function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

describe('LLaMA checkpoints in our safetensors format', () => {
  for (const tie of [false, true]) {
    it(`round-trips the config, weights and AdamW moments (${tie ? 'tied' : 'untied'})`, () => {
      const config = llama({ tieWeights: tie });
      const layout = paramLayout(config);
      const params = initParams(layout, 7);
      const m = random(layout.total, 3);
      const v = random(layout.total, 5).map(Math.abs);
      const bytes = exportSafetensors(layout, params, vocab, { m, v, step: 17 });
      const file = readSafetensors(bytes);
      expect(JSON.parse(file.metadata[ARCHITECTURE_KEY]!)).toMatchObject({ block: 'llama', n_kv_head: 2, ffn_hidden: 52, rope_theta: 5000, rms_norm_eps: 1e-6 });
      expect(file.tensors.has('model.embed_tokens.weight')).toBe(true);
      expect(file.tensors.has('lm_head.weight')).toBe(true);
      const back = importSafetensors(bytes);
      expect(back.layout.config).toEqual(config);
      expect(back.layout.total).toBe(layout.total);
      expect(back.params).toEqual(params);
      expect(back.adam?.m).toEqual(m);
      expect(back.adam?.v).toEqual(v);
      expect(back.adam?.step).toBe(17);
      expect(back.vocab).toEqual(vocab);
    });
  }

  it('fills absent LLaMA fields with their defaults and refuses an unknown block', () => {
    const config = llama({ nKvHead: undefined, ffnHidden: undefined, ropeTheta: undefined, rmsNormEps: undefined });
    const back = importSafetensors(exportSafetensors(paramLayout(config), initParams(paramLayout(config), 1), vocab));
    // 8 * 36 / 3 = 96, a multiple of 8 already.
    expect(back.layout.config).toMatchObject({ block: 'llama', nKvHead: 6, ffnHidden: 96, ropeTheta: 10000, rmsNormEps: 1e-5 });
    const file = readSafetensors(exportSafetensors(paramLayout(config), initParams(paramLayout(config), 1), vocab));
    const tensors: Array<[string, { shape: number[]; data: Float32Array }]> = [...file.tensors].map(([n, t]) => [n, { shape: t.shape, data: Float32Array.from(t.data) }]);
    const meta = { ...file.metadata, [ARCHITECTURE_KEY]: JSON.stringify({ block: 'mamba' }) };
    expect(() => importSafetensors(writeSafetensors(tensors, meta))).toThrow(/block "mamba"/);
  });

  it('a LLaMA run is never one nanoGPT computes', () => {
    expect(nanoGptComputes({ block: 'llama', activation: 'gelu', tieWeights: true })).toBe(false);
    expect(nanoGptComputes({ activation: 'gelu', tieWeights: true })).toBe(true);
  });
});
