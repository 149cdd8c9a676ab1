// The Node benchmark: every matmul of a training step, then training steps of
// the GPT (ms/step, tokens/s) and the GPU time per kernel group of one step.
// Ours only (tfjs needs a browser); the figures are for the adapter printed.

import type { GpuHandle } from '../../src/gpu/device';
import { GpuProfiler } from '../../src/gpu/profiler';
import { Gpu } from '../../src/gpu/runtime';
import { matmul, matmulFlops } from '../../src/kernels/matmul';
import { DEFAULT_MODEL, DEFAULT_TRAIN, type ModelConfig } from '../../src/model/config';
import { GptModel, stepHyper } from '../../src/model/gpt';
import { randomData } from '../common';
import { trainingMatmuls } from '../matmulCases';
import { profileStep, profileTable, type StepProfile } from '../profileStep';
import { timeSideBySide, type TimingPlan } from '../timing';

interface MatmulRow {
  kernel: string;
  shape: string;
  ms: number;
  gflops: number;
}

export interface NodeBenchResult {
  adapter: string;
  mode: 'quick' | 'full';
  matmuls: MatmulRow[];
  train: { config: string; steps: number; msPerStep: number; tokensPerSec: number; firstLoss: number; lastLoss: number } | null;
  profile: StepProfile | null;
}

async function benchMatmuls(gpu: Gpu, R: number, plan: TimingPlan, only: RegExp, log: (s: string) => void): Promise<MatmulRow[]> {
  const rows: MatmulRow[] = [];
  for (const c of trainingMatmuls(R, DEFAULT_MODEL.nEmbd, 65)) {
    if (!only.test(`matmul ${c.label}`)) continue;
    const { M, N, K } = c;
    const a = gpu.upload(randomData(M * K, 1 + M + K));
    const b = gpu.upload(randomData(K * N, 2 + N + K));
    const bias = c.bias ? gpu.upload(randomData(N, 3 + N)) : null;
    const out = gpu.buffer(M * N * 4);
    const [t] = await timeSideBySide(
      [
        {
          run: (n) =>
            gpu.submit((enc) => {
              for (let i = 0; i < n; i++) matmul(gpu, enc, { out, a, b, bias, M, N, K, transA: c.transA, transB: c.transB, accumulate: c.accumulate });
            }),
          finish: () => gpu.finish(),
        },
      ],
      plan,
    );
    const row = { kernel: c.label, shape: `${M}x${K} · ${K}x${N}`, ms: t!.ms, gflops: matmulFlops(M, N, K) / t!.ms / 1e6 };
    log(`| ${row.kernel} | ${row.shape} | ${row.ms.toFixed(3)} | ${row.gflops.toFixed(2)} |`);
    rows.push(row);
    for (const buf of [a, b, bias, out]) if (buf) gpu.destroy(buf);
  }
  return rows;
}

export async function nodeBench(handle: GpuHandle, o: { full: boolean; only: RegExp; log: (line: string) => void }): Promise<NodeBenchResult> {
  const { log } = o;
  const profiler = new GpuProfiler(handle.device);
  const gpu = new Gpu(profiler.device);
  const result: NodeBenchResult = { adapter: '', mode: o.full ? 'full' : 'quick', matmuls: [], train: null, profile: null };

  const R = o.full ? 4096 : 1024;
  const plan: TimingPlan = o.full ? { reps: 5, targetMs: 200, maxInner: 50 } : { reps: 3, targetMs: 100, maxInner: 20 };
  log(`\n## Matmuls of a training step (B*T = ${R} rows, C = 192, V = 65)\n`);
  log('| kernel | shape | ms | GFLOP/s |');
  log('|---|---|--:|--:|');
  result.matmuls = await benchMatmuls(gpu, R, plan, o.only, log);

  // The same configs as the browser benchmark's training part.
  const V = 65;
  const config: ModelConfig = o.full
    ? { ...DEFAULT_MODEL, vocabSize: V }
    : { ...DEFAULT_MODEL, nLayer: 2, nHead: 4, nEmbd: 128, blockSize: 64, dropout: 0, vocabSize: V };
  const B = o.full ? 32 : 8;
  const T = config.blockSize;
  const train = { ...DEFAULT_TRAIN, batchSize: B, learningRate: 1e-3 };
  const label = `L${config.nLayer} H${config.nHead} C${config.nEmbd} T${T} B${B}`;
  const model = new GptModel(gpu, config, B);
  // A fixed pseudo-random corpus: the next token is a function of the current one, so the loss falls.
  const batch = (it: number) => {
    const x = new Int32Array(B * T);
    const y = new Int32Array(B * T);
    for (let i = 0; i < B * T; i++) {
      x[i] = (i * 7 + it * 13 + ((i / T) | 0) * 5) % V;
      y[i] = (x[i]! * 3 + 1) % V;
    }
    return { x, y };
  };
  const warmup = 1;
  const steps = 4;
  const losses: number[] = [];
  let ms = 0;
  for (let it = 0; it < warmup + steps; it++) {
    const t0 = performance.now();
    const r = await model.step(batch(it), stepHyper(train, it));
    if (it >= warmup) ms += performance.now() - t0;
    losses.push(r.loss);
  }
  const msPerStep = ms / steps;
  result.train = { config: label, steps, msPerStep, tokensPerSec: (B * T * 1000) / msPerStep, firstLoss: losses[0]!, lastLoss: losses[losses.length - 1]! };
  log(`\n## Training step, ${label}, ${warmup} + ${steps} steps\n`);
  log(`${msPerStep.toFixed(1)} ms/step, ${result.train.tokensPerSec.toFixed(0)} tokens/s, loss ${losses[0]!.toFixed(3)} -> ${losses[losses.length - 1]!.toFixed(3)}`);

  result.profile = await profileStep(profiler, gpu, () => model.step(batch(warmup + steps), stepHyper(train, warmup + steps)));
  log(`\n## GPU time per kernel group, one step of ${label}\n`);
  log(profileTable(result.profile));
  model.destroy();
  return result;
}
