import type { Gpu } from '../src/gpu/runtime';
import type { KernelRow } from './common';
import type { TimingPlan } from './timing';

export async function benchOtherKernels(_gpu: Gpu, _o: { full: boolean; plan: TimingPlan; only: RegExp; log: (s: string) => void }): Promise<KernelRow[]> {
  return [];
}
