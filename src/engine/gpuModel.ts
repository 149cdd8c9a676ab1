// The GPU GPT (src/model/gpt.ts) as the engine's model, KV-cache decoder
// included (GptModel.decoder(), src/model/decoder.ts): the generator decodes one
// row per token while the context fits in blockSize. GptModel has every
// optional capability of EngineModel (LoRA strength, DPO, the probe).
import type { Gpu } from '../gpu/runtime';
import { GptModel } from '../model/gpt';
import type { ParamLayout } from '../model/layout';
import type { LoraLayout } from '../model/lora';
import type { EngineModel } from './model';

/** With `lora`, the base weights are frozen and only the adapters (initially `adapters`) train. */
export function createGpuModel(
  gpu: Gpu,
  layout: ParamLayout,
  batchSize: number,
  initialParams: Float32Array,
  lora?: { layout: LoraLayout; adapters: Float32Array },
): EngineModel {
  return new GptModel(gpu, layout.config, batchSize, { params: initialParams, ...(lora ? { lora } : {}) });
}
