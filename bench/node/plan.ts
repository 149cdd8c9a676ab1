// The step plan of one reference training step: records (does not run) the
// step's dispatches and commands, prints the table and returns the JSON.

import { adapterName, type GpuHandle } from '../../src/gpu/device';
import { DEFAULT_MODEL, DEFAULT_TRAIN, type ModelConfig, type TrainConfig } from '../../src/model/config';
import { GptModel, stepHyper } from '../../src/model/gpt';
import { planJson, planTable, type PlanJson } from '../plan/model';
import { stepRecorder } from '../plan/record';

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

export async function stepPlan(
  handle: GpuHandle,
  setup: { model: ModelConfig; train: TrainConfig },
  log: (line: string) => void,
): Promise<{ json: PlanJson; table: string }> {
  const recorder = stepRecorder(handle.device);
  const { model: config, train } = setup;
  const B = train.batchSize;
  const BT = B * config.blockSize;
  const model = new GptModel(recorder.gpu, config, B);
  const batch = { x: new Int32Array(BT), y: new Int32Array(BT) };
  const { dispatches, commands } = await recorder.record(() => model.step(batch, stepHyper(train, 0)));
  model.destroy();
  const c = config;
  const shape = { block: c.block ?? 'gpt2', nKvHead: c.nKvHead ?? c.nHead, nLayer: c.nLayer, nHead: c.nHead, nEmbd: c.nEmbd, blockSize: c.blockSize, batchSize: B, vocabSize: c.vocabSize, dropout: c.dropout, activation: c.activation, bias: c.bias, tieWeights: c.tieWeights };
  const json = planJson({ ...shape, adapter: adapterName(handle.info) }, dispatches, commands);
  const block = c.block === 'llama' ? `LLaMA block (KV ${c.nKvHead}), ` : 'GPT-2 block, ';
  const title = `Step plan: ${block}L${c.nLayer} H${c.nHead} C${c.nEmbd} T${c.blockSize} B${B} V${c.vocabSize}, dropout ${c.dropout} (recorded on ${adapterName(handle.info)})`;
  const table = planTable(title, dispatches, commands);
  log(table);
  return { json, table };
}
