// A quick proof that the GPU computes correctly: one matmul on random inputs,
// checked element by element against a float64 CPU product.
import type { Gpu } from '../gpu/runtime';
import { matmul } from '../kernels/matmul';
import type { SelfCheckResult } from './protocol';

function randomMatrix(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

export async function runSelfCheck(gpu: Gpu, M: number, N: number, K: number, seed: number): Promise<SelfCheckResult> {
  const a = randomMatrix(M * K, seed);
  const b = randomMatrix(N * K, seed + 1);
  const t0 = performance.now();
  const bufA = gpu.upload(a, 'check.a');
  const bufB = gpu.upload(b, 'check.b');
  const out = gpu.upload(new Float32Array(M * N).fill(Number.NaN), 'check.out');
  gpu.submit((enc) => matmul(gpu, enc, { out, a: bufA, b: bufB, M, N, K, transB: true }));
  const got = await gpu.readF32(out, M * N);
  const ms = performance.now() - t0;
  for (const x of [bufA, bufB, out]) gpu.destroy(x);

  let maxAbsDiff = 0;
  let unwritten = 0;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let want = 0;
      for (let k = 0; k < K; k++) want += a[m * K + k] * b[n * K + k];
      const g = got[m * N + n];
      if (Number.isNaN(g)) unwritten++;
      else maxAbsDiff = Math.max(maxAbsDiff, Math.abs(g - want));
    }
  }
  return { M, N, K, maxAbsDiff, unwritten, ok: unwritten === 0 && maxAbsDiff <= 1e-4 * Math.sqrt(K), ms };
}
