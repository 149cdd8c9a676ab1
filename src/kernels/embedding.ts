import forwardCode from '../../shaders/embedding_forward.wgsl?raw';
import backwardCode from '../../shaders/embedding_backward.wgsl?raw';
import { type Gpu, type Binding, type Recorder, grid, bindingBytes } from '../gpu/runtime';

export interface EmbeddingForwardArgs {
  /** (B*T, C) */
  out: Binding;
  /** (B*T) i32 token ids in [0, V) */
  tokens: Binding;
  /** (V, C) token embeddings */
  wte: Binding;
  /** (>= pos0 + T, C) position embeddings; row pos0 + (row % T) is used; null: none (rotary models) */
  wpe: Binding | null;
  /** position of each sequence's first row (default 0; a KV-cache decoder passes the cached length) */
  pos0?: number;
  B: number;
  T: number;
  C: number;
}

export interface EmbeddingBackwardArgs {
  /** (V, C), accumulated */
  dwte: Binding;
  /** (T, C), accumulated; null: no position embeddings */
  dwpe: Binding | null;
  /** (B*T, C) */
  dout: Binding;
  /** (B*T) i32 */
  tokens: Binding;
  B: number;
  T: number;
  C: number;
  V: number;
}

/** Record out[b, t] = wte[tokens[b, t]] + wpe[pos0 + t]. */
export function embeddingForward(gpu: Gpu, encoder: Recorder, args: EmbeddingForwardArgs): void {
  const { B, T, C } = args;
  gpu.dispatch(encoder, gpu.pipeline(forwardCode, { constants: { POSITIONS: args.wpe ? 1 : 0 } }), {
    params: [B * T, T, C, args.pos0 ?? 0],
    buffers: [args.out, args.tokens, args.wte, args.wpe ?? args.wte],
    workgroups: grid(Math.ceil((B * T * C) / 256)),
    kernel: 'embedding_forward',
    workgroupSize: 256,
    flops: B * T * C,
    // read tokens (BT), the (V, C) table once (or the BT rows gathered, if fewer) and wpe (T, C); write out (BT, C)
    bytes: 4 * (B * T + T * C + B * T * C) + Math.min(bindingBytes(args.wte), 4 * B * T * C),
  });
}

/** Channels per token-embedding gradient workgroup (GPU) or invocation (CPU): shaders/embedding_backward.wgsl CH. */
const SLICE = 16;

/** Record dwte += scatter of dout by token, dwpe += sum of dout over the batch (deterministic, no atomics). */
export function embeddingBackward(gpu: Gpu, encoder: Recorder, args: EmbeddingBackwardArgs): void {
  const { B, T, C, V } = args;
  const params = [B, T, C, V];
  const slices = V * Math.ceil(C / SLICE);
  const cpu = gpu.kernels === 'cpu';
  gpu.dispatch(encoder, gpu.pipeline(backwardCode, { entryPoint: cpu ? 'wteSerial' : 'wte' }), {
    params,
    buffers: [args.dwte, args.dout, args.tokens],
    workgroups: grid(cpu ? Math.ceil(slices / 64) : slices),
    kernel: 'embedding_backward_wte',
    workgroupSize: cpu ? 64 : 256,
    flops: B * T * C,
    bytes: 4 * (B * T * C + B * T + 2 * V * C),
  });
  if (!args.dwpe) return;
  gpu.dispatch(encoder, gpu.pipeline(backwardCode, { entryPoint: 'wpe' }), {
    params,
    buffers: [args.dwpe, args.dout],
    workgroups: grid(Math.ceil((T * C) / 64)),
    kernel: 'embedding_backward_wpe',
    workgroupSize: 64,
    flops: B * T * C,
    bytes: 4 * (B * T * C + 2 * T * C),
  });
}
