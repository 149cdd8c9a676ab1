// Fine-tuning benchmark: one model, the same batches, trained three ways with
// AdamW — all weights (a full fine-tune), LoRA adapters on every attention and
// MLP Linear of the frozen base, and a DPO step on LoRA — reporting ms/step
// (median of the timed steps, each awaited) and the GPU memory each model
// holds (its buffers, from the allocation table). Run by
// `npm run bench:node -- tune [--full]`; never part of npm test.

import type { GpuHandle } from '../../src/gpu/device';
import { Gpu } from '../../src/gpu/runtime';
import { DEFAULT_MODEL, DEFAULT_TRAIN, type ModelConfig } from '../../src/model/config';
import { GptModel, stepHyper } from '../../src/model/gpt';
import { initLora, LORA_MODULES, loraLayout, loraTrainableLine } from '../../src/model/lora';

export interface TuneBenchRow {
  mode: string;
  msPerStep: number;
  gpuBytes: number;
  trainable: number;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

export async function tuneBench(handle: GpuHandle, o: { full: boolean; log: (line: string) => void }): Promise<{ config: string; rows: TuneBenchRow[]; peft: string }> {
  const { log } = o;
  const gpu = new Gpu(handle.device);
  const V = 65;
  const config: ModelConfig = o.full
    ? { ...DEFAULT_MODEL, vocabSize: V, dropout: 0 }
    : { ...DEFAULT_MODEL, nLayer: 2, nHead: 4, nEmbd: 128, blockSize: 64, dropout: 0, vocabSize: V };
  const B = o.full ? 32 : 8;
  const T = config.blockSize;
  const train = { ...DEFAULT_TRAIN, batchSize: B, learningRate: 1e-3 };
  const label = `L${config.nLayer} H${config.nHead} C${config.nEmbd} T${T} B${B}`;
  const batch = (it: number) => {
    const x = new Int32Array(B * T);
    const y = new Int32Array(B * T);
    for (let i = 0; i < B * T; i++) {
      x[i] = (i * 7 + it * 13 + ((i / T) | 0) * 5) % V;
      y[i] = (x[i]! * 3 + 1) % V;
    }
    return { x, y };
  };
  const mask = new Float32Array(B * T).map((_, i) => (i % T >= T / 2 ? 1 : 0));
  const steps = o.full ? 5 : 4;
  const time = async (step: (it: number) => Promise<unknown>) => {
    await step(0); // warm-up: pipelines compile
    const ms: number[] = [];
    for (let it = 1; it <= steps; it++) {
      const t0 = performance.now();
      await step(it);
      ms.push(performance.now() - t0);
    }
    return median(ms);
  };
  const lora = loraLayout(config, { r: 8, alpha: 16, modules: [...LORA_MODULES] });
  const rows: TuneBenchRow[] = [];

  const full = new GptModel(gpu, config, B);
  rows.push({ mode: 'full fine-tune (all weights, AdamW)', msPerStep: await time((it) => full.step(batch(it), stepHyper(train, it))), gpuBytes: full.liveBytes(), trainable: full.paramCount });
  const params = (await full.readState()).params;
  full.destroy();

  const tuned = new GptModel(gpu, config, B, { params, lora: { layout: lora, adapters: initLora(lora, 1) } });
  rows.push({ mode: `LoRA r=8 on ${LORA_MODULES.join(', ')}`, msPerStep: await time((it) => tuned.step(batch(it), stepHyper(train, it))), gpuBytes: tuned.liveBytes(), trainable: lora.count });
  const ref = new Float32Array(B);
  const dpoMs = await time((it) => tuned.dpoStep({ ...batch(it), mask }, ref, stepHyper(train, it), 0.1));
  rows.push({ mode: `DPO step on the LoRA adapters (${B / 2} pairs)`, msPerStep: dpoMs, gpuBytes: tuned.liveBytes(), trainable: lora.count });
  tuned.destroy();

  const peft = loraTrainableLine(lora);
  log(`\n## Fine-tuning, ${label}\n`);
  log(peft + '\n');
  log('| mode | ms/step | GPU memory (MiB) | trainable params |');
  log('|---|--:|--:|--:|');
  for (const r of rows) log(`| ${r.mode} | ${r.msPerStep.toFixed(1)} | ${(r.gpuBytes / 2 ** 20).toFixed(2)} | ${r.trainable.toLocaleString('en-US')} |`);
  log(`\nLoRA saves ${((rows[0]!.gpuBytes - rows[1]!.gpuBytes) / 2 ** 20).toFixed(2)} MiB of GPU memory (${(100 * (1 - rows[1]!.gpuBytes / rows[0]!.gpuBytes)).toFixed(1)}%) and runs at ${(rows[0]!.msPerStep / rows[1]!.msPerStep).toFixed(2)}x the full fine-tune's speed.`);
  return { config: label, rows, peft };
}
