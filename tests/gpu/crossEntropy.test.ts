import { describe, expect, it } from 'vitest';
import { crossEntropyBackward, crossEntropyForward, crossEntropyLossAndGrad, meanLoss } from '../../src/kernels/crossEntropy';
import { compare, report } from '../reference/compare';
import { crossEntropyBackwardRef, crossEntropyForwardRef, meanRef } from '../reference/crossEntropy';
import { randInts, randn, rng } from '../reference/random';
import { checked, poisoned, testGpu, VARIANTS, withVariant, type VariantName } from './context';

// f32 log-sum-exp over V terms: relative errors of a few 1e-7 in the sum,
// plus the rounding of (max - logit[target]) for logits of size 1e4.
const LOSS_TOL = { atol: 1e-5, rtol: 1e-5 };
// Gradients are probabilities / BT: relative error of exp() in f32.
const GRAD_RTOL = 1e-4;

const VOCABS = [1, 3, 65, 1000, 3001, 5000, 9000]; // 5000 and 9000: the CPU variant's 64- and 256-wide workgroups
const ROWS = [1, 13, 4096];
// The GPU variants (a team per row): rows not a multiple of the 8 rows per workgroup, V below and above a team's lanes.
const TEAM_VOCABS = [1, 3, 33, 65, 1000];
const TEAM_ROWS = [1, 13, 77];

type Logits = 'randn' | 'extreme' | 'flat-extreme';

function makeLogits(kind: Logits, n: number, seed: number): Float32Array {
  if (kind === 'randn') return randn(n, seed, 3);
  if (kind === 'flat-extreme') return new Float32Array(n).fill(1e4);
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() < 0.5 ? -1e4 : 1e4) * r());
}

async function run(variant: VariantName, BT: number, V: number, kind: Logits) {
  const { gpu } = await testGpu();
  const seed = BT * 131 + V;
  const logits = makeLogits(kind, BT * V, seed);
  const targets = randInts(BT, V, seed + 1);
  if (kind === 'extreme') {
    // The worst case: the target is the smallest logit of its row, up to a 2e4 loss.
    for (let r = 0; r < BT; r++) {
      let lo = 0;
      for (let i = 1; i < V; i++) if (logits[r * V + i] < logits[r * V + lo]) lo = i;
      if (r % 2 === 0) targets[r] = lo;
    }
  }
  const got = await withVariant(gpu, variant, () => checked(gpu, async () => {
    const losses = poisoned(gpu, BT);
    const mean = poisoned(gpu, 1);
    const dlogits = poisoned(gpu, BT * V);
    const logitsBuf = gpu.upload(logits);
    const targetsBuf = gpu.upload(targets);
    // the training step's pass: losses and dlogits together
    const losses2 = poisoned(gpu, BT);
    const dlogits2 = poisoned(gpu, BT * V);
    gpu.submit((enc) => {
      crossEntropyForward(gpu, enc, { losses, logits: logitsBuf, targets: targetsBuf, BT, V });
      meanLoss(gpu, enc, { out: mean, losses, n: BT });
      crossEntropyBackward(gpu, enc, { dlogits, logits: logitsBuf, targets: targetsBuf, BT, V });
      crossEntropyLossAndGrad(gpu, enc, { losses: losses2, dlogits: dlogits2, logits: logitsBuf, targets: targetsBuf, BT, V });
    });
    const r = {
      losses: await gpu.readF32(losses, BT),
      mean: await gpu.readF32(mean, 1),
      dlogits: await gpu.readF32(dlogits, BT * V),
      losses2: await gpu.readF32(losses2, BT),
      dlogits2: await gpu.readF32(dlogits2, BT * V),
    };
    for (const buf of [losses, mean, dlogits, losses2, dlogits2, logitsBuf, targetsBuf]) gpu.destroy(buf);
    return r;
  }));
  const wantLosses = crossEntropyForwardRef(logits, targets, BT, V);
  const wantMean = meanRef(wantLosses);
  const wantGrad = crossEntropyBackwardRef(logits, targets, BT, V);
  const name = `[${variant}] BT=${BT} V=${V} ${kind}`;
  const cmpLoss = compare(got.losses, wantLosses, LOSS_TOL.atol, LOSS_TOL.rtol);
  const cmpMean = compare(got.mean, [wantMean], LOSS_TOL.atol, LOSS_TOL.rtol);
  const cmpGrad = compare(got.dlogits, wantGrad, 1e-7 / BT, GRAD_RTOL);
  console.log(report(cmpLoss, `losses ${name}`));
  console.log(report(cmpMean, `mean loss ${name}`));
  console.log(report(cmpGrad, `dlogits ${name}`));
  const cmpLoss2 = compare(got.losses2, wantLosses, LOSS_TOL.atol, LOSS_TOL.rtol);
  const cmpGrad2 = compare(got.dlogits2, wantGrad, 1e-7 / BT, GRAD_RTOL);
  console.log(report(cmpLoss2, `losses (with dlogits) ${name}`));
  console.log(report(cmpGrad2, `dlogits (with losses) ${name}`));
  expect(cmpLoss.failures).toBe(0);
  expect(cmpMean.failures).toBe(0);
  expect(cmpGrad.failures).toBe(0);
  for (const c of [cmpLoss2, cmpGrad2]) expect(c.nonFinite, 'every element written and finite').toBe(0);
  expect(cmpLoss2.failures).toBe(0);
  expect(cmpGrad2.failures).toBe(0);
}

describe.each(VARIANTS)('cross-entropy kernels vs float64 reference, %s', (variant) => {
  const cpu = variant === 'cpu';
  for (const BT of cpu ? ROWS : TEAM_ROWS) {
    // A workgroup per row costs seconds per 4096 rows on SwiftShader: the full batch only at two widths.
    for (const V of !cpu ? TEAM_VOCABS : BT > 1000 ? [65, 3001] : VOCABS) {
      it(`BT=${BT} V=${V}`, () => run(variant, BT, V, 'randn'));
    }
  }
  for (const [BT, V] of cpu ? [[13, 65], [13, 3001], [4096, 3]] : [[13, 65], [13, 3001], [77, 3]]) {
    it(`extreme logits (+-1e4) BT=${BT} V=${V}`, () => run(variant, BT, V, 'extreme'));
  }
  it('all logits equal to 1e4, BT=13 V=1000', () => run(variant, 13, 1000, 'flat-extreme'));
});
