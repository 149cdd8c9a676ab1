import { describe, expect, it } from 'vitest';
import { dropoutMaskCpu } from '../../src/kernels/dropout';
import { activationBackwardRef, activationForwardRef, erfcRef, erfRef } from '../reference/activation';
import { dropoutBackwardRef, dropoutForwardRef } from '../reference/dropout';
import { embeddingBackwardRef, embeddingForwardRef } from '../reference/embedding';
import { layerNormBackwardRef, layerNormForwardRef } from '../reference/layernorm';
import { addBackwardRef, addRef, biasAddRef, biasBackwardRef } from '../reference/elementwise';
import { gradcheck, gradReport, type GradcheckOptions } from '../reference/gradcheck';
import { randInts, randn } from '../reference/random';

// Every backward reference is checked against central differences of its
// forward reference: d/dx sum(forward(x) * dout) for a random dout.

const f64 = (a: ArrayLike<number>) => Float64Array.from(a);

function expectGrad(
  label: string,
  forward: (x: Float64Array[]) => ArrayLike<number>,
  inputs: Float64Array[],
  analytic: Array<ArrayLike<number> | null>,
  dout: ArrayLike<number>,
  options?: GradcheckOptions,
) {
  const r = gradcheck(forward, inputs, analytic, dout, options);
  console.log(gradReport(r, label));
  expect(r.checked).toBeGreaterThan(0);
  expect(r.failures).toBe(0);
}

describe('gradcheck itself', () => {
  it('accepts a right gradient and rejects a wrong one', () => {
    const x = f64(randn(20, 1));
    const dout = f64(randn(20, 2));
    const square = (xs: Float64Array[]) => xs[0].map((v) => v * v);
    const right = x.map((v, i) => 2 * v * dout[i]);
    const wrong = x.map((v, i) => 2.01 * v * dout[i]);
    expect(gradcheck(square, [x], [right], dout).failures).toBe(0);
    expect(gradcheck(square, [x], [wrong], dout).failures).toBeGreaterThan(0);
  });

  it('skips inputs without a gradient and samples large inputs', () => {
    const x = f64(randn(5000, 3));
    const dout = f64(randn(5000, 4));
    const r = gradcheck((xs) => xs[0].map((v, i) => v * xs[1][i]), [x, f64(randn(5000, 5))], [null, x.map((v, i) => v * dout[i])], dout, { samples: 50 });
    expect(r.checked).toBe(50);
    expect(r.failures).toBe(0);
  });
});

describe('erf reference', () => {
  // Values from CPython's math.erf / math.erfc.
  const cases: Array<[number, number, number]> = [
    [0.5, 0.5204998778130465, 0.4795001221869535],
    [0.99, 0.8385080695553698, 0.1614919304446302],
    [1, 0.8427007929497149, 0.15729920705028513],
    [1.99, 0.995111413199617, 0.004888586800383003],
    [2, 0.9953222650189527, 0.004677734981047265],
    [2.6, 0.9997639655834707, 0.00023603441652934908],
    [3, 0.9999779095030014, 2.2090496998585438e-5],
    [5, 0.9999999999984626, 1.5374597944280351e-12],
    [Math.SQRT2 * 5, 1, 1.5239706048320995e-23],
    [1e-8, 1.1283791670955126e-8, 0.9999999887162083],
  ];
  it('matches erf and erfc to 1e-13 relative across the range', () => {
    for (const [x, erf, erfc] of cases) {
      expect(Math.abs(erfRef(x) - erf) / erf).toBeLessThan(1e-13);
      expect(Math.abs(erfcRef(x) - erfc) / erfc).toBeLessThan(1e-13);
      expect(Math.abs(erfcRef(-x) - (2 - erfc))).toBeLessThan(1e-15);
    }
  });
});

describe('backward references vs finite differences', () => {
  for (const kind of ['relu', 'gelu'] as const) {
    it(`${kind}`, () => {
      const x = f64(randn(300, 7, 3));
      const dout = f64(randn(300, 8));
      expectGrad(kind, (xs) => activationForwardRef(xs[0], kind), [x], [activationBackwardRef(x, dout, kind)], dout);
    });
  }

  it('gelu at large |x| and tiny x', () => {
    const x = f64([-10, -8, -6, -4, 4, 6, 8, 10, 1e-3, -1e-3, 1e-6, -0.7518]);
    const dout = f64(randn(x.length, 9));
    expectGrad('gelu extremes', (xs) => activationForwardRef(xs[0], 'gelu'), [x], [activationBackwardRef(x, dout, 'gelu')], dout, { atol: 1e-9 });
  });

  it('add (residual)', () => {
    const a = f64(randn(50, 1));
    const b = f64(randn(50, 2));
    const dout = f64(randn(50, 3));
    const [da, db] = [new Float64Array(50), new Float64Array(50)];
    addBackwardRef(da, db, dout);
    expectGrad('add', (xs) => addRef(xs[0], xs[1]), [a, b], [da, db], dout);
  });

  it('bias (column sums)', () => {
    const [M, N] = [13, 7];
    const inp = f64(randn(M * N, 1));
    const bias = f64(randn(N, 2));
    const dout = f64(randn(M * N, 3));
    const dbias = new Float64Array(N);
    biasBackwardRef(dbias, dout, M, N);
    expectGrad('bias', (xs) => biasAddRef(xs[0], xs[1], M, N), [inp, bias], [dout, dbias], dout);
  });

  it('dropout (the backward reuses the forward mask)', () => {
    const n = 200;
    const p = 0.3;
    const mask = dropoutMaskCpu(99, 4, n, p);
    const x = f64(randn(n, 1));
    const dout = f64(randn(n, 2));
    expectGrad('dropout', (xs) => dropoutForwardRef(xs[0], mask, p), [x], [dropoutBackwardRef(dout, mask, p)], dout);
  });

  it('embedding (token and position tables; repeated tokens accumulate)', () => {
    const [B, T, C, V] = [3, 5, 4, 6];
    const tokens = randInts(B * T, V, 1);
    tokens[0] = tokens[1] = tokens[7] = 2;
    const wte = f64(randn(V * C, 2));
    const wpe = f64(randn(T * C, 3));
    const dout = f64(randn(B * T * C, 4));
    const [dwte, dwpe] = [new Float64Array(V * C), new Float64Array(T * C)];
    embeddingBackwardRef(dwte, dwpe, dout, tokens, B, T, C);
    expectGrad('embedding', (xs) => embeddingForwardRef(tokens, xs[0], xs[1], B, T, C), [wte, wpe], [dwte, dwpe], dout);
  });

  for (const withBias of [true, false]) {
    it(`layernorm${withBias ? '' : ' without bias'}`, () => {
      const [N, C] = [5, 13];
      const inp = f64(randn(N * C, 1, 2));
      const weight = f64(randn(C, 2));
      const bias = f64(randn(C, 3));
      const dout = f64(randn(N * C, 4));
      const { mean, rstd } = layerNormForwardRef(inp, weight, withBias ? bias : null, N, C);
      const [dinp, dweight, dbias] = [new Float64Array(N * C), new Float64Array(C), new Float64Array(C)];
      layerNormBackwardRef(dinp, dweight, withBias ? dbias : null, dout, inp, weight, mean, rstd, N, C);
      expectGrad(
        `layernorm${withBias ? '' : ' without bias'}`,
        (xs) => layerNormForwardRef(xs[0], xs[1], withBias ? xs[2] : null, N, C).out,
        [inp, weight, bias],
        [dinp, dweight, withBias ? dbias : null],
        dout,
      );
    });
  }

  it('layernorm of a near-constant row (variance 1e-10 on an offset of 1e3)', () => {
    const [N, C] = [2, 9];
    const inp = f64(randn(N * C, 5, 1e-5)).map((v) => v + 1000);
    const weight = f64(randn(C, 6));
    const bias = f64(randn(C, 7));
    const dout = f64(randn(N * C, 8));
    const { mean, rstd } = layerNormForwardRef(inp, weight, bias, N, C);
    const [dinp, dweight, dbias] = [new Float64Array(N * C), new Float64Array(C), new Float64Array(C)];
    layerNormBackwardRef(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
    // steps of 1e-7 on inputs of 1e3: below the scale sqrt(var + eps) = 3e-3 on which the output bends,
    // above the float64 rounding of the row mean (1e-13), whose quotient would swamp smaller steps
    expectGrad('layernorm near-constant', (xs) => layerNormForwardRef(xs[0], xs[1], xs[2], N, C).out, [inp, weight, bias], [dinp, dweight, dbias], dout, {
      eps: [1e-10, 1e-6, 1e-6],
      atol: 1e-4,
      rtol: 1e-4,
    });
  });
});
