// Dispatchers of the intervention kernels (shaders/ablate.wgsl,
// shaders/patch_rows.wgsl): ablation of a channel range of an activation,
// and a copy of rows x channels between activations (patching, caching).
// Float64 references: tests/reference/interventions.ts (ablateChannels, the
// patch copies); GPU test: tests/gpu/interventions.test.ts.
import ablateCode from '../../shaders/ablate.wgsl?raw';
import patchCode from '../../shaders/patch_rows.wgsl?raw';
import type { Binding, Gpu, Recorder } from '../gpu/runtime';

export type AblationMode = 'zero' | 'mean';

export interface AblateArgs {
  /** (N, S) activation, changed in place */
  x: Binding;
  N: number;
  /** row stride in floats */
  S: number;
  /** channels [lo, lo + width) */
  lo: number;
  width: number;
  mode: AblationMode;
}

/** x[:, lo:lo+width] = 0, or its mean over the N rows. */
export function ablateColumns(gpu: Gpu, rec: Recorder, a: AblateArgs): void {
  if (a.lo < 0 || a.width < 1 || a.lo + a.width > a.S) throw new Error(`ablate: channels ${a.lo}..${a.lo + a.width} do not fit rows of ${a.S}.`);
  gpu.dispatch(rec, gpu.pipeline(ablateCode, { entryPoint: 'ablate' }), {
    params: [a.N, a.S, a.lo, a.width, a.mode === 'mean' ? 1 : 0],
    buffers: [a.x],
    workgroups: Math.ceil(a.width / 64),
    kernel: 'ablate',
    workgroupSize: 64,
    flops: a.mode === 'mean' ? a.N * a.width : 0,
    bytes: 4 * a.N * a.width * (a.mode === 'mean' ? 2 : 1),
  });
}

export interface PatchRowsArgs {
  dst: Binding;
  src: Binding;
  /** row stride in floats (both) */
  S: number;
  /** src rows [r0, r0 + rows) into dst rows [dstR0, dstR0 + rows) (dstR0 defaults to r0), channels [lo, lo + width) */
  r0: number;
  dstR0?: number;
  rows: number;
  lo: number;
  width: number;
  /** offsets in floats into src and dst (default 0) */
  srcBase?: number;
  dstBase?: number;
}

/** dst[dstBase + (dstR0 + r) S + c] = src[srcBase + (r0 + r) S + c] over the block of rows and channels. */
export function patchRows(gpu: Gpu, rec: Recorder, a: PatchRowsArgs): void {
  if (a.lo < 0 || a.width < 1 || a.lo + a.width > a.S) throw new Error(`patch: channels ${a.lo}..${a.lo + a.width} do not fit rows of ${a.S}.`);
  const n = a.rows * a.width;
  gpu.dispatch(rec, gpu.pipeline(patchCode, { entryPoint: 'patchRows' }), {
    params: [a.S, a.r0, a.dstR0 ?? a.r0, a.rows, a.lo, a.width, a.srcBase ?? 0, a.dstBase ?? 0],
    buffers: [a.dst, a.src],
    workgroups: Math.ceil(n / 64),
    kernel: 'patch_rows',
    workgroupSize: 64,
    flops: 0,
    bytes: 8 * n,
  });
}
