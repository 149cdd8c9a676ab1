import type { Gpu } from '../src/gpu/runtime';
import type { TrainRow } from './common';

export async function benchTraining(_gpu: Gpu, _d: GPUDevice, _o: { full: boolean; text: string; log: (s: string) => void }): Promise<{ rows: TrainRow[]; extra: Record<string, unknown>; notes: string[] }> {
  return { rows: [], extra: {}, notes: [] };
}
