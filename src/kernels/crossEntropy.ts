import code from '../../shaders/cross_entropy.wgsl?raw';
import meanCode from '../../shaders/cross_entropy_mean.wgsl?raw';
import type { Gpu, Workgroups } from '../gpu/runtime';

export interface CrossEntropyArgs {
  /** (BT, V) */
  logits: GPUBuffer;
  /** (BT) i32 token ids in [0, V) */
  targets: GPUBuffer;
  BT: number;
  V: number;
}

/** One workgroup per row, folded into 2-D past 65535 rows. */
const rowGrid = (BT: number): Workgroups => [Math.min(BT, 65535), Math.ceil(BT / 65535)];

/** Record losses[r] = -log softmax(logits[r])[targets[r]]. */
export function crossEntropyForward(gpu: Gpu, encoder: GPUCommandEncoder, args: CrossEntropyArgs & { losses: GPUBuffer }): void {
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint: 'forward' }), {
    params: [args.BT, args.V],
    buffers: [args.losses, args.logits, args.targets],
    workgroups: rowGrid(args.BT),
  });
}

/** Record out[0] = mean of losses[0..n). */
export function meanLoss(gpu: Gpu, encoder: GPUCommandEncoder, args: { out: GPUBuffer; losses: GPUBuffer; n: number }): void {
  gpu.dispatch(encoder, gpu.pipeline(meanCode), {
    params: [args.n],
    buffers: [args.out, args.losses],
    workgroups: 1,
  });
}

/** Record dlogits = (softmax(logits) - onehot(targets)) / BT (overwrite): the gradient of the mean loss. */
export function crossEntropyBackward(gpu: Gpu, encoder: GPUCommandEncoder, args: CrossEntropyArgs & { dlogits: GPUBuffer }): void {
  gpu.dispatch(encoder, gpu.pipeline(code, { entryPoint: 'backward' }), {
    params: [args.BT, args.V],
    buffers: [args.dlogits, args.logits, args.targets],
    workgroups: rowGrid(args.BT),
  });
}
