// The nanoGPT export loads where it claims: rebuilt from nothing but the file
// (GPTConfig's fields from its "config" metadata, nanoGPT's fixed GELU and
// tied embeddings, the tensors by name), the float64 reference computes the
// app's logits. A ReLU / untied model rebuilt the same way does not, which is
// why its nanoGPT export is refused.
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/model/config';
import { GptModel } from '../../src/model/gpt';
import { exportSafetensors } from '../../src/model/files';
import { initParams, paramLayout } from '../../src/model/layout';
import { readSafetensors } from '../../src/model/safetensors';
import { gptForward, type RefConfig, type Tensors } from '../reference/gpt';
import { checkRelMax } from '../reference/oracle';
import { randInts } from '../reference/random';
import { checked, testGpu } from './context';

const GPT_CONFIG_FIELDS = ['bias', 'block_size', 'dropout', 'n_embd', 'n_head', 'n_layer', 'vocab_size'];
const B = 2;

/** What nanoGPT's model.py builds from the file alone: GPT(GPTConfig(**config)) with the file's state_dict. */
function rebuild(bytes: Uint8Array): { cfg: RefConfig; P: Tensors } {
  const file = readSafetensors(bytes);
  const config = JSON.parse(file.metadata.config) as Record<string, number | boolean>;
  expect(Object.keys(config).sort()).toEqual(GPT_CONFIG_FIELDS);
  const cfg: RefConfig = {
    nLayer: config.n_layer as number,
    nHead: config.n_head as number,
    nEmbd: config.n_embd as number,
    blockSize: config.block_size as number,
    vocabSize: config.vocab_size as number,
    bias: config.bias as boolean,
    // nanoGPT's model.py: always GELU, lm_head always tied to wte.
    activation: 'gelu',
    tieWeights: true,
  };
  const P: Tensors = new Map();
  for (const [name, t] of file.tensors) P.set(name, Float64Array.from(t.data));
  return { cfg, P };
}

async function appLogits(cfg: ModelConfig, seed: number) {
  const { gpu } = await testGpu();
  const layout = paramLayout(cfg);
  const flat = initParams(layout, seed);
  // Noise on LayerNorms and biases, so every tensor of the file matters.
  for (const t of layout.tensors) if (!t.decay) for (let i = 0; i < t.size; i++) flat[t.offset + i] += 0.3 * Math.sin(7 * i + t.offset);
  const ids = randInts(B * (cfg.blockSize + 1), cfg.vocabSize, seed + 1);
  const x = new Int32Array(B * cfg.blockSize);
  const y = new Int32Array(B * cfg.blockSize);
  for (let r = 0; r < B; r++) {
    x.set(ids.subarray(r * (cfg.blockSize + 1), r * (cfg.blockSize + 1) + cfg.blockSize), r * cfg.blockSize);
    y.set(ids.subarray(r * (cfg.blockSize + 1) + 1, (r + 1) * (cfg.blockSize + 1)), r * cfg.blockSize);
  }
  const got = await checked(gpu, async () => {
    const model = new GptModel(gpu, cfg, B, { params: flat });
    const r = await model.inspect({ x, y });
    const state = await model.readState();
    model.destroy();
    return { logits: r.logits, params: state.params };
  });
  const vocab = Array.from({ length: cfg.vocabSize }, (_, i) => String.fromCharCode(97 + i));
  return { ...got, bytes: exportSafetensors(layout, got.params, vocab), x, y };
}

describe('the nanoGPT export', () => {
  it("rebuilt with only GPTConfig's fields plus GELU and tied embeddings, gives the app's logits", async () => {
    const cfg: ModelConfig = { nLayer: 2, nHead: 3, nEmbd: 18, blockSize: 7, vocabSize: 11, dropout: 0.1, bias: false, tieWeights: true, activation: 'gelu' };
    const app = await appLogits(cfg, 21);
    const { cfg: rebuilt, P } = rebuild(app.bytes);
    const ref = gptForward(rebuilt, P, app.x, app.y, B, rebuilt.blockSize);
    const check = checkRelMax('logits', app.logits, ref.logits);
    console.log(`[nanogpt export] GELU, tied: ${check.line}`);
    expect(check.ok).toBe(true);
  });

  it('a ReLU, untied model rebuilt the same way computes something else (so its nanoGPT export is refused)', async () => {
    const cfg: ModelConfig = { nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 6, vocabSize: 9, dropout: 0, bias: true, tieWeights: false, activation: 'relu' };
    const app = await appLogits(cfg, 5);
    const { cfg: rebuilt, P } = rebuild(app.bytes);
    const ref = gptForward(rebuilt, P, app.x, app.y, B, rebuilt.blockSize);
    let diff = 0;
    for (let i = 0; i < ref.logits.length; i++) diff = Math.max(diff, Math.abs(ref.logits[i] - app.logits[i]));
    console.log(`[nanogpt export] ReLU, untied, read as nanoGPT: max |diff| ${diff.toExponential(2)}`);
    expect(diff).toBeGreaterThan(1e-2);
  });
});
