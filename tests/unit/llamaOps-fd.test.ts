// The LLaMA-style ops' backward references (RMSNorm, RoPE, SwiGLU, grouped-query
// attention) against central differences of their forward references:
// d/dx sum(forward(x) * dout) for a random dout.
import { describe, expect, it } from 'vitest';
import { attentionBackwardRef, attentionForwardRef } from '../reference/attention';
import { gradcheck, gradReport, type GradcheckOptions } from '../reference/gradcheck';
import { randn } from '../reference/random';
import { rmsNormBackwardRef, rmsNormForwardRef } from '../reference/rmsNorm';
import { ropeBackwardRef, ropeForwardRef } from '../reference/rope';
import { swigluBackwardRef, swigluForwardRef } from '../reference/swiglu';

const f64 = (a: ArrayLike<number>) => Float64Array.from(a);

function expectGrad(
  label: string, forward: (x: Float64Array[]) => ArrayLike<number>, inputs: Float64Array[],
  analytic: Array<ArrayLike<number> | null>, dout: ArrayLike<number>, options?: GradcheckOptions,
) {
  const r = gradcheck(forward, inputs, analytic, dout, options);
  console.log(gradReport(r, label));
  expect(r.checked).toBeGreaterThan(0);
  expect(r.failures).toBe(0);
}

describe('LLaMA op backward references vs finite differences', () => {
  it('rmsNorm', () => {
    const [N, C] = [5, 13];
    const inp = f64(randn(N * C, 1, 2));
    const weight = f64(randn(C, 2));
    const dout = f64(randn(N * C, 4));
    const { rstd } = rmsNormForwardRef(inp, weight, N, C);
    const [dinp, dweight] = [new Float64Array(N * C), new Float64Array(C)];
    rmsNormBackwardRef(dinp, dweight, dout, inp, weight, rstd, N, C);
    expectGrad('rmsNorm', (xs) => rmsNormForwardRef(xs[0], xs[1], N, C).out, [inp, weight], [dinp, dweight], dout);
  });

  it('rmsNorm of a tiny row (mean square near eps)', () => {
    const [N, C] = [3, 7];
    const inp = f64(randn(N * C, 5, 3e-3));
    const weight = f64(randn(C, 6));
    const dout = f64(randn(N * C, 8));
    const { rstd } = rmsNormForwardRef(inp, weight, N, C);
    const [dinp, dweight] = [new Float64Array(N * C), new Float64Array(C)];
    rmsNormBackwardRef(dinp, dweight, dout, inp, weight, rstd, N, C);
    expectGrad('rmsNorm tiny', (xs) => rmsNormForwardRef(xs[0], xs[1], N, C).out, [inp, weight], [dinp, dweight], dout, { eps: [1e-8, 1e-5] });
  });

  it('swiglu', () => {
    const [N, I] = [4, 9];
    const inp = f64(randn(N * 2 * I, 1, 3));
    const dout = f64(randn(N * I, 2));
    const dinp = new Float64Array(N * 2 * I);
    swigluBackwardRef(dinp, dout, inp, N, I);
    expectGrad('swiglu', (xs) => swigluForwardRef(xs[0], N, I), [inp], [dinp], dout);
  });

  for (const [pos0, D] of [[0, 8], [1000, 6]] as const) {
    it(`rope (pos0 ${pos0}, D ${D}, H 3, KV 1): the backward is the transposed rotation`, () => {
      const s = { B: 2, T: 3, H: 3, KV: 1, D };
      const n = s.B * s.T * (s.H + 2 * s.KV) * D;
      const x = f64(randn(n, 1));
      const dout = f64(randn(n, 2));
      expectGrad(`rope pos0 ${pos0}`, (xs) => ropeForwardRef(xs[0], s, pos0), [x], [ropeBackwardRef(dout, s, pos0)], dout);
      // a rotation keeps each pair's length and the v part
      const y = ropeForwardRef(x, s, pos0);
      let nx = 0;
      let ny = 0;
      for (let i = 0; i < n; i++) [nx, ny] = [nx + x[i] * x[i], ny + y[i] * y[i]];
      expect(Math.abs(nx - ny)).toBeLessThan(1e-9 * nx);
    });
  }

  for (const [NH, KV, hs] of [[4, 2, 3], [4, 1, 2], [3, 3, 2]] as const) {
    it(`grouped-query attention NH ${NH} KV ${KV} hs ${hs}`, () => {
      const shape = { B: 2, T: 5, C: NH * hs, NH, KV };
      const n = shape.B * shape.T * (NH + 2 * KV) * hs;
      const qkv = f64(randn(n, 3));
      const dout = f64(randn(shape.B * shape.T * shape.C, 4));
      const { att } = attentionForwardRef(qkv, shape);
      const dqkv = attentionBackwardRef(dout, qkv, att, shape);
      expectGrad(`attention NH ${NH} KV ${KV}`, (xs) => attentionForwardRef(xs[0], shape).out, [qkv], [dqkv], dout);
    });
  }

  it('grouped-query attention with KV = 1 equals multi-head attention on repeated key/value heads', () => {
    const [B, T, NH, hs] = [1, 4, 3, 2];
    const C = NH * hs;
    const g = f64(randn(B * T * (C + 2 * hs), 9));
    const full = new Float64Array(B * T * 3 * C);
    for (let t = 0; t < B * T; t++) {
      for (let c = 0; c < C; c++) full[t * 3 * C + c] = g[t * (C + 2 * hs) + c];
      for (let h = 0; h < NH; h++) {
        for (let d = 0; d < hs; d++) {
          full[t * 3 * C + C + h * hs + d] = g[t * (C + 2 * hs) + C + d];
          full[t * 3 * C + 2 * C + h * hs + d] = g[t * (C + 2 * hs) + C + hs + d];
        }
      }
    }
    const a = attentionForwardRef(g, { B, T, C, NH, KV: 1 }).out;
    const b = attentionForwardRef(full, { B, T, C, NH }).out;
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-14);
  });
});
