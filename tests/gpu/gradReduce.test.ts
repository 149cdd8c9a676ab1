import { describe, expect, it } from 'vitest';
import { GradReduce, regionFloats } from '../../src/kernels/gradReduce';
import { matmul, matmulScratchFloats } from '../../src/kernels/matmul';
import { compare, report, type Comparison } from '../reference/compare';
import { matmulRef } from '../reference/matmul';
import { randn } from '../reference/random';
import { checked, poisoned, testGpu } from './context';

// The gradient reduce adds S rows of partial sums into each gradient: sums of
// S O(1) terms onto an O(1) start, in f32: 2e-6 * sqrt(S) absolute.
const sumTol = (S: number) => ({ atol: 2e-6 * Math.sqrt(S + 1), rtol: 1e-5 });

function expectClose(label: string, cmp: Comparison) {
  console.log(report(cmp, label));
  expect(cmp.nonFinite, `${label}: every element written and finite`).toBe(0);
  expect(cmp.failures, label).toBe(0);
}

describe('gradient reduce vs float64 reference', () => {
  it('segments of awkward lengths, row counts and strides into one gradient buffer, accumulated', async () => {
    const { gpu } = await testGpu();
    // (S, len, stride, gradient offset in floats): a single row, rows longer than a workgroup's 64
    // elements, 517 rows (not a multiple of the 4 slice groups), a stride wider than the row.
    const segs = [
      { S: 1, len: 1, stride: 1, dst: 0 },
      { S: 5, len: 147, stride: 147, dst: 64 },
      { S: 517, len: 33, stride: 40, dst: 256 },
      { S: 3, len: 300, stride: 301, dst: 320 },
      { S: 64, len: 64, stride: 64, dst: 1024 },
    ];
    const gradFloats = 1024 + 64 + 7;
    const grad0 = randn(gradFloats, 11);
    const partials = segs.map((s, k) => randn(s.S * s.stride, 20 + k));
    const got = await checked(gpu, async () => {
      const total = segs.reduce((t, s) => t + regionFloats(s.S * s.stride), 0);
      const partialBuf = poisoned(gpu, total, 'partials');
      const grads = gpu.upload(grad0);
      const reduce = new GradReduce(partialBuf);
      for (const [k, s] of segs.entries()) {
        const region = reduce.take(s.S * s.stride);
        gpu.write(partialBuf, partials[k]!, 4 * region.at);
        reduce.add({ src: region.at, stride: s.stride, count: s.S, len: s.len, dst: { buffer: grads, offset: 4 * s.dst, size: 4 * s.len } });
      }
      gpu.submit((enc) => {
        const pass = enc.beginComputePass();
        reduce.record(gpu, pass);
        pass.end();
      });
      const out = await gpu.readF32(grads, gradFloats);
      expect(reduce.used, 'starts over after recording').toBe(0);
      gpu.destroy(partialBuf);
      gpu.destroy(grads);
      return out;
    });
    const want = Float64Array.from(grad0);
    for (const [k, s] of segs.entries()) {
      for (let i = 0; i < s.len; i++) for (let r = 0; r < s.S; r++) want[s.dst + i]! += partials[k]![r * s.stride + i]!;
    }
    const S = Math.max(...segs.map((s) => s.S));
    expectClose('grad reduce: every segment, the rest untouched', compare(got, want, sumTol(S).atol, sumTol(S).rtol));
  });

  it('split-K weight gradients with bias sums deferred to one reduce match the float64 product', async () => {
    const { gpu } = await testGpu();
    // dW (OUT, IN) += dY^T X over K rows, two Linears' gradients in one buffer, forced to split.
    const K = 301;
    const linears = [
      { OUT: 37, IN: 19, slices: 4, bias: true, dst: 0 },
      { OUT: 48, IN: 64, slices: 7, bias: false, dst: 768 },
      { OUT: 5, IN: 3, slices: 3, bias: true, dst: 4096 },
    ];
    const gradFloats = 4096 + 64 + 5;
    const grad0 = randn(gradFloats, 3);
    const data = linears.map((l, k) => ({ dy: randn(K * l.OUT, 40 + k), x: randn(K * l.IN, 50 + k) }));
    const biasAt = (k: number) => linears[k]!.dst + linears[k]!.OUT * linears[k]!.IN + 16 * k + 1; // after its weight, unaligned
    const got = await checked(gpu, async () => {
      const total = linears.reduce((t, l) => t + regionFloats(matmulScratchFloats({ M: l.OUT, N: l.IN, K, transA: true }, l.slices, undefined, true)), 0);
      const partialBuf = poisoned(gpu, total, 'partials');
      const columnSums = poisoned(gpu, 4096, 'column sums');
      const grads = gpu.upload(grad0);
      const ins = data.map((d) => ({ dy: gpu.upload(d.dy), x: gpu.upload(d.x) }));
      const reduce = new GradReduce(partialBuf);
      const saved = gpu.kernels;
      gpu.kernels = 'gpu';
      try {
        gpu.submit((enc) => {
          const pass = enc.beginComputePass();
          for (const [k, l] of linears.entries()) {
            const out = { buffer: grads, offset: 4 * l.dst, size: 4 * l.OUT * l.IN };
            const biasSum = l.bias ? { dbias: { buffer: grads, offset: 4 * biasAt(k), size: 4 * l.OUT }, columnSums } : null;
            matmul(gpu, pass, { out, a: ins[k]!.dy, b: ins[k]!.x, M: l.OUT, N: l.IN, K, transA: true, accumulate: true, deferred: reduce, slices: l.slices, biasSum });
          }
          reduce.record(gpu, pass);
          pass.end();
        });
      } finally {
        gpu.kernels = saved;
      }
      const out = await gpu.readF32(grads, gradFloats);
      for (const b of [partialBuf, columnSums, grads, ...ins.flatMap((i) => [i.dy, i.x])]) gpu.destroy(b);
      return out;
    });
    const want = Float64Array.from(grad0);
    for (const [k, l] of linears.entries()) {
      const dw = matmulRef(data[k]!.dy, data[k]!.x, l.OUT, l.IN, K, { transA: true });
      for (let i = 0; i < dw.length; i++) want[l.dst + i]! += dw[i]!;
      if (l.bias) for (let j = 0; j < l.OUT; j++) for (let r = 0; r < K; r++) want[biasAt(k) + j]! += data[k]!.dy[r * l.OUT + j]!;
    }
    expectClose('deferred split-K dW and dbias', compare(got, want, 3e-6 * Math.sqrt(K) * 4, 1e-5));
  });
});
