// Fine-tuning benchmark: one model, the same batches, trained three ways with
// AdamW — all weights (a full fine-tune), LoRA adapters on every attention and
// MLP Linear of the frozen base, and a DPO step on those LoRA adapters —
// reporting ms/step (median of the timed steps, each awaited, after a warm-up
// step that compiles the pipelines) and the GPU memory each model holds (its
// buffers: GptModel.liveBytes, split by role from its allocation table).
// The three models (DPO on a LoRA model of its own, so that each holds only
// what its mode needs) start from the same weights and are stepped in turn
// (full, LoRA, DPO, full, ...), so a load that comes and goes on the machine
// falls on all three alike and the ratios stay comparable. Run by
// `npm run bench:tune [-- --full] [-- --steps N] [-- --profile]`; never part of
// npm test. --profile adds, after the timed steps, one step of each mode with
// every dispatch timed (timestamp queries), summed by kernel group.

import type { GpuHandle } from '../../src/gpu/device';
import { GpuProfiler, kernelGroup, NO_TIMESTAMPS, type GroupTime, type TimedDispatch } from '../../src/gpu/profiler';
import { Gpu, type KernelVariant } from '../../src/gpu/runtime';
import { tableBytes, type BufferRole } from '../../src/model/allocation';
import { DEFAULT_MODEL, DEFAULT_TRAIN, type ModelConfig } from '../../src/model/config';
import { GptModel, stepHyper } from '../../src/model/gpt';
import { initLora, LORA_MODULES, loraLayout, loraTrainableLine, type LoraConfig } from '../../src/model/lora';

export interface TuneBenchRow {
  mode: string;
  msPerStep: number;
  /** every timed step, in order (ms) */
  samples: number[];
  /** GptModel.liveBytes(): every GPU buffer the model holds */
  gpuBytes: number;
  /** the allocation table's bytes per role (the rest of gpuBytes: the step readback ring, DPO's buffers) */
  byRole: Record<BufferRole, number>;
  trainable: number;
  /** with --profile: GPU time of one more step by kernel group (largest first), null without timestamp queries */
  profile?: { totalMs: number; groups: GroupTime[] } | null;
}

export interface TuneBenchResult {
  config: string;
  kernels: string;
  lora: LoraConfig;
  steps: number;
  rows: TuneBenchRow[];
  peft: string;
  /** LoRA / full fine-tune */
  ratio: { msPerStep: number; gpuBytes: number };
}

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const ROLES: BufferRole[] = ['state', 'saved', 'scratch', 'views'];

/** A dispatch's group: the profiler's, with the adapters' products (sites 'attn.c_attn.lora', ...) apart by direction. */
const tuneGroup = (d: TimedDispatch) => {
  const lora = /\.lora (fwd|dX|dW)$/.exec(d.label ?? '');
  return lora ? `LoRA matmuls ${lora[1]}` : kernelGroup(d);
};

function groupByKernel(timed: TimedDispatch[]): { totalMs: number; groups: GroupTime[] } {
  const totalMs = timed.reduce((s, d) => s + d.ms, 0);
  const by = new Map<string, GroupTime>();
  for (const d of timed) {
    const name = tuneGroup(d);
    const g = by.get(name) ?? by.set(name, { group: name, ms: 0, share: 0, dispatches: 0 }).get(name)!;
    g.ms += d.ms;
    g.dispatches++;
  }
  for (const g of by.values()) g.share = g.ms / totalMs;
  return { totalMs, groups: [...by.values()].sort((a, b) => b.ms - a.ms) };
}

export async function tuneBench(
  handle: GpuHandle,
  o: { full: boolean; kernels: KernelVariant; steps?: number; profile?: boolean; log: (line: string) => void },
): Promise<TuneBenchResult> {
  const { log } = o;
  // recorded through the profiler's stand-in device only when profiling, so the timed steps run on the device itself
  const profiler = o.profile ? new GpuProfiler(handle.device) : null;
  const gpu = new Gpu(profiler?.device ?? handle.device, { kernels: o.kernels });
  const kernels = `${gpu.kernels}${gpu.subgroups && gpu.kernels === 'gpu' ? ' + subgroups' : ''}`;
  const V = 65;
  // --full: the Tutorial GPT (the default model and batch); quick: a 2-layer, 128-wide model
  const config: ModelConfig = o.full
    ? { ...DEFAULT_MODEL, vocabSize: V, dropout: 0 }
    : { ...DEFAULT_MODEL, nLayer: 2, nHead: 4, nEmbd: 128, blockSize: 64, dropout: 0, vocabSize: V };
  const B = o.full ? DEFAULT_TRAIN.batchSize : 8;
  const T = config.blockSize;
  const steps = o.steps ?? 3;
  const train = { ...DEFAULT_TRAIN, batchSize: B, learningRate: 1e-3 };
  const label = `L${config.nLayer} H${config.nHead} C${config.nEmbd} T${T} B${B} V${V}, dropout 0`;
  log(`\n## Fine-tuning, ${label}; kernels ${kernels}; ${steps} timed steps each after a warm-up\n`);
  // the same batch `it` for every mode (synthetic tokens: step time does not depend on them)
  const batch = (it: number) => {
    const x = new Int32Array(B * T);
    const y = new Int32Array(B * T);
    for (let i = 0; i < B * T; i++) {
      x[i] = (i * 7 + it * 13 + ((i / T) | 0) * 5) % V;
      y[i] = (x[i]! * 3 + 1) % V;
    }
    return { x, y };
  };
  const mask = new Float32Array(B * T).map((_, i) => (i % T >= T / 2 ? 1 : 0)); // DPO: the second half of each sequence is the response
  const ref = new Float32Array(B);
  const loraConfig: LoraConfig = { r: 8, alpha: 16, modules: [...LORA_MODULES] };
  const lora = loraLayout(config, loraConfig);

  const full = new GptModel(gpu, config, B);
  const params = (await full.readState()).params; // both start from the same weights
  const adapted = () => new GptModel(gpu, config, B, { params, lora: { layout: lora, adapters: initLora(lora, 1) } });
  const tuned = adapted();
  const preferred = adapted();
  const modes = [
    { mode: 'full fine-tune (all weights, AdamW)', model: full, trainable: full.paramCount, step: (it: number) => full.step(batch(it), stepHyper(train, it)) },
    { mode: `LoRA r=${loraConfig.r} on ${LORA_MODULES.join(', ')}`, model: tuned, trainable: lora.count, step: (it: number) => tuned.step(batch(it), stepHyper(train, it)) },
    { mode: `DPO step on the LoRA adapters (${B / 2} pairs)`, model: preferred, trainable: lora.count, step: (it: number) => preferred.dpoStep({ ...batch(it), mask }, ref, stepHyper(train, it), 0.1) },
  ];
  const samples = modes.map(() => [] as number[]);
  for (let it = 0; it <= steps; it++) {
    for (const [i, m] of modes.entries()) {
      const t0 = performance.now();
      await m.step(it);
      const ms = performance.now() - t0;
      if (it > 0) samples[i]!.push(ms); // step 0 compiles the pipelines
      log(`  ${it === 0 ? 'warm-up' : `step ${it}`}: ${m.mode}: ${ms.toFixed(0)} ms${it === 0 ? `; GPU memory ${(m.model.liveBytes() / 2 ** 20).toFixed(2)} MiB` : ''}`);
    }
  }
  const rows: TuneBenchRow[] = modes.map((m, i) => ({
    mode: m.mode,
    msPerStep: median(samples[i]!),
    samples: samples[i]!.map((x) => Math.round(x * 10) / 10),
    gpuBytes: m.model.liveBytes(),
    byRole: Object.fromEntries(ROLES.map((r) => [r, tableBytes(m.model.allocation, r)])) as Record<BufferRole, number>,
    trainable: m.trainable,
  }));
  if (profiler) {
    for (const [i, m] of modes.entries()) {
      const timed = await profiler.profile(gpu, () => m.step(steps + 1));
      rows[i]!.profile = timed && groupByKernel(timed);
    }
  }
  for (const m of [full, tuned, preferred]) m.destroy();

  const peft = loraTrainableLine(lora);
  const mib = (b: number) => (b / 2 ** 20).toFixed(2);
  log(`\n${peft}\n`);
  log('| mode | ms/step | GPU memory (MiB) | trainable params |');
  log('|---|--:|--:|--:|');
  for (const r of rows) log(`| ${r.mode} | ${r.msPerStep.toFixed(1)} | ${mib(r.gpuBytes)} | ${r.trainable.toLocaleString('en-US')} |`);
  log('\nGPU memory by role (MiB): state / saved activations / scratch / views');
  for (const r of rows) log(`  ${r.mode}: ${ROLES.map((role) => mib(r.byRole[role])).join(' / ')}`);
  if (profiler && !profiler.supported) log(`\n${NO_TIMESTAMPS}`);
  for (const r of rows) {
    if (!r.profile) continue;
    log(`\nGPU time of one step by kernel group, ${r.mode} (each dispatch timed on its own: ${r.profile.totalMs.toFixed(0)} ms in all)`);
    for (const g of r.profile.groups.slice(0, 10)) {
      log(`  ${g.group}: ${g.ms.toFixed(0)} ms (${(100 * g.share).toFixed(1)}%, ${g.dispatches} dispatches)`);
    }
  }
  const [f, l] = rows as [TuneBenchRow, TuneBenchRow];
  const ratio = { msPerStep: l.msPerStep / f.msPerStep, gpuBytes: l.gpuBytes / f.gpuBytes };
  log(`\nLoRA / full fine-tune: ms/step ${ratio.msPerStep.toFixed(2)}, GPU memory ${ratio.gpuBytes.toFixed(3)} (${mib(f.gpuBytes - l.gpuBytes)} MiB less).`);
  return { config: label, kernels, lora: loraConfig, steps, rows, peft, ratio };
}
