import { describe, expect, it } from 'vitest';
import { biasBackward, biasBackwardScratchFloats } from '../../src/kernels/biasBackward';
import { compare, report } from '../reference/compare';
import { biasBackwardRef } from '../reference/elementwise';
import { randn } from '../reference/random';
import { checked, poisoned, testGpu } from './context';

// Sums of M unit-variance f32 terms (magnitude sqrt(M)): the rounding errors of
// the partial sums add up to about 1e-8 * M here; 3e-8 * M leaves a margin.
const atolFor = (M: number) => 1e-7 + 3e-8 * M;
const RTOL = 1e-6;

// (M, N): single elements, column counts that are not multiples of the 64
// columns per workgroup, row counts that leave a short last block of rows,
// and the reference model's C = 192 and c_fc (4C = 768) over BT = 4096 rows.
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [37, 7],
  [1, 192],
  [33, 65],
  [1001, 130],
  [4096, 192],
  [4096, 768],
];

describe('biasBackward kernel vs float64 reference', () => {
  for (const [M, N] of SHAPES) {
    it(`dbias += colsum(dout) M=${M} N=${N}`, async () => {
      const { gpu } = await testGpu();
      const dout = randn(M * N, M * 131 + N);
      const dbias0 = randn(N, M + N * 7); // accumulate onto existing gradients
      const got = await checked(gpu, async () => {
        const dbias = gpu.upload(dbias0);
        const bd = gpu.upload(dout);
        const scratch = poisoned(gpu, biasBackwardScratchFloats(M, N), 'scratch');
        gpu.submit((enc) => biasBackward(gpu, enc, { dbias, scratch, dout: bd, M, N }));
        const result = await gpu.readF32(dbias, N);
        for (const b of [dbias, bd, scratch]) gpu.destroy(b);
        return result;
      });
      const want = Float64Array.from(dbias0);
      biasBackwardRef(want, dout, M, N);
      const cmp = compare(got, want, atolFor(M), RTOL);
      console.log(report(cmp, `biasBackward M=${M} N=${N}`));
      expect(cmp.nonFinite).toBe(0);
      expect(cmp.failures).toBe(0);
    });
  }

  it('gives bit-identical results on repeated runs', async () => {
    const { gpu } = await testGpu();
    const [M, N] = [1000, 50];
    const dout = randn(M * N, 5);
    const runs = await checked(gpu, async () => {
      const bd = gpu.upload(dout);
      const scratch = poisoned(gpu, biasBackwardScratchFloats(M, N), 'scratch');
      const results: Float32Array[] = [];
      for (let r = 0; r < 3; r++) {
        const dbias = gpu.upload(new Float32Array(N));
        gpu.submit((enc) => biasBackward(gpu, enc, { dbias, scratch, dout: bd, M, N }));
        results.push(await gpu.readF32(dbias, N));
        gpu.destroy(dbias);
      }
      gpu.destroy(bd);
      gpu.destroy(scratch);
      return results;
    });
    expect(Array.from(runs[1])).toEqual(Array.from(runs[0]));
    expect(Array.from(runs[2])).toEqual(Array.from(runs[0]));
  });
});
