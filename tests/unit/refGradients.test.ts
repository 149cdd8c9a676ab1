import { describe, expect, it } from 'vitest';
import { dropoutMaskCpu } from '../../src/kernels/dropout';
import { attentionBackwardRef, attentionForwardRef, type AttentionDropoutRef } from '../reference/attention';
import { crossEntropyBackwardRef, crossEntropyForwardRef, meanRef } from '../reference/crossEntropy';
import { randInts, randn } from '../reference/random';

// Central differences of a float64 scalar function: df/dx[i] ~ (f(x + h e_i) - f(x - h e_i)) / 2h.
function numericGradient(f: (x: Float64Array) => number, x0: ArrayLike<number>, h = 1e-5): Float64Array {
  const x = Float64Array.from(x0);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + h;
    const up = f(x);
    x[i] = keep - h;
    const down = f(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

function maxRelError(analytic: ArrayLike<number>, numeric: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < numeric.length; i++) {
    const err = Math.abs(analytic[i] - numeric[i]) / Math.max(1e-3, Math.abs(numeric[i]));
    worst = Math.max(worst, err);
  }
  return worst;
}

describe('attention backward reference vs finite differences', () => {
  const SHAPES: Array<[number, number, number, number]> = [
    [1, 1, 4, 1],
    [2, 5, 6, 3],
    [1, 9, 8, 2],
  ];
  // Dropout on the probabilities with a fixed mask (the GPU's hash): p = 0 is none.
  for (const p of [0, 0.1, 0.5]) {
    for (const [B, T, C, NH] of SHAPES) {
      const name = `B=${B} T=${T} C=${C} NH=${NH}${p > 0 ? ` attention dropout ${p}` : ''}`;
      it(`d sum(out * dout) / d qkv, ${name}`, () => {
        const shape = { B, T, C, NH };
        const qkv = randn(B * T * 3 * C, 11 + T);
        const dout = randn(B * T * C, 12 + T);
        const drop: AttentionDropoutRef | undefined = p > 0 ? { p, mask: dropoutMaskCpu(42, 7, B * NH * T * T, p) } : undefined;
        const f = (x: Float64Array) => {
          const { out } = attentionForwardRef(x, shape, drop);
          let s = 0;
          for (let i = 0; i < out.length; i++) s += out[i] * dout[i];
          return s;
        };
        const { att } = attentionForwardRef(qkv, shape, drop);
        const analytic = attentionBackwardRef(dout, qkv, att, shape, drop);
        const numeric = numericGradient(f, qkv);
        const err = maxRelError(analytic, numeric);
        console.log(`attention ${name}: max rel err vs finite differences ${err.toExponential(2)}`);
        expect(err).toBeLessThan(1e-6);
      });
    }
  }
});

describe('cross-entropy backward reference vs finite differences', () => {
  const SHAPES: Array<[number, number, number]> = [
    [1, 1, 1],
    [3, 7, 1],
    [5, 11, 8],
  ];
  for (const [BT, V, scale] of SHAPES) {
    it(`d mean loss / d logits, BT=${BT} V=${V} logit scale ${scale}`, () => {
      const logits = randn(BT * V, 21 + V, scale);
      const targets = randInts(BT, V, 22 + V);
      const f = (x: Float64Array) => meanRef(crossEntropyForwardRef(x, targets, BT, V));
      const analytic = crossEntropyBackwardRef(logits, targets, BT, V);
      const numeric = numericGradient(f, logits);
      const err = maxRelError(analytic, numeric);
      console.log(`cross-entropy BT=${BT} V=${V}: max rel err vs finite differences ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-6);
    });
  }
});
