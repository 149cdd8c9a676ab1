// sliceAdd and sliceCopy (shaders/column_slice.wgsl) against their float64
// references on random matrices: slices at the left edge, inside and at the
// right edge of rows of awkward widths. Both are exact in f32 but for the
// add's rounding.
import { describe, expect, it } from 'vitest';
import { sliceAdd, sliceCopy } from '../../src/kernels/columnSlice';
import { compare, report } from '../reference/compare';
import { sliceAddRef, sliceCopyRef } from '../reference/columnSlice';
import { randn } from '../reference/random';
import { checked, poisoned, testGpu } from './context';

const CASES: Array<{ N: number; W: number; ld: number; col0: number }> = [
  { N: 1, W: 1, ld: 1, col0: 0 },
  { N: 7, W: 12, ld: 20, col0: 0 }, // q of q | k | v (H D = 12, KV D = 4)
  { N: 7, W: 4, ld: 20, col0: 12 }, // k
  { N: 13, W: 4, ld: 20, col0: 16 }, // v, at the right edge
  { N: 33, W: 11, ld: 22, col0: 11 }, // up of gate | up
  { N: 1025, W: 257, ld: 700, col0: 301 }, // 263k elements, a partial last workgroup
];

describe('column slice kernels vs float64 reference', () => {
  for (const { N, W, ld, col0 } of CASES) {
    it(`sliceAdd, sliceCopy N=${N} W=${W} ld=${ld} col0=${col0}`, async () => {
      const { gpu } = await testGpu();
      const wide = randn(N * ld, N + W + 1);
      const narrow = randn(N * W, ld + col0 + 2);
      const got = await checked(gpu, async () => {
        const added = gpu.upload(wide);
        const src = gpu.upload(narrow);
        const copied = poisoned(gpu, N * W);
        const from = gpu.upload(wide);
        gpu.submit((enc) => {
          sliceAdd(gpu, enc, { wide: added, narrow: src, N, W, ld, col0 });
          sliceCopy(gpu, enc, { narrow: copied, wide: from, N, W, ld, col0 });
        });
        const result = { add: await gpu.readF32(added, N * ld), copy: await gpu.readF32(copied, N * W) };
        for (const b of [added, src, copied, from]) gpu.destroy(b);
        return result;
      });
      const addC = compare(got.add, sliceAddRef(Float64Array.from(wide), narrow, N, W, ld, col0), 1e-7, 2e-7);
      const copyC = compare(got.copy, sliceCopyRef(wide, N, W, ld, col0), 0, 0);
      console.log(report(addC, `sliceAdd N=${N} W=${W} ld=${ld} col0=${col0}`));
      console.log(report(copyC, `sliceCopy N=${N} W=${W} ld=${ld} col0=${col0}`));
      expect(addC.ok).toBe(true);
      expect(copyC.ok).toBe(true);
      // Columns outside the slice are untouched.
      for (let r = 0; r < Math.min(N, 50); r++) {
        for (const j of [col0 - 1, col0 + W]) if (j >= 0 && j < ld) expect(got.add[r * ld + j]).toBe(wide[r * ld + j]);
      }
    });
  }
  it('refuses a slice that does not fit', async () => {
    const { gpu } = await testGpu();
    const b = poisoned(gpu, 16);
    expect(() => gpu.submit((enc) => sliceAdd(gpu, enc, { wide: b, narrow: b, N: 1, W: 5, ld: 8, col0: 4 }))).toThrow(/does not fit rows 8 wide/);
    gpu.destroy(b);
  });
});
