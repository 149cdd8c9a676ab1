import { describe, expect, it } from 'vitest';
import { layerNormBackward, layerNormBackwardScratchFloats, layerNormForward } from '../../src/kernels/layerNorm';
import { compare, report, type Comparison } from '../reference/compare';
import { layerNormBackwardRef, layerNormForwardRef } from '../reference/layernorm';
import { randn } from '../reference/random';
import { checked, poisoned, testGpu, VARIANTS, withVariant, type VariantName } from './context';

// Forward: per element a handful of f32 operations on O(1) values, row
// statistics from sums of C terms: 1e-5 relative (seen: a few 1e-7).
// Backward: dinp like the forward, times rstd; dweight / dbias are sums of N
// O(1) terms onto a random start, of size about sqrt(N + 1): 3e-6 of that size.
const TOL = {
  out: { atol: 1e-5, rtol: 1e-5 },
  mean: { atol: 1e-6, rtol: 1e-6 },
  rstd: { atol: 0, rtol: 1e-5 },
  dinp: { atol: 1e-5, rtol: 1e-5 },
  sums: (N: number) => ({ atol: 3e-6 * Math.sqrt(N + 1), rtol: 1e-5 }),
};

type Case = { N: number; C: number; bias: boolean; nearConstant?: boolean; overwrite?: boolean };
// Awkward sizes: rows not a multiple of the 8 (team) or 64 (serial) rows per
// workgroup, C = 5, 7, 33 (scalar path), 48, 192, 300 (vec4 path, and a row
// longer than a team's 32 lanes x 4), and the reference model's 4096 x 192.
const CASES: Case[] = [
  { N: 1, C: 1, bias: true },
  { N: 37, C: 7, bias: true },
  { N: 13, C: 5, bias: false, overwrite: true },
  { N: 1, C: 192, bias: true },
  { N: 37, C: 48, bias: false },
  { N: 70, C: 33, bias: true, overwrite: true },
  { N: 9, C: 300, bias: true },
  { N: 517, C: 192, bias: true }, // 33 blocks of 16 rows in the parameter gradients' partial sums
  { N: 37, C: 48, bias: true, nearConstant: true },
  { N: 517, C: 192, bias: true, nearConstant: true },
];
// The reference model's B*T = 4096 rows of C = 192, on the CPU variant only
// (the GPU variants' barriers cost seconds per case on SwiftShader).
const REFERENCE_CASES: Case[] = [
  { N: 4096, C: 192, bias: true },
  { N: 4096, C: 192, bias: true, nearConstant: true },
];

function expectClose(label: string, cmp: Comparison) {
  console.log(report(cmp, label));
  expect(cmp.nonFinite, `${label}: every element written and finite`).toBe(0);
  expect(cmp.failures, label).toBe(0);
}

describe.each(VARIANTS)('layerNorm kernels vs float64 reference, %s', (variant: VariantName) => {
  for (const { N, C, bias: withBias, nearConstant, overwrite } of variant === 'cpu' ? [...CASES, ...REFERENCE_CASES] : CASES) {
    const name = `N=${N} C=${C}${withBias ? '' : ' no bias'}${nearConstant ? ' near-constant rows (1e3 + 1e-5 noise)' : ''}${overwrite ? ' dinp overwritten' : ''}`;
    it(name, async () => {
      const { gpu } = await testGpu();
      const seed = N * 17 + C + (withBias ? 0 : 5) + (nearConstant ? 9 : 0);
      // near-constant: variance ~1e-10 on an offset of 1e3, where f32 steps are 6e-5
      const inp = nearConstant ? randn(N * C, seed, 1e-5).map((v) => v + 1000) : randn(N * C, seed, 2).map((v) => v + 0.5);
      const weight = randn(C, seed + 1).map((v) => 1 + 0.3 * v);
      const bias = withBias ? randn(C, seed + 2) : null;
      const dout = randn(N * C, seed + 3);
      const dinp0 = randn(N * C, seed + 4); // gradients accumulate onto what is there
      const dweight0 = randn(C, seed + 5);
      const dbias0 = randn(C, seed + 6);

      const got = await withVariant(gpu, variant, () => checked(gpu, async () => {
        const b = {
          out: poisoned(gpu, N * C),
          mean: poisoned(gpu, N),
          rstd: poisoned(gpu, N),
          inp: gpu.upload(inp),
          weight: gpu.upload(weight),
          bias: bias ? gpu.upload(bias) : null,
          dout: gpu.upload(dout),
          // overwritten: poisoned, so an element left unwritten or read before writing fails
          dinp: overwrite ? poisoned(gpu, N * C) : gpu.upload(dinp0),
          scratch: poisoned(gpu, layerNormBackwardScratchFloats(N, C), 'scratch'),
          dweight: gpu.upload(dweight0),
          dbias: withBias ? gpu.upload(dbias0) : null,
        };
        gpu.submit((enc) => {
          layerNormForward(gpu, enc, { out: b.out, mean: b.mean, rstd: b.rstd, inp: b.inp, weight: b.weight, bias: b.bias, N, C });
          layerNormBackward(gpu, enc, {
            dinp: b.dinp, dweight: b.dweight, dbias: b.dbias, scratch: b.scratch, dout: b.dout, inp: b.inp, weight: b.weight,
            mean: b.mean, rstd: b.rstd, N, C, overwrite,
          });
        });
        const result = {
          out: await gpu.readF32(b.out, N * C),
          mean: await gpu.readF32(b.mean, N),
          rstd: await gpu.readF32(b.rstd, N),
          dinp: await gpu.readF32(b.dinp, N * C),
          dweight: await gpu.readF32(b.dweight, C),
          dbias: b.dbias ? await gpu.readF32(b.dbias, C) : null,
        };
        for (const buf of Object.values(b)) if (buf) gpu.destroy(buf);
        return result;
      }));

      const want = layerNormForwardRef(inp, weight, bias, N, C);
      const dinp = overwrite ? new Float64Array(N * C) : Float64Array.from(dinp0);
      const dweight = Float64Array.from(dweight0);
      const dbias = withBias ? Float64Array.from(dbias0) : null;
      layerNormBackwardRef(dinp, dweight, dbias, dout, inp, weight, want.mean, want.rstd, N, C);

      expectClose(`layernorm [${variant}] out ${name}`, compare(got.out, want.out, TOL.out.atol, TOL.out.rtol));
      expectClose(`layernorm [${variant}] mean ${name}`, compare(got.mean, want.mean, TOL.mean.atol, TOL.mean.rtol));
      expectClose(`layernorm [${variant}] rstd ${name}`, compare(got.rstd, want.rstd, TOL.rstd.atol, TOL.rstd.rtol));
      // dinp is of size rstd (316 for near-constant rows): relative bound
      expectClose(`layernorm [${variant}] dinp ${name}`, compare(got.dinp, dinp, TOL.dinp.atol, TOL.dinp.rtol));
      let { atol, rtol } = TOL.sums(N);
      if (nearConstant) {
        // The saved f32 mean is off the true mean by up to half an ulp of 1e3
        // (3e-5), which moves every xhat of its row by (error * rstd) in the
        // weight gradient's column sums: bound that term from the actual errors.
        let shift = 0;
        for (let n = 0; n < N; n++) shift += Math.abs(got.mean[n] - want.mean[n]) * want.rstd[n] * 4; // |dout| < ~4
        console.log(`near-constant rows: f32 mean error moves xhat by ${(shift / N / 4).toExponential(2)} on average`);
        atol += shift;
      }
      expectClose(`layernorm [${variant}] dweight ${name}`, compare(got.dweight, dweight, atol, rtol));
      if (dbias) expectClose(`layernorm [${variant}] dbias ${name}`, compare(got.dbias!, dbias, TOL.sums(N).atol, rtol));
    });
  }
});
