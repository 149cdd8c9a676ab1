import { describe, expect, it } from 'vitest';
import { dropoutMaskCpu, dropoutScale } from '../../src/kernels/dropout';
import { GradReduce, regionFloats } from '../../src/kernels/gradReduce';
import { matmul, matmulScratchFloats } from '../../src/kernels/matmul';
import { compare, report, type Comparison } from '../reference/compare';
import { matmulRef } from '../reference/matmul';
import { randn } from '../reference/random';
import { checked, poisoned, testGpu, VARIANTS, withVariant, type VariantName } from './context';

// A residual branch's dropout inside the products (MatmulArgs.dropout): the forward's epilogue
// C = residual + dropout(A B^T + bias), and the backward's dX = dropout(dY) W and
// dW += dropout(dY)^T X with the bias sums, against float64 references on the CPU's copy of
// the mask. Sums of K O(1) terms in f32: 3e-6 * sqrt(K) absolute.
const tol = (K: number) => ({ atol: 3e-6 * Math.sqrt(K) * 4, rtol: 1e-5 });

function expectClose(label: string, cmp: Comparison) {
  console.log(report(cmp, label));
  expect(cmp.nonFinite, `${label}: every element written and finite`).toBe(0);
  expect(cmp.failures, label).toBe(0);
}

const P = 0.3;
const SEED = 12345;

/** dropout(x) with the GPU's mask. */
function dropped(x: ArrayLike<number>, salt: number): Float64Array {
  const mask = dropoutMaskCpu(SEED, salt, x.length, P);
  const scale = dropoutScale(P);
  return Float64Array.from(x, (v, i) => (mask[i] ? v * scale : 0));
}

describe.each(VARIANTS)('products with a branch dropout vs float64 reference, %s', (variant: VariantName) => {
  // (rows, in, out): rows not a multiple of any tile, in/out not multiples of 4 (scalar loads) or of 4 (vec4)
  for (const [N, IN, OUT] of [[37, 19, 13], [133, 48, 20], [300, 64, 36]] as const) {
    it(`forward epilogue and backward loads, N=${N} IN=${IN} OUT=${OUT}`, async () => {
      const { gpu } = await testGpu();
      const seed = N + 7 * IN + OUT;
      const x = randn(N * IN, seed);
      const W = randn(OUT * IN, seed + 1);
      const bias = randn(OUT, seed + 2);
      const resid = randn(N * OUT, seed + 3);
      const dy = randn(N * OUT, seed + 4);
      const dw0 = randn(OUT * IN, seed + 5);
      const db0 = randn(OUT, seed + 6);
      const salt = 3;
      const got = await withVariant(gpu, variant, () => checked(gpu, async () => {
        const b = {
          x: gpu.upload(x), W: gpu.upload(W), bias: gpu.upload(bias), resid: gpu.upload(resid), dy: gpu.upload(dy),
          seed: gpu.upload(Uint32Array.of(SEED)),
          out: poisoned(gpu, N * OUT), dx: poisoned(gpu, N * IN), scratch: poisoned(gpu, N * Math.max(IN, OUT), 'scratch'),
          grads: gpu.upload(Float32Array.of(...dw0, ...new Float32Array(64 - ((OUT * IN) % 64)), ...db0)),
          partials: poisoned(gpu, regionFloats(matmulScratchFloats({ M: OUT, N: IN, K: N, transA: true }, 4, undefined, true)) + 64, 'partials'),
          columnSums: poisoned(gpu, 64 * OUT, 'column sums'),
        };
        const dbAt = OUT * IN + (64 - ((OUT * IN) % 64));
        const common = { p: P, salt, seed: b.seed, scratch: b.scratch };
        const reduce = new GradReduce(b.partials);
        gpu.submit((enc) => {
          const pass = enc.beginComputePass();
          matmul(gpu, pass, { out: b.out, a: b.x, b: b.W, bias: b.bias, residual: b.resid, M: N, N: OUT, K: IN, transB: true, dropout: { on: 'out', ...common } });
          matmul(gpu, pass, { out: b.dx, a: b.dy, b: b.W, M: N, N: IN, K: OUT, dropout: { on: 'a', ...common } });
          // the weight gradient split in 4 (GPU variants) with its bias sums, left for the reduce
          matmul(gpu, pass, {
            out: { buffer: b.grads, offset: 0, size: 4 * OUT * IN }, a: b.dy, b: b.x, M: OUT, N: IN, K: N, transA: true, accumulate: true,
            deferred: reduce, ...(variant === 'cpu' ? {} : { slices: 4 }),
            biasSum: { dbias: { buffer: b.grads, offset: 4 * dbAt, size: 4 * OUT }, columnSums: b.columnSums },
            dropout: { on: 'a', ...common },
          });
          reduce.record(gpu, pass);
          pass.end();
        });
        const result = {
          out: await gpu.readF32(b.out, N * OUT),
          dx: await gpu.readF32(b.dx, N * IN),
          dw: await gpu.readF32(b.grads, OUT * IN),
          db: await gpu.readF32(b.grads, OUT, dbAt),
        };
        for (const buf of Object.values(b)) gpu.destroy(buf);
        return result;
      }));
      // forward: resid + dropout(x W^T + bias)
      const proj = matmulRef(x, W, N, OUT, IN, { transB: true, bias });
      const out = dropped(proj, salt).map((v, i) => v + resid[i]!);
      expectClose(`[${variant}] out`, compare(got.out, out, tol(IN).atol, tol(IN).rtol));
      // backward: the gradient through the dropout
      const g = dropped(dy, salt);
      expectClose(`[${variant}] dX`, compare(got.dx, matmulRef(g, W, N, IN, OUT), tol(OUT).atol, tol(OUT).rtol));
      const dw = matmulRef(g, x, OUT, IN, N, { transA: true, accumulateInto: dw0 });
      expectClose(`[${variant}] dW`, compare(got.dw, dw, tol(N).atol, tol(N).rtol));
      const db = Float64Array.from(db0, (v, j) => { let s = v; for (let r = 0; r < N; r++) s += g[r * OUT + j]!; return s; });
      expectClose(`[${variant}] dbias`, compare(got.db, db, tol(N).atol, tol(N).rtol));
    });
  }
});
