import code from '../../shaders/swiglu.wgsl?raw';
import { type Gpu, type Binding, type Recorder, grid } from '../gpu/runtime';

export interface SwigluForwardArgs {
  /** (N, I) */
  out: Binding;
  /** (N, 2I) gate | up, a different buffer from out */
  inp: Binding;
  N: number;
  /** intermediate size */
  I: number;
}

export interface SwigluBackwardArgs {
  /** (N, 2I), overwritten: d(gate | up) */
  dinp: Binding;
  /** (N, 2I) the forward's input */
  inp: Binding;
  /** (N, I) */
  dout: Binding;
  N: number;
  I: number;
}

/** Record out = silu(gate) * up of inp = gate | up (LLaMA's MLP between its projections). */
export function swigluForward(gpu: Gpu, encoder: Recorder, args: SwigluForwardArgs): void {
  const n = args.N * args.I;
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint: 'forward' }), {
    params: [args.N, args.I],
    buffers: [args.out, args.inp],
    workgroups: grid(Math.ceil(n / 256)),
    kernel: 'swiglu_forward',
    workgroupSize: 256,
    flops: 6 * n,
    bytes: 12 * n,
  });
}

/** Record dinp = d(gate | up) (overwrite, not accumulate: the gate's input has no other consumer). */
export function swigluBackward(gpu: Gpu, encoder: Recorder, args: SwigluBackwardArgs): void {
  const n = args.N * args.I;
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint: 'backward' }), {
    params: [args.N, args.I],
    buffers: [args.dinp, args.inp, args.dout],
    workgroups: grid(Math.ceil(n / 256)),
    kernel: 'swiglu_backward',
    workgroupSize: 256,
    flops: 12 * n,
    bytes: 20 * n,
  });
}
