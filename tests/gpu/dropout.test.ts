import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/runtime';
import { dropoutBackward, dropoutForward, dropoutMaskCpu, dropoutResidual, dropoutScale } from '../../src/kernels/dropout';
import { compare, report } from '../reference/compare';
import { dropoutBackwardRef, dropoutForwardRef } from '../reference/dropout';
import { randn } from '../reference/random';
import { checked, poisoned, testGpu } from './context';

// Kept elements are one f32 multiply by fround(1/(1-p)): against the float64
// reference (which divides by 1 - p exactly) the error is under 1.5e-7 relative.
const ATOL = 0;
const RTOL = 2e-7;

/** Run forward on x and backward on dy with one seed buffer; return both outputs. */
async function run(gpu: Gpu, x: Float32Array, dy: Float32Array, p: number, salt: number, seed: number) {
  const n = x.length;
  return checked(gpu, async () => {
    const seedBuf = gpu.upload(Uint32Array.of(seed));
    const inp = gpu.upload(x);
    const dout = gpu.upload(dy);
    const out = poisoned(gpu, n);
    const dinp = poisoned(gpu, n);
    gpu.submit((enc) => {
      dropoutForward(gpu, enc, { out, inp, n, p, salt, seed: seedBuf });
      dropoutBackward(gpu, enc, { dinp, dout, n, p, salt, seed: seedBuf });
    });
    const result = { out: await gpu.readF32(out, n), dinp: await gpu.readF32(dinp, n) };
    for (const b of [seedBuf, inp, dout, out, dinp]) gpu.destroy(b);
    return result;
  });
}

/** The mask the GPU applied, read off an output: nonzero = kept (inputs are never exactly 0 here). */
const maskOf = (y: Float32Array) => Uint8Array.from(y, (v) => (v !== 0 ? 1 : 0));

function countDiff(a: Uint8Array, b: Uint8Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) d++;
  return d;
}

// 1, sizes around the workgroup, 1e5 + 3, and the residual stream of the reference model (B*T*C = 4096*192).
const SIZES = [1, 7, 257, 100_003, 4096 * 192];

describe('dropout kernel', () => {
  for (const n of SIZES) {
    it(`forward and backward apply dropoutMaskCpu's mask exactly, p=0.1, n=${n}`, async () => {
      const { gpu } = await testGpu();
      const [p, salt, seed] = [0.1, 3, 0xdeadbeef + n];
      const x = randn(n, n + 1);
      const dy = randn(n, n + 2);
      const got = await run(gpu, x, dy, p, salt, seed);
      const mask = dropoutMaskCpu(seed, salt, n, p);
      const scale = dropoutScale(p);
      let exact = 0;
      for (let i = 0; i < n; i++) {
        if (got.out[i] === (mask[i] ? Math.fround(x[i] * scale) : 0)) exact++;
        if (got.dinp[i] === (mask[i] ? Math.fround(dy[i] * scale) : 0)) exact++;
      }
      const fwd = compare(got.out, dropoutForwardRef(x, mask, p), ATOL, RTOL);
      const bwd = compare(got.dinp, dropoutBackwardRef(dy, mask, p), ATOL, RTOL);
      console.log(report(fwd, `dropout forward n=${n}`));
      console.log(report(bwd, `dropout backward n=${n}`));
      expect(countDiff(maskOf(got.out), mask), 'GPU forward mask == dropoutMaskCpu').toBe(0);
      expect(countDiff(maskOf(got.dinp), mask), 'backward uses the forward mask').toBe(0);
      expect(exact, 'bit-exact f32 products').toBe(2 * n);
      expect(fwd.failures + bwd.failures).toBe(0);
    });
  }

  it('p = 0 is the identity', async () => {
    const { gpu } = await testGpu();
    const x = randn(1000, 1);
    const got = await run(gpu, x, x, 0, 1, 42);
    expect(Array.from(got.out)).toEqual(Array.from(x));
    expect(Array.from(got.dinp)).toEqual(Array.from(x));
  });

  it('same seed and salt give the same mask; another seed or salt another one', async () => {
    const { gpu } = await testGpu();
    const n = 10_000;
    const p = 0.2;
    const x = randn(n, 5);
    const a = maskOf((await run(gpu, x, x, p, 7, 1234)).out);
    const b = maskOf((await run(gpu, x, x, p, 7, 1234)).out);
    const otherSeed = maskOf((await run(gpu, x, x, p, 7, 1235)).out);
    const otherSalt = maskOf((await run(gpu, x, x, p, 8, 1234)).out);
    // Independent masks differ in a fraction 2 p (1 - p) = 0.32 of the elements.
    const expected = 2 * p * (1 - p) * n;
    const sigma = Math.sqrt(n * 2 * p * (1 - p) * (1 - 2 * p * (1 - p)));
    console.log(`dropout n=${n} p=${p}: other seed differs in ${countDiff(a, otherSeed)}, other salt in ${countDiff(a, otherSalt)} (independent: ${expected.toFixed(0)} +- ${sigma.toFixed(0)})`);
    expect(countDiff(a, b)).toBe(0);
    expect(Math.abs(countDiff(a, otherSeed) - expected)).toBeLessThan(5 * sigma);
    expect(Math.abs(countDiff(a, otherSalt) - expected)).toBeLessThan(5 * sigma);
  });

  it('a new seed written into the same buffer between steps changes the mask', async () => {
    const { gpu } = await testGpu();
    const n = 5000;
    const x = randn(n, 6);
    const masks = await checked(gpu, async () => {
      const seed = gpu.upload(Uint32Array.of(1));
      const inp = gpu.upload(x);
      const out = gpu.buffer(n * 4);
      const seen: Uint8Array[] = [];
      for (const s of [1, 2, 1]) {
        gpu.write(seed, Uint32Array.of(s));
        gpu.submit((enc) => dropoutForward(gpu, enc, { out, inp, n, p: 0.5, salt: 0, seed }));
        seen.push(maskOf(await gpu.readF32(out, n)));
      }
      for (const b of [seed, inp, out]) gpu.destroy(b);
      return seen;
    });
    expect(countDiff(masks[0], dropoutMaskCpu(1, 0, n, 0.5))).toBe(0);
    expect(countDiff(masks[1], dropoutMaskCpu(2, 0, n, 0.5))).toBe(0);
    expect(countDiff(masks[0], masks[2])).toBe(0);
    expect(countDiff(masks[0], masks[1])).toBeGreaterThan(n / 4);
  });

  it('keeps a fraction 1 - p of 1e5 elements, within 4 sigma, without correlation between neighbours', () => {
    const n = 100_000;
    for (const p of [0.05, 0.1, 0.5, 0.9]) {
      for (const [seed, salt] of [[0, 0], [1, 0], [0, 1], [0xffffffff, 12345]]) {
        const mask = dropoutMaskCpu(seed, salt, n, p);
        let kept = 0;
        let pairs = 0;
        for (let i = 0; i < n; i++) {
          kept += mask[i];
          if (i > 0) pairs += mask[i] & mask[i - 1];
        }
        const q = 1 - p;
        const sigma = Math.sqrt(n * p * q);
        const pairSigma = Math.sqrt((n - 1) * q * q * (1 - q * q) * 3); // neighbours overlap: a loose bound
        expect(Math.abs(kept - n * q), `kept, p=${p} seed=${seed} salt=${salt}`).toBeLessThan(4 * sigma);
        expect(Math.abs(pairs - (n - 1) * q * q), `kept pairs, p=${p}`).toBeLessThan(4 * pairSigma);
        if (seed === 0 && salt === 0) console.log(`p=${p}: kept ${kept} of ${n} (expected ${(n * q).toFixed(0)} +- ${sigma.toFixed(0)}), kept neighbour pairs ${pairs} (expected ${((n - 1) * q * q).toFixed(0)})`);
      }
    }
  });

  it('rejects a probability outside [0, 1)', () => {
    expect(() => dropoutMaskCpu(0, 0, 1, 1)).toThrow(RangeError);
    expect(() => dropoutMaskCpu(0, 0, 1, -0.1)).toThrow(RangeError);
  });
});

describe('dropout with a residual (a block branch: out = resid + dropout(branch)) vs float64', () => {
  for (const n of [7, 257, 100_003]) {
    it(`the forward's mask, plus the residual, n=${n}`, async () => {
      const { gpu } = await testGpu();
      const [p, salt, seed] = [0.1, 5, 0x1234567 + n];
      const x = randn(n, n + 3);
      const r = randn(n, n + 4);
      const got = await checked(gpu, async () => {
        const seedBuf = gpu.upload(Uint32Array.of(seed));
        const [inp, resid] = [gpu.upload(x), gpu.upload(r)];
        const out = poisoned(gpu, n);
        gpu.submit((enc) => dropoutResidual(gpu, enc, { out, resid, inp, n, p, salt, seed: seedBuf }));
        const y = await gpu.readF32(out, n);
        for (const b of [seedBuf, inp, resid, out]) gpu.destroy(b);
        return y;
      });
      const want = dropoutForwardRef(x, dropoutMaskCpu(seed, salt, n, p), p).map((v, i) => v + r[i]);
      // two f32 roundings (the scaled product, then the sum) of terms up to about 5 in magnitude: under 1e-6 absolute
      const cmp = compare(got, want, 1e-6, RTOL);
      console.log(report(cmp, `dropout + residual n=${n}`));
      expect(cmp.nonFinite).toBe(0);
      expect(cmp.failures).toBe(0);
    });
  }
});
