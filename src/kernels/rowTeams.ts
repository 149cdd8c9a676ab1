// Row teams (shaders/row_reduce_*.wgsl): the reduction helpers a row kernel is
// compiled with, chosen at pipeline creation from the Gpu's settings.
import workgroupTeams from '../../shaders/row_reduce_workgroup.wgsl?raw';
import subgroupTeams from '../../shaders/row_reduce_subgroup.wgsl?raw';
import type { Gpu } from '../gpu/runtime';

/** Invocations per workgroup of every row-team kernel (TEAM_WG). */
export const TEAM_WG = 256;

/** The kernel's source with the row-team helpers in front: subgroups when the Gpu uses them, workgroup memory otherwise. */
export function withRowTeams(gpu: Gpu, code: string): string {
  return (gpu.subgroups && gpu.kernels === 'gpu' ? subgroupTeams : workgroupTeams) + code;
}

/** The two-stage column sums' row blocks: about `target` workgroups of 64 columns, at least `minRows` rows per block. */
export function rowBlocks(rows: number, cols: number, target = 192, minRows = 16): { RB: number; NB: number } {
  const colBlocks = Math.ceil(cols / 64);
  const wanted = Math.max(1, Math.min(Math.ceil(target / colBlocks), Math.ceil(rows / minRows)));
  const RB = Math.max(1, Math.ceil(rows / wanted));
  return { RB, NB: Math.max(1, Math.ceil(rows / RB)) };
}
