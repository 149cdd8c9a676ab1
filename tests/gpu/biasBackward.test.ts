import { describe, expect, it } from 'vitest';
import { biasBackward, biasBackwardScratchFloats } from '../../src/kernels/biasBackward';
import { matmul, matmulScratchFloats } from '../../src/kernels/matmul';
import { compare, report } from '../reference/compare';
import { biasBackwardRef } from '../reference/elementwise';
import { randn } from '../reference/random';
import { checked, poisoned, testGpu, VARIANTS, withVariant } from './context';

// Sums of M unit-variance f32 terms (magnitude sqrt(M)): the rounding errors of
// the partial sums add up to about 1e-8 * M here; 3e-8 * M leaves a margin.
const atolFor = (M: number) => 1e-7 + 3e-8 * M;
const RTOL = 1e-6;

// (M, N): single elements, column counts that are not multiples of the 64
// columns per workgroup, row counts that leave a short last block of rows,
// and the reference model's C = 192 and c_fc (4C = 768) over BT = 4096 rows.
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [37, 7],
  [1, 192],
  [33, 65],
  [1001, 130],
  [4096, 192],
  [4096, 768],
];

describe('biasBackward kernel vs float64 reference', () => {
  for (const [M, N] of SHAPES) {
    it(`dbias += colsum(dout) M=${M} N=${N}`, async () => {
      const { gpu } = await testGpu();
      const dout = randn(M * N, M * 131 + N);
      const dbias0 = randn(N, M + N * 7); // accumulate onto existing gradients
      const got = await checked(gpu, async () => {
        const dbias = gpu.upload(dbias0);
        const bd = gpu.upload(dout);
        const scratch = poisoned(gpu, biasBackwardScratchFloats(M, N), 'scratch');
        gpu.submit((enc) => biasBackward(gpu, enc, { dbias, scratch, dout: bd, M, N }));
        const result = await gpu.readF32(dbias, N);
        for (const b of [dbias, bd, scratch]) gpu.destroy(b);
        return result;
      });
      const want = Float64Array.from(dbias0);
      biasBackwardRef(want, dout, M, N);
      const cmp = compare(got, want, atolFor(M), RTOL);
      console.log(report(cmp, `biasBackward M=${M} N=${N}`));
      expect(cmp.nonFinite).toBe(0);
      expect(cmp.failures).toBe(0);
    });
  }

  it('gives bit-identical results on repeated runs', async () => {
    const { gpu } = await testGpu();
    const [M, N] = [1000, 50];
    const dout = randn(M * N, 5);
    const runs = await checked(gpu, async () => {
      const bd = gpu.upload(dout);
      const scratch = poisoned(gpu, biasBackwardScratchFloats(M, N), 'scratch');
      const results: Float32Array[] = [];
      for (let r = 0; r < 3; r++) {
        const dbias = gpu.upload(new Float32Array(N));
        gpu.submit((enc) => biasBackward(gpu, enc, { dbias, scratch, dout: bd, M, N }));
        results.push(await gpu.readF32(dbias, N));
        gpu.destroy(dbias);
      }
      gpu.destroy(bd);
      gpu.destroy(scratch);
      return results;
    });
    expect(Array.from(runs[1])).toEqual(Array.from(runs[0]));
    expect(Array.from(runs[2])).toEqual(Array.from(runs[0]));
  });
});

// The bias gradient summed inside a weight gradient's split-K product and
// reduction (matmul biasSum): dW += dout^T inp and dbias += colsum(dout) against
// float64, split into slices (no dispatch of its own) and in one pass
// (biasBackward's two dispatches after), on every kernel variant.
describe.each(VARIANTS)('bias gradient inside the dW reduction vs float64 reference, %s', (variant) => {
  // (rows, OUT, IN): a bias wider than one workgroup of 256 with a partial one, short last row blocks
  const CASES: Array<[number, number, number]> = [
    [37, 7, 5],
    [301, 260, 19],
    [1001, 130, 33],
    [130, 66, 36], // IN % 4 == 0: vec4 stores of the sums, OUT not a multiple of 4
  ];
  for (const [M, OUT, IN] of CASES) {
    for (const slices of [1, 3]) {
      it(`rows=${M} OUT=${OUT} IN=${IN} slices=${slices}`, async () => {
        const { gpu } = await testGpu();
        const seed = M * 17 + OUT * 5 + IN + slices;
        const dout = randn(M * OUT, seed);
        const inp = randn(M * IN, seed + 1);
        const dW0 = randn(OUT * IN, seed + 2);
        const dbias0 = randn(OUT, seed + 3);
        const got = await withVariant(gpu, variant, () => checked(gpu, async () => {
          const b = { dout: gpu.upload(dout), inp: gpu.upload(inp), dW: gpu.upload(dW0), dbias: gpu.upload(dbias0) };
          const sums = poisoned(gpu, biasBackwardScratchFloats(M, OUT), 'column sums');
          const mm = poisoned(gpu, Math.max(1, matmulScratchFloats({ M: OUT, N: IN, K: M, transA: true }, slices, undefined, true)), 'matmul scratch');
          const { dispatches } = await (async () => {
            const seen: string[] = [];
            const previous = gpu.onDispatch;
            gpu.onDispatch = (d) => seen.push(d.kernel);
            try {
              gpu.submit((enc) => {
                const pass = enc.beginComputePass();
                const biasSum = { dbias: b.dbias, columnSums: sums };
                matmul(gpu, pass, { out: b.dW, a: b.dout, b: b.inp, M: OUT, N: IN, K: M, transA: true, accumulate: true, scratch: mm, slices, biasSum });
                pass.end();
              });
            } finally {
              gpu.onDispatch = previous;
            }
            return { dispatches: seen };
          })();
          const out = { dW: await gpu.readF32(b.dW, OUT * IN), dbias: await gpu.readF32(b.dbias, OUT), dispatches };
          for (const x of [...Object.values(b), sums, mm]) gpu.destroy(x);
          return out;
        }));
        // Split: the product (summing its A tiles) and the reduction that finishes the bias; one pass: the product, then biasBackward.
        const split = slices > 1; // forced slices split on every variant
        expect(got.dispatches).toEqual(split ? ['matmul_splitk', 'matmul_splitk_reduce'] : [expect.stringMatching(/^matmul/), 'bias_backward', 'bias_backward_reduce']);
        const wantW = Float64Array.from(dW0);
        for (let o = 0; o < OUT; o++) {
          for (let i = 0; i < IN; i++) {
            let s = 0;
            for (let m = 0; m < M; m++) s += dout[m * OUT + o] * inp[m * IN + i];
            wantW[o * IN + i] += s;
          }
        }
        const wantB = Float64Array.from(dbias0);
        biasBackwardRef(wantB, dout, M, OUT);
        for (const [what, g, w, atol] of [['dW', got.dW, wantW, 1e-6 * Math.sqrt(M) * 4], ['dbias', got.dbias, wantB, atolFor(M)]] as const) {
          const cmp = compare(g, w, atol, RTOL);
          console.log(report(cmp, `bias grad in dW [${variant}] ${what} rows=${M} OUT=${OUT} slices=${slices}`));
          expect(cmp.nonFinite, what).toBe(0);
          expect(cmp.failures, what).toBe(0);
        }
      });
    }
  }
});
