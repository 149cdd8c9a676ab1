// Per-tensor training health (sums of squares of gradient, weight before the
// step, and update) against float64 AdamW on tensors of awkward sizes, some
// over several chunks, some smaller than one; decay on the first ones only.
import { describe, expect, it } from 'vitest';
import { adamw, adamwHyper, gradNorm, gradNormScratchFloats } from '../../src/kernels/adamw';
import { healthTable, tensorHealth } from '../../src/kernels/tensorHealth';
import { gradNormRef, type AdamHyper } from '../reference/adamw';
import { compare, report } from '../reference/compare';
import { healthRef } from '../reference/health';
import { randn } from '../reference/random';
import { checked, poisoned, testGpu } from './context';

describe('tensorHealth kernel vs float64 reference', () => {
  it('gradient, weight and update sums per tensor after two AdamW steps (clipping on)', async () => {
    const { gpu } = await testGpu();
    const sizes = [5000, 37, 4097, 1, 9000, 8193, 300];
    const tensors: { offset: number; size: number }[] = [];
    let n = 0;
    for (const size of sizes) {
      tensors.push({ offset: n, size });
      n += size;
    }
    const decayCount = 5000 + 37 + 4097;
    const table = healthTable(tensors, 4096);
    expect(table.nChunks).toBe(2 + 1 + 2 + 1 + 3 + 3 + 1);
    const base = { lr: 3e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, maxNorm: 1 };
    const p0 = randn(n, 7, 0.4);
    const g1 = randn(n, 8, 0.05);
    const g2 = randn(n, 9, 0.02);
    const got = await checked(gpu, async () => {
      const params = gpu.upload(p0);
      const grads = gpu.upload(g1);
      const m = gpu.upload(new Float32Array(n));
      const v = gpu.upload(new Float32Array(n));
      const hyper = gpu.buffer(32, 'hyper');
      const norm = gpu.buffer(4, 'norm');
      const scratch = gpu.buffer(gradNormScratchFloats(n) * 4, 'scratch');
      const out = poisoned(gpu, table.nTensors * 4);
      const partial = poisoned(gpu, table.nChunks * 4);
      const chunks = gpu.upload(table.chunks);
      const firstChunk = gpu.upload(table.firstChunk);
      const step = (t: number, g: Float32Array, withHealth: boolean) => {
        gpu.write(grads, g);
        gpu.write(hyper, adamwHyper({ ...base, t }));
        gpu.submit((enc) => {
          gradNorm(gpu, enc, { norm, grads, n, scratch });
          adamw(gpu, enc, { params, grads, m, v, hyper, norm, offset: 0, count: decayCount, decay: true });
          adamw(gpu, enc, { params, grads, m, v, hyper, norm, offset: decayCount, count: n - decayCount, decay: false });
          if (withHealth) {
            tensorHealth(gpu, enc, { out, partial, chunks, firstChunk, grads, params, m, v, hyper, nChunks: table.nChunks, nTensors: table.nTensors, decayCount, count: n });
          }
        });
      };
      step(1, g1, false);
      const before = [await gpu.readF32(params, n), await gpu.readF32(m, n), await gpu.readF32(v, n)];
      step(2, g2, true);
      const r = { before, out: await gpu.readF32(out, table.nTensors * 4) };
      for (const b of [params, grads, m, v, hyper, norm, scratch, out, partial, chunks, firstChunk]) gpu.destroy(b);
      return r;
    });
    const h: AdamHyper = { ...base, t: 2 };
    const [pb, mb, vb] = got.before;
    const want = healthRef(tensors, pb, g2, mb, vb, decayCount, h, gradNormRef(g2));
    const pick = (k: number) => Array.from({ length: table.nTensors }, (_, t) => got.out[t * 4 + k]);
    const cmps = [
      compare(pick(0), want.sums.map((s) => s.gradSq), 0, 1e-5),
      compare(pick(1), want.sums.map((s) => s.weightSq), 0, 1e-5),
      compare(pick(2), want.sums.map((s) => s.updateSq), 0, 1e-4),
      compare(pick(3), new Array(table.nTensors).fill(0), 0, 0),
    ];
    ['sum g^2', 'sum w_old^2', 'sum du^2', 'padding'].forEach((l, k) => console.log(report(cmps[k], `tensor health ${l}`)));
    for (const c of cmps) expect(c.failures).toBe(0);
    // The update ratio of a decayed and of an undecayed tensor are both in AdamW's usual range (about lr).
    const ratio = (t: number) => Math.sqrt(pick(2)[t] / pick(1)[t]);
    expect(ratio(0)).toBeGreaterThan(1e-4);
    expect(ratio(4)).toBeGreaterThan(1e-4);
  });

  it('chunks never cross a tensor boundary', () => {
    const t = healthTable([{ offset: 0, size: 10 }, { offset: 10, size: 3 }, { offset: 13, size: 8 }], 4);
    expect(Array.from(t.chunks)).toEqual([0, 4, 4, 8, 8, 10, 10, 13, 13, 17, 17, 21]);
    expect(Array.from(t.firstChunk)).toEqual([0, 3, 4, 6]);
  });
});
