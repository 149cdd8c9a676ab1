import { describe, expect, it } from 'vitest';
import { adamw, adamwHyper, gradNorm, gradNormScratchFloats } from '../../src/kernels/adamw';
import { adamwRef, gradNormRef, type AdamHyper } from '../reference/adamw';
import { compare, report } from '../reference/compare';
import { randn } from '../reference/random';
import { checked, poisoned, testGpu } from './context';

// f32 sums of squares over up to 2.7M terms (per-invocation sums, then trees).
const NORM_RTOL = 1e-5;
// Parameters move by about lr per step; f32 state carried over several steps.
const PARAM_TOL = { atol: 1e-6, rtol: 1e-5 };
const MOMENT_TOL = { atol: 1e-7, rtol: 1e-5 };

describe('gradNorm kernel vs float64 reference', () => {
  for (const n of [1, 255, 257, 100003, 2_700_000]) {
    it(`n=${n}`, async () => {
      const { gpu } = await testGpu();
      const grads = randn(n, n + 5, 0.01);
      const got = await checked(gpu, async () => {
        const norm = poisoned(gpu, 1);
        const scratch = gpu.buffer(gradNormScratchFloats(n) * 4, 'gradNorm scratch');
        const gradsBuf = gpu.upload(grads);
        gpu.submit((enc) => gradNorm(gpu, enc, { norm, grads: gradsBuf, n, scratch }));
        const r = await gpu.readF32(norm, 1);
        for (const buf of [norm, scratch, gradsBuf]) gpu.destroy(buf);
        return r;
      });
      const cmp = compare(got, [gradNormRef(grads)], 0, NORM_RTOL);
      console.log(report(cmp, `grad norm n=${n}`));
      expect(cmp.failures).toBe(0);
    });
  }
});

interface Range {
  offset: number;
  count: number;
  decay: boolean;
}

/** Several AdamW steps over `ranges` of one flat buffer of n floats, each step checked. */
async function runSteps(name: string, n: number, ranges: Range[], maxNorm: number, steps: number) {
  const { gpu } = await testGpu();
  const seed = n + ranges.length * 17 + Math.round(maxNorm * 100);
  const p0 = randn(n, seed, 0.5);
  const wantP = Float64Array.from(p0);
  const wantM = new Float64Array(n);
  const wantV = new Float64Array(n);
  const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, maxNorm };
  await checked(gpu, async () => {
    const params = gpu.upload(p0);
    const gradsBuf = gpu.buffer(n * 4, 'grads');
    const m = gpu.upload(new Float32Array(n));
    const v = gpu.upload(new Float32Array(n));
    const hyperBuf = gpu.buffer(32, 'hyper');
    const norm = gpu.buffer(4, 'norm');
    const scratch = gpu.buffer(gradNormScratchFloats(n) * 4, 'scratch');
    for (let t = 1; t <= steps; t++) {
      const grads = randn(n, seed + 100 * t, 0.3 * t);
      const h: AdamHyper = { ...hyper, t };
      gpu.write(gradsBuf, grads);
      gpu.write(hyperBuf, adamwHyper(h));
      gpu.submit((enc) => {
        gradNorm(gpu, enc, { norm, grads: gradsBuf, n, scratch });
        for (const r of ranges) adamw(gpu, enc, { params, grads: gradsBuf, m, v, hyper: hyperBuf, norm, ...r });
      });
      const gradNormValue = gradNormRef(grads);
      for (const r of ranges) adamwRef(wantP, grads, wantM, wantV, r.offset, r.count, r.decay, h, gradNormValue);
      const got = [await gpu.readF32(params, n), await gpu.readF32(m, n), await gpu.readF32(v, n)];
      const cmps = [
        compare(got[0], wantP, PARAM_TOL.atol, PARAM_TOL.rtol),
        compare(got[1], wantM, MOMENT_TOL.atol, MOMENT_TOL.rtol),
        compare(got[2], wantV, MOMENT_TOL.atol, MOMENT_TOL.rtol),
      ];
      const clipped = maxNorm > 0 && gradNormValue > maxNorm;
      ['params', 'm', 'v'].forEach((label, k) =>
        console.log(report(cmps[k], `${label} ${name} step ${t}${clipped ? ' (clipped)' : ''}`)),
      );
      for (const c of cmps) expect(c.failures).toBe(0);
      // Outside the ranges nothing moves, bit for bit.
      let touched = 0;
      const inRange = (i: number) => ranges.some((r) => i >= r.offset && i < r.offset + r.count);
      for (let i = 0; i < n; i++) if (!inRange(i) && (got[0][i] !== p0[i] || got[1][i] !== 0 || got[2][i] !== 0)) touched++;
      expect(touched, 'elements outside the ranges untouched').toBe(0);
    }
    for (const buf of [params, gradsBuf, m, v, hyperBuf, norm, scratch]) gpu.destroy(buf);
  });
}

describe('adamw kernel vs float64 reference (PyTorch AdamW semantics)', () => {
  it('whole buffer, decay on, no clipping, 4 steps', () => runSteps('whole/decay', 1000, [{ offset: 0, count: 1000, decay: true }], 0, 4));
  it('decay and no-decay ranges, clipping active, 4 steps', () =>
    runSteps(
      'split/clip',
      10007,
      [
        { offset: 0, count: 6000, decay: true },
        { offset: 6000, count: 4007, decay: false },
      ],
      1.0,
      4,
    ));
  it('clip threshold above the norm (no effect), 3 steps', () => runSteps('clip-inactive', 777, [{ offset: 0, count: 777, decay: true }], 1e4, 3));
  it('sub-ranges of a bigger buffer leave the rest untouched, 3 steps', () =>
    runSteps(
      'subranges',
      5000,
      [
        { offset: 3, count: 1234, decay: true },
        { offset: 2000, count: 257, decay: false },
        { offset: 4999, count: 1, decay: true },
      ],
      0.5,
      3,
    ));
});
