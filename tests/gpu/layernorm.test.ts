import { describe, expect, it } from 'vitest';
import { layerNormBackward, layerNormForward } from '../../src/kernels/layerNorm';
import { compare, report, type Comparison } from '../reference/compare';
import { layerNormBackwardRef, layerNormForwardRef } from '../reference/layernorm';
import { randn } from '../reference/random';
import { checked, poisoned, testGpu } from './context';

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

type Case = { N: number; C: number; bias: boolean; nearConstant?: boolean };
const CASES: Case[] = [
  { N: 1, C: 1, bias: true },
  { N: 37, C: 7, bias: true },
  { N: 1, C: 192, bias: true },
  { N: 37, C: 48, bias: false },
  { N: 9, C: 300, bias: true }, // C not a multiple of the 32 lanes, several channels per lane
  { N: 4096, C: 192, bias: true }, // the reference model: B*T = 4096 rows of C = 192
  { N: 4096, C: 192, bias: false },
  { N: 37, C: 48, bias: true, nearConstant: true },
  { N: 4096, C: 192, bias: true, nearConstant: true },
];

function expectClose(label: string, cmp: Comparison) {
  console.log(report(cmp, label));
  expect(cmp.nonFinite, `${label}: every element written and finite`).toBe(0);
  expect(cmp.failures, label).toBe(0);
}

describe('layerNorm kernels vs float64 reference', () => {
  for (const { N, C, bias: withBias, nearConstant } of CASES) {
    const name = `N=${N} C=${C}${withBias ? '' : ' no bias'}${nearConstant ? ' near-constant rows (1e3 + 1e-5 noise)' : ''}`;
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

      const got = await checked(gpu, async () => {
        const b = {
          out: poisoned(gpu, N * C),
          mean: poisoned(gpu, N),
          rstd: poisoned(gpu, N),
          inp: gpu.upload(inp),
          weight: gpu.upload(weight),
          bias: bias ? gpu.upload(bias) : null,
          dout: gpu.upload(dout),
          dinp: gpu.upload(dinp0),
          dweight: gpu.upload(dweight0),
          dbias: withBias ? gpu.upload(dbias0) : null,
        };
        gpu.submit((enc) => {
          layerNormForward(gpu, enc, { out: b.out, mean: b.mean, rstd: b.rstd, inp: b.inp, weight: b.weight, bias: b.bias, N, C });
          layerNormBackward(gpu, enc, {
            dinp: b.dinp, dweight: b.dweight, dbias: b.dbias, dout: b.dout, inp: b.inp, weight: b.weight, mean: b.mean, rstd: b.rstd, N, C,
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
      });

      const want = layerNormForwardRef(inp, weight, bias, N, C);
      const dinp = Float64Array.from(dinp0);
      const dweight = Float64Array.from(dweight0);
      const dbias = withBias ? Float64Array.from(dbias0) : null;
      layerNormBackwardRef(dinp, dweight, dbias, dout, inp, weight, want.mean, want.rstd, N, C);

      expectClose(`layernorm out ${name}`, compare(got.out, want.out, TOL.out.atol, TOL.out.rtol));
      expectClose(`layernorm mean ${name}`, compare(got.mean, want.mean, TOL.mean.atol, TOL.mean.rtol));
      expectClose(`layernorm rstd ${name}`, compare(got.rstd, want.rstd, TOL.rstd.atol, TOL.rstd.rtol));
      // dinp is of size rstd (316 for near-constant rows): relative bound
      expectClose(`layernorm dinp ${name}`, compare(got.dinp, dinp, TOL.dinp.atol, TOL.dinp.rtol));
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
      expectClose(`layernorm dweight ${name}`, compare(got.dweight, dweight, atol, rtol));
      if (dbias) expectClose(`layernorm dbias ${name}`, compare(got.dbias!, dbias, TOL.sums(N).atol, rtol));
    });
  }
});
