import { describe, expect, it } from 'vitest';
import { grid } from '../../src/gpu/runtime';
import { add, addInPlace, fill, scale } from '../../src/kernels/elementwise';
import { compare, report } from '../reference/compare';
import { addRef, scaleRef } from '../reference/elementwise';
import { randn } from '../reference/random';
import { checked, poisoned, testGpu } from './context';

// One f32 add or multiply per element: the only error is the final rounding
// (half an ulp, 6e-8 relative), so these bounds are tight.
const ATOL = 1e-7;
const RTOL = 2e-7;

// 1, odd sizes around the workgroup size, the residual stream (B*T*C = 4096*192)
// and the MLP hidden (4096*768).
const SIZES = [1, 7, 255, 257, 4096 * 192, 4096 * 768];

describe('workgroup grid folding', () => {
  it('keeps each dimension within 65535 and covers every workgroup', () => {
    for (const n of [1, 65535, 65536, 200_000, 4_000_000]) {
      const [x, y] = grid(n);
      expect(x).toBeLessThanOrEqual(65535);
      expect(y).toBeLessThanOrEqual(65535);
      expect(x * y).toBeGreaterThanOrEqual(n);
      expect(x * (y - 1)).toBeLessThan(n);
    }
  });

  it('reaches every element of a dispatch folded into two dimensions', async () => {
    const { gpu } = await testGpu();
    const n = 65536 * 256 + 3; // 65537 workgroups: folded to (32769, 2)
    const got = await checked(gpu, async () => {
      const buf = poisoned(gpu, n);
      gpu.submit((enc) => fill(gpu, enc, { buf, n, value: 3 }));
      const result = await gpu.readF32(buf, n);
      gpu.destroy(buf);
      return result;
    });
    let wrong = 0;
    for (let i = 0; i < n; i++) if (got[i] !== 3) wrong++;
    console.log(`fill n=${n} grid=${grid(Math.ceil(n / 256)).join('x')}: wrong ${wrong}`);
    expect(wrong).toBe(0);
  });
});

describe('element-wise kernels vs float64 reference', () => {
  for (const n of SIZES) {
    it(`add, addInPlace, scale, fill n=${n}`, async () => {
      const { gpu } = await testGpu();
      const a = randn(n, n + 11);
      const b = randn(n, n + 12);
      const got = await checked(gpu, async () => {
        const out = poisoned(gpu, n);
        const dst = gpu.upload(a);
        const scaled = gpu.upload(b);
        const filled = poisoned(gpu, n);
        const ba = gpu.upload(a);
        const bb = gpu.upload(b);
        gpu.submit((enc) => {
          add(gpu, enc, { out, a: ba, b: bb, n });
          addInPlace(gpu, enc, { dst, src: bb, n });
          scale(gpu, enc, { buf: scaled, n, factor: -0.37 });
          fill(gpu, enc, { buf: filled, n, value: 0.25 });
        });
        const result = {
          add: await gpu.readF32(out, n),
          addInPlace: await gpu.readF32(dst, n),
          scale: await gpu.readF32(scaled, n),
          fill: await gpu.readF32(filled, n),
        };
        for (const buf of [out, dst, scaled, filled, ba, bb]) gpu.destroy(buf);
        return result;
      });
      const want = {
        add: addRef(a, b),
        addInPlace: addRef(a, b),
        scale: scaleRef(b, Math.fround(-0.37)),
        fill: new Float64Array(n).fill(0.25),
      };
      for (const key of ['add', 'addInPlace', 'scale', 'fill'] as const) {
        const cmp = compare(got[key], want[key], ATOL, RTOL);
        console.log(report(cmp, `${key} n=${n}`));
        expect(cmp.nonFinite, `${key}: every element written`).toBe(0);
        expect(cmp.failures, key).toBe(0);
      }
    });
  }
});
