import code from '../../shaders/cross_entropy.wgsl?raw';
import meanCode from '../../shaders/cross_entropy_mean.wgsl?raw';
import { type Gpu, type Workgroups, type Binding, type Recorder, grid } from '../gpu/runtime';
import { TEAM_WG, withRowTeams } from './rowTeams';

export interface CrossEntropyArgs {
  /** (BT, V) */
  logits: Binding;
  /** (BT) i32 token ids in [0, V) */
  targets: Binding;
  BT: number;
  V: number;
}

/** Rows up to this many logits get one invocation each (no barriers); longer rows a workgroup each. */
const ROWWISE_MAX_V = 4096;
/** Rows up to this many logits get a 64-wide workgroup, longer ones 256 (shaders/cross_entropy.wgsl WG). */
const NARROW_MAX_V = 8192;

/** n workgroups folded into 2-D past 65535. */
const fold = (n: number): Workgroups => [Math.min(n, 65535), Math.ceil(n / 65535)];

/** Rows per workgroup of the GPU variant (a team per row: shaders/cross_entropy.wgsl TEAM_ROWS). */
const TEAM_ROWS = 8;

/** Pipeline, grid and workgroup size for one direction at this vocabulary size. */
function variant(gpu: Gpu, V: number, BT: number, dir: 'forward' | 'backward') {
  const source = withRowTeams(gpu, code);
  if (gpu.kernels === 'gpu') {
    return { pipeline: gpu.pipeline(source, { entryPoint: `${dir}Teams` }), workgroups: grid(Math.ceil(BT / TEAM_ROWS)), size: TEAM_WG };
  }
  if (V <= ROWWISE_MAX_V) {
    return { pipeline: gpu.pipeline(source, { entryPoint: `${dir}Rows` }), workgroups: fold(Math.ceil(BT / 64)), size: 64 };
  }
  const WG = V <= NARROW_MAX_V ? 64 : 256;
  return { pipeline: gpu.pipeline(source, { entryPoint: dir, constants: { WG } }), workgroups: fold(BT), size: WG };
}

/** Record losses[r] = -log softmax(logits[r])[targets[r]]. */
export function crossEntropyForward(gpu: Gpu, encoder: Recorder, args: CrossEntropyArgs & { losses: Binding }): void {
  const { BT, V } = args;
  const { pipeline, workgroups, size } = variant(gpu, V, BT, 'forward');
  gpu.dispatch(encoder, pipeline, {
    params: [BT, V],
    buffers: [args.losses, args.logits, args.targets],
    workgroups,
    kernel: 'cross_entropy_forward',
    workgroupSize: size,
    flops: 4 * BT * V,
    bytes: 4 * (BT * V + 2 * BT),
  });
}

/** Record out[0] = mean of losses[0..n) (a tree reduction in one workgroup). */
export function meanLoss(gpu: Gpu, encoder: Recorder, args: { out: Binding; losses: Binding; n: number }): void {
  gpu.dispatch(encoder, gpu.pipeline(meanCode), {
    params: [args.n],
    buffers: [args.out, args.losses],
    workgroups: 1,
    kernel: 'cross_entropy_mean',
    workgroupSize: 256,
    flops: args.n,
    bytes: 4 * (args.n + 1),
  });
}

/** Record dlogits = (softmax(logits) - onehot(targets)) / BT (overwrite): the gradient of the mean loss. */
export function crossEntropyBackward(gpu: Gpu, encoder: Recorder, args: CrossEntropyArgs & { dlogits: Binding }): void {
  const { BT, V } = args;
  const { pipeline, workgroups, size } = variant(gpu, V, BT, 'backward');
  gpu.dispatch(encoder, pipeline, {
    params: [BT, V],
    buffers: [args.dlogits, args.logits, args.targets],
    workgroups,
    kernel: 'cross_entropy_backward',
    workgroupSize: size,
    flops: 6 * BT * V,
    bytes: 4 * (2 * BT * V + BT),
  });
}

/**
 * Record a training step's losses and dlogits (the gradient of the mean loss) together: on GPUs one
 * pass over the logits (shaders/cross_entropy.wgsl lossTeams), on CPU adapters the forward and the
 * backward kernels one after the other. The same results as crossEntropyForward + crossEntropyBackward.
 */
export function crossEntropyLossAndGrad(gpu: Gpu, encoder: Recorder, args: CrossEntropyArgs & { losses: Binding; dlogits: Binding }): void {
  if (gpu.kernels !== 'gpu') {
    crossEntropyForward(gpu, encoder, args);
    crossEntropyBackward(gpu, encoder, args);
    return;
  }
  const { BT, V } = args;
  gpu.dispatch(encoder, gpu.pipeline(withRowTeams(gpu, code), { entryPoint: 'lossTeams' }), {
    params: [BT, V],
    buffers: [args.losses, args.logits, args.targets, args.dlogits],
    workgroups: grid(Math.ceil(BT / TEAM_ROWS)),
    kernel: 'cross_entropy',
    workgroupSize: TEAM_WG,
    flops: 6 * BT * V,
    bytes: 4 * (2 * BT * V + 2 * BT),
  });
}
