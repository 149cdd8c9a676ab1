import dropoutCode from '../../shaders/dropout.wgsl?raw';
import hashCode from '../../shaders/dropout_hash.wgsl?raw';
import { packParams, type Gpu, type Binding, type Recorder, grid } from '../gpu/runtime';

/** A shader that drops elements, with the dropout hash (shaders/dropout_hash.wgsl) prepended: the one WGSL copy of it. */
export function withDropoutHash(code: string): string {
  return `${hashCode}\n${code}`;
}

const code = withDropoutHash(dropoutCode);

// Counter-based dropout: the mask is a pure function of (seed, salt, index),
// recomputed wherever it is needed (forward, backward, tests). See shaders/dropout.wgsl.

export interface DropoutForwardArgs {
  /** (n) */
  out: Binding;
  /** (n), a different buffer from out */
  inp: Binding;
  n: number;
  /** drop probability, 0 <= p < 1 */
  p: number;
  /** tells apart the dropout sites within one step (a per-call-site constant) */
  salt: number;
  /** u32[1]: the step's seed, written by the caller each step */
  seed: Binding;
}

export interface DropoutBackwardArgs {
  /** (n), overwritten: dinp = dout * mask / (1 - p) */
  dinp: Binding;
  /** (n) */
  dout: Binding;
  n: number;
  p: number;
  salt: number;
  seed: Binding;
}

/** Elements with hash >= threshold are kept: keep probability 1 - threshold / 2^32 = 1 - p (to 2^-32). */
export function dropoutThreshold(p: number): number {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout probability must be in [0, 1), got ${p}`);
  return Math.min(0xffffffff, Math.floor(p * 4294967296));
}

/** The f32 factor kept elements are multiplied by. */
export const dropoutScale = (p: number) => Math.fround(1 / (1 - p));

function mix(v: number): number {
  let x = v >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** The 32-bit hash the shader computes for element i. */
export function dropoutHash(seed: number, salt: number, i: number): number {
  const key = mix((mix((salt + 0x9e3779b9) >>> 0) ^ seed) >>> 0);
  return mix((mix((i ^ key) >>> 0) + key) >>> 0);
}

/** The GPU's mask, bit for bit: 1 = kept (scaled by 1/(1-p)), 0 = dropped. */
export function dropoutMaskCpu(seed: number, salt: number, n: number, p: number): Uint8Array {
  const threshold = dropoutThreshold(p);
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = dropoutHash(seed, salt, i) >= threshold ? 1 : 0;
  return mask;
}

function dispatch(gpu: Gpu, encoder: Recorder, out: Binding, inp: Binding, n: number, p: number, salt: number, seed: Binding, resid: Binding | null = null): void {
  gpu.dispatch(encoder, gpu.pipeline(code, { constants: { RESIDUAL: resid ? 1 : 0 } }), {
    params: packParams([n, dropoutThreshold(p), salt, { f32: dropoutScale(p) }]),
    buffers: [out, inp, seed, resid ?? gpu.zeros()],
    workgroups: grid(Math.ceil(n / 256)),
    kernel: resid ? 'dropout_residual' : 'dropout',
    workgroupSize: 256,
    // a compare and a multiply per element (the hash is integer arithmetic), and the residual's add
    flops: (resid ? 3 : 2) * n,
    bytes: (resid ? 12 : 8) * n + 4,
  });
}

/** Record out = inp * mask / (1 - p). With p = 0 this is an exact copy (callers may skip it instead). */
export function dropoutForward(gpu: Gpu, encoder: Recorder, args: DropoutForwardArgs): void {
  dispatch(gpu, encoder, args.out, args.inp, args.n, args.p, args.salt, args.seed);
}

/** Record out = resid + inp * mask / (1 - p): a residual branch's dropout and add in one pass (the same mask as dropoutForward). */
export function dropoutResidual(gpu: Gpu, encoder: Recorder, args: DropoutForwardArgs & { resid: Binding }): void {
  dispatch(gpu, encoder, args.out, args.inp, args.n, args.p, args.salt, args.seed, args.resid);
}

/** Record dinp = dout * mask / (1 - p), the same mask as the forward with the same seed and salt. */
export function dropoutBackward(gpu: Gpu, encoder: Recorder, args: DropoutBackwardArgs): void {
  dispatch(gpu, encoder, args.dinp, args.dout, args.n, args.p, args.salt, args.seed);
}
