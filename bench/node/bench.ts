import type { GpuHandle } from '../../src/gpu/device';

export async function nodeBench(_handle: GpuHandle, _o: { full: boolean; only: RegExp; log: (line: string) => void }): Promise<unknown> {
  return {};
}
