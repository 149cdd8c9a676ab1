import { describe, expect, it } from 'vitest';
import { attentionBackward, attentionDecode, attentionForward, attentionScratchFloats } from '../../src/kernels/attention';
import { dropoutMaskCpu } from '../../src/kernels/dropout';
import { attentionBackwardRef, attentionForwardRef, type AttentionDropoutRef } from '../reference/attention';
import { compare, report } from '../reference/compare';
import { randn } from '../reference/random';
import { checked, poisoned, testGpu } from './context';

// Probabilities are softmaxes of f32 dot products over hs terms: errors of a
// few ulps of the scores. Outputs and gradients sum up to T such terms.
const ATT_TOL = { atol: 2e-6, rtol: 1e-4 };
const OUT_TOL = { atol: 2e-5, rtol: 1e-4 };
const GRAD_TOL = { atol: 5e-5, rtol: 2e-4 };

// (B, T, C, NH)
const SHAPES: Array<[number, number, number, number]> = [
  [1, 1, 4, 1],
  [2, 7, 12, 3],
  [3, 24, 48, 4],
  [4, 33, 64, 2],
  [2, 19, 200, 2], // head size 100: the 8-row tiling
  [2, 11, 15, 3], // head size 5: not a multiple of the 4-wide inner steps
  [1, 17, 14, 2], // head size 7
  [32, 128, 192, 6], // the reference model
];

// Dropout on the probabilities: (B, T, C, NH, p), the mask from dropoutMaskCpu.
const DROPOUT_SHAPES: Array<[number, number, number, number, number]> = [
  [2, 7, 12, 3, 0.1],
  [2, 7, 12, 3, 0.5],
  [3, 24, 48, 4, 0.1],
  [3, 24, 48, 4, 0.5],
  [2, 11, 15, 3, 0.5], // head size 5
];

describe('attention kernels vs float64 reference', () => {
  const cases: Array<[number, number, number, number, number]> = [
    ...SHAPES.map(([B, T, C, NH]): [number, number, number, number, number] => [B, T, C, NH, 0]),
    ...DROPOUT_SHAPES,
  ];
  for (const [B, T, C, NH, p] of cases) {
    const name = `B=${B} T=${T} C=${C} NH=${NH}${p > 0 ? ` dropout ${p}` : ''}`;
    it(`forward + backward ${name}`, async () => {
      const { gpu } = await testGpu();
      const seed = B * 1009 + T * 31 + C * 7 + NH;
      const qkv = randn(B * T * 3 * C, seed, 1.5);
      const dout = randn(B * T * C, seed + 1);
      const dropSeed = 0x9e3779b1 + seed;
      const salt = 5 + T;
      const drop: AttentionDropoutRef | undefined = p > 0 ? { p, mask: dropoutMaskCpu(dropSeed, salt, B * NH * T * T, p) } : undefined;
      const { got, gotAtt, gotGrad } = await checked(gpu, async () => {
        const seedBuf = gpu.upload(Uint32Array.of(dropSeed >>> 0));
        const dropout = p > 0 ? { p, salt, seed: seedBuf } : undefined;
        const out = poisoned(gpu, B * T * C);
        const att = poisoned(gpu, B * NH * T * T);
        const dqkv = poisoned(gpu, B * T * 3 * C);
        const scratch = gpu.buffer(attentionScratchFloats(B, T, C, NH) * 4, 'scratch');
        const qkvBuf = gpu.upload(qkv);
        const doutBuf = gpu.upload(dout);
        gpu.submit((enc) => {
          attentionForward(gpu, enc, { out, att, qkv: qkvBuf, B, T, C, NH, dropout });
          attentionBackward(gpu, enc, { dqkv, dout: doutBuf, qkv: qkvBuf, att, scratch, B, T, C, NH, dropout });
        });
        const result = {
          got: await gpu.readF32(out, B * T * C),
          gotAtt: await gpu.readF32(att, B * NH * T * T),
          gotGrad: await gpu.readF32(dqkv, B * T * 3 * C),
        };
        for (const buf of [out, att, dqkv, scratch, qkvBuf, doutBuf, seedBuf]) gpu.destroy(buf);
        return result;
      });
      const want = attentionForwardRef(qkv, { B, T, C, NH }, drop);
      const wantGrad = attentionBackwardRef(dout, qkv, want.att, { B, T, C, NH }, drop);
      if (drop) {
        // the mask really drops something inside the causal triangle (and keeps most at p = 0.1)
        let inside = 0;
        let dropped = 0;
        for (let bh = 0; bh < B * NH; bh++)
          for (let t = 0; t < T; t++)
            for (let t2 = 0; t2 <= t; t2++) {
              inside++;
              if (!drop.mask[(bh * T + t) * T + t2]) dropped++;
            }
        expect(dropped).toBeGreaterThan(0);
        expect(dropped).toBeLessThan(inside);
      }

      const cmpAtt = compare(gotAtt, want.att, ATT_TOL.atol, ATT_TOL.rtol);
      const cmpOut = compare(got, want.out, OUT_TOL.atol, OUT_TOL.rtol);
      const cmpGrad = compare(gotGrad, wantGrad, GRAD_TOL.atol, GRAD_TOL.rtol);
      console.log(report(cmpAtt, `att ${name}`));
      console.log(report(cmpOut, `out ${name}`));
      console.log(report(cmpGrad, `dqkv ${name}`));
      let upper = 0;
      for (let bh = 0; bh < B * NH; bh++)
        for (let t = 0; t < T; t++) for (let t2 = t + 1; t2 < T; t2++) if (gotAtt[(bh * T + t) * T + t2] !== 0) upper++;
      expect(upper, 'probabilities above the diagonal are exactly 0').toBe(0);
      expect(cmpAtt.failures).toBe(0);
      expect(cmpOut.failures).toBe(0);
      expect(cmpGrad.failures).toBe(0);
    });
  }

  it('keeps extreme scores finite (one-hot rows, no NaN from the mask)', async () => {
    const { gpu } = await testGpu();
    const [B, T, C, NH] = [1, 20, 16, 2];
    const qkv = randn(B * T * 3 * C, 77, 30);
    const got = await checked(gpu, async () => {
      const out = poisoned(gpu, B * T * C);
      const att = poisoned(gpu, B * NH * T * T);
      const qkvBuf = gpu.upload(qkv);
      gpu.submit((enc) => attentionForward(gpu, enc, { out, att, qkv: qkvBuf, B, T, C, NH }));
      const r = { out: await gpu.readF32(out), att: await gpu.readF32(att) };
      for (const buf of [out, att, qkvBuf]) gpu.destroy(buf);
      return r;
    });
    const want = attentionForwardRef(qkv, { B, T, C, NH });
    const cmpAtt = compare(got.att, want.att, 1e-4, 1e-3);
    const cmpOut = compare(got.out, want.out, 1e-2, 1e-3);
    console.log(report(cmpAtt, 'att extreme scores'));
    console.log(report(cmpOut, 'out extreme scores'));
    expect(cmpAtt.nonFinite + cmpOut.nonFinite).toBe(0);
    expect(cmpAtt.failures).toBe(0);
    expect(cmpOut.failures).toBe(0);
  });

  // Generation: the newest position over a KV cache must match the last row of the full forward.
  // (T, C, NH, Tmax)
  const DECODE: Array<[number, number, number, number]> = [
    [1, 4, 1, 1],
    [7, 12, 3, 16],
    [33, 64, 2, 40],
    [128, 192, 6, 128],
    [300, 200, 2, 320], // head size 100, more positions than invocations
  ];
  for (const [T, C, NH, Tmax] of DECODE) {
    it(`decode one position over a KV cache: t=${T} C=${C} NH=${NH} Tmax=${Tmax}`, async () => {
      const { gpu } = await testGpu();
      const qkv = randn(T * 3 * C, T * 13 + C, 1.5);
      const q = qkv.slice((T - 1) * 3 * C, (T - 1) * 3 * C + C);
      // Cache rows past t hold stale values that must be ignored.
      const kCache = randn(Tmax * C, T + 1, 100);
      const vCache = randn(Tmax * C, T + 2, 100);
      for (let t = 0; t < T; t++) {
        kCache.set(qkv.subarray(t * 3 * C + C, t * 3 * C + 2 * C), t * C);
        vCache.set(qkv.subarray(t * 3 * C + 2 * C, t * 3 * C + 3 * C), t * C);
      }
      const got = await checked(gpu, async () => {
        const out = poisoned(gpu, C);
        const probs = poisoned(gpu, NH * Tmax);
        const bufs = [gpu.upload(q), gpu.upload(kCache), gpu.upload(vCache)];
        gpu.submit((enc) =>
          attentionDecode(gpu, enc, { out, probs, q: bufs[0], kCache: bufs[1], vCache: bufs[2], t: T, C, NH, Tmax }),
        );
        const r = { out: await gpu.readF32(out, C), probs: await gpu.readF32(probs, NH * Tmax) };
        for (const buf of [out, probs, ...bufs]) gpu.destroy(buf);
        return r;
      });
      const full = attentionForwardRef(qkv, { B: 1, T, C, NH });
      const wantOut = full.out.slice((T - 1) * C);
      const wantProbs = new Float64Array(NH * Tmax);
      for (let h = 0; h < NH; h++)
        for (let t2 = 0; t2 < T; t2++) wantProbs[h * Tmax + t2] = full.att[(h * T + T - 1) * T + t2];
      const name = `t=${T} C=${C} NH=${NH} Tmax=${Tmax}`;
      const cmpOut = compare(got.out, wantOut, OUT_TOL.atol, OUT_TOL.rtol);
      const cmpProbs = compare(got.probs, wantProbs, ATT_TOL.atol, ATT_TOL.rtol);
      console.log(report(cmpOut, `decode out ${name}`));
      console.log(report(cmpProbs, `decode probs ${name}`));
      expect(cmpOut.failures).toBe(0);
      expect(cmpProbs.failures).toBe(0);
    });
  }
});
