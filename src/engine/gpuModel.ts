// The GPU GPT (src/model/gpt.ts) as the engine's model, KV-cache decoder
// included (GptModel.decoder(), src/model/decoder.ts): the generator decodes one
// row per token while the context fits in blockSize.
import type { Gpu } from '../gpu/runtime';
import { GptModel } from '../model/gpt';
import type { ParamLayout } from '../model/layout';
import type { EngineModel } from './model';

export function createGpuModel(gpu: Gpu, layout: ParamLayout, batchSize: number, initialParams: Float32Array): EngineModel {
  return new GptModel(gpu, layout.config, batchSize, { params: initialParams });
}
