import code from '../../shaders/activation.wgsl?raw';
import type { Activation } from '../model/config';
import { type Gpu, type Binding, type Recorder, grid } from '../gpu/runtime';

const KIND: Record<Activation, number> = { relu: 0, gelu: 1 };

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
  });
}

/** Record dinp = f'(inp) * dout (overwrite, not accumulate: the activation's input has no other consumer). */
export function activationBackward(gpu: Gpu, encoder: Recorder, args: ActivationBackwardArgs): void {
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint: 'backward', constants: { KIND: KIND[args.kind] } }), {
    params: [args.n],
    buffers: [args.dinp, args.inp, args.dout],
    workgroups: grid(Math.ceil(args.n / 256)),
  });
}
