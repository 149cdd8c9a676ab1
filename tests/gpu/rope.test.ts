import { describe, expect, it } from 'vitest';
import { ropeBackward, ropeForward } from '../../src/kernels/rope';
import { compare, report, type Comparison } from '../reference/compare';
import { randn } from '../reference/random';
import { ropeBackwardRef, ropeForwardRef, type RopeShape } from '../reference/rope';
import { checked, testGpu } from './context';

// The angle is reduced exactly (integer turns) to a quadrant and an f32 angle
// in [-pi/4, pi/4), whose sin / cos are series exact to f32, then a 2 x 2
// rotation of O(1) values: a few 1e-7 absolute at any position (seen: <= 3e-7
// out to position 2e6; the WGSL built-ins sin / cos gave 5.5e-4 on
// SwiftShader, their 2^-11 bound). The README's bound for activations is 1e-4
// of the tensor's largest magnitude; this asks for 2e-6 absolute (about 5e-7
// of the largest magnitude of these inputs).
const TOL = { atol: 2e-6, rtol: 0 };

type Case = RopeShape & { pos0: number; theta: number };
// Awkward shapes: D = 2, 6, 8, 128; GQA (KV < H) and multi-head (KV = H);
// positions from 0, from a decoder's offset, and far out (1e5, 2e6), where an
// f32 product t * inv_freq is off by up to 0.1 rad; theta 10000 and 500000.
const CASES: Case[] = [
  { B: 1, T: 1, H: 1, KV: 1, D: 2, pos0: 0, theta: 10000 },
  { B: 3, T: 5, H: 4, KV: 2, D: 8, pos0: 0, theta: 10000 },
  { B: 2, T: 7, H: 3, KV: 1, D: 6, pos0: 0, theta: 10000 },
  { B: 1, T: 1, H: 4, KV: 1, D: 8, pos0: 37, theta: 10000 },
  { B: 2, T: 3, H: 2, KV: 2, D: 128, pos0: 100000, theta: 10000 },
  { B: 1, T: 4, H: 4, KV: 2, D: 64, pos0: 2_000_000, theta: 500000 },
];

function expectClose(label: string, cmp: Comparison) {
  console.log(report(cmp, label));
  expect(cmp.nonFinite, `${label}: every element finite`).toBe(0);
  expect(cmp.failures, label).toBe(0);
}

/** What a plain f32 angle (fround(t * fround(inv_freq)), then cos / sin) is off by at these positions, for the log. */
function f32AngleError({ T, D, pos0, theta }: Case): number {
  let worst = 0;
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < D / 2; i++) {
      const exact = (pos0 + t) * theta ** ((-2 * i) / D);
      const f32 = Math.fround(Math.fround(pos0 + t) * Math.fround(theta ** ((-2 * i) / D)));
      worst = Math.max(worst, Math.abs(Math.sin(exact) - Math.sin(f32)), Math.abs(Math.cos(exact) - Math.cos(f32)));
    }
  }
  return worst;
}

// One element-wise kernel serves every variant (as activation's), so it runs once per case.
describe('rope kernels vs float64 reference', () => {
  for (const c of CASES) {
    const { B, T, H, KV, D, pos0, theta } = c;
    const name = `B=${B} T=${T} H=${H} KV=${KV} D=${D} pos0=${pos0} theta=${theta}`;
    it(name, async () => {
      const { gpu } = await testGpu();
      const n = B * T * (H + 2 * KV) * D;
      const x = randn(n, n + pos0 + D, 1);
      const dy = randn(n, n + pos0 + D + 1, 1);
      const args = { N: B * T, T, H, KV, D, pos0, theta };
      const got = await checked(gpu, async () => {
        const bx = gpu.upload(x);
        const bd = gpu.upload(dy);
        const round = gpu.upload(x);
        gpu.submit((enc) => {
          ropeForward(gpu, enc, { ...args, qkv: bx });
          ropeBackward(gpu, enc, { ...args, qkv: bd });
          ropeForward(gpu, enc, { ...args, qkv: round });
          ropeBackward(gpu, enc, { ...args, qkv: round });
        });
        const result = { y: await gpu.readF32(bx, n), dx: await gpu.readF32(bd, n), round: await gpu.readF32(round, n) };
        for (const b of [bx, bd, round]) gpu.destroy(b);
        return result;
      });
      const shape = { B, T, H, KV, D };
      expectClose(`rope forward ${name}`, compare(got.y, ropeForwardRef(x, shape, pos0, theta), TOL.atol, TOL.rtol));
      expectClose(`rope backward ${name}`, compare(got.dx, ropeBackwardRef(dy, shape, pos0, theta), TOL.atol, TOL.rtol));
      // the backward undoes the forward (a rotation's transpose is its inverse)
      expectClose(`rope backward(forward(x)) = x ${name}`, compare(got.round, x, TOL.atol, TOL.rtol));
      // v is untouched, bit for bit
      const W = (H + 2 * KV) * D;
      for (let r = 0; r < B * T; r++) {
        for (let j = (H + KV) * D; j < W; j++) {
          expect(got.y[r * W + j]).toBe(x[r * W + j]);
          expect(got.dx[r * W + j]).toBe(dy[r * W + j]);
        }
      }
      console.log(`  (a plain f32 angle would be off by up to ${f32AngleError(c).toExponential(2)} in sin / cos here)`);
    });
  }

  it('refuses an odd head dim with a sentence', async () => {
    const { gpu } = await testGpu();
    const buf = gpu.upload(new Float32Array(15));
    expect(() => gpu.submit((enc) => ropeForward(gpu, enc, { qkv: buf, N: 1, T: 1, H: 1, KV: 1, D: 5, pos0: 0, theta: 10000 }))).toThrow(/even head dim/);
    gpu.destroy(buf);
  });
});
