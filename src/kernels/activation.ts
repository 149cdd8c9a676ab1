import code from '../../shaders/activation.wgsl?raw';
import { type Gpu, type Binding, type Recorder, grid } from '../gpu/runtime';

/** The MLP's nonlinearity (nanoGPT's GELU, or ReLU). */
export type Activation = 'relu' | 'gelu';

const KIND: Record<Activation, number> = { relu: 0, gelu: 1 };

/** Arithmetic per element (step plans): relu a compare; GELU 0.5 x (1 + erf(x / sqrt 2)) with erf's polynomial counted. */
const FLOPS_FORWARD: Record<Activation, number> = { relu: 1, gelu: 20 };
/** relu a compare and a multiply; GELU's derivative Phi(x) + x phi(x) with an exp, times dout. */
const FLOPS_BACKWARD: Record<Activation, number> = { relu: 2, gelu: 30 };

export interface ActivationForwardArgs {
  /** (n) */
  out: Binding;
  /** (n), a different buffer from out */
  inp: Binding;
  n: number;
  kind: Activation;
}

export interface ActivationBackwardArgs {
  /** (n), overwritten: dinp = f'(inp) * dout */
  dinp: Binding;
  /** (n) the forward's input */
  inp: Binding;
  /** (n) */
  dout: Binding;
  n: number;
  kind: Activation;
}

/** Record out = relu(inp) or exact (erf) GELU(inp). */
export function activationForward(gpu: Gpu, encoder: Recorder, args: ActivationForwardArgs): void {
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint: 'forward', constants: { KIND: KIND[args.kind] } }), {
    params: [args.n],
    buffers: [args.out, args.inp],
    workgroups: grid(Math.ceil(args.n / 256)),
    kernel: `${args.kind}_forward`,
    workgroupSize: 256,
    flops: FLOPS_FORWARD[args.kind] * args.n,
    bytes: 8 * args.n,
  });
}

/** Record dinp = f'(inp) * dout (overwrite, not accumulate: the activation's input has no other consumer). */
export function activationBackward(gpu: Gpu, encoder: Recorder, args: ActivationBackwardArgs): void {
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint: 'backward', constants: { KIND: KIND[args.kind] } }), {
    params: [args.n],
    buffers: [args.dinp, args.inp, args.dout],
    workgroups: grid(Math.ceil(args.n / 256)),
    kernel: `${args.kind}_backward`,
    workgroupSize: 256,
    flops: FLOPS_BACKWARD[args.kind] * args.n,
    bytes: 12 * args.n,
  });
}
