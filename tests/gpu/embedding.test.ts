import { describe, expect, it } from 'vitest';
import { dropoutMaskCpu, dropoutScale } from '../../src/kernels/dropout';
import { embeddingBackward, embeddingForward } from '../../src/kernels/embedding';
import { compare, report } from '../reference/compare';
import { embeddingBackwardRef, embeddingForwardRef } from '../reference/embedding';
import { randInts, randn } from '../reference/random';
import { checked, poisoned, testGpu, withVariant } from './context';

// Forward: one f32 add, so half an ulp of the result. Backward: sums of up to
// `terms` unit-variance values onto a random start, whose size is about
// sqrt(terms + 1); the bound is 3e-6 of that size (seen: 1.1e-6 of it with
// 4096 equal tokens), well under 1e-4 relative.
const FWD = { atol: 1e-7, rtol: 1e-7 };
const bwdAtol = (terms: number) => 3e-6 * Math.sqrt(terms + 1);
const BWD_RTOL = 1e-6;

type Shape = { B: number; T: number; C: number; V: number; sameToken?: boolean };
// Channel counts that leave a partial slice of 16 and a partial quad of 4,
// position counts not a multiple of the 64 position lanes.
const SHAPES: Shape[] = [
  { B: 1, T: 1, C: 1, V: 2 },
  { B: 1, T: 37, C: 7, V: 70 },
  { B: 3, T: 37, C: 33, V: 70 },
  { B: 4, T: 16, C: 300, V: 11 },
  { B: 2, T: 19, C: 192, V: 65 },
  { B: 8, T: 64, C: 48, V: 65, sameToken: true }, // every position holds the same token
];
// The reference model's shapes, on the CPU variant only (the GPU variant's 780 workgroups cost seconds on SwiftShader).
const REFERENCE_SHAPES: Shape[] = [
  { B: 32, T: 128, C: 192, V: 65 },
  { B: 32, T: 128, C: 192, V: 65, sameToken: true },
];

describe.each(['cpu', 'gpu'] as const)('embedding kernels vs float64 reference, %s', (variant) => {
  for (const s of variant === 'cpu' ? [...SHAPES, ...REFERENCE_SHAPES] : SHAPES) {
    const { B, T, C, V } = s;
    const name = `B=${B} T=${T} C=${C} V=${V}${s.sameToken ? ' all tokens equal' : ''}`;
    it(name, async () => {
      const { gpu } = await testGpu();
      const seed = B * 1009 + T * 31 + C * 7 + V;
      const BT = B * T;
      const tokens = s.sameToken ? new Int32Array(BT).fill(V - 1) : randInts(BT, V, seed);
      if (!s.sameToken && BT > 2) {
        tokens[0] = 0; // both ends of the vocabulary
        tokens[BT - 1] = V - 1;
      }
      const wte = randn(V * C, seed + 1);
      const wpe = randn((T + 3) * C, seed + 2); // more rows than T, as with block_size > T
      const dout = randn(BT * C, seed + 3);
      const dwte0 = randn(V * C, seed + 4); // gradients accumulate onto what is there
      const dwpe0 = randn(T * C, seed + 5);
      const got = await withVariant(gpu, variant, () => checked(gpu, async () => {
        const bufs = {
          out: poisoned(gpu, BT * C),
          tokens: gpu.upload(tokens),
          wte: gpu.upload(wte),
          wpe: gpu.upload(wpe),
          dout: gpu.upload(dout),
          dwte: gpu.upload(dwte0),
          dwpe: gpu.upload(dwpe0),
        };
        gpu.submit((enc) => {
          embeddingForward(gpu, enc, { out: bufs.out, tokens: bufs.tokens, wte: bufs.wte, wpe: bufs.wpe, B, T, C });
          embeddingBackward(gpu, enc, { dwte: bufs.dwte, dwpe: bufs.dwpe, dout: bufs.dout, tokens: bufs.tokens, B, T, C, V });
        });
        const result = {
          out: await gpu.readF32(bufs.out, BT * C),
          dwte: await gpu.readF32(bufs.dwte, V * C),
          dwpe: await gpu.readF32(bufs.dwpe, T * C),
        };
        for (const b of Object.values(bufs)) gpu.destroy(b);
        return result;
      }));
      const wantOut = embeddingForwardRef(tokens, wte, wpe, B, T, C);
      const wantDwte = Float64Array.from(dwte0);
      const wantDwpe = Float64Array.from(dwpe0);
      embeddingBackwardRef(wantDwte, wantDwpe, dout, tokens, B, T, C);
      let maxCount = 0; // most occurrences of one token: the longest sum in dwte
      const counts = new Int32Array(V);
      for (const v of tokens) maxCount = Math.max(maxCount, ++counts[v]);
      const cmps = [
        ['forward', compare(got.out, wantOut, FWD.atol, FWD.rtol)],
        ['dwte', compare(got.dwte, wantDwte, bwdAtol(maxCount), BWD_RTOL)],
        ['dwpe', compare(got.dwpe, wantDwpe, bwdAtol(B), BWD_RTOL)],
      ] as const;
      for (const [what, cmp] of cmps) {
        console.log(report(cmp, `embedding [${variant}] ${what} ${name}`));
        expect(cmp.nonFinite, `${what}: every element written`).toBe(0);
        expect(cmp.failures, what).toBe(0);
      }
    });
  }
});

// A KV-cache decoder embeds one new token at position pos0: row pos0 of wpe, read through the uniform.
describe.each(['cpu', 'gpu'] as const)('embedding forward at a start position (pos0), %s', (variant) => {
  for (const { B, T, C, V, pos0 } of [
    { B: 1, T: 1, C: 33, V: 7, pos0: 0 },
    { B: 1, T: 1, C: 33, V: 7, pos0: 6 },
    { B: 2, T: 5, C: 19, V: 11, pos0: 3 },
  ]) {
    it(`B=${B} T=${T} C=${C} pos0=${pos0}`, async () => {
      const { gpu } = await testGpu();
      const tokens = randInts(B * T, V, 17 + pos0);
      const wte = randn(V * C, 18);
      const wpe = randn((pos0 + T + 2) * C, 19);
      const got = await withVariant(gpu, variant, () => checked(gpu, async () => {
        const bufs = { out: poisoned(gpu, B * T * C), tokens: gpu.upload(tokens), wte: gpu.upload(wte), wpe: gpu.upload(wpe) };
        gpu.submit((enc) => embeddingForward(gpu, enc, { out: bufs.out, tokens: bufs.tokens, wte: bufs.wte, wpe: bufs.wpe, B, T, C, pos0 }));
        const out = await gpu.readF32(bufs.out, B * T * C);
        for (const b of Object.values(bufs)) gpu.destroy(b);
        return out;
      }));
      const cmp = compare(got, embeddingForwardRef(tokens, wte, wpe, B, T, C, pos0), FWD.atol, FWD.rtol);
      console.log(report(cmp, `embedding [${variant}] forward pos0=${pos0}`));
      expect(cmp.nonFinite).toBe(0);
      expect(cmp.failures).toBe(0);
    });
  }
});

// Training: the embeddings' dropout inside the kernels (forward: out = dropout(wte[x] + wpe[t]);
// backward: the gradients read d out through the same mask), dwte and dwpe as two ranges of one
// gradient buffer as in a model, against the float64 reference on the CPU's copy of the mask.
describe.each(['cpu', 'gpu'] as const)('embedding kernels with their dropout vs float64 reference, %s', (variant) => {
  for (const { B, T, C, V, p } of [
    { B: 3, T: 37, C: 33, V: 70, p: 0.1 },
    { B: 2, T: 19, C: 192, V: 65, p: 0.5 },
  ]) {
    it(`B=${B} T=${T} C=${C} V=${V} p=${p}`, async () => {
      const { gpu } = await testGpu();
      const BT = B * T;
      const seed = 7 + B + C;
      const tokens = randInts(BT, V, seed);
      const wte = randn(V * C, seed + 1);
      const wpe = randn(T * C, seed + 2);
      const dout = randn(BT * C, seed + 3);
      const dwte0 = randn(V * C, seed + 4);
      const dwpe0 = randn(T * C, seed + 5);
      const [SEED, salt] = [987654321, 5];
      const wpeAt = Math.ceil((V * C) / 64) * 64; // dwpe's range starts 256-byte aligned after dwte's
      const got = await withVariant(gpu, variant, () => checked(gpu, async () => {
        const grads = new Float32Array(wpeAt + T * C);
        grads.set(dwte0);
        grads.set(dwpe0, wpeAt);
        const bufs = {
          out: poisoned(gpu, BT * C), tokens: gpu.upload(tokens), wte: gpu.upload(wte), wpe: gpu.upload(wpe),
          dout: gpu.upload(dout), grads: gpu.upload(grads), seed: gpu.upload(Uint32Array.of(SEED)),
        };
        const dropout = { p, salt, seed: bufs.seed };
        gpu.submit((enc) => {
          embeddingForward(gpu, enc, { out: bufs.out, tokens: bufs.tokens, wte: bufs.wte, wpe: bufs.wpe, B, T, C, dropout });
          embeddingBackward(gpu, enc, {
            dwte: { buffer: bufs.grads, offset: 0, size: 4 * V * C }, dwpe: { buffer: bufs.grads, offset: 4 * wpeAt, size: 4 * T * C },
            dout: bufs.dout, tokens: bufs.tokens, B, T, C, V, dropout,
          });
        });
        const result = {
          out: await gpu.readF32(bufs.out, BT * C),
          dwte: await gpu.readF32(bufs.grads, V * C),
          dwpe: await gpu.readF32(bufs.grads, T * C, wpeAt),
        };
        for (const b of Object.values(bufs)) gpu.destroy(b);
        return result;
      }));
      const mask = dropoutMaskCpu(SEED, salt, BT * C, p);
      const scale = dropoutScale(p);
      const wantOut = Float64Array.from(embeddingForwardRef(tokens, wte, wpe, B, T, C), (v, i) => (mask[i] ? v * scale : 0));
      const dropped = Float64Array.from(dout, (v, i) => (mask[i] ? v * scale : 0));
      const wantDwte = Float64Array.from(dwte0);
      const wantDwpe = Float64Array.from(dwpe0);
      embeddingBackwardRef(wantDwte, wantDwpe, dropped, tokens, B, T, C);
      const cmps = [
        ['forward', compare(got.out, wantOut, FWD.atol, FWD.rtol)],
        ['dwte', compare(got.dwte, wantDwte, bwdAtol(BT), BWD_RTOL)],
        ['dwpe', compare(got.dwpe, wantDwpe, bwdAtol(B), BWD_RTOL)],
      ] as const;
      for (const [what, cmp] of cmps) {
        console.log(report(cmp, `embedding with dropout [${variant}] ${what}`));
        expect(cmp.nonFinite, `${what}: every element written`).toBe(0);
        expect(cmp.failures, what).toBe(0);
      }
    });
  }
});
