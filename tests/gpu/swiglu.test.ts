import { describe, expect, it } from 'vitest';
import { swigluBackward, swigluForward } from '../../src/kernels/swiglu';
import type { Gpu } from '../../src/gpu/runtime';
import { compare, report } from '../reference/compare';
import { randn } from '../reference/random';
import { swigluBackwardRef, swigluForwardRef } from '../reference/swiglu';
import { checked, poisoned, testGpu } from './context';

// A sigmoid (f32 exp to a few ulps, a divide) and two or three multiplies per
// element: a few 1e-7 relative. The absolute term covers where silu's
// derivative crosses 0 (g = -1.28) and products of O(10) values.
const TOL = { atol: 2e-6, rtol: 2e-6 };

async function runBoth(gpu: Gpu, N: number, I: number, x: Float32Array, dout: Float32Array) {
  return checked(gpu, async () => {
    const inp = gpu.upload(x);
    const dy = gpu.upload(dout);
    const out = poisoned(gpu, N * I);
    const dinp = poisoned(gpu, N * 2 * I);
    gpu.submit((enc) => {
      swigluForward(gpu, enc, { out, inp, N, I });
      swigluBackward(gpu, enc, { dinp, inp, dout: dy, N, I });
    });
    const result = { out: await gpu.readF32(out, N * I), dinp: await gpu.readF32(dinp, N * 2 * I) };
    for (const b of [inp, dy, out, dinp]) gpu.destroy(b);
    return result;
  });
}

function check(label: string, N: number, I: number, x: Float32Array, dout: Float32Array, got: { out: Float32Array; dinp: Float32Array }) {
  const fwd = compare(got.out, swigluForwardRef(x, N, I), TOL.atol, TOL.rtol);
  const want = new Float64Array(N * 2 * I);
  swigluBackwardRef(want, dout, x, N, I);
  const bwd = compare(got.dinp, want, TOL.atol, TOL.rtol);
  console.log(report(fwd, `swiglu forward ${label}`));
  console.log(report(bwd, `swiglu backward ${label}`));
  expect(fwd.nonFinite, 'forward: every element written and finite').toBe(0);
  expect(fwd.failures).toBe(0);
  expect(bwd.nonFinite, 'backward: every element written and finite').toBe(0);
  expect(bwd.failures).toBe(0);
}

// One element, rows shorter and longer than a workgroup, and a size across many workgroups.
const SHAPES: Array<[number, number]> = [[1, 1], [3, 7], [5, 300], [37, 86]];

// One element-wise kernel serves every variant (as activation's), so it runs once.
describe('swiglu kernels vs float64 reference', () => {
  for (const [N, I] of SHAPES) {
    it(`N=${N} I=${I}`, async () => {
      const { gpu } = await testGpu();
      const x = randn(N * 2 * I, N * 31 + I, 2);
      const dout = randn(N * I, N * 31 + I + 1);
      check(`N=${N} I=${I}`, N, I, x, dout, await runBoth(gpu, N, I, x, dout));
    });
  }

  it('gates at extreme and tiny values', async () => {
    const { gpu } = await testGpu();
    const gates: number[] = [0, -0, 10, -10, 30, -30, 88, -88, 100, -100, -1.2785];
    for (let i = 0; i <= 400; i++) gates.push(-20 + i * 0.1);
    for (const e of [-1, -3, -6, -12, -20, -30, -37]) gates.push(10 ** e, -(10 ** e));
    const I = gates.length;
    const x = new Float32Array(2 * I);
    x.set(gates, 0);
    x.set(randn(I, 5, 2), I);
    const dout = randn(I, 6);
    const got = await runBoth(gpu, 1, I, x, dout);
    check(`extremes I=${I}`, 1, I, x, dout, got);
    // silu's left tail (g e^g, down to -3.7e-42 at g = -100: f32 denormals or 0) keeps its relative accuracy down to -60
    const tail = [...gates.keys()].filter((i) => gates[i] <= -5 && gates[i] >= -60);
    const ref = swigluForwardRef(x, 1, I);
    const rel = compare(tail.map((i) => got.out[i]), tail.map((i) => ref[i]), 0, 1e-5);
    console.log(`swiglu left tail g in [-60, -5], ${tail.length} values: forward max rel ${rel.maxRel.toExponential(2)}`);
    expect(rel.failures).toBe(0);
  });
});
