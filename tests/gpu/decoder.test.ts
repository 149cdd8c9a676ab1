// The KV-cache decoder against the model's full forward: after every pushed
// token its logits equal logits(prefix) (bias / no bias, relu / gelu, tied /
// untied); dispose frees its buffers; a decoder made after a training step
// sees the new weights; a full cache refuses more tokens.
import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN, type ModelConfig } from '../../src/model/config';
import { GptModel, stepHyper } from '../../src/model/gpt';
import { initParams, paramLayout, type ParamLayout } from '../../src/model/layout';
import { randInts } from '../reference/random';
import { checked, testGpu } from './context';

const base: ModelConfig = {
  nLayer: 2, nHead: 2, nEmbd: 32, blockSize: 16, vocabSize: 29, dropout: 0, bias: true, tieWeights: false, activation: 'relu',
};
const TOL = 1e-5; // relative to the largest |logit|

/** nanoGPT's init plus noise on the LayerNorms and biases so every path matters. */
function params(layout: ParamLayout, seed: number): Float32Array {
  const p = initParams(layout, seed);
  const noise = initParams(layout, seed + 1);
  for (const t of layout.tensors) {
    if (t.decay) continue;
    for (let i = 0; i < t.size; i++) p[t.offset + i] += 5 * noise[(t.offset + i * 7) % layout.decayCount];
  }
  return p;
}

/** max |got - want| / max |want| */
function relMaxDiff(got: Float32Array, want: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return diff / scale;
}

/** Push every token of `ids` and compare each push's logits with the full forward over the prefix. */
async function decodeAgainstForward(model: GptModel, ids: Int32Array): Promise<number> {
  const dec = model.decoder();
  let worst = 0;
  for (let t = 0; t < ids.length; t++) {
    const got = await dec.push(ids[t]);
    expect(dec.length).toBe(t + 1);
    const want = await model.logits(ids.subarray(0, t + 1));
    expect(got.length).toBe(model.config.vocabSize);
    expect(got.every(Number.isFinite)).toBe(true);
    worst = Math.max(worst, relMaxDiff(got, want));
  }
  dec.dispose();
  return worst;
}

describe('KV-cache decoder vs the full forward', () => {
  const variants: Array<[string, ModelConfig]> = [
    ['bias, untied, relu, 2 heads x 16', base],
    ['no bias, tied, gelu, 4 heads x 12', { ...base, nEmbd: 48, nHead: 4, bias: false, tieWeights: true, activation: 'gelu', vocabSize: 31 }],
    ['bias, tied, gelu, 3 heads x 16, dropout (off in decoding)', { ...base, nEmbd: 48, nHead: 3, tieWeights: true, activation: 'gelu', dropout: 0.2 }],
    ['no bias, untied, relu, 4 heads x 8', { ...base, nHead: 4, bias: false }],
  ];
  variants.forEach(([label, cfg], k) => {
    it(`logits after every push: ${label}`, async () => {
      const { gpu } = await testGpu();
      const worst = await checked(gpu, async () => {
        const model = new GptModel(gpu, cfg, 1, { params: params(paramLayout(cfg), 21 + k) });
        const w = await decodeAgainstForward(model, randInts(cfg.blockSize, cfg.vocabSize, 40 + k));
        model.destroy();
        return w;
      });
      console.log(`[decoder] ${label}: ${cfg.blockSize} pushes, maxdiff ${worst.toExponential(2)} of max |logit|`);
      expect(worst).toBeLessThan(TOL);
    });
  });

  it('dispose frees every buffer; a full cache refuses another token; a disposed decoder refuses pushes', async () => {
    const { gpu } = await testGpu();
    await checked(gpu, async () => {
      const model = new GptModel(gpu, base, 1, { params: params(paramLayout(base), 3) });
      await model.logits(Int32Array.of(1)); // any lazily made shared buffers exist before counting
      const before = gpu.liveBuffers();
      const dec = model.decoder();
      expect(gpu.liveBuffers().count).toBeGreaterThan(before.count);
      const cacheBytes = 2 * base.nLayer * base.blockSize * base.nEmbd * 4;
      expect(gpu.liveBuffers().bytes - before.bytes).toBeGreaterThanOrEqual(cacheBytes);
      for (const id of randInts(base.blockSize, base.vocabSize, 8)) await dec.push(id);
      await expect(dec.push(0)).rejects.toThrow(/full/);
      await expect(dec.push(base.vocabSize)).rejects.toThrow(/vocabulary/);
      dec.dispose();
      expect(gpu.liveBuffers()).toEqual(before);
      await expect(dec.push(0)).rejects.toThrow(/disposed/);
      dec.dispose(); // twice is harmless

      // Destroying the model disposes its live decoders too.
      const live = model.decoder();
      await live.push(2);
      model.destroy();
      await expect(live.push(3)).rejects.toThrow(/disposed/);
    });
  });

  it('a decoder made after a training step sees the new weights', async () => {
    const { gpu } = await testGpu();
    const cfg = { ...base, nHead: 4, activation: 'gelu' as const };
    const B = 2;
    const worst = await checked(gpu, async () => {
      const model = new GptModel(gpu, cfg, B, { params: params(paramLayout(cfg), 9) });
      const ids = randInts(cfg.blockSize, cfg.vocabSize, 77);
      const stale = model.decoder();
      const before = await stale.push(ids[0]);

      const data = randInts(B * (cfg.blockSize + 1), cfg.vocabSize, 5);
      const x = new Int32Array(B * cfg.blockSize);
      const y = new Int32Array(B * cfg.blockSize);
      for (let r = 0; r < B; r++) {
        const row = data.subarray(r * (cfg.blockSize + 1), (r + 1) * (cfg.blockSize + 1));
        x.set(row.subarray(0, cfg.blockSize), r * cfg.blockSize);
        y.set(row.subarray(1), r * cfg.blockSize);
      }
      await model.step({ x, y }, { ...stepHyper(DEFAULT_TRAIN, 0), lr: 1e-2 });

      const after = await model.logits(ids.subarray(0, 1));
      expect(relMaxDiff(before, after)).toBeGreaterThan(1e-3); // the step changed the logits
      stale.dispose();
      const w = await decodeAgainstForward(model, ids);
      model.destroy();
      return w;
    });
    console.log(`[decoder] after a training step: maxdiff ${worst.toExponential(2)} of max |logit|`);
    expect(worst).toBeLessThan(TOL);
  });
});
