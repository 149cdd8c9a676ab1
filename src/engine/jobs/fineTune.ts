// What every fine-tune of the open run shares (LoRA, DPO, an imported
// adapter): the base's weights as they are now, and the record a fine-tune
// keeps of its base (which run, at which step, its curves, and what trains).
import { allocationTable, tableBytes } from '../../model/allocation';
import { loraTrainableLine, type LoraLayout } from '../../model/lora';
import { paramCount } from '../../model/validate';
import type { Engine } from '../engine';
import type { OptimizerState } from '../model';
import type { FineTuneInfo } from '../protocol';
import type { Run } from '../runs';
import { recover } from './device';

/** The open run's weights now (training paused), for a fine-tune or fork built from it. */
export async function baseState(engine: Engine, r: Run): Promise<OptimizerState> {
  await recover(engine);
  await r.trainer.action('pause');
  return engine.serial.run(() => r.trainer.model.readState());
}

/** What a fine-tune of `base` records about it; `lora` null for a full-weight fine-tune. */
export function fineTuneInfo(kind: FineTuneInfo['kind'], base: Run, lora: LoraLayout | null, batchSize: number): FineTuneInfo {
  const t = base.trainer;
  const all = paramCount(base.config);
  const full = tableBytes(allocationTable(base.config, batchSize));
  return {
    kind,
    baseRunId: t.setup.run.id,
    baseRunName: t.setup.run.name,
    baseStep: t.step,
    baseLossHistory: t.lossHistory.slice(),
    baseEvalHistory: t.evalHistory.slice(),
    ...(lora ? { lora: lora.lora, peftLine: loraTrainableLine(lora) } : {}),
    trainable: lora ? lora.count : all,
    allParams: all + (lora ? lora.count : 0),
    gpuBytes: lora ? tableBytes(allocationTable(base.config, batchSize, lora)) : full,
    fullGpuBytes: full,
  };
}
