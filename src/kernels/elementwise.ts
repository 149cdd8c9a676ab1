import code from '../../shaders/elementwise.wgsl?raw';
import { packParams, type Gpu } from '../gpu/runtime';

/** WebGPU's default (and most common) limit on workgroups per dispatch dimension. */
export const MAX_WORKGROUPS_PER_DIMENSION = 65535;

/**
 * Fold a 1-D count of workgroups into (x, y) so that neither exceeds 65535.
 * Shaders linearise it back as `wg.y * num_workgroups.x + wg.x` and bounds-check,
 * since x * y may exceed `workgroups` by up to x - 1.
 */
export function grid(workgroups: number): [number, number] {
  if (workgroups <= MAX_WORKGROUPS_PER_DIMENSION) return [workgroups, 1];
  const y = Math.ceil(workgroups / MAX_WORKGROUPS_PER_DIMENSION);
  return [Math.ceil(workgroups / y), y];
}

function run(gpu: Gpu, encoder: GPUCommandEncoder, entryPoint: string, n: number, value: number, buffers: GPUBuffer[]): void {
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint }), {
    params: packParams([n, { f32: value }]),
    buffers,
    workgroups: grid(Math.ceil(n / 256)),
  });
}

/** out (n) = a (n) + b (n). `out` must be a different buffer from `a` and `b` (use addInPlace). */
export function add(gpu: Gpu, encoder: GPUCommandEncoder, args: { out: GPUBuffer; a: GPUBuffer; b: GPUBuffer; n: number }): void {
  run(gpu, encoder, 'add', args.n, 0, [args.out, args.a, args.b]);
}

/** dst (n) += src (n). */
export function addInPlace(gpu: Gpu, encoder: GPUCommandEncoder, args: { dst: GPUBuffer; src: GPUBuffer; n: number }): void {
  run(gpu, encoder, 'addInPlace', args.n, 0, [args.dst, args.src]);
}

/** buf (n) *= factor. `factor` is baked into a cached uniform: a per-call-site constant, not a per-step value. */
export function scale(gpu: Gpu, encoder: GPUCommandEncoder, args: { buf: GPUBuffer; n: number; factor: number }): void {
  run(gpu, encoder, 'scale', args.n, args.factor, [args.buf]);
}

/** buf (n) = value (a per-call-site constant). To zero a whole buffer, encoder.clearBuffer is cheaper. */
export function fill(gpu: Gpu, encoder: GPUCommandEncoder, args: { buf: GPUBuffer; n: number; value: number }): void {
  run(gpu, encoder, 'fill', args.n, args.value, [args.buf]);
}
