import { describe, expect, it } from 'vitest';
import { matmul } from '../../src/kernels/matmul';
import { compare, report } from '../reference/compare';
import { matmulRef } from '../reference/matmul';
import { randn } from '../reference/random';
import { checked, poisoned, testGpu } from './context';

// f32 accumulation over K terms of unit-variance products: the error grows
// like sqrt(K) * 6e-8 * |terms|; these bounds hold with a wide margin.
const ATOL = 1e-4;
const RTOL = 1e-4;

const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1],
  [17, 33, 65],
  [3, 130, 7],
  [128, 192, 576],
  [4096, 192, 768],
];

type Variant = { transA: boolean; transB: boolean; bias: boolean; accumulate: boolean };
const VARIANTS: Variant[] = [
  { transA: false, transB: true, bias: true, accumulate: false }, // forward: y = x W^T + b
  { transA: false, transB: false, bias: false, accumulate: false }, // dX = dY W
  { transA: true, transB: false, bias: false, accumulate: true }, // dW += dY^T X
  { transA: false, transB: false, bias: true, accumulate: false },
  { transA: true, transB: true, bias: false, accumulate: false },
];

describe('matmul kernel vs float64 reference', () => {
  for (const [M, N, K] of SHAPES) {
    const variants = M * N * K > 1e8 ? VARIANTS.slice(0, 3) : VARIANTS;
    for (const v of variants) {
      const name = `${M}x${N}x${K} transA=${v.transA} transB=${v.transB} bias=${v.bias} acc=${v.accumulate}`;
      it(name, async () => {
        const { gpu } = await testGpu();
        const seed = M * 7919 + N * 31 + K;
        const a = randn(M * K, seed);
        const b = randn(K * N, seed + 1);
        const bias = v.bias ? randn(N, seed + 2) : undefined;
        const c0 = v.accumulate ? randn(M * N, seed + 3) : undefined;
        const got = await checked(gpu, async () => {
          const out = c0 ? gpu.upload(c0) : poisoned(gpu, M * N);
          const bufs = [gpu.upload(a), gpu.upload(b), bias ? gpu.upload(bias) : null];
          gpu.submit((enc) =>
            matmul(gpu, enc, {
              out, a: bufs[0]!, b: bufs[1]!, bias: bufs[2], M, N, K,
              transA: v.transA, transB: v.transB, accumulate: v.accumulate,
            }),
          );
          const result = await gpu.readF32(out, M * N);
          for (const buf of [out, ...bufs]) if (buf) gpu.destroy(buf);
          return result;
        });
        const want = matmulRef(a, b, M, N, K, { transA: v.transA, transB: v.transB, bias, accumulateInto: c0 });
        const cmp = compare(got, want, ATOL * Math.sqrt(K), RTOL);
        console.log(report(cmp, name));
        expect(cmp.nonFinite, 'every output element written').toBe(0);
        expect(cmp.failures).toBe(0);
      });
    }
  }
});
