import forwardSource from '../../shaders/embedding_forward.wgsl?raw';
import backwardSource from '../../shaders/embedding_backward.wgsl?raw';
import { type Gpu, type Binding, type Recorder, grid, bindingBytes, packParams } from '../gpu/runtime';
import { dropoutScale, dropoutThreshold, withDropoutHash } from './dropout';

const forwardCode = withDropoutHash(forwardSource);
const backwardCode = withDropoutHash(backwardSource);

/** The embeddings' dropout in training (the mask of ./dropout.ts over (B*T, C), same seed and salt). */
export interface EmbeddingDropout {
  p: number;
  salt: number;
  /** u32[1], the step's seed */
  seed: Binding;
}

/** The dropout's uniform words: threshold, salt, scale (zeros without one). */
const dropWords = (d: EmbeddingDropout | null) => [d ? dropoutThreshold(d.p) : 0, d?.salt ?? 0, { f32: d ? dropoutScale(d.p) : 1 }];

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
  /** out = dropout(wte[x] + wpe[t]) (training); none when null or p = 0 */
  dropout?: EmbeddingDropout | null;
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
  /** dout is the gradient before the embeddings' dropout (applied as it is read); none when null or p = 0 */
  dropout?: EmbeddingDropout | null;
}

/** Record out[b, t] = wte[tokens[b, t]] + wpe[pos0 + t] (then its dropout, in training). */
export function embeddingForward(gpu: Gpu, encoder: Recorder, args: EmbeddingForwardArgs): void {
  const { B, T, C } = args;
  const drop = args.dropout && args.dropout.p > 0 ? args.dropout : null;
  gpu.dispatch(encoder, gpu.pipeline(forwardCode, { constants: { POSITIONS: args.wpe ? 1 : 0, DROP: drop ? 1 : 0 } }), {
    params: packParams([B * T, T, C, args.pos0 ?? 0, ...dropWords(drop)]),
    buffers: [args.out, args.tokens, args.wte, args.wpe ?? args.wte, drop?.seed ?? gpu.zeros()],
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

/**
 * Record dwte += scatter of dout by token, dwpe += sum of dout over the batch
 * (deterministic, no atomics), dout taken through the embeddings' dropout when
 * given one: on GPUs one dispatch (entry point `both`), on CPU adapters two.
 */
export function embeddingBackward(gpu: Gpu, encoder: Recorder, args: EmbeddingBackwardArgs): void {
  const { B, T, C, V } = args;
  const drop = args.dropout && args.dropout.p > 0 ? args.dropout : null;
  const constants = { DROP: drop ? 1 : 0 };
  const slices = V * Math.ceil(C / SLICE);
  const seed = drop?.seed ?? gpu.zeros();
  const cpu = gpu.kernels === 'cpu';
  const posWG = Math.ceil((T * C) / 256);
  if (!cpu && args.dwpe) {
    gpu.dispatch(encoder, gpu.pipeline(backwardCode, { entryPoint: 'both', constants }), {
      params: packParams([B, T, C, V, slices, ...dropWords(drop)]),
      buffers: [args.dwte, args.dout, seed, args.tokens, args.dwpe],
      workgroups: grid(slices + posWG),
      kernel: 'embedding_backward',
      workgroupSize: 256,
      flops: 2 * B * T * C,
      // dout read by the token sums and again (from cache) by the position sums: counted once
      bytes: 4 * (B * T * C + B * T + 2 * V * C + 2 * T * C),
    });
    return;
  }
  const params = packParams([B, T, C, V, slices, ...dropWords(drop)]);
  gpu.dispatch(encoder, gpu.pipeline(backwardCode, { entryPoint: cpu ? 'wteSerial' : 'wte', constants }), {
    params,
    buffers: [args.dwte, args.dout, seed, args.tokens],
    workgroups: grid(cpu ? Math.ceil(slices / 64) : slices),
    kernel: 'embedding_backward_wte',
    workgroupSize: cpu ? 64 : 256,
    flops: B * T * C,
    bytes: 4 * (B * T * C + B * T + 2 * V * C),
  });
  if (!args.dwpe) return;
  gpu.dispatch(encoder, gpu.pipeline(backwardCode, { entryPoint: 'wpe', constants }), {
    params,
    buffers: [args.dwpe, args.dout, seed],
    workgroups: grid(Math.ceil((T * C) / 64)),
    kernel: 'embedding_backward_wpe',
    workgroupSize: 64,
    flops: B * T * C,
    bytes: 4 * (B * T * C + 2 * T * C),
  });
}
