import { describe, expect, it } from 'vitest';
import { rmsNormBackward, rmsNormBackwardScratchFloats, rmsNormForward } from '../../src/kernels/rmsNorm';
import { compare, report, type Comparison } from '../reference/compare';
import { rmsNormBackwardRef, rmsNormForwardRef } from '../reference/rmsNorm';
import { randn } from '../reference/random';
import { checked, poisoned, testGpu, VARIANTS, withVariant, type VariantName } from './context';

// Forward: per element a few f32 operations on O(1) values, rstd from a sum of
// C squares: 1e-5 relative (as LayerNorm's). Backward: dinp like the forward,
// times rstd; dweight is a sum of N O(1) terms onto a random start, of size
// about sqrt(N + 1): 3e-6 of that size.
const TOL = {
  out: { atol: 1e-5, rtol: 1e-5 },
  rstd: { atol: 0, rtol: 1e-5 },
  dinp: { atol: 1e-5, rtol: 1e-5 },
  sums: (N: number) => ({ atol: 3e-6 * Math.sqrt(N + 1), rtol: 1e-5 }),
};

type Case = { N: number; C: number; eps: number; overwrite?: boolean; tiny?: boolean };
// Awkward sizes: rows not a multiple of the 8 (team) or 64 (serial) rows per
// workgroup, C = 1, 7, 33 (scalar path), 48, 300 (vec4 path, a row longer
// than a team's 32 lanes x 4), eps 1e-5 (the fixture) and 1e-6 (LLaMA's default).
const CASES: Case[] = [
  { N: 1, C: 1, eps: 1e-5 },
  { N: 37, C: 7, eps: 1e-6 },
  { N: 13, C: 33, eps: 1e-5, overwrite: true },
  { N: 37, C: 48, eps: 1e-5 },
  { N: 9, C: 300, eps: 1e-6, overwrite: true },
  { N: 70, C: 32, eps: 1e-5, tiny: true }, // mean square ~1e-5: eps matters
  { N: 517, C: 36, eps: 1e-5 }, // 33 blocks of 16 rows in the weight gradient's partial sums
];

function expectClose(label: string, cmp: Comparison) {
  console.log(report(cmp, label));
  expect(cmp.nonFinite, `${label}: every element written and finite`).toBe(0);
  expect(cmp.failures, label).toBe(0);
}

describe.each(VARIANTS)('rmsNorm kernels vs float64 reference, %s', (variant: VariantName) => {
  for (const { N, C, eps, overwrite, tiny } of CASES) {
    const name = `N=${N} C=${C} eps=${eps}${overwrite ? ' dinp overwritten' : ''}${tiny ? ' tiny rows' : ''}`;
    it(name, async () => {
      const { gpu } = await testGpu();
      const seed = N * 17 + C + (tiny ? 9 : 0);
      const inp = randn(N * C, seed, tiny ? 3e-3 : 2).map((v) => v + (tiny ? 0 : 0.5));
      const weight = randn(C, seed + 1).map((v) => 1 + 0.3 * v);
      const dout = randn(N * C, seed + 3);
      const dinp0 = randn(N * C, seed + 4); // gradients accumulate onto what is there
      const dweight0 = randn(C, seed + 5);

      const got = await withVariant(gpu, variant, () => checked(gpu, async () => {
        const b = {
          out: poisoned(gpu, N * C),
          rstd: poisoned(gpu, N),
          inp: gpu.upload(inp),
          weight: gpu.upload(weight),
          dout: gpu.upload(dout),
          dinp: overwrite ? poisoned(gpu, N * C) : gpu.upload(dinp0),
          scratch: poisoned(gpu, rmsNormBackwardScratchFloats(N, C), 'scratch'),
          dweight: gpu.upload(dweight0),
        };
        gpu.submit((enc) => {
          rmsNormForward(gpu, enc, { out: b.out, rstd: b.rstd, inp: b.inp, weight: b.weight, N, C, eps });
          rmsNormBackward(gpu, enc, {
            dinp: b.dinp, dweight: b.dweight, scratch: b.scratch, dout: b.dout, inp: b.inp, weight: b.weight, rstd: b.rstd, N, C, overwrite,
          });
        });
        const result = {
          out: await gpu.readF32(b.out, N * C),
          rstd: await gpu.readF32(b.rstd, N),
          dinp: await gpu.readF32(b.dinp, N * C),
          dweight: await gpu.readF32(b.dweight, C),
        };
        for (const buf of Object.values(b)) gpu.destroy(buf);
        return result;
      }));

      const want = rmsNormForwardRef(inp, weight, N, C, eps);
      const dinp = overwrite ? new Float64Array(N * C) : Float64Array.from(dinp0);
      const dweight = Float64Array.from(dweight0);
      rmsNormBackwardRef(dinp, dweight, dout, inp, weight, want.rstd, N, C);

      expectClose(`rmsNorm [${variant}] out ${name}`, compare(got.out, want.out, TOL.out.atol, TOL.out.rtol));
      expectClose(`rmsNorm [${variant}] rstd ${name}`, compare(got.rstd, want.rstd, TOL.rstd.atol, TOL.rstd.rtol));
      // tiny rows: rstd ~ 250, dinp of that size
      expectClose(`rmsNorm [${variant}] dinp ${name}`, compare(got.dinp, dinp, TOL.dinp.atol, TOL.dinp.rtol));
      const { atol, rtol } = TOL.sums(N);
      expectClose(`rmsNorm [${variant}] dweight ${name}`, compare(got.dweight, dweight, atol, rtol));
    });
  }
});
