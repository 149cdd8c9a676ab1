import code from '../../shaders/cross_entropy.wgsl?raw';
import meanCode from '../../shaders/cross_entropy_mean.wgsl?raw';
import { type Gpu, type Workgroups, type Binding, type Recorder } from '../gpu/runtime';

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

/** Pipeline and grid for one direction at this vocabulary size. */
function variant(gpu: Gpu, V: number, BT: number, dir: 'forward' | 'backward') {
  if (V <= ROWWISE_MAX_V) {
    return { pipeline: gpu.pipeline(code, { entryPoint: `${dir}Rows` }), workgroups: fold(Math.ceil(BT / 64)), workgroupSize: 64 };
  }
  const WG = V <= NARROW_MAX_V ? 64 : 256;
  return { pipeline: gpu.pipeline(code, { entryPoint: dir, constants: { WG } }), workgroups: fold(BT), workgroupSize: WG };
}

/** Record losses[r] = -log softmax(logits[r])[targets[r]]. */
export function crossEntropyForward(gpu: Gpu, encoder: Recorder, args: CrossEntropyArgs & { losses: Binding }): void {
  const { pipeline, workgroups, workgroupSize } = variant(gpu, args.V, args.BT, 'forward');
  gpu.dispatch(encoder, pipeline, {
    params: [args.BT, args.V],
    buffers: [args.losses, args.logits, args.targets],
    workgroups,
    kernel: 'cross_entropy_forward',
    workgroupSize,
    // per logit: max, subtract, exp, sum
    flops: 4 * args.BT * args.V,
    // read logits (BT, V) and targets (BT); write losses (BT)
    bytes: 4 * (args.BT * args.V + 2 * args.BT),
  });
}

/** Record out[0] = mean of losses[0..n). */
export function meanLoss(gpu: Gpu, encoder: Recorder, args: { out: Binding; losses: Binding; n: number }): void {
  gpu.dispatch(encoder, gpu.pipeline(meanCode), {
    params: [args.n],
    buffers: [args.out, args.losses],
    workgroups: 1,
    kernel: 'cross_entropy_mean',
    workgroupSize: 64,
    flops: args.n + 1,
    bytes: 4 * (args.n + 1),
  });
}

/** Record dlogits = (softmax(logits) - onehot(targets)) / BT (overwrite): the gradient of the mean loss. */
export function crossEntropyBackward(gpu: Gpu, encoder: Recorder, args: CrossEntropyArgs & { dlogits: Binding }): void {
  const { pipeline, workgroups, workgroupSize } = variant(gpu, args.V, args.BT, 'backward');
  gpu.dispatch(encoder, pipeline, {
    params: [args.BT, args.V],
    buffers: [args.dlogits, args.logits, args.targets],
    workgroups,
    kernel: 'cross_entropy_backward',
    workgroupSize,
    // per logit: the row's max and sum again (4), then exp, subtract, divide and scale (4)
    flops: 8 * args.BT * args.V,
    // read logits (BT, V) and targets (BT); write dlogits (BT, V)
    bytes: 4 * (2 * args.BT * args.V + args.BT),
  });
}
