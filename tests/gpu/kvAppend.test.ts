// The KV-cache append against its float64 reference: the new position's keys
// and values land in their row of each cache and nothing else changes, for
// key/value widths that leave a partial workgroup, grouped heads (n < qOff)
// and the first and last positions.
import { describe, expect, it } from 'vitest';
import { kvAppend } from '../../src/kernels/kvAppend';
import { compare, report } from '../reference/compare';
import { kvAppendRef } from '../reference/kvAppend';
import { randn } from '../reference/random';
import { checked, testGpu } from './context';

const CASES = [
  { n: 1, qOff: 1, Tmax: 1, pos: 0 },
  { n: 37, qOff: 37, Tmax: 5, pos: 4 }, // multi-head attention: keys as wide as queries
  { n: 64, qOff: 192, Tmax: 128, pos: 63 }, // grouped heads: 2 of 6 heads of 32
  { n: 130, qOff: 390, Tmax: 9, pos: 0 },
];

describe('kv_append vs float64 reference', () => {
  for (const { n, qOff, Tmax, pos } of CASES) {
    it(`n=${n} qOff=${qOff} Tmax=${Tmax} pos=${pos}`, async () => {
      const { gpu } = await testGpu();
      const seed = n * 31 + qOff * 7 + pos;
      const k0 = randn(Tmax * n, seed);
      const v0 = randn(Tmax * n, seed + 1);
      const qkv = randn(qOff + 2 * n, seed + 2);
      const got = await checked(gpu, async () => {
        const k = gpu.upload(k0);
        const v = gpu.upload(v0);
        const row = gpu.upload(qkv);
        gpu.submit((enc) => {
          const pass = enc.beginComputePass();
          kvAppend(gpu, pass, { kCache: k, vCache: v, qkv: row, n, qOff, pos, Tmax });
          pass.end();
        });
        const out = { k: await gpu.readF32(k, Tmax * n), v: await gpu.readF32(v, Tmax * n) };
        for (const b of [k, v, row]) gpu.destroy(b);
        return out;
      });
      const wantK = Float64Array.from(k0);
      const wantV = Float64Array.from(v0);
      kvAppendRef(wantK, wantV, qkv, n, qOff, pos);
      for (const [what, g, w] of [['k', got.k, wantK], ['v', got.v, wantV]] as const) {
        const cmp = compare(g, w, 0, 0); // a copy: exact
        console.log(report(cmp, `kv_append ${what} n=${n} pos=${pos}`));
        expect(cmp.nonFinite).toBe(0);
        expect(cmp.failures, what).toBe(0);
      }
      // the row written differs from the cache's old row (so the test sees the write)
      expect(got.k[pos * n]).not.toBe(k0[pos * n]);
    });
  }

  it('refuses a position outside the cache', async () => {
    const { gpu } = await testGpu();
    const b = gpu.upload(new Float32Array(8));
    expect(() => gpu.submit((enc) => kvAppend(gpu, enc, { kCache: b, vCache: b, qkv: b, n: 2, qOff: 2, pos: 4, Tmax: 4 }))).toThrow(/outside a cache of 4/);
    gpu.destroy(b);
  });
});
