// The GPU model on small configs against the float64 reference GPT: logits,
// loss and every gradient (with and without bias / tying / dropout), the
// prompt forward's attention maps and last logits, eval, state round trips,
// the step's readback and the memory figure.
import { describe, expect, it } from 'vitest';
import { dropoutMaskCpu } from '../../src/kernels/dropout';
import type { EngineModel } from '../../src/engine/model';
import { DEFAULT_TRAIN, type ModelConfig } from '../../src/model/config';
import { ATTENTION_DROPOUT_SALT, GptModel, stepHyper } from '../../src/model/gpt';
import { initParams, paramLayout, type ParamLayout } from '../../src/model/layout';
import { memoryEstimate } from '../../src/model/validate';
import { allocationTable, tableBytes } from '../../src/model/allocation';
import { loraLayout } from '../../src/model/lora';
import { attentionDropoutSalt, gptBackward, gptForward, type Dropout, type Tensors } from '../reference/gpt';
import { randInts } from '../reference/random';
import { checkRelMax, type Check } from '../reference/oracle';
import { checked, testGpu } from './context';

const base: ModelConfig = {
  nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 8, vocabSize: 13, dropout: 0, bias: true, tieWeights: false, activation: 'relu',
};
const B = 3;

/** Flat float32 parameters -> the reference's named float64 tensors. */
function named(layout: ParamLayout, flat: Float32Array): Tensors {
  return new Map(layout.tensors.map((t) => [t.name, Float64Array.from(flat.subarray(t.offset, t.offset + t.size))]));
}

function batch(cfg: ModelConfig, seed: number, b = B) {
  const ids = randInts(b * (cfg.blockSize + 1), cfg.vocabSize, seed);
  const x = new Int32Array(b * cfg.blockSize);
  const y = new Int32Array(b * cfg.blockSize);
  for (let r = 0; r < b; r++) {
    x.set(ids.subarray(r * (cfg.blockSize + 1), r * (cfg.blockSize + 1) + cfg.blockSize), r * cfg.blockSize);
    y.set(ids.subarray(r * (cfg.blockSize + 1) + 1, (r + 1) * (cfg.blockSize + 1)), r * cfg.blockSize);
  }
  return { x, y };
}

/** Non-trivial parameters: nanoGPT's init plus noise on the LayerNorms and biases so every path matters. */
function params(layout: ParamLayout, seed: number): Float32Array {
  const p = initParams(layout, seed);
  const noise = initParams(layout, seed + 1);
  for (const t of layout.tensors) {
    if (t.decay) continue;
    for (let i = 0; i < t.size; i++) p[t.offset + i] += 5 * noise[(t.offset + i * 7) % layout.decayCount];
  }
  return p;
}

function compareAll(label: string, layout: ParamLayout, got: { loss: number; logits: Float32Array; grads: Float32Array }, want: {
  loss: number; logits: Float64Array; grads: Tensors;
}): void {
  const checks: Check[] = [checkRelMax('logits', got.logits, want.logits)];
  for (const t of layout.tensors) checks.push(checkRelMax(`grad.${t.name}`, got.grads.subarray(t.offset, t.offset + t.size), want.grads.get(t.name)!));
  console.log(`[gpu model] ${label}: loss ${got.loss.toFixed(6)} vs ${want.loss.toFixed(6)}\n${checks.map((c) => `  ${c.line}`).join('\n')}`);
  expect(Math.abs(got.loss - want.loss)).toBeLessThan(1e-4);
  expect(checks.filter((c) => !c.ok).map((c) => c.line)).toEqual([]);
}

describe('GPU GPT vs the float64 reference', () => {
  const variants: Array<[string, ModelConfig]> = [
    ['bias, untied, relu', base],
    ['no bias, tied, gelu', { ...base, bias: false, tieWeights: true, activation: 'gelu', nHead: 4 }],
  ];
  for (const [label, cfg] of variants) {
    it(`forward, loss and every gradient: ${label}`, async () => {
      const { gpu } = await testGpu();
      const layout = paramLayout(cfg);
      const flat = params(layout, 11);
      const data = batch(cfg, 5);
      const got = await checked(gpu, async () => {
        const model = new GptModel(gpu, cfg, B, { params: flat });
        const r = await model.inspect(data);
        const evalLoss = await model.evalLoss(data);
        expect(evalLoss).toBeCloseTo(r.loss, 6);
        model.destroy();
        return r;
      });
      const P = named(layout, flat);
      const fwd = gptForward(cfg, P, data.x, data.y, B, cfg.blockSize);
      compareAll(label, layout, got, { loss: fwd.loss, logits: fwd.logits, grads: gptBackward(cfg, P, fwd) });
    });
  }

  it('dropout: the same masks as the reference (embeddings, attention probabilities, branches), forward and backward; eval ignores dropout', async () => {
    const { gpu } = await testGpu();
    const cfg = { ...base, dropout: 0.25 };
    const layout = paramLayout(cfg);
    const flat = params(layout, 21);
    const data = batch(cfg, 6);
    const seed = 987654321;
    const [got, again, other, evalLoss] = await checked(gpu, async () => {
      const model = new GptModel(gpu, cfg, B, { params: flat });
      const r = [await model.inspect(data, seed), await model.inspect(data, seed), await model.inspect(data, seed + 1), await model.evalLoss(data)] as const;
      model.destroy();
      return r;
    });
    expect(again.loss).toBe(got.loss);
    expect(other.loss).not.toBe(got.loss);
    const P = named(layout, flat);
    expect(ATTENTION_DROPOUT_SALT).toBe(attentionDropoutSalt(0));
    const masked = new Set<number>();
    const drop: Dropout = {
      p: cfg.dropout,
      mask: (salt, n) => {
        masked.add(salt);
        return dropoutMaskCpu(seed, salt, n, cfg.dropout);
      },
    };
    const fwd = gptForward(cfg, P, data.x, data.y, B, cfg.blockSize, drop);
    for (let l = 0; l < cfg.nLayer; l++) expect(masked.has(attentionDropoutSalt(l)), `layer ${l} attention dropout`).toBe(true);
    compareAll('dropout 0.25', layout, got, { loss: fwd.loss, logits: fwd.logits, grads: gptBackward(cfg, P, fwd) });
    // The attention masks matter: other masks on the probabilities alone give other logits.
    const otherAttention: Dropout = {
      p: cfg.dropout,
      mask: (salt, n) => dropoutMaskCpu(salt >= attentionDropoutSalt(0) ? seed + 1 : seed, salt, n, cfg.dropout),
    };
    const moved = gptForward(cfg, P, data.x, data.y, B, cfg.blockSize, otherAttention).logits;
    let diff = 0;
    for (let i = 0; i < moved.length; i++) diff = Math.max(diff, Math.abs(moved[i] - got.logits[i]));
    expect(diff).toBeGreaterThan(1e-4); // the matching masks agree to ~1e-7
    const plain = gptForward(cfg, P, data.x, data.y, B, cfg.blockSize);
    expect(Math.abs(evalLoss - plain.loss)).toBeLessThan(1e-4);
  });

  it('prompt forward: attention maps (L, NH, T, T) and the last logits for a short prompt', async () => {
    const { gpu } = await testGpu();
    const cfg = { ...base, activation: 'gelu' as const };
    const layout = paramLayout(cfg);
    const flat = params(layout, 31);
    const ids = Int32Array.from([3, 1, 4, 1, 5]);
    const T = ids.length;
    const got = await checked(gpu, async () => {
      const model = new GptModel(gpu, cfg, B, { params: flat });
      const r = await model.forwardPrompt(ids, { attention: true });
      const full = await model.forwardPrompt(Int32Array.from({ length: cfg.blockSize }, (_, i) => i % cfg.vocabSize), { attention: true });
      expect(full.att!.length).toBe(cfg.nLayer * cfg.nHead * cfg.blockSize ** 2);
      expect(await model.logits(ids)).toEqual(r.logits);
      await expect(model.forwardPrompt(new Int32Array(cfg.blockSize + 1))).rejects.toThrow(/1 to 8 tokens/);
      await expect(model.forwardPrompt(Int32Array.from([13]))).rejects.toThrow(/outside the vocabulary/);
      model.destroy();
      return r;
    });
    const fwd = gptForward(cfg, named(layout, flat), ids, null, 1, T);
    const wantAtt = new Float64Array(cfg.nLayer * cfg.nHead * T * T);
    fwd.att.forEach((a, l) => wantAtt.set(a, l * cfg.nHead * T * T));
    const attCheck = checkRelMax('attention', got.att!, wantAtt);
    const logitCheck = checkRelMax('last logits', got.logits, fwd.logits.subarray((T - 1) * cfg.vocabSize));
    console.log(`[gpu model] prompt T=${T}\n  ${attCheck.line}\n  ${logitCheck.line}`);
    expect(attCheck.ok && logitCheck.ok).toBe(true);
    // Rows sum to 1 over keys <= query and are exactly 0 above the diagonal.
    for (let r = 0; r < cfg.nLayer * cfg.nHead * T; r++) {
      const q = r % T;
      let sum = 0;
      for (let k = 0; k < T; k++) {
        if (k > q) expect(got.att![r * T + k]).toBe(0);
        sum += got.att![r * T + k];
      }
      expect(sum).toBeCloseTo(1, 5);
    }
  });

  it('training state round-trips: a restored model continues exactly like the original', async () => {
    const { gpu } = await testGpu();
    const cfg = { ...base, dropout: 0.1 };
    const train = { ...DEFAULT_TRAIN, learningRate: 1e-2, lrDecay: true, warmupSteps: 2, maxSteps: 10, minLr: 1e-3 };
    const batches = [0, 1, 2, 3].map((k) => batch(cfg, 100 + k));
    await checked(gpu, async () => {
      const a = new GptModel(gpu, cfg, B, { seed: 3 });
      const first = [];
      for (let k = 0; k < 2; k++) first.push(await a.step(batches[k], stepHyper(train, k)));
      expect(first[1].loss).toBeLessThan(first[0].loss + 0.5);
      expect(first.every((r) => Number.isFinite(r.loss) && r.gradNorm > 0 && r.doneAt > 0)).toBe(true);
      const saved = await a.readState();
      expect(saved.step).toBe(2);
      const contA = [await a.step(batches[2], stepHyper(train, 2)), await a.step(batches[3], stepHyper(train, 3))];
      const endA = await a.readState();

      const b = new GptModel(gpu, cfg, B, { seed: 999 });
      b.writeState(saved);
      expect(b.stepsTaken).toBe(2);
      const contB = [await b.step(batches[2], stepHyper(train, 2)), await b.step(batches[3], stepHyper(train, 3))];
      const endB = await b.readState();
      expect(contB.map((r) => r.loss)).toEqual(contA.map((r) => r.loss));
      expect(contB.map((r) => r.gradNorm)).toEqual(contA.map((r) => r.gradNorm));
      expect(endB.params.every((v, i) => v === endA.params[i])).toBe(true);
      expect(endB.m.every((v, i) => v === endA.m[i])).toBe(true);
      expect(endB.v.every((v, i) => v === endA.v[i])).toBe(true);
      expect(() => b.writeState({ params: new Float32Array(3) })).toThrow(/has 3 values but this model has/);
      a.destroy();
      b.destroy();
    });
  });

  it('a step reports the loss of the weights it started from, then lowers it', async () => {
    const { gpu } = await testGpu();
    const data = batch(base, 8);
    await checked(gpu, async () => {
      const model = new GptModel(gpu, base, B, { seed: 4 });
      const before = await model.evalLoss(data);
      const hyper = { ...stepHyper({ ...DEFAULT_TRAIN, learningRate: 1e-2 }, 0), gradClip: 0 };
      const pending = [model.step(data, hyper), model.step(data, { ...hyper, t: 2 }), model.step(data, { ...hyper, t: 3 })];
      const results = await Promise.all(pending);
      expect(Math.abs(results[0].loss - before)).toBeLessThan(1e-5);
      expect(results[2].loss).toBeLessThan(results[0].loss);
      expect(await model.evalLoss(data)).toBeLessThan(results[2].loss);
      model.destroy();
    });
  });

  it('the learning-rate schedule: constant, or warmup then cosine decay to minLr', () => {
    const train = { ...DEFAULT_TRAIN, learningRate: 1e-3, minLr: 1e-4, warmupSteps: 10, maxSteps: 110 };
    expect(stepHyper({ ...train, lrDecay: false }, 57).lr).toBe(1e-3);
    const lr = (it: number) => stepHyper({ ...train, lrDecay: true }, it).lr;
    expect(lr(0)).toBeCloseTo(1e-3 / 11, 12);
    expect(lr(10)).toBeCloseTo(1e-3, 12);
    expect(lr(60)).toBeCloseTo(5.5e-4, 12);
    expect(lr(110)).toBeCloseTo(1e-4, 12);
    expect(stepHyper(train, 4).t).toBe(5);
    expect(stepHyper(train, 4).dropoutSeed).not.toBe(stepHyper(train, 5).dropoutSeed);
  });

  it('the memory estimate is exactly what the model allocates, from one table', async () => {
    const { gpu } = await testGpu();
    for (const cfg of [base, { ...base, dropout: 0.1, tieWeights: true }]) {
      const before = gpu.liveBuffers();
      const model = new GptModel(gpu, cfg, B);
      const after = gpu.liveBuffers();
      const asEngineModel: EngineModel = model; // the engine drives it through this interface
      expect(asEngineModel.paramCount).toBe(model.layout.total);
      const est = memoryEstimate(cfg, B);
      console.log(`[gpu model] allocated ${after.bytes - before.bytes} bytes in ${after.count - before.count} buffers, estimate ${est.totalBytes} (analytic minimum ${est.analyticMinimumBytes})`);
      expect(after.bytes - before.bytes).toBe(est.totalBytes);
      expect(after.count - before.count).toBe(model.allocation.buffers.length);
      expect(model.liveBytes()).toBe(est.totalBytes); // no staging buffer before the first step
      model.destroy();
      expect(gpu.liveBuffers()).toEqual(before);
    }
  });

  it('every buffer comes from the description-derived table, probes and fine-tuning buffers included, for both blocks and under LoRA', async () => {
    const { gpu } = await testGpu();
    const llama: ModelConfig = { ...base, block: 'llama', nKvHead: 1, dropout: 0, bias: false, ffnHidden: 24 };
    const lora = loraLayout(base, { r: 2, alpha: 4, modules: ['attn.c_attn', 'mlp.c_proj'] });
    gpu.zeros(); // the runtime's shared zero buffer (bound where an optional input is absent) is not the model's
    for (const [cfg, adapters] of [[base, null], [llama, null], [base, lora]] as const) {
      const before = gpu.liveBuffers();
      const model = new GptModel(gpu, cfg, B, adapters ? { lora: { layout: adapters } } : {});
      const table = allocationTable(cfg, B, adapters);
      const built = gpu.liveBuffers();
      expect(built.bytes - before.bytes).toBe(tableBytes(table));
      expect(built.count - before.count).toBe(table.buffers.length);
      const names = table.buffers.map((b) => b.name);
      for (const n of ['logit lens', 'probe readback', 'dpo mask', 'dpo stats', ...(adapters ? ['lora params', 'h0.attn.c_attn xa'] : ['health sums'])]) expect(names).toContain(n);
      if (cfg.block === 'llama') expect(names).not.toContain('h0.ln1 mean');
      // The probe, a step with health readings and a DPO forward allocate nothing beyond the table.
      await checked(gpu, async () => {
        const ids = Int32Array.from({ length: cfg.blockSize }, (_, i) => i % cfg.vocabSize);
        await model.probe(ids);
        const data = batch(cfg, 5);
        await model.step(data, { ...stepHyper({ ...DEFAULT_TRAIN, batchSize: B }, 0), health: true });
        await model.sequenceLogProbs({ ...data, mask: new Float32Array(B * cfg.blockSize).fill(1) });
      });
      console.log(`[gpu model] ${cfg.block ?? 'gpt2'}${adapters ? ' + LoRA' : ''}: ${table.buffers.length} buffers, ${tableBytes(table)} bytes (probes ${tableBytes(table, 'probes')})`);
      // The model holds the table and, beyond it, only the step's readback ring (one mapped buffer of the loss and grad norm, 260 bytes, kept for reuse).
      expect(model.liveBytes() - tableBytes(table)).toBe(260);
      model.destroy();
      expect(gpu.liveBuffers()).toEqual(before);
    }
  });

  it('a training step is one command buffer: a clear of the flat grads, ONE compute pass, one readback copy', async () => {
    const { gpu } = await testGpu();
    const cfg = { ...base, dropout: 0.1 }; // the round-trip test's config: its pipelines are compiled already
    const data = batch(cfg, 21);
    await checked(gpu, async () => {
      const model = new GptModel(gpu, cfg, B, { seed: 6 });
      const commands: string[] = [];
      let dispatched = 0;
      let listened = 0;
      const device = gpu.device;
      const create = device.createCommandEncoder;
      /** A counting wrapper: every call on an object is logged, then forwarded. */
      const wrap = <T extends object>(target: T, prefix: string): T =>
        new Proxy(target, {
          get(obj, prop) {
            const value = Reflect.get(obj, prop, obj) as unknown;
            if (typeof value !== 'function') return value;
            return (...args: unknown[]) => {
              if (prop === 'dispatchWorkgroups') dispatched++;
              else if (prop !== 'setPipeline' && prop !== 'setBindGroup') commands.push(`${prefix}${String(prop)}`);
              const out = (value as (...a: unknown[]) => unknown).apply(obj, args);
              return prop === 'beginComputePass' ? wrap(out as GPUComputePassEncoder, 'pass.') : out;
            };
          },
        });
      device.createCommandEncoder = (desc?: GPUCommandEncoderDescriptor) => wrap(create.call(device, desc), '');
      gpu.onDispatch = () => listened++;
      try {
        const pending = model.step(data, stepHyper({ ...DEFAULT_TRAIN, gradClip: 1 }, 0));
        const stepCommands = commands.splice(0);
        const stepDispatches = dispatched;
        dispatched = 0;
        const evalPending = model.evalLoss(data);
        const evalCommands = commands.splice(0);
        device.createCommandEncoder = create;
        const [result] = await Promise.all([pending, evalPending]);
        console.log(`[gpu model] step: ${stepCommands.join(', ')}; ${stepDispatches} dispatches in the pass`);
        expect(stepCommands).toEqual(['clearBuffer', 'beginComputePass', 'pass.end', 'copyBufferToBuffer', 'finish']);
        expect(stepDispatches).toBeGreaterThan(50);
        expect(stepDispatches + dispatched).toBe(listened); // every dispatch went into the one pass
        expect(evalCommands).toEqual(['beginComputePass', 'pass.end', 'copyBufferToBuffer', 'finish']);
        expect(Number.isFinite(result.loss) && result.gradNorm > 0).toBe(true);
      } finally {
        device.createCommandEncoder = create;
        gpu.onDispatch = null;
      }
      model.destroy();
    });
  });
});
