import code from '../../shaders/elementwise.wgsl?raw';
import { grid, packParams, type Gpu, type Binding, type Recorder } from '../gpu/runtime';

/** Per entry point: FLOPs and bytes moved per element (add reads two and writes one; fill only writes). */
const COST: Record<string, { flops: number; bytes: number }> = {
  add: { flops: 1, bytes: 12 },
  addInPlace: { flops: 1, bytes: 12 },
  scale: { flops: 1, bytes: 8 },
  fill: { flops: 0, bytes: 4 },
};

function run(gpu: Gpu, encoder: Recorder, entryPoint: string, n: number, value: number, buffers: Binding[]): void {
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint }), {
    params: packParams([n, { f32: value }]),
    buffers,
    workgroups: grid(Math.ceil(n / 256)),
    kernel: entryPoint === 'addInPlace' ? 'add_in_place' : entryPoint,
    workgroupSize: 256,
    flops: COST[entryPoint].flops * n,
    bytes: COST[entryPoint].bytes * n,
  });
}

/** out (n) = a (n) + b (n). `out` must be a different buffer from `a` and `b` (use addInPlace). */
export function add(gpu: Gpu, encoder: Recorder, args: { out: Binding; a: Binding; b: Binding; n: number }): void {
  run(gpu, encoder, 'add', args.n, 0, [args.out, args.a, args.b]);
}

/** dst (n) += src (n). */
export function addInPlace(gpu: Gpu, encoder: Recorder, args: { dst: Binding; src: Binding; n: number }): void {
  run(gpu, encoder, 'addInPlace', args.n, 0, [args.dst, args.src]);
}

/** buf (n) *= factor. `factor` is baked into a cached uniform: a per-call-site constant, not a per-step value. */
export function scale(gpu: Gpu, encoder: Recorder, args: { buf: Binding; n: number; factor: number }): void {
  run(gpu, encoder, 'scale', args.n, args.factor, [args.buf]);
}

/** buf (n) = value (a per-call-site constant). To zero a whole buffer, encoder.clearBuffer is cheaper. */
export function fill(gpu: Gpu, encoder: Recorder, args: { buf: Binding; n: number; value: number }): void {
  run(gpu, encoder, 'fill', args.n, args.value, [args.buf]);
}
