// One training step of the GPT, our engine vs the same model in tfjs ops on
// its WebGPU and WASM backends: same config, same initial weights, same
// batches, same number of warm-up and timed steps; every engine reads its loss
// back after each step (as a training UI does).

import type { GpuProfiler } from '../src/gpu/profiler';
import type { Gpu } from '../src/gpu/runtime';
import { DEFAULT_MODEL, DEFAULT_TRAIN, type ModelConfig, type TrainConfig } from '../src/model/config';
import { BatchSampler, splitCorpus } from '../src/model/data';
import { GptModel, stepHyper } from '../src/model/gpt';
import { initParams, paramLayout } from '../src/model/layout';
import { CharTokenizer } from '../src/model/tokenizer';
import { memoryEstimate } from '../src/model/validate';
import type { TrainRow } from './common';
import { usePeer, type PeerBackend } from './peer';
import { PeerGpt } from './peerGpt';
import { profileStep, type StepProfile } from './profileStep';

interface Plan {
  label: string;
  config: ModelConfig;
  B: number;
  train: TrainConfig;
  warmup: number;
  steps: number;
  genTokens: number;
}

function plan(full: boolean, vocabSize: number): Plan {
  if (full) {
    const config: ModelConfig = { ...DEFAULT_MODEL, vocabSize };
    return { label: 'baby GPT: L6 H6 C192 T128 B32, dropout 0.1', config, B: 32, train: { ...DEFAULT_TRAIN, learningRate: 1e-3 }, warmup: 1, steps: 4, genTokens: 64 };
  }
  const config: ModelConfig = { ...DEFAULT_MODEL, nLayer: 2, nHead: 4, nEmbd: 128, blockSize: 64, dropout: 0, vocabSize };
  return { label: 'mid-size: L2 H4 C128 T64 B8, no dropout', config, B: 8, train: { ...DEFAULT_TRAIN, learningRate: 1e-3 }, warmup: 1, steps: 4, genTokens: 16 };
}

const describe = (c: ModelConfig, B: number) => `L${c.nLayer} H${c.nHead} C${c.nEmbd} T${c.blockSize} B${B}`;

export async function benchTraining(
  gpu: Gpu,
  _device: GPUDevice,
  o: { full: boolean; text: string; log: (s: string) => void; profiler?: GpuProfiler },
): Promise<{ rows: TrainRow[]; extra: Record<string, unknown>; notes: string[]; profile?: StepProfile }> {
  const tokenizer = CharTokenizer.fromText(o.text);
  const ids = tokenizer.encode(o.text).ids;
  const p = plan(o.full, tokenizer.size);
  const { config, B } = p;
  const T = config.blockSize;
  const layout = paramLayout(config);
  const init = initParams(layout, 1337);
  const { train } = splitCorpus(ids, T);
  const batches = () => new BatchSampler(train, B, T, 42);
  const rows: TrainRow[] = [];
  const notes: string[] = [];
  const extra: Record<string, unknown> = {};
  let profile: StepProfile | undefined;
  o.log(`training benchmark: ${p.label}, ${layout.total} parameters, vocabulary ${tokenizer.size}`);

  const row = (engine: string, losses: number[], ms: number): TrainRow => {
    const first = losses[0]!;
    const last = losses[losses.length - 1]!;
    const msPerStep = ms / p.steps;
    const r: TrainRow = {
      engine,
      config: describe(config, B),
      warmup: p.warmup,
      steps: p.steps,
      msPerStep,
      tokensPerSec: (B * T * 1000) / msPerStep,
      firstLoss: first,
      lastLoss: last,
      note: last < first ? 'loss fell' : 'LOSS DID NOT FALL',
    };
    o.log(`${engine}: ${msPerStep.toFixed(0)} ms/step, ${r.tokensPerSec.toFixed(0)} tokens/s, loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
    return r;
  };

  // Ours.
  {
    const model = new GptModel(gpu, config, B, { params: init });
    const sampler = batches();
    const losses: number[] = [];
    let ms = 0;
    for (let it = 0; it < p.warmup + p.steps; it++) {
      const batch = sampler.next();
      const t0 = performance.now();
      const r = await model.step(batch, stepHyper(p.train, it));
      if (it >= p.warmup) ms += performance.now() - t0;
      losses.push(r.loss);
    }
    rows.push(row('ours (WGSL kernels)', losses, ms));
    // One more step with every dispatch timed (the profiler's device is the one `gpu` records through).
    if (o.profiler) {
      const it = p.warmup + p.steps;
      profile = await profileStep(o.profiler, gpu, () => model.step(sampler.next(), stepHyper(p.train, it)));
      o.log(`per-kernel GPU time: ${profile.groups ? `${profile.dispatches} dispatches, ${profile.totalMs.toFixed(1)} ms` : profile.note}`);
    }
    const estimate = memoryEstimate(config, B);
    extra['our GPU memory for training (MiB)'] = model.liveBytes() / 2 ** 20;
    extra['analytic minimum: params + grads + AdamW m, v + saved activations (MiB)'] = estimate.analyticMinimumBytes / 2 ** 20;
    extra['memory ratio ours / analytic minimum'] = model.liveBytes() / estimate.analyticMinimumBytes;

    // Generation: chars/s of greedy decoding, full forward over the window vs the KV cache when the model has one.
    const prompt = Array.from(tokenizer.encode('ROMEO:\n').ids);
    const greedy = (logits: Float32Array) => logits.reduce((best, v, i, a) => (v > a[best]! ? i : best), 0);
    {
      const ctx = prompt.slice();
      const t0 = performance.now();
      for (let n = 0; n < p.genTokens; n++) ctx.push(greedy(await model.logits(Int32Array.from(ctx.slice(-T)))));
      extra['generation without KV cache (chars/s)'] = (p.genTokens * 1000) / (performance.now() - t0);
      o.log(`generation without KV cache: ${(extra['generation without KV cache (chars/s)'] as number).toFixed(1)} chars/s`);
    }
    const withDecoder = model as unknown as { decoder?: () => { push(id: number): Promise<Float32Array>; dispose(): void } };
    if (typeof withDecoder.decoder === 'function') {
      const dec = withDecoder.decoder();
      let logits: Float32Array | null = null;
      const t0 = performance.now();
      for (const id of prompt) logits = await dec.push(id);
      for (let n = 0; n < p.genTokens; n++) logits = await dec.push(greedy(logits!));
      extra['generation with KV cache (chars/s, prompt included)'] = (p.genTokens * 1000) / (performance.now() - t0);
      o.log(`generation with KV cache: ${(extra['generation with KV cache (chars/s, prompt included)'] as number).toFixed(1)} chars/s`);
      dec.dispose();
    } else {
      notes.push('the GPU model offers no KV-cache decoder yet: generation measured without it only');
    }
    model.destroy();
  }

  // tfjs, same model, same weights, same batches.
  for (const backend of ['webgpu', 'wasm'] as PeerBackend[]) {
    const peer = await usePeer(backend);
    if (!peer.ok) {
      notes.push(`tfjs ${backend} could not start: ${peer.detail}`);
      continue;
    }
    const model = new PeerGpt(config, layout, init, p.train.learningRate);
    const sampler = batches();
    const losses: number[] = [];
    let ms = 0;
    for (let it = 0; it < p.warmup + p.steps; it++) {
      const batch = sampler.next();
      const t0 = performance.now();
      losses.push(await model.step(batch.x, batch.y, B));
      if (it >= p.warmup) ms += performance.now() - t0;
    }
    rows.push(row(peer.detail, losses, ms));
    model.dispose();
  }

  const ours = rows[0]!;
  for (const r of rows.slice(1)) r.note += `; speed ours/this ${(r.msPerStep / ours.msPerStep).toFixed(2)}x`;
  notes.push(
    'ours uses AdamW with weight decay 0.1 and gradient clipping at 1.0 (the app\'s defaults); tfjs uses tf.train.adam (no decay, no clipping), same learning rate and betas',
  );
  return { rows, extra, notes, profile };
}
