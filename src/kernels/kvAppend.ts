import code from '../../shaders/kv_append.wgsl?raw';
import type { Binding, Gpu, Recorder } from '../gpu/runtime';

export interface KvAppendArgs {
  /** (Tmax, n) keys, row `pos` written */
  kCache: Binding;
  /** (Tmax, n) values, row `pos` written */
  vCache: Binding;
  /** one row: q (qOff floats) | k (n) | v (n) */
  qkv: Binding;
  /** floats of one position's keys (KV heads * head size) */
  n: number;
  /** floats before the keys in qkv (the queries, C) */
  qOff: number;
  /** the position written, in [0, Tmax) */
  pos: number;
  Tmax: number;
}

/** Record kCache[pos] = qkv[qOff .. qOff+n], vCache[pos] = qkv[qOff+n .. qOff+2n]: a decoder's new keys and values join the cache inside the pass. */
export function kvAppend(gpu: Gpu, encoder: Recorder, args: KvAppendArgs): void {
  const { n, qOff, pos, Tmax } = args;
  if (!(Number.isInteger(pos) && pos >= 0 && pos < Tmax)) throw new Error(`kvAppend: position ${pos} is outside a cache of ${Tmax} positions.`);
  gpu.dispatch(encoder, gpu.pipeline(code), {
    params: [n, qOff, pos],
    buffers: [args.kCache, args.vCache, args.qkv],
    workgroups: Math.ceil(n / 64),
    kernel: 'kv_append',
    workgroupSize: 64,
    flops: 0,
    // read the new keys and values, write them into the caches
    bytes: 4 * 4 * n,
  });
}
