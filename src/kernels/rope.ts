import code from '../../shaders/rope.wgsl?raw';
import { type Gpu, type Binding, type Recorder, grid } from '../gpu/runtime';

/** Largest head dim the kernel's frequency table holds (shaders/rope.wgsl). */
export const ROPE_MAX_HEAD_DIM = 256;

export interface RopeArgs {
  /** (B*T, (H + 2 KV) D): q heads | k heads | v heads; q and k rotated in place (the gradients of them, backward) */
  qkv: Binding;
  /** rows B*T */
  N: number;
  /** positions per sequence: row n is at position pos0 + n % T */
  T: number;
  /** query heads */
  H: number;
  /** key/value heads */
  KV: number;
  /** head dim, even, <= ROPE_MAX_HEAD_DIM */
  D: number;
  /** position of each sequence's first row (the KV-cache decoder's current position); 0 in training */
  pos0: number;
  /** rope_theta (LLaMA: 10000) */
  theta: number;
}

/**
 * The uniform words: sizes, then per pair i the frequency inv_freq[i] / (2 pi)
 * in turns per position as a 64-bit binary fraction (hi, lo), from float64.
 */
function ropeParams(a: RopeArgs): Uint32Array {
  if (a.D % 2 !== 0 || a.D > ROPE_MAX_HEAD_DIM) throw new Error(`Rotary embeddings need an even head dim of at most ${ROPE_MAX_HEAD_DIM}; got ${a.D}.`);
  if (!Number.isInteger(a.pos0) || a.pos0 < 0 || a.pos0 + a.T > 2 ** 31) throw new Error(`Rotary embeddings: position offset ${a.pos0} is out of range.`);
  const u = new Uint32Array(8 + ROPE_MAX_HEAD_DIM);
  u.set([a.N, a.T, a.H, a.KV, a.D, a.pos0]);
  for (let i = 0; i < a.D / 2; i++) {
    const turns = a.theta ** ((-2 * i) / a.D) / (2 * Math.PI); // < 1
    const hi = Math.floor(turns * 2 ** 32);
    const lo = Math.floor((turns * 2 ** 32 - hi) * 2 ** 32);
    u[8 + 2 * i] = hi;
    u[9 + 2 * i] = lo;
  }
  return u;
}

function record(gpu: Gpu, encoder: Recorder, args: RopeArgs, backward: boolean) {
  const n = args.N * (args.H + args.KV) * (args.D / 2);
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint: 'main', constants: { BACKWARD: backward ? 1 : 0 } }), {
    params: ropeParams(args),
    buffers: [args.qkv],
    workgroups: grid(Math.ceil(n / 256)),
    kernel: backward ? 'rope_backward' : 'rope_forward',
    workgroupSize: 256,
    flops: 30 * n,
    bytes: 16 * n,
  });
}

/** Record the rotation of q and k (in place) to positions pos0 + t. */
export function ropeForward(gpu: Gpu, encoder: Recorder, args: RopeArgs): void {
  record(gpu, encoder, args, false);
}

/** Record the transposed rotation of dq and dk (in place): the gradient before the forward's rotation; dv untouched. */
export function ropeBackward(gpu: Gpu, encoder: Recorder, args: RopeArgs): void {
  record(gpu, encoder, args, true);
}
