import forwardCode from '../../shaders/layernorm_forward.wgsl?raw';
import backwardCode from '../../shaders/layernorm_backward.wgsl?raw';
import { type Gpu, type Binding, type Recorder, grid } from '../gpu/runtime';
import { GradReduce, regionFloats } from './gradReduce';
import { TEAM_WG, withRowTeams } from './rowTeams';

/** Rows per workgroup: GPU kernels (a team per row, shaders/layernorm_*.wgsl ROWS) and CPU kernels (one invocation per row). */
const TEAM_ROWS = 8;
const SERIAL_ROWS = 64;

export interface LayerNormForwardArgs {
  /** (N, C) */
  out: Binding;
  /** (N) saved for the backward */
  mean: Binding;
  /** (N) 1 / sqrt(var + 1e-5), saved for the backward */
  rstd: Binding;
  /** (N, C), a different buffer from out */
  inp: Binding;
  /** (C) */
  weight: Binding;
  /** (C), or null for a LayerNorm without bias */
  bias: Binding | null;
  N: number;
  C: number;
}

export interface LayerNormBackwardArgs {
  /** (N, C): accumulated, or overwritten when `overwrite` is set */
  dinp: Binding;
  /** (C), accumulated */
  dweight: Binding;
  /** (C), accumulated, or null without bias */
  dbias: Binding | null;
  /**
   * Where the weight and bias gradients' per-workgroup partial sums go: a
   * backward's GradReduce (./gradReduce.ts: added into dweight and dbias when it
   * records), or, without one, layerNormBackwardScratchFloats(N, C) floats of
   * scratch (clobbered) reduced right after the row kernel.
   */
  deferred?: GradReduce | null;
  scratch?: Binding | null;
  /** A frozen LayerNorm: no weight or bias gradient (dweight and dbias are not written). */
  frozen?: boolean;
  /** (N, C) */
  dout: Binding;
  /** (N, C) the forward's input */
  inp: Binding;
  /** (C) */
  weight: Binding;
  /** (N) from the forward */
  mean: Binding;
  /** (N) from the forward */
  rstd: Binding;
  N: number;
  C: number;
  /**
   * Write dinp instead of adding into it: for the first gradient written into
   * a buffer within a step (the final LayerNorm's, into the residual-stream
   * gradient), so that buffer needs no clear inside the step's compute pass.
   */
  overwrite?: boolean;
}

/**
 * Floats of partial sums the weight and bias gradients of N rows of C channels
 * take (one row of C per workgroup of the row kernel, twice with a bias), as
 * a GradReduce region; the most of the GPU and CPU variants.
 */
export function layerNormPartialFloats(N: number, C: number, bias: boolean): number {
  return regionFloats((bias ? 2 : 1) * Math.ceil(N / Math.min(TEAM_ROWS, SERIAL_ROWS)) * C);
}

/** Floats of scratch layerNormBackward needs without a GradReduce (the parameter gradients' partial sums). */
export function layerNormBackwardScratchFloats(N: number, C: number): number {
  return layerNormPartialFloats(N, C, true);
}

/** Row kernels: the GPU variant (vec4 when C % 4 == 0) or the CPU one, its pipeline code and grid. */
function rowVariant(gpu: Gpu, code: string, C: number, N: number) {
  if (gpu.kernels === 'cpu') return { code: withRowTeams(gpu, code), entryPoint: 'serial', workgroups: grid(Math.ceil(N / SERIAL_ROWS)), size: SERIAL_ROWS };
  return { code: withRowTeams(gpu, code), entryPoint: C % 4 === 0 ? 'main4' : 'main', workgroups: grid(Math.ceil(N / TEAM_ROWS)), size: TEAM_WG };
}

/** Record out = (inp - mean) * rstd * weight (+ bias) per row, saving mean and rstd (eps 1e-5, biased variance). */
export function layerNormForward(gpu: Gpu, encoder: Recorder, args: LayerNormForwardArgs): void {
  const { N, C } = args;
  const v = rowVariant(gpu, forwardCode, C, N);
  const pipeline = gpu.pipeline(v.code, { entryPoint: v.entryPoint, constants: { HAS_BIAS: args.bias ? 1 : 0 } });
  gpu.dispatch(encoder, pipeline, {
    params: [N, C],
    buffers: [args.out, args.mean, args.rstd, args.inp, args.weight, args.bias ?? gpu.zeros()],
    workgroups: v.workgroups,
    kernel: 'layernorm_forward',
    workgroupSize: v.size,
    flops: 8 * N * C,
    bytes: 4 * (2 * N * C + 2 * N + (args.bias ? 2 : 1) * C),
  });
}

/**
 * Record dinp (+)= ..., and the weight and bias gradients: one row kernel,
 * whose workgroups also leave their rows' share of dweight and dbias in
 * partials; a GradReduce adds them in a fixed order (the backward's, at its
 * end, or one of its own right away when only scratch is given).
 */
export function layerNormBackward(gpu: Gpu, encoder: Recorder, args: LayerNormBackwardArgs): void {
  const { N, C } = args;
  const v = rowVariant(gpu, backwardCode, C, N);
  const rows = gpu.kernels === 'cpu' ? SERIAL_ROWS : TEAM_ROWS;
  const NWG = Math.ceil(N / rows);
  const grads = !args.frozen;
  const sums = args.dbias ? 2 : 1;
  let reduce: GradReduce | null = null;
  let region: { binding: Binding; at: number } | null = null;
  if (grads) {
    if (!args.deferred && !args.scratch) throw new Error('A LayerNorm backward with parameter gradients needs a GradReduce or scratch.');
    reduce = args.deferred ?? new GradReduce(args.scratch!);
    region = reduce.take(sums * NWG * C);
  }
  const constants = { ACCUMULATE: args.overwrite ? 0 : 1, PARAM_GRADS: grads ? 1 : 0, HAS_BIAS: args.dbias ? 1 : 0 };
  gpu.dispatch(encoder, gpu.pipeline(v.code, { entryPoint: v.entryPoint, constants }), {
    params: [N, C, NWG],
    buffers: [args.dinp, args.dout, args.inp, args.weight, args.mean, args.rstd, region?.binding ?? partialsUnused(gpu)],
    workgroups: v.workgroups,
    kernel: 'layernorm_backward',
    workgroupSize: v.size,
    flops: 14 * N * C + (grads ? (3 + sums) * N * C : 0),
    bytes: 4 * ((args.overwrite ? 3 : 4) * N * C + 2 * N + C + (grads ? sums * NWG * C : 0)),
  });
  if (!reduce || !region) return;
  reduce.add({ src: region.at, stride: C, count: NWG, len: C, dst: args.dweight });
  if (args.dbias) reduce.add({ src: region.at + NWG * C, stride: C, count: NWG, len: C, dst: args.dbias });
  if (!args.deferred) reduce.record(gpu, encoder);
}

/** What a norm backward binds where its partials are not written (frozen): the Gpu's zeros, never written. */
export const partialsUnused = (gpu: Gpu): GPUBuffer => gpu.zeros();
