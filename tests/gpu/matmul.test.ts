import { describe, expect, it } from 'vitest';
import type { Binding, DispatchRecord, Gpu } from '../../src/gpu/runtime';
import {
  matmul, matmulPlan, matmulScratchFloats, TARGET_WORKGROUPS, thinOnCpu, TILE_128x32, TILE_128x64, TILE_64x64,
  type MatmulArgs, type MatmulTile,
} from '../../src/kernels/matmul';
import type { Activation } from '../../src/kernels/activation';
import { activationBackwardRef, activationForwardRef } from '../reference/activation';
import { compare, report } from '../reference/compare';
import { matmulRef } from '../reference/matmul';
import { randn } from '../reference/random';
import { checked, testGpu, withVariant } from './context';

// f32 accumulation over K terms of unit-variance products: the error grows
// like sqrt(K) * 6e-8 * |terms|; these bounds hold with a wide margin.
const ATOL = 1e-4;
const RTOL = 1e-4;

interface Case {
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  bias?: boolean;
  residual?: boolean;
  accumulate?: boolean;
  slices?: number;
  /** give a scratch buffer, letting the plan choose the slices */
  scratch?: boolean;
  tile?: MatmulTile;
  /** bind every operand as a range at a 256-byte offset inside a larger buffer */
  ranges?: boolean;
  /** kernel shapes to record: 'gpu' (default here) or the CPU-adapter variant */
  variant?: 'gpu' | 'cpu';
}

const name = (c: Case) =>
  `${c.M}x${c.N}x${c.K}` +
  (c.transA ? ' transA' : '') + (c.transB ? ' transB' : '') + (c.bias ? ' bias' : '') + (c.residual ? ' residual' : '') +
  (c.accumulate ? ' accumulate' : '') + (c.slices ? ` slices=${c.slices}` : '') + (c.scratch ? ' scratch' : '') +
  (c.tile ? ` tile=${(256 / c.tile.wgN) * c.tile.rows}x${c.tile.wgN * 4}` : '') + (c.ranges ? ' ranges' : '') +
  (c.variant === 'cpu' ? ' (cpu variant)' : '');

const SENTINEL = 12345;
const PAD = 64; // floats = 256 bytes

/** Upload data as a whole buffer, or as a range at a 256-byte offset with sentinels around it. */
function place(gpu: Gpu, data: Float32Array, ranged: boolean): { binding: Binding; buffer: GPUBuffer; offset: number } {
  if (!ranged) {
    const buffer = gpu.upload(data);
    return { binding: buffer, buffer, offset: 0 };
  }
  const padded = Math.ceil(data.length / PAD) * PAD;
  const all = new Float32Array(PAD + padded + PAD).fill(SENTINEL);
  all.set(data, PAD);
  const buffer = gpu.upload(all);
  return { binding: { buffer, offset: PAD * 4, size: data.length * 4 }, buffer, offset: PAD };
}

/** Run one case on the GPU; returns C, the dispatches recorded, and C's neighbours when ranged. */
async function run(gpu: Gpu, c: Case, seed: number) {
  const { M, N, K } = c;
  const a = randn(M * K, seed);
  const b = randn(K * N, seed + 1);
  const bias = c.bias ? randn(N, seed + 2) : undefined;
  const residual = c.residual ? randn(M * N, seed + 3) : undefined;
  const c0 = c.accumulate ? randn(M * N, seed + 4) : new Float32Array(M * N).fill(Number.NaN);
  const dispatches: DispatchRecord[] = [];
  const got = await withVariant(gpu, c.variant ?? 'gpu', () => checked(gpu, async () => {
    const out = place(gpu, c0, !!c.ranges);
    const A = place(gpu, a, !!c.ranges);
    const B = place(gpu, b, !!c.ranges);
    const biasBuf = bias ? place(gpu, bias, !!c.ranges) : null;
    const resBuf = residual ? place(gpu, residual, !!c.ranges) : null;
    const scratchFloats = c.slices || c.scratch ? matmulScratchFloats(c, c.slices, c.tile) : 0;
    const scratch = scratchFloats ? place(gpu, new Float32Array(scratchFloats).fill(Number.NaN), !!c.ranges) : null;
    const args: MatmulArgs = {
      out: out.binding, a: A.binding, b: B.binding, bias: biasBuf?.binding, residual: resBuf?.binding, scratch: scratch?.binding,
      M, N, K, transA: c.transA, transB: c.transB, accumulate: c.accumulate, slices: c.slices, tile: c.tile,
    };
    gpu.onDispatch = (r) => dispatches.push(r);
    try {
      gpu.submit((enc) => matmul(gpu, enc, args));
    } finally {
      gpu.onDispatch = null;
    }
    const whole = await gpu.readF32(out.buffer);
    for (const x of [out, A, B, biasBuf, resBuf, scratch]) if (x) gpu.destroy(x.buffer);
    return { c: whole.slice(out.offset, out.offset + M * N), whole, offset: out.offset };
  }));
  const want = matmulRef(a, b, M, N, K, { transA: c.transA, transB: c.transB, bias, residual, accumulateInto: c.accumulate ? c0 : undefined });
  return { ...got, want, dispatches };
}

async function check(c: Case) {
  const { gpu } = await testGpu();
  const seed = c.M * 7919 + c.N * 31 + c.K;
  const { c: got, want, whole, offset, dispatches } = await run(gpu, c, seed);
  const cmp = compare(got, want, ATOL * Math.sqrt(c.K), RTOL);
  console.log(report(cmp, name(c)) + ` [${dispatches.map((d) => `${d.kernel} ${d.workgroups.join('x')}`).join(', ')}]`);
  expect(cmp.nonFinite, 'every output element written').toBe(0);
  expect(cmp.failures).toBe(0);
  if (c.ranges) {
    const outside = [...whole.slice(0, offset), ...whole.slice(offset + c.M * c.N)];
    expect(outside.every((x) => x === SENTINEL), 'nothing written outside the output range').toBe(true);
  }
  for (const d of dispatches) {
    expect(d.workgroupSize).toBe(c.variant === 'cpu' ? 64 : 256);
    expect(d.flops).toBeGreaterThan(0);
    expect(d.bytes).toBeGreaterThan(0);
  }
  return dispatches;
}

// The Linear layer's three products, and two more layouts.
const FWD = { transB: true, bias: true }; // y = x W^T + b
const DX = {}; // dX = dY W
const DW = { transA: true, accumulate: true }; // dW += dY^T X
const LAYOUTS: Array<Partial<Case>> = [FWD, DX, DW, { bias: true }, { transA: true, transB: true }];

describe('matmul: every layout on awkward shapes (scalar loads)', () => {
  for (const [M, N, K] of [[1, 1, 1], [17, 33, 65], [3, 130, 7]] as const) {
    for (const l of LAYOUTS) {
      const c: Case = { M, N, K, ...l, tile: M === 1 ? TILE_64x64 : undefined };
      it(name(c), () => check(c));
    }
  }
});

describe('matmul: vec4 loads and stores, every tile shape', () => {
  // 132 x 68 x 36: vec4 in every dimension, not a multiple of any tile. Each
  // tile shape and each layout once (the staging code is shared by all tiles).
  const cases: Case[] = [
    { M: 132, N: 68, K: 36, ...FWD, tile: TILE_128x64 },
    { M: 132, N: 68, K: 36, ...DX, tile: TILE_64x64 },
    { M: 132, N: 68, K: 36, ...DW, tile: TILE_128x32 },
    { M: 132, N: 68, K: 36, transA: true, transB: true, tile: TILE_64x64 },
    // vec4 on some operands only: K % 4 == 0 with M and N odd, and the reverse.
    { M: 37, N: 29, K: 24, ...FWD },
    { M: 40, N: 36, K: 23, ...DX },
  ];
  for (const c of cases) it(name(c), () => check(c));
});

describe('matmul: residual epilogue (out = residual + x W^T + b)', () => {
  it('vec4 path', () => check({ M: 70, N: 36, K: 44, transB: true, bias: true, residual: true }));
  it('scalar path, with accumulate', () => check({ M: 19, N: 33, K: 21, residual: true, accumulate: true }));
});

describe('matmul: split-K', () => {
  for (const slices of [2, 3, 7]) {
    const c: Case = { M: 20, N: 36, K: 100, ...DW, slices };
    it(name(c), async () => {
      const d = await check(c);
      expect(d.map((x) => x.kernel)).toEqual(['matmul_splitk', 'matmul_splitk_reduce']);
      expect(d[0]!.workgroups[2]).toBe(slices);
    });
  }
  it('K not a multiple of 4 (scalar loads), bias and residual in the reduce', () =>
    check({ M: 23, N: 17, K: 77, transB: true, bias: true, residual: true, slices: 4 }));
  it('the plan splits a thin product with a long K when given scratch', async () => {
    const c: Case = { M: 12, N: 12, K: 1000, ...DW, scratch: true };
    const plan = matmulPlan(c);
    expect(plan.slices).toBeGreaterThan(1);
    expect(plan.kSlice * (plan.slices - 1)).toBeLessThan(c.K);
    const d = await check(c);
    expect(d[0]!.workgroups[2]).toBe(plan.slices);
  });
  it('is deterministic: two runs agree bit for bit', async () => {
    const { gpu } = await testGpu();
    const c: Case = { M: 20, N: 36, K: 100, ...DW, slices: 3 };
    const first = await run(gpu, c, 5);
    const second = await run(gpu, c, 5);
    expect(Array.from(second.c)).toEqual(Array.from(first.c));
  });
  it('without scratch a forced split is refused with a sentence', async () => {
    const { gpu } = await testGpu();
    const out = gpu.buffer(4 * 16);
    expect(() => gpu.submit((enc) => matmul(gpu, enc, { out, a: out, b: out, M: 4, N: 4, K: 64, slices: 2 }))).toThrow(/needs a scratch buffer/);
    gpu.destroy(out);
  });
});

describe('matmul: M = 1 (matrix-vector)', () => {
  for (const c of [
    { M: 1, N: 1, K: 1, transB: true },
    { M: 1, N: 65, K: 48, transB: true, bias: true },
    { M: 1, N: 70, K: 33, transB: true, bias: true, residual: true },
    { M: 1, N: 67, K: 130, bias: true, residual: true },
    { M: 1, N: 5, K: 300, accumulate: true, transB: true },
    { M: 1, N: 131, K: 3, accumulate: true },
  ] as Case[]) {
    it(name(c), async () => {
      const d = await check(c);
      expect(d.map((x) => x.kernel)).toEqual(['matmul_vector']);
    });
  }
});

describe('matmul: operands as 256-byte-aligned ranges of larger buffers', () => {
  it('vec4 path', () => check({ M: 20, N: 36, K: 24, transB: true, bias: true, residual: true, ranges: true }));
  it('scalar path', () => check({ M: 21, N: 35, K: 23, ...DW, ranges: true }));
  it('split-K', () => check({ M: 20, N: 36, K: 100, ...DW, slices: 3, ranges: true }));
  it('M = 1', () => check({ M: 1, N: 37, K: 40, transB: true, bias: true, ranges: true }));
});

describe('matmul plan at the reference shapes (B*T = 4096, C = 192, V = 65)', () => {
  const R = 4096;
  const C = 192;
  const layers: Array<[string, number, number]> = [['attn.c_attn', 3 * C, C], ['attn.c_proj', C, C], ['mlp.c_fc', 4 * C, C], ['mlp.c_proj', C, 4 * C], ['lm_head', 65, C]];
  for (const [layer, out, inp] of layers) {
    it(`${layer}: forward, dX and dW (split-K) each fill ${TARGET_WORKGROUPS} workgroups`, () => {
      const fwd = matmulPlan({ M: R, N: out, K: inp, transB: true });
      const dx = matmulPlan({ M: R, N: inp, K: out });
      const dw = matmulPlan({ M: out, N: inp, K: R, transA: true });
      const t = (p: ReturnType<typeof matmulPlan>) => `${(256 / p.tile.wgN) * p.tile.rows}x${p.tile.wgN * 4}`;
      console.log(`${layer}: fwd ${fwd.workgroups} (${t(fwd)}), dX ${dx.workgroups} (${t(dx)}), dW ${dw.workgroups} (${t(dw)}, ${dw.slices} slices of ${dw.kSlice})`);
      for (const p of [fwd, dx, dw]) expect(p.workgroups).toBeGreaterThanOrEqual(TARGET_WORKGROUPS);
      expect(fwd.slices).toBe(1);
      expect(dx.slices).toBe(1);
      expect(dw.slices).toBeGreaterThan(1);
      expect(matmulScratchFloats({ M: out, N: inp, K: R, transA: true })).toBe(dw.slices * out * inp);
    });
  }
});

describe('matmul: the CPU-adapter variant (one 64-invocation dispatch per product)', () => {
  const cases: Case[] = [
    ...([[1, 1, 1], [17, 33, 65], [3, 130, 7], [70, 37, 19], [33, 18, 17]] as const).flatMap(([M, N, K]) => LAYOUTS.map((l) => ({ M, N, K, ...l }))),
    { M: 70, N: 36, K: 44, transB: true, bias: true, residual: true },
    { M: 19, N: 33, K: 21, residual: true, accumulate: true },
    { M: 1, N: 70, K: 33, transB: true, bias: true, residual: true },
    { M: 20, N: 36, K: 100, ...DW, scratch: true }, // scratch is given but not used
    { M: 21, N: 35, K: 23, ...DW, ranges: true },
  ];
  for (const c of cases) {
    it(name({ ...c, variant: 'cpu' }), async () => {
      const d = await check({ ...c, variant: 'cpu' });
      expect(d.map((x) => x.kernel)).toEqual([thinOnCpu(c) ? 'matmul_thin_cpu' : 'matmul_cpu']);
    });
  }
});

describe('matmul: thin products on the CPU-adapter variant (LoRA rank r: no tiles, one dot product per 4 outputs)', () => {
  // The adapter's products for N rows, IN -> OUT features, rank r: x A^T, xa B^T, dB, dxa, dA, dX.
  const lora = (N: number, IN: number, OUT: number, r: number): Case[] => [
    { M: N, N: r, K: IN, transB: true },
    { M: N, N: OUT, K: r, transB: true, accumulate: true },
    { M: OUT, N: r, K: N, transA: true },
    { M: N, N: r, K: OUT },
    { M: r, N: IN, K: N, transA: true, accumulate: true },
    { M: N, N: IN, K: r, accumulate: true },
  ];
  const cases: Case[] = [
    ...lora(70, 24, 72, 3),
    ...lora(37, 19, 45, 16),
    { M: 5, N: 7, K: 300, transB: true, bias: true, residual: true, ranges: true },
    { M: 1000, N: 1, K: 3, bias: true },
  ];
  for (const c of cases) {
    it(name({ ...c, variant: 'cpu' }), async () => {
      expect(thinOnCpu(c)).toBe(true);
      const d = await check({ ...c, variant: 'cpu' });
      expect(d.map((x) => x.kernel)).toEqual(['matmul_thin_cpu']);
    });
  }
});

describe('matmul: activation epilogues (a Linear and its activation; the next Linear\'s dX through it)', () => {
  interface ActCase { M: number; N: number; K: number; kind: Activation; grad: boolean; variant?: 'gpu' | 'cpu' }
  const actName = (c: ActCase) => `${c.M}x${c.N}x${c.K} ${c.kind} ${c.grad ? 'gradient' : 'forward'}${c.variant === 'cpu' ? ' (cpu variant)' : ''}`;
  async function checkAct(c: ActCase): Promise<string[]> {
    const { gpu } = await testGpu();
    const { M, N, K } = c;
    const seed = M * 131 + N * 7 + K;
    const a = randn(M * K, seed);
    const b = randn(K * N, seed + 1);
    const bias = randn(N, seed + 2);
    const saved = randn(M * N, seed + 3); // the forward's input (or ReLU's output: its sign is what counts)
    const dispatches: string[] = [];
    const got = await withVariant(gpu, c.variant ?? 'gpu', () => checked(gpu, async () => {
      const out = gpu.upload(new Float32Array(M * N).fill(Number.NaN));
      const side = gpu.upload(new Float32Array(M * N).fill(Number.NaN));
      const [A, B, Bias, S] = [a, b, bias, saved].map((x) => gpu.upload(x));
      // forward: y = f(x W^T + b); gradient: dX = f'(saved) * (dY W)
      const args: MatmulArgs = c.grad
        ? { out, a: A, b: B, M, N, K, activationGrad: { kind: c.kind, saved: S, product: side } }
        : { out, a: A, b: B, bias: Bias, M, N, K, transB: true, activation: { kind: c.kind, pre: side } };
      gpu.onDispatch = (r) => dispatches.push(r.kernel);
      try {
        gpu.submit((enc) => matmul(gpu, enc, args));
      } finally {
        gpu.onDispatch = null;
      }
      const res = await gpu.readF32(out);
      for (const x of [out, side, A, B, Bias, S]) gpu.destroy(x);
      return res;
    }));
    const product = c.grad ? matmulRef(a, b, M, N, K) : matmulRef(a, b, M, N, K, { transB: true, bias });
    const want = c.grad ? activationBackwardRef(saved, product, c.kind) : activationForwardRef(product, c.kind);
    const cmp = compare(got, want, ATOL * Math.sqrt(K), RTOL);
    console.log(report(cmp, actName(c)) + ` [${dispatches.join(', ')}]`);
    expect(cmp.nonFinite, 'every output element written').toBe(0);
    expect(cmp.failures).toBe(0);
    return dispatches;
  }
  // Fused on the tiled kernel: ReLU forward, ReLU and GELU gradients; vec4 (N % 4 == 0) and scalar stores.
  for (const c of [
    { M: 70, N: 36, K: 44, kind: 'relu', grad: false },
    { M: 37, N: 29, K: 23, kind: 'relu', grad: false },
    { M: 70, N: 36, K: 44, kind: 'relu', grad: true },
    { M: 19, N: 33, K: 21, kind: 'gelu', grad: true },
    { M: 132, N: 68, K: 36, kind: 'gelu', grad: true },
  ] as ActCase[]) {
    it(`${actName(c)}: one dispatch`, async () => expect(await checkAct(c)).toEqual(['matmul']));
  }
  // Apart: GELU's forward (its input is saved for the backward), M = 1, the CPU variant.
  for (const [c, kernels] of [
    [{ M: 37, N: 29, K: 23, kind: 'gelu', grad: false }, ['matmul', 'gelu_forward']],
    [{ M: 1, N: 65, K: 48, kind: 'relu', grad: false }, ['matmul_vector', 'relu_forward']],
    [{ M: 1, N: 67, K: 30, kind: 'gelu', grad: true }, ['matmul_vector', 'gelu_backward']],
    [{ M: 33, N: 18, K: 17, kind: 'relu', grad: true, variant: 'cpu' }, ['matmul_cpu', 'relu_backward']],
  ] as Array<[ActCase, string[]]>) {
    it(`${actName(c)}: the product, then the activation`, async () => expect(await checkAct(c)).toEqual(kernels));
  }
  it('refuses an activation with a residual, with a sentence', async () => {
    const { gpu } = await testGpu();
    const out = gpu.buffer(4 * 16);
    expect(() => gpu.submit((enc) => matmul(gpu, enc, { out, a: out, b: out, residual: out, M: 4, N: 4, K: 4, activation: { kind: 'relu', pre: out } }))).toThrow(/no residual/);
    gpu.destroy(out);
  });
});
