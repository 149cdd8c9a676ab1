// Columns [col0, col0 + W) of an (N, ld) row-major matrix against a compact
// (N, W) one (shaders/column_slice.wgsl): how a LoRA adapter on q_proj writes
// into the q rows of the fused q | k | v output, and reads back its gradient.
import code from '../../shaders/column_slice.wgsl?raw';
import { grid, packParams, type Binding, type Gpu, type Recorder } from '../gpu/runtime';

export interface ColumnSliceShape {
  /** rows */
  N: number;
  /** the slice's width and the wide matrix's row length (W + col0 <= ld) */
  W: number;
  ld: number;
  col0: number;
}

function run(gpu: Gpu, rec: Recorder, entryPoint: 'sliceAdd' | 'sliceCopy', s: ColumnSliceShape, buffers: Binding[]): void {
  if (s.col0 + s.W > s.ld) throw new Error(`A column slice [${s.col0}, ${s.col0 + s.W}) does not fit rows ${s.ld} wide.`);
  const n = s.N * s.W;
  gpu.dispatch(rec, gpu.pipeline(code, { entryPoint }), {
    params: packParams([n, s.W, s.ld, s.col0]),
    buffers,
    workgroups: grid(Math.ceil(n / 256)),
    kernel: entryPoint === 'sliceAdd' ? 'slice_add' : 'slice_copy',
    workgroupSize: 256,
    flops: entryPoint === 'sliceAdd' ? n : 0,
    bytes: (entryPoint === 'sliceAdd' ? 12 : 8) * n,
  });
}

/** wide (N, ld)[:, col0 : col0 + W] += narrow (N, W) */
export function sliceAdd(gpu: Gpu, rec: Recorder, args: ColumnSliceShape & { wide: Binding; narrow: Binding }): void {
  run(gpu, rec, 'sliceAdd', args, [args.wide, args.narrow]);
}

/** narrow (N, W) = wide (N, ld)[:, col0 : col0 + W] */
export function sliceCopy(gpu: Gpu, rec: Recorder, args: ColumnSliceShape & { narrow: Binding; wide: Binding }): void {
  run(gpu, rec, 'sliceCopy', args, [args.narrow, args.wide]);
}
