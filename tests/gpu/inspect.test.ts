// The inspection probe (GptModel.probe) against the float64 reference GPT:
// the logit lens after every block, per-position losses, attention and the head
// scores computed from it, on a small random model at awkward sizes; and the
// lens's last layer against the PyTorch fixtures' step-0 logits.
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/model/config';
import { GptModel } from '../../src/model/gpt';
import { headScores, inductionProbe, inductionScores } from '../../src/model/inspect';
import { importSafetensors } from '../../src/model/files';
import { initParams, paramLayout, type ParamLayout } from '../../src/model/layout';
import { gptForward, logitLens, positionLosses, type Tensors } from '../reference/gpt';
import { FIXTURES, checkRelMax, loadFixture, type Check } from '../reference/oracle';
import { randInts } from '../reference/random';
import { checked, testGpu } from './context';

function named(layout: ParamLayout, flat: Float32Array): Tensors {
  return new Map(layout.tensors.map((t) => [t.name, Float64Array.from(flat.subarray(t.offset, t.offset + t.size))]));
}

/** nanoGPT's init plus noise on LayerNorms and biases, so every path matters. */
function params(layout: ParamLayout, seed: number): Float32Array {
  const p = initParams(layout, seed);
  const noise = initParams(layout, seed + 1);
  for (const t of layout.tensors) {
    if (t.decay) continue;
    for (let i = 0; i < t.size; i++) p[t.offset + i] += 5 * noise[(t.offset + i * 7) % layout.decayCount];
  }
  // Larger weights than at init, so attention is far from uniform and the scores differ per head.
  for (let i = 0; i < layout.decayCount; i++) p[i] *= 8;
  return p;
}

const flat = (rows: number[][]) => rows.flat();

describe('inspection probe vs the float64 reference', () => {
  const cfg: ModelConfig = {
    nLayer: 2, nHead: 2, nEmbd: 20, blockSize: 11, vocabSize: 13, dropout: 0, bias: true, tieWeights: false, activation: 'gelu',
  };

  it('logit lens of every block, per-position losses, attention and head scores', async () => {
    const { gpu } = await testGpu();
    const layout = paramLayout(cfg);
    const w = params(layout, 21);
    const T = 9; // shorter than the context
    const ids = randInts(T, cfg.vocabSize, 3);
    const probe = inductionProbe(cfg.vocabSize, 5); // T = 10
    const [got, gotInd] = await checked(gpu, async () => {
      const model = new GptModel(gpu, cfg, 2, { params: w });
      const a = await model.probe(ids);
      const b = await model.probe(probe);
      const last = await model.logits(ids);
      model.destroy();
      return [{ ...a, last }, b] as const;
    });
    const P = named(layout, w);
    const { nLayer: L, nHead: NH, vocabSize: V } = cfg;
    const y = Int32Array.from({ length: T }, (_, t) => (t + 1 < T ? ids[t + 1] : 0));
    const fwd = gptForward(cfg, P, ids, y, 1, T);
    const lens = logitLens(cfg, P, fwd);
    const checks: Check[] = lens.map((want, l) => checkRelMax(`lens layer ${l}`, got.lens.subarray(l * T * V, (l + 1) * T * V), want));
    checks.push(checkRelMax('lens last layer = reference logits', got.lens.subarray((L - 1) * T * V), fwd.logits));
    checks.push(checkRelMax('losses', got.losses, positionLosses(fwd, V).subarray(0, T - 1)));
    checks.push(checkRelMax('attention', got.att, Float64Array.from(fwd.att.flatMap((a) => Array.from(a)))));
    const refScores = headScores(Float64Array.from(fwd.att.flatMap((a) => Array.from(a))), L, NH, T);
    const gpuScores = headScores(got.att, L, NH, T);
    checks.push(checkRelMax('head scores (previous, first, self)', flat(gpuScores.flat().map((s) => [s.previous, s.first, s.self])), flat(refScores.flat().map((s) => [s.previous, s.first, s.self]))));
    const indFwd = gptForward(cfg, P, probe, null, 1, probe.length);
    checks.push(checkRelMax('induction scores', flat(inductionScores(gotInd.att, L, NH, 5)), flat(inductionScores(Float64Array.from(indFwd.att.flatMap((a) => Array.from(a))), L, NH, 5))));
    console.log(`[gpu inspect]\n${checks.map((c) => `  ${c.line}`).join('\n')}`);
    expect(got.losses.length).toBe(T - 1);
    // The lens's last layer is the model's own prediction, as the prompt forward gives it.
    expect(Array.from(got.lens.subarray(((L - 1) * T + T - 1) * V, L * T * V))).toEqual(Array.from(got.last));
    // The layers differ from one another (the lens is not one matrix copied).
    expect(Math.abs(got.lens[0] - got.lens[T * V])).toBeGreaterThan(1e-4);
    expect(checks.filter((c) => !c.ok).map((c) => c.line)).toEqual([]);
  });

  it('rejects a prompt longer than the context, or empty', async () => {
    const { gpu } = await testGpu();
    const model = new GptModel(gpu, cfg, 1, { params: initParams(paramLayout(cfg), 1) });
    await expect(model.probe(new Int32Array(12))).rejects.toThrow(/1 to 11 tokens/);
    await expect(model.probe(new Int32Array(0))).rejects.toThrow(/1 to 11 tokens/);
    model.destroy();
  });
});

describe('logit lens vs PyTorch', () => {
  for (const name of FIXTURES) {
    it(`${name}: the lens's last layer equals the fixture's step-0 logits`, async () => {
      const { gpu } = await testGpu();
      const fx = loadFixture(name);
      const { B, T } = fx;
      const imported = importSafetensors(fx.initBytes);
      const { config } = imported.layout;
      const V = config.vocabSize;
      const b = B - 1; // the last sequence of the first batch
      const ids = fx.x.slice(b * T, (b + 1) * T);
      const lens = await checked(gpu, async () => {
        const model = new GptModel(gpu, config, 1, { params: imported.params });
        const r = await model.probe(ids);
        model.destroy();
        return r.lens;
      });
      const c = checkRelMax(`${name} lens[L-1] vs logits0[${b}]`, lens.subarray((config.nLayer - 1) * T * V), fx.logits0.subarray(b * T * V, (b + 1) * T * V));
      console.log(`[gpu inspect] ${c.line}`);
      expect(c.ok).toBe(true);
    });
  }
});

describe('training health of a model step', () => {
  it('per-tensor gradient, weight and update sums equal those of the gradients and the weights before and after', async () => {
    const { gpu } = await testGpu();
    const cfg: ModelConfig = {
      nLayer: 2, nHead: 2, nEmbd: 20, blockSize: 11, vocabSize: 13, dropout: 0, bias: true, tieWeights: true, activation: 'relu',
    };
    const layout = paramLayout(cfg);
    const B = 2;
    const ids = randInts(B * 12, cfg.vocabSize, 4);
    const x = new Int32Array(B * 11);
    const y = new Int32Array(B * 11);
    for (let b = 0; b < B; b++) {
      x.set(ids.subarray(b * 12, b * 12 + 11), b * 11);
      y.set(ids.subarray(b * 12 + 1, b * 12 + 12), b * 11);
    }
    const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, gradClip: 1, t: 1, dropoutSeed: 0 };
    const got = await checked(gpu, async () => {
      const model = new GptModel(gpu, cfg, B, { params: initParams(layout, 5) });
      await model.step({ x, y }, hyper); // moments no longer zero
      const before = await model.readState();
      const { grads } = await model.inspect({ x, y });
      const r = await model.step({ x, y }, { ...hyper, t: 2, health: true });
      const after = await model.readState();
      const plain = await model.step({ x, y }, { ...hyper, t: 3 });
      model.destroy();
      return { before: before.params, after: after.params, grads, health: r.health!, plain };
    });
    expect(got.plain.health).toBeUndefined();
    const want = (k: number) =>
      layout.tensors.map((t) => {
        let s = 0;
        for (let i = t.offset; i < t.offset + t.size; i++) {
          const d = k === 0 ? got.grads[i] : k === 1 ? got.before[i] : got.after[i] - got.before[i];
          s += d * d;
        }
        return s;
      });
    const checks = ['grad', 'weight', 'update'].map((label, k) =>
      checkRelMax(`health ${label} sums`, layout.tensors.map((_, t) => got.health[4 * t + k]), want(k), k === 2 ? 1e-3 : 1e-5),
    );
    console.log(`[gpu inspect]\n${checks.map((c) => `  ${c.line}`).join('\n')}`);
    expect(got.health.length).toBe(4 * layout.tensors.length);
    expect(checks.filter((c) => !c.ok).map((c) => c.line)).toEqual([]);
  });
});
