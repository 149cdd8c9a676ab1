import code from '../../shaders/activation.wgsl?raw';
import type { Activation } from '../model/config';
import type { Gpu } from '../gpu/runtime';
import { grid } from './elementwise';

const KIND: Record<Activation, number> = { relu: 0, gelu: 1 };

export interface ActivationForwardArgs {
  /** (n) */
  out: GPUBuffer;
  /** (n), a different buffer from out */
  inp: GPUBuffer;
  n: number;
  kind: Activation;
}

export interface ActivationBackwardArgs {
  /** (n), overwritten: dinp = f'(inp) * dout */
  dinp: GPUBuffer;
  /** (n) the forward's input */
  inp: GPUBuffer;
  /** (n) */
  dout: GPUBuffer;
  n: number;
  kind: Activation;
}

/** Record out = relu(inp) or exact (erf) GELU(inp). */
export function activationForward(gpu: Gpu, encoder: GPUCommandEncoder, args: ActivationForwardArgs): void {
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint: 'forward', constants: { KIND: KIND[args.kind] } }), {
    params: [args.n],
    buffers: [args.out, args.inp],
    workgroups: grid(Math.ceil(args.n / 256)),
  });
}

/** Record dinp = f'(inp) * dout (overwrite, not accumulate: the activation's input has no other consumer). */
export function activationBackward(gpu: Gpu, encoder: GPUCommandEncoder, args: ActivationBackwardArgs): void {
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint: 'backward', constants: { KIND: KIND[args.kind] } }), {
    params: [args.n],
    buffers: [args.dinp, args.inp, args.dout],
    workgroups: grid(Math.ceil(args.n / 256)),
  });
}
