// Every matmul of a training step at the reference model's shapes, ours vs
// tf.matMul on tfjs's WebGPU backend, measured side by side in one page.
//
// For each Linear layer (out, in) of the baby GPT, with R = B*T rows:
//   forward  y  = x W^T + b     M = R,   N = out, K = in   (transB, bias)
//   backward dX = dY W          M = R,   N = in,  K = out
//   backward dW += dY^T X       M = out, N = in,  K = R    (transA, accumulate)

import { matmul, matmulFlops, matmulPlan, matmulScratchFloats } from '../src/kernels/matmul';
import type { Gpu } from '../src/gpu/runtime';
import { peerFinish, tf } from './peer';
import { timeSideBySide, type Timed, type TimingPlan } from './timing';
import { randomData, type KernelRow, maxRelDiff } from './common';
import type { MatmulCase } from './matmulCases';

export { linearLayers, trainingMatmuls } from './matmulCases';

export async function benchMatmuls(gpu: Gpu, cases: MatmulCase[], plan: TimingPlan, log: (s: string) => void): Promise<KernelRow[]> {
  const rows: KernelRow[] = [];
  for (const c of cases) {
    const { M, N, K } = c;
    // Stored shapes: A is (M, K) or (K, M); B is (K, N) or (N, K).
    const aShape: [number, number] = c.transA ? [K, M] : [M, K];
    const bShape: [number, number] = c.transB ? [N, K] : [K, N];
    const aData = randomData(M * K, 1 + M + K);
    const bData = randomData(K * N, 2 + N + K);
    const biasData = randomData(N, 3 + N);

    const a = gpu.upload(aData, 'bench A');
    const b = gpu.upload(bData, 'bench B');
    const bias = c.bias ? gpu.upload(biasData, 'bench bias') : null;
    const out = gpu.buffer(M * N * 4, 'bench C');
    // The weight gradients run split-K, as in the model (scratch for the K slices' partial products).
    const scratchFloats = c.transA ? matmulScratchFloats(c) : 0;
    const scratch = scratchFloats ? gpu.buffer(4 * scratchFloats, 'bench split-K scratch') : null;
    const args = { out, a, b, bias, scratch, M, N, K, transA: c.transA, transB: c.transB, accumulate: c.accumulate };
    const ours: Timed = {
      run: (n) =>
        gpu.submit((enc) => {
          for (let i = 0; i < n; i++) matmul(gpu, enc, args);
        }),
      finish: () => gpu.finish(),
    };

    const ta = tf.tensor2d(aData, aShape);
    const tb = tf.tensor2d(bData, bShape);
    const tbias = tf.tensor1d(biasData);
    const peerOnce = () =>
      c.bias
        ? tf.fused.matMul({ a: ta, b: tb, transposeA: c.transA, transposeB: c.transB, bias: tbias })
        : tf.matMul(ta, tb, c.transA, c.transB);
    const theirs: Timed = {
      run: (n) => {
        for (let i = 0; i < n; i++) peerOnce().dispose();
      },
      finish: peerFinish,
    };

    // Same numbers on both sides? (ours with a zeroed output, so accumulate adds to 0)
    gpu.submit((enc) => {
      enc.clearBuffer(out);
      matmul(gpu, enc, args);
    });
    const got = await gpu.readF32(out, M * N);
    const ref = peerOnce();
    const want = (await ref.data()) as Float32Array;
    ref.dispose();
    const diff = maxRelDiff(got, want);

    const [t0, t1] = await timeSideBySide([ours, theirs], plan);
    const flops = matmulFlops(M, N, K);
    const row: KernelRow = {
      group: 'matmul',
      kernel: c.label,
      shape: `${M}x${K} · ${K}x${N}`,
      unit: 'GFLOP/s',
      oursMs: t0!.ms,
      ours: flops / t0!.ms / 1e6,
      peerMs: t1!.ms,
      peer: flops / t1!.ms / 1e6,
      ratio: t1!.ms / t0!.ms,
      maxDiff: diff,
      note: c.accumulate ? 'ours accumulates (+=), tfjs overwrites' : '',
    };
    const p = matmulPlan(c);
    const layout =
      gpu.kernels === 'cpu'
        ? `cpu variant: ${Math.ceil(N / 64) * Math.ceil(M / 64)} workgroups of 64, one pass`
        : `${p.workgroups} workgroups${p.slices > 1 && scratch ? ` (${p.slices} K slices)` : ''}`;
    log(`matmul ${row.kernel} ${row.shape} [${layout}]: ours ${row.oursMs.toFixed(2)} ms, tfjs ${row.peerMs!.toFixed(2)} ms, ratio ${row.ratio!.toFixed(2)}x, maxdiff ${diff.toExponential(1)}`);
    rows.push(row);

    for (const buf of [a, b, out, bias, scratch]) if (buf) gpu.destroy(buf);
    tf.dispose([ta, tb, tbias]);
  }
  return rows;
}
