// The step plan: records (does not run) the dispatches and commands of the
// reference training step of both blocks, a LoRA step, a DPO step and one
// decoded token, prints their tables, the calibrated range per profile, and
// returns the JSON.

import { adapterName, type GpuHandle } from '../../src/gpu/device';
import type { DispatchRecord } from '../../src/gpu/runtime';
import { DEFAULT_MODEL, DEFAULT_TRAIN, type ModelConfig, type TrainConfig } from '../../src/model/config';
import { GptModel, stepHyper } from '../../src/model/gpt';
import { LORA_MODULES, loraLayout } from '../../src/model/lora';
import { calibratedRange, calibratedTable, calibrationText, type PlannedStep } from '../plan/calibrated';
import { PROFILES, planJson, planTable, type PlanJson, type StepCommands } from '../plan/model';
import { stepRecorder } from '../plan/record';

/** The Tutorial preset's length: the whole run the plan prices. */
export const TUTORIAL_STEPS = 3000;

/** The reference model and training config (the defaults) at the tiny-Shakespeare-sized vocabulary of 65 characters. */
export function referenceConfig(): { model: ModelConfig; train: TrainConfig } {
  return { model: { ...DEFAULT_MODEL, vocabSize: 65 }, train: DEFAULT_TRAIN };
}

/**
 * The LLaMA-style block at the reference's size: 6 layers, 6 query heads
 * sharing 2 key/value heads, 192 wide, SwiGLU at 512 (8C/3), context 128,
 * batch 32, no dropout (the block has none).
 */
export function llamaReferenceConfig(): { model: ModelConfig; train: TrainConfig } {
  return { model: { ...DEFAULT_MODEL, vocabSize: 65, block: 'llama', nKvHead: 2, dropout: 0, bias: false }, train: DEFAULT_TRAIN };
}

/** What the plan records: a training step, a LoRA step (r 8 on every Linear of the blocks), a DPO step on all weights, one decoded token. */
export type PlanWork = 'train' | 'lora' | 'dpo' | 'decode';

export const LORA_PLAN = { r: 8, alpha: 16, modules: [...LORA_MODULES] };

/** Record one piece of work on the reference setup, nothing run. */
export async function recordWork(
  handle: GpuHandle,
  setup: { model: ModelConfig; train: TrainConfig },
  work: PlanWork,
): Promise<{ dispatches: DispatchRecord[]; commands: StepCommands }> {
  const recorder = stepRecorder(handle.device);
  const { model: config, train } = setup;
  const B = train.batchSize;
  const T = config.blockSize;
  const BT = B * T;
  const lora = work === 'lora' ? { layout: loraLayout(config, LORA_PLAN) } : undefined;
  const model = new GptModel(recorder.gpu, config, B, { lora });
  const batch = { x: new Int32Array(BT), y: new Int32Array(BT) };
  try {
    if (work === 'decode') {
      // The token at the last position attends over the whole context: the slowest of a context's tokens.
      // The earlier positions are recorded too (so nothing runs), then dropped.
      const dec = model.decoder();
      await recorder.record(() => {
        for (let t = 0; t < T - 1; t++) void dec.push(0).catch(() => {});
      });
      const rec = await recorder.record(() => dec.push(0));
      dec.dispose();
      return rec;
    }
    if (work === 'dpo') {
      const mask = new Float32Array(BT).map((_, i) => (i % T >= T / 2 ? 1 : 0));
      return await recorder.record(() => model.dpoStep({ ...batch, mask }, new Float32Array(B), stepHyper(train, 0), 0.1));
    }
    return await recorder.record(() => model.step(batch, stepHyper(train, 0)));
  } finally {
    model.destroy();
  }
}

const WORK_NAME: Record<PlanWork, string> = {
  train: 'training step',
  lora: `LoRA step (r ${LORA_PLAN.r} on ${LORA_MODULES.join(', ')})`,
  dpo: `DPO step on all weights (${DEFAULT_TRAIN.batchSize / 2} pairs)`,
  decode: 'one decoded token (KV cache, the last position of the context)',
};

export async function stepPlan(
  handle: GpuHandle,
  setup: { model: ModelConfig; train: TrainConfig },
  log: (line: string) => void,
  work: PlanWork = 'train',
  options: { rows?: boolean } = {},
): Promise<{ json: PlanJson & { calibratedMs: Record<string, [number, number]> }; table: string; step: PlannedStep }> {
  const { dispatches, commands } = await recordWork(handle, setup, work);
  const { model: c, train } = setup;
  const B = train.batchSize;
  const shape = { work, block: c.block ?? 'gpt2', nKvHead: c.nKvHead ?? c.nHead, nLayer: c.nLayer, nHead: c.nHead, nEmbd: c.nEmbd, blockSize: c.blockSize, batchSize: B, vocabSize: c.vocabSize, dropout: c.dropout, activation: c.activation, bias: c.bias, tieWeights: c.tieWeights };
  const calibratedMs = Object.fromEntries(
    PROFILES.map((p) => {
      const r = calibratedRange(dispatches, commands, p);
      return [p.id, [r.optimisticMs, r.pessimisticMs] as [number, number]];
    }),
  );
  const json = { ...planJson({ ...shape, adapter: adapterName(handle.info) }, dispatches, commands), calibratedMs };
  const block = c.block === 'llama' ? `LLaMA block (KV ${c.nKvHead})` : 'GPT-2 block';
  const name = `${block}, ${WORK_NAME[work]}`;
  const title = `Plan: ${name}, L${c.nLayer} H${c.nHead} C${c.nEmbd} T${c.blockSize} B${work === 'decode' ? 1 : B} V${c.vocabSize}, dropout ${c.dropout} (recorded on ${adapterName(handle.info)})`;
  const table = planTable(title, dispatches, commands, { rows: options.rows ?? true, targets: work === 'train' });
  log(table);
  const step: PlannedStep = { name, dispatches, commands, unit: work === 'decode' ? 'token' : 'step', runSteps: work === 'decode' ? undefined : TUTORIAL_STEPS };
  return { json, table, step };
}

/** Every plan: both blocks' training steps (with their dispatch tables), LoRA, DPO and decoding, then the calibrated summary. */
export async function fullPlan(handle: GpuHandle, log: (line: string) => void): Promise<{ json: Record<string, unknown>; markdown: string }> {
  const gpt = await stepPlan(handle, referenceConfig(), log);
  log('');
  const llama = await stepPlan(handle, llamaReferenceConfig(), log);
  const others: Array<Awaited<ReturnType<typeof stepPlan>>> = [];
  for (const [setup, work] of [
    [referenceConfig(), 'lora'],
    [referenceConfig(), 'dpo'],
    [referenceConfig(), 'decode'],
    [llamaReferenceConfig(), 'decode'],
  ] as const) {
    log('');
    others.push(await stepPlan(handle, setup, log, work, { rows: work === 'decode' }));
  }
  const summary = [
    '## Calibrated range (per profile: the roofline, then optimistic - pessimistic with the fixed costs and a whole Tutorial run)',
    '',
    ...calibratedTable([gpt.step, llama.step, ...others.map((o) => o.step)], PROFILES),
    '',
    'Calibration:',
    ...calibrationText(PROFILES).map((l) => `- ${l}`),
  ].join('\n');
  log('');
  log(summary);
  const [lora, dpo, decode, llamaDecode] = others;
  return {
    json: { ...gpt.json, llama: llama.json, lora: lora!.json, dpo: dpo!.json, decode: decode!.json, llamaDecode: llamaDecode!.json, calibration: calibrationText(PROFILES) },
    markdown: [gpt.table, llama.table, ...others.map((o) => o.table), summary].join('\n\n'),
  };
}
