// float64 CPU reference for the KV-cache append: the new row's keys and values copied into row `pos` of each cache.

export function kvAppendRef(
  kCache: Float64Array,
  vCache: Float64Array,
  qkv: ArrayLike<number>,
  n: number,
  qOff: number,
  pos: number,
): void {
  for (let i = 0; i < n; i++) {
    kCache[pos * n + i] = qkv[qOff + i];
    vCache[pos * n + i] = qkv[qOff + n + i];
  }
}
