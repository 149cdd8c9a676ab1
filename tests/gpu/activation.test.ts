import { describe, expect, it } from 'vitest';
import { activationBackward, activationForward } from '../../src/kernels/activation';
import type { Gpu } from '../../src/gpu/runtime';
import { activationBackwardRef, activationForwardRef, type ActivationKind } from '../reference/activation';
import { compare, report } from '../reference/compare';
import { randn } from '../reference/random';
import { checked, poisoned, testGpu } from './context';

// ReLU is exact in f32 (a max and a multiply by 0 or 1). GELU: erfc's fit is
// good to 1.2e-7 relative and f32 exp to a few ulps, so values are right to a
// few 1e-7 absolute (seen: <= 7e-7 over 3M inputs). The absolute term matters
// where GELU's derivative crosses 0 (x = -0.75), where no relative bound can hold.
const TOL: Record<ActivationKind, { atol: number; rtol: number }> = {
  relu: { atol: 0, rtol: 0 },
  gelu: { atol: 1e-6, rtol: 2e-6 },
};

async function runBoth(gpu: Gpu, kind: ActivationKind, x: Float32Array, dout: Float32Array) {
  const n = x.length;
  return checked(gpu, async () => {
    const inp = gpu.upload(x);
    const dy = gpu.upload(dout);
    const out = poisoned(gpu, n);
    const dinp = poisoned(gpu, n);
    gpu.submit((enc) => {
      activationForward(gpu, enc, { out, inp, n, kind });
      activationBackward(gpu, enc, { dinp, inp, dout: dy, n, kind });
    });
    const result = { out: await gpu.readF32(out, n), dinp: await gpu.readF32(dinp, n) };
    for (const b of [inp, dy, out, dinp]) gpu.destroy(b);
    return result;
  });
}

function check(kind: ActivationKind, label: string, x: Float32Array, dout: Float32Array, got: { out: Float32Array; dinp: Float32Array }) {
  const { atol, rtol } = TOL[kind];
  const fwd = compare(got.out, activationForwardRef(x, kind), atol, rtol);
  const bwd = compare(got.dinp, activationBackwardRef(x, dout, kind), atol, rtol);
  console.log(report(fwd, `${kind} forward ${label}`));
  console.log(report(bwd, `${kind} backward ${label}`));
  expect(fwd.nonFinite, 'forward: every element written and finite').toBe(0);
  expect(fwd.failures).toBe(0);
  expect(bwd.nonFinite, 'backward: every element written and finite').toBe(0);
  expect(bwd.failures).toBe(0);
}

// 1, sizes around the workgroup, and the reference model's MLP hidden (BT x 4C = 4096 x 768).
const SIZES = [1, 7, 257, 4096 * 768];

describe('activation kernels vs float64 reference', () => {
  for (const kind of ['relu', 'gelu'] as const) {
    for (const n of SIZES) {
      it(`${kind} n=${n}`, async () => {
        const { gpu } = await testGpu();
        const x = randn(n, n + 1, 2);
        const dout = randn(n, n + 2);
        check(kind, `n=${n}`, x, dout, await runBoth(gpu, kind, x, dout));
      });
    }

    it(`${kind} at extreme and tiny inputs`, async () => {
      const { gpu } = await testGpu();
      const values: number[] = [0, -0, 10, -10, 9.99, -9.99, 6, -6];
      for (let i = 0; i <= 2000; i++) values.push(-10 + i * 0.01); // the whole [-10, 10] range
      for (const e of [-1, -3, -6, -12, -20, -30, -37]) values.push(10 ** e, -(10 ** e));
      const x = Float32Array.from(values);
      const dout = randn(x.length, 99);
      const got = await runBoth(gpu, kind, x, dout);
      check(kind, `extremes n=${x.length}`, x, dout, got);
      if (kind === 'gelu') {
        // GELU's left tail (down to -7.6e-23 at x = -10) keeps its relative accuracy: erfc, not 1 + erf.
        const tail = [...x.keys()].filter((i) => x[i] <= -3);
        const pick = (a: ArrayLike<number>) => tail.map((i) => a[i]);
        const fwd = compare(pick(got.out), pick(activationForwardRef(x, kind)), 0, 1e-4);
        const bwd = compare(pick(got.dinp), pick(activationBackwardRef(x, dout, kind)), 0, 1e-4);
        console.log(`gelu left tail x in [-10, -3], ${tail.length} values: forward max rel ${fwd.maxRel.toExponential(2)}, backward max rel ${bwd.maxRel.toExponential(2)}`);
        expect(fwd.failures + bwd.failures).toBe(0);
      }
    });
  }
});
