import { describe, expect, it } from 'vitest';
import { attentionBackward, attentionDecode, attentionForward, attentionRowFloats, attentionTile, qkvWidth } from '../../src/kernels/attention';
import { dropoutMaskCpu } from '../../src/kernels/dropout';
import type { Gpu } from '../../src/gpu/runtime';
import { attentionBackwardRef, attentionForwardRef, type AttentionDropoutRef } from '../reference/attention';
import { compare, report } from '../reference/compare';
import { randn } from '../reference/random';
import { checked, poisoned, testGpu } from './context';

// Probabilities are softmaxes of f32 dot products over hs terms: errors of a
// few ulps of the scores. Outputs and gradients sum up to T such terms.
const ATT_TOL = { atol: 2e-6, rtol: 1e-4 };
const LSE_TOL = { atol: 1e-5, rtol: 1e-5 };
const OUT_TOL = { atol: 2e-5, rtol: 1e-4 };
const GRAD_TOL = { atol: 5e-5, rtol: 2e-4 };

// (B, T, C, NH): T never a multiple of the tile (16 rows up to hs 52, 8 up to 116, then 4) except T = 1.
const SHAPES: Array<[number, number, number, number]> = [
  [1, 1, 4, 1],
  [2, 7, 12, 3],
  [3, 24, 48, 4],
  [1, 37, 64, 2], // head size 32, as the reference model: three query tiles, the last partial
  [2, 21, 16, 2], // head size 8
  [2, 11, 15, 3], // head size 5: not a multiple of four
  [1, 17, 14, 2], // head size 7
  [1, 13, 64, 1], // head size 64: 8-row tiles
  [1, 10, 256, 2], // head size 128 (the largest): 4-row tiles
];

// Dropout on the probabilities: (B, T, C, NH, p), the mask from dropoutMaskCpu.
const DROPOUT_SHAPES: Array<[number, number, number, number, number]> = [
  [2, 7, 12, 3, 0.1],
  [2, 7, 12, 3, 0.5],
  [3, 24, 48, 4, 0.1],
  [1, 21, 64, 2, 0.5], // head size 32
  [2, 11, 15, 3, 0.5], // head size 5
  [1, 17, 14, 2, 0.3], // head size 7
];

// Grouped-query attention (B, T, C, NH, p, KV): query head h reads key/value
// head h / (NH / KV); the keys pass sums dk / dv over the group's query heads.
const GQA_SHAPES: Array<[number, number, number, number, number, number]> = [
  [2, 7, 32, 4, 0, 2], // head size 8, the llama-gqa fixture's heads
  [3, 19, 32, 4, 0, 1], // one key/value head for all four, two query tiles
  [2, 11, 24, 4, 0, 2], // head size 6: not a multiple of four
  [1, 21, 24, 4, 0, 1], // head size 6, one key/value head
  [1, 13, 192, 6, 0, 3], // head size 32, groups of 2
  [2, 9, 32, 4, 0.3, 2], // with dropout on the probabilities
];

interface Run {
  out: Float32Array;
  lse: Float32Array;
  dqkv: Float32Array;
  /** the probabilities-on-demand variant's outputs */
  probs: Float32Array;
  outWithProbs: Float32Array;
  lseWithProbs: Float32Array;
}

/** Forward (training variant), backward, then the forward that also writes the probabilities. */
async function runAttention(
  gpu: Gpu,
  qkv: Float32Array,
  dout: Float32Array,
  { B, T, C, NH, KV = NH }: { B: number; T: number; C: number; NH: number; KV?: number },
  drop: { p: number; salt: number; seed: number } | null,
): Promise<Run> {
  const W = qkvWidth({ C, NH, KV });
  return checked(gpu, async () => {
    const seedBuf = gpu.upload(Uint32Array.of(drop ? drop.seed >>> 0 : 0));
    const dropout = drop ? { p: drop.p, salt: drop.salt, seed: seedBuf } : undefined;
    const rows = attentionRowFloats(B, T, NH);
    const out = poisoned(gpu, B * T * C);
    const lse = poisoned(gpu, rows);
    const delta = poisoned(gpu, rows);
    const dqkv = poisoned(gpu, B * T * W);
    const out2 = poisoned(gpu, B * T * C);
    const lse2 = poisoned(gpu, rows);
    const probs = poisoned(gpu, B * NH * T * T);
    const qkvBuf = gpu.upload(qkv);
    const doutBuf = gpu.upload(dout);
    gpu.submit((enc) => {
      const pass = enc.beginComputePass();
      attentionForward(gpu, pass, { out, lse, qkv: qkvBuf, B, T, C, NH, KV, dropout });
      attentionBackward(gpu, pass, { dqkv, delta, dout: doutBuf, qkv: qkvBuf, out, lse, B, T, C, NH, KV, dropout });
      attentionForward(gpu, pass, { out: out2, lse: lse2, qkv: qkvBuf, probs, B, T, C, NH, KV, dropout });
      pass.end();
    });
    const result = {
      out: await gpu.readF32(out, B * T * C),
      lse: await gpu.readF32(lse, rows),
      dqkv: await gpu.readF32(dqkv, B * T * W),
      probs: await gpu.readF32(probs, B * NH * T * T),
      outWithProbs: await gpu.readF32(out2, B * T * C),
      lseWithProbs: await gpu.readF32(lse2, rows),
    };
    for (const buf of [out, lse, delta, dqkv, out2, lse2, probs, qkvBuf, doutBuf, seedBuf]) gpu.destroy(buf);
    return result;
  });
}

describe('attention kernels vs float64 reference', () => {
  const cases: Array<[number, number, number, number, number, number?]> = [
    ...SHAPES.map(([B, T, C, NH]): [number, number, number, number, number] => [B, T, C, NH, 0]),
    ...DROPOUT_SHAPES,
    ...GQA_SHAPES,
  ];
  for (const [B, T, C, NH, p, KV = NH] of cases) {
    const gqa = KV !== NH ? ` KV=${KV}` : '';
    const name = `B=${B} T=${T} C=${C} NH=${NH}${gqa} (hs ${C / NH}, tile ${attentionTile(C / NH)})${p > 0 ? ` dropout ${p}` : ''}`;
    it(`forward + backward ${name}`, async () => {
      const { gpu } = await testGpu();
      const shape = { B, T, C, NH, KV };
      const seed = B * 1009 + T * 31 + C * 7 + NH + 5 * (NH - KV);
      const qkv = randn(B * T * qkvWidth(shape), seed, 1.5);
      const dout = randn(B * T * C, seed + 1);
      const dropSeed = 0x9e3779b1 + seed;
      const salt = 5 + T;
      const drop: AttentionDropoutRef | undefined = p > 0 ? { p, mask: dropoutMaskCpu(dropSeed, salt, B * NH * T * T, p) } : undefined;
      const got = await runAttention(gpu, qkv, dout, shape, p > 0 ? { p, salt, seed: dropSeed } : null);
      const want = attentionForwardRef(qkv, shape, drop);
      const wantGrad = attentionBackwardRef(dout, qkv, want.att, shape, drop);
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

      const cmp = {
        out: compare(got.out, want.out, OUT_TOL.atol, OUT_TOL.rtol),
        lse: compare(got.lse, want.lse, LSE_TOL.atol, LSE_TOL.rtol),
        dqkv: compare(got.dqkv, wantGrad, GRAD_TOL.atol, GRAD_TOL.rtol),
        probs: compare(got.probs, want.att, ATT_TOL.atol, ATT_TOL.rtol),
        'out (probabilities variant)': compare(got.outWithProbs, want.out, OUT_TOL.atol, OUT_TOL.rtol),
        'lse (probabilities variant)': compare(got.lseWithProbs, want.lse, LSE_TOL.atol, LSE_TOL.rtol),
      };
      for (const [what, c] of Object.entries(cmp)) console.log(report(c, `${what} ${name}`));
      let upper = 0;
      let worstRowSum = 0;
      for (let bh = 0; bh < B * NH; bh++)
        for (let t = 0; t < T; t++) {
          let sum = 0;
          for (let t2 = 0; t2 < T; t2++) {
            const a = got.probs[(bh * T + t) * T + t2];
            if (t2 > t && a !== 0) upper++;
            sum += a;
          }
          worstRowSum = Math.max(worstRowSum, Math.abs(sum - 1));
        }
      expect(upper, 'probabilities above the diagonal are exactly 0').toBe(0);
      expect(worstRowSum, 'each row of probabilities sums to 1').toBeLessThan(1e-5);
      for (const [what, c] of Object.entries(cmp)) expect(c.failures, what).toBe(0);
    });
  }

  it('is deterministic: the same inputs give bit-identical outputs and gradients', async () => {
    const { gpu } = await testGpu();
    const shape = { B: 2, T: 29, C: 64, NH: 2 };
    const qkv = randn(2 * 29 * 3 * 64, 11, 1.5);
    const dout = randn(2 * 29 * 64, 12);
    const drop = { p: 0.2, salt: 3, seed: 1234 };
    const a = await runAttention(gpu, qkv, dout, shape, drop);
    const b = await runAttention(gpu, qkv, dout, shape, drop);
    expect(Buffer.from(a.out.buffer).equals(Buffer.from(b.out.buffer))).toBe(true);
    expect(Buffer.from(a.dqkv.buffer).equals(Buffer.from(b.dqkv.buffer))).toBe(true);
  });

  it('is deterministic with grouped-query attention (dk / dv summed over a group in a fixed order)', async () => {
    const { gpu } = await testGpu();
    const shape = { B: 2, T: 23, C: 32, NH: 4, KV: 1 };
    const qkv = randn(2 * 23 * qkvWidth(shape), 13, 1.5);
    const dout = randn(2 * 23 * 32, 14);
    const a = await runAttention(gpu, qkv, dout, shape, null);
    const b = await runAttention(gpu, qkv, dout, shape, null);
    expect(Buffer.from(a.dqkv.buffer).equals(Buffer.from(b.dqkv.buffer))).toBe(true);
  });

  it('refuses key/value heads that do not divide the heads, with a sentence', async () => {
    const { gpu } = await testGpu();
    const buf = gpu.upload(new Float32Array(64));
    expect(() => gpu.submit((enc) => attentionForward(gpu, enc, { out: buf, lse: buf, qkv: buf, B: 1, T: 1, C: 8, NH: 4, KV: 3 }))).toThrow(
      /key\/value heads 3 must divide the number of attention heads 4/,
    );
    gpu.destroy(buf);
  });

  it('keeps extreme scores finite (one-hot rows, no NaN from the mask)', async () => {
    const { gpu } = await testGpu();
    const [B, T, C, NH] = [1, 20, 16, 2];
    const qkv = randn(B * T * 3 * C, 77, 30);
    const dout = randn(B * T * C, 78);
    const got = await runAttention(gpu, qkv, dout, { B, T, C, NH }, null);
    const want = attentionForwardRef(qkv, { B, T, C, NH });
    const wantGrad = attentionBackwardRef(dout, qkv, want.att, { B, T, C, NH });
    const cmpAtt = compare(got.probs, want.att, 1e-4, 1e-3);
    const cmpOut = compare(got.out, want.out, 1e-2, 1e-3);
    const cmpGrad = compare(got.dqkv, wantGrad, 1e-1, 1e-2);
    console.log(report(cmpAtt, 'att extreme scores'));
    console.log(report(cmpOut, 'out extreme scores'));
    console.log(report(cmpGrad, 'dqkv extreme scores'));
    expect(cmpAtt.nonFinite + cmpOut.nonFinite + cmpGrad.nonFinite).toBe(0);
    expect(cmpAtt.failures).toBe(0);
    expect(cmpOut.failures).toBe(0);
  });

  // Generation: the newest position over a KV cache must match the last row of the full forward.
  // (T, C, NH, Tmax)
  // (T, C, NH, Tmax, KV)
  const DECODE: Array<[number, number, number, number, number?]> = [
    [1, 4, 1, 1],
    [7, 12, 3, 16],
    [33, 64, 2, 40],
    [128, 192, 6, 128],
    [300, 200, 2, 320], // head size 100, more positions than invocations
    [9, 32, 4, 16, 2], // grouped-query attention: caches (Tmax, KV * hs)
    [17, 24, 4, 20, 1], // head size 6, one key/value head
  ];
  for (const [T, C, NH, Tmax, KV = NH] of DECODE) {
    it(`decode one position over a KV cache: t=${T} C=${C} NH=${NH}${KV !== NH ? ` KV=${KV}` : ''} Tmax=${Tmax}`, async () => {
      const { gpu } = await testGpu();
      const W = qkvWidth({ C, NH, KV });
      const KVC = W - C; // k and v widths together
      const qkv = randn(T * W, T * 13 + C + KV, 1.5);
      const q = qkv.slice((T - 1) * W, (T - 1) * W + C);
      // Cache rows past t hold stale values that must be ignored.
      const kCache = randn(Tmax * (KVC / 2), T + 1, 100);
      const vCache = randn(Tmax * (KVC / 2), T + 2, 100);
      for (let t = 0; t < T; t++) {
        kCache.set(qkv.subarray(t * W + C, t * W + C + KVC / 2), (t * KVC) / 2);
        vCache.set(qkv.subarray(t * W + C + KVC / 2, (t + 1) * W), (t * KVC) / 2);
      }
      const got = await checked(gpu, async () => {
        const out = poisoned(gpu, C);
        const probs = poisoned(gpu, NH * Tmax);
        const bufs = [gpu.upload(q), gpu.upload(kCache), gpu.upload(vCache)];
        gpu.submit((enc) =>
          attentionDecode(gpu, enc, { out, probs, q: bufs[0], kCache: bufs[1], vCache: bufs[2], t: T, C, NH, KV, Tmax }),
        );
        const r = { out: await gpu.readF32(out, C), probs: await gpu.readF32(probs, NH * Tmax) };
        for (const buf of [out, probs, ...bufs]) gpu.destroy(buf);
        return r;
      });
      const full = attentionForwardRef(qkv, { B: 1, T, C, NH, KV });
      const wantOut = full.out.slice((T - 1) * C);
      const wantProbs = new Float64Array(NH * Tmax);
      for (let h = 0; h < NH; h++)
        for (let t2 = 0; t2 < T; t2++) wantProbs[h * Tmax + t2] = full.att[(h * T + T - 1) * T + t2];
      const name = `t=${T} C=${C} NH=${NH} KV=${KV} Tmax=${Tmax}`;
      const cmpOut = compare(got.out, wantOut, OUT_TOL.atol, OUT_TOL.rtol);
      const cmpProbs = compare(got.probs, wantProbs, ATT_TOL.atol, ATT_TOL.rtol);
      console.log(report(cmpOut, `decode out ${name}`));
      console.log(report(cmpProbs, `decode probs ${name}`));
      expect(cmpOut.failures).toBe(0);
      expect(cmpProbs.failures).toBe(0);
    });
  }
});
