// LoRA's recorded products (src/model/lora.ts: matmuls and a scale beside the
// frozen base) against the float64 reference on awkward sizes, with A and B
// bound as 256-byte-aligned ranges of one flat buffer (as the model binds
// them), accumulating into the base's output and the input gradient, and
// overwriting or accumulating the adapter gradients; with split-K scratch for
// dB and dA on the GPU-shaped kernels, and with scratch too small for dB's
// split (dB in one pass, dA split).
import { describe, expect, it } from 'vitest';
import { matmulPlan, matmulScratchFloats } from '../../src/kernels/matmul';
import { loraBackward, loraForward } from '../../src/model/lora';
import { compare, report } from '../reference/compare';
import { loraLinearBackward, loraLinearForward } from '../reference/lora';
import { randn } from '../reference/random';
import { checked, poisoned, testGpu, withVariant } from './context';

const align = (n: number) => Math.ceil(n / 64) * 64;

/** Scratch for loraBackward: none, enough for both thin products' splits, or enough for dA's only. */
type Scratch = 'none' | 'both' | 'dA only';

async function run(N: number, IN: number, OUT: number, r: number, s: number, accumulate: boolean, scratchFor: Scratch = 'none') {
  const { gpu } = await testGpu();
  const dBShape = { M: OUT, N: r, K: N, transA: true };
  const dAShape = { M: r, N: IN, K: N, transA: true };
  const scratchFloats = { none: 0, both: Math.max(matmulScratchFloats(dBShape), matmulScratchFloats(dAShape)), 'dA only': matmulScratchFloats(dAShape) }[scratchFor];
  if (scratchFor !== 'none') {
    // the shapes must split for the case to test anything
    expect(matmulPlan(dBShape).slices).toBeGreaterThan(1);
    expect(matmulPlan(dAShape).slices).toBeGreaterThan(1);
    if (scratchFor === 'dA only') expect(matmulScratchFloats(dBShape)).toBeGreaterThan(scratchFloats);
  }
  const seed = N * 7 + IN * 3 + OUT + r;
  const inp = randn(N * IN, seed);
  const A = randn(r * IN, seed + 1, 0.5);
  const B = randn(OUT * r, seed + 2, 0.5);
  const out0 = randn(N * OUT, seed + 3); // the base Linear's output
  const dout = randn(N * OUT, seed + 4);
  const dinp0 = randn(N * IN, seed + 5); // gradient already there from the base
  const dA0 = randn(r * IN, seed + 6, 0.1);
  const dB0 = randn(OUT * r, seed + 7, 0.1);
  const offB = align(r * IN); // floats
  const flat = new Float32Array(offB + align(OUT * r));
  flat.set(A, 0);
  flat.set(B, offB);
  const grads = new Float32Array(flat.length).fill(Number.NaN);
  if (accumulate) {
    grads.set(dA0, 0);
    grads.set(dB0, offB);
  }
  const body = () => checked(gpu, async () => {
    const params = gpu.upload(flat);
    const gradBuf = gpu.upload(grads);
    const bufs = {
      inp: gpu.upload(inp), out: gpu.upload(out0), dout: gpu.upload(dout), dinp: gpu.upload(dinp0),
      xa: poisoned(gpu, N * r), dxa: poisoned(gpu, N * r),
      ...(scratchFloats ? { scratch: poisoned(gpu, scratchFloats, 'scratch') } : {}),
    };
    const range = (buffer: GPUBuffer, off: number, n: number) => ({ buffer, offset: off * 4, size: n * 4 });
    const Ab = range(params, 0, r * IN);
    const Bb = range(params, offB, OUT * r);
    gpu.submit((enc) => {
      const pass = enc.beginComputePass();
      loraForward(gpu, pass, { out: bufs.out, inp: bufs.inp, A: Ab, B: Bb, xa: bufs.xa, N, IN, OUT, r, scale: s, site: 'test' });
      loraBackward(gpu, pass, {
        dinp: bufs.dinp, dA: range(gradBuf, 0, r * IN), dB: range(gradBuf, offB, OUT * r), dout: bufs.dout, inp: bufs.inp,
        xa: bufs.xa, A: Ab, B: Bb, dxa: bufs.dxa, N, IN, OUT, r, scale: s, accumulate, scratch: bufs.scratch, site: 'test',
      });
      pass.end();
    });
    const g = await gpu.readF32(gradBuf);
    const res = {
      out: await gpu.readF32(bufs.out), dinp: await gpu.readF32(bufs.dinp), dA: g.slice(0, r * IN), dB: g.slice(offB, offB + OUT * r),
      // partial products left in the (NaN-poisoned) scratch: the splits ran
      scratchNaN: bufs.scratch ? (await gpu.readF32(bufs.scratch)).filter(Number.isNaN).length : 0,
    };
    for (const b of [params, gradBuf, ...Object.values(bufs)]) gpu.destroy(b);
    return res;
  });
  // split-K exists in the GPU-shaped kernels only (the CPU-shaped matmul ignores scratch)
  const got = await (scratchFor === 'none' ? body() : withVariant(gpu, 'gpu', body));
  const wantOut = Float64Array.from(out0);
  const xa = loraLinearForward(wantOut, Float64Array.from(inp), Float64Array.from(A), Float64Array.from(B), s, N, IN, OUT, r);
  const wantDinp = Float64Array.from(dinp0);
  const wantDA = accumulate ? Float64Array.from(dA0) : new Float64Array(r * IN);
  const wantDB = accumulate ? Float64Array.from(dB0) : new Float64Array(OUT * r);
  loraLinearBackward(wantDinp, wantDA, wantDB, Float64Array.from(dout), Float64Array.from(inp), xa, Float64Array.from(A), Float64Array.from(B), s, N, IN, OUT, r);
  const name = `N=${N} IN=${IN} OUT=${OUT} r=${r} s=${s}${accumulate ? ' accumulate' : ''}${scratchFor === 'none' ? '' : ` split-K scratch: ${scratchFor}`}`;
  // f32 products of depth IN, r and N (dA, dB): a few ulps of sqrt(depth)-sized sums.
  const tol = (depth: number) => 2e-6 * Math.sqrt(depth) * Math.max(1, s);
  const checks = [
    ['out', compare(got.out, wantOut, tol(IN), 1e-4)],
    ['dinp', compare(got.dinp, wantDinp, tol(OUT), 1e-4)],
    ['dA', compare(got.dA, wantDA, tol(N * OUT), 1e-4)],
    ['dB', compare(got.dB, wantDB, tol(N * IN), 1e-4)],
  ] as const;
  for (const [label, c] of checks) console.log(report(c, `${label} ${name}`));
  for (const [, c] of checks) expect(c.failures).toBe(0);
  expect(got.scratchNaN).toBe(0);
}

describe('LoRA products on the GPU vs float64 reference', () => {
  it('N=37 IN=19 OUT=45 r=3, scale 1.7', () => run(37, 19, 45, 3, 1.7, false));
  it('N=70 IN=24 OUT=72 r=64 (the largest rank), scale 0.25, accumulating adapter gradients', () => run(70, 24, 72, 64, 0.25, true));
  it('N=5 IN=33 OUT=11 r=1, scale 0 (strength 0: the base output untouched)', () => run(5, 33, 11, 1, 0, false));
  it('N=300 IN=40 OUT=72 r=4, dB and dA split over K = N (GPU-shaped kernels)', () => run(300, 40, 72, 4, 1.3, true, 'both'));
  it('N=300 IN=40 OUT=72 r=4, scratch too small for dB: dB in one pass, dA split', () => run(300, 40, 72, 4, 1.3, false, 'dA only'));
});
