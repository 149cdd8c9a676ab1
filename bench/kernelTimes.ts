// Per-call wall-clock times of the training step's non-matmul kernels in Node
// (Dawn), at the tiny preset's shapes and the reference shapes. Run with
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json node bench/kernelTimes.mjs [tiny|ref] [REGEX]
// Each kernel runs once to compile, then `reps` times, each timed to a drained queue; the median is printed.

import type { Gpu } from '../src/gpu/runtime';
import { gradNorm, gradNormScratchFloats } from '../src/kernels/adamw';
import { attentionBackward, attentionForward, attentionRowFloats } from '../src/kernels/attention';
import { crossEntropyBackward, crossEntropyForward } from '../src/kernels/crossEntropy';
import { embeddingBackward } from '../src/kernels/embedding';
import { layerNormBackward, layerNormForward } from '../src/kernels/layerNorm';

export interface Shape { B: number; T: number; C: number; NH: number; V: number }

export const SHAPES: Record<string, Shape> = {
  tiny: { B: 8, T: 32, C: 48, NH: 2, V: 83 },
  ref: { B: 32, T: 128, C: 192, NH: 6, V: 65 },
};

export async function kernelTimes(gpu: Gpu, s: Shape, only: RegExp, reps: number, log: (line: string) => void): Promise<void> {
  const { B, T, C, NH, V } = s;
  const BT = B * T;
  let seed = 1;
  const rand = (n: number, scale = 1) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) { seed = (seed * 1103515245 + 12345) >>> 0; a[i] = ((seed / 2 ** 32) * 2 - 1) * scale; }
    return gpu.upload(a);
  };
  const tokens = gpu.upload(Int32Array.from({ length: BT }, (_, i) => (i * 7919) % V));
  const logits = rand(BT * V, 3);
  const losses = gpu.buffer(BT * 4);
  const dlogits = gpu.buffer(BT * V * 4);
  const qkv = rand(BT * 3 * C);
  const out = gpu.buffer(BT * C * 4);
  const lse = gpu.buffer(attentionRowFloats(B, T, NH) * 4);
  const dqkv = gpu.buffer(BT * 3 * C * 4);
  const dout = rand(BT * C);
  const delta = gpu.buffer(attentionRowFloats(B, T, NH) * 4);
  const dwte = gpu.buffer(V * C * 4);
  const dwpe = gpu.buffer(T * C * 4);
  const nParams = 12 * 2 * C * C + V * C + T * C;
  const grads = rand(nParams);
  const norm = gpu.buffer(4);
  const normScratch = gpu.buffer(gradNormScratchFloats(nParams) * 4);
  const inp = rand(BT * C);
  const w = rand(C);
  const bias = rand(C);
  const mean = gpu.buffer(BT * 4);
  const rstd = gpu.buffer(BT * 4);
  const dinp = gpu.buffer(BT * C * 4);
  const dw = gpu.buffer(C * 4);
  const db = gpu.buffer(C * 4);
  gpu.submit((enc) => attentionForward(gpu, enc, { out, lse, qkv, B, T, C, NH }));
  gpu.submit((enc) => layerNormForward(gpu, enc, { out, mean, rstd, inp, weight: w, bias, N: BT, C }));
  await gpu.finish();

  const cases: Array<[string, (enc: GPUCommandEncoder) => void]> = [
    ['crossEntropyForward', (enc) => crossEntropyForward(gpu, enc, { losses, logits, targets: tokens, BT, V })],
    ['crossEntropyBackward', (enc) => crossEntropyBackward(gpu, enc, { dlogits, logits, targets: tokens, BT, V })],
    ['attentionForward', (enc) => attentionForward(gpu, enc, { out, lse, qkv, B, T, C, NH })],
    ['attentionBackward', (enc) => attentionBackward(gpu, enc, { dqkv, delta, dout, qkv, out, lse, B, T, C, NH })],
    ['embeddingBackward', (enc) => embeddingBackward(gpu, enc, { dwte, dwpe, dout, tokens, B, T, C, V })],
    ['gradNorm', (enc) => gradNorm(gpu, enc, { norm, grads, n: nParams, scratch: normScratch })],
    ['layerNormForward', (enc) => layerNormForward(gpu, enc, { out, mean, rstd, inp, weight: w, bias, N: BT, C })],
    ['layerNormBackward', (enc) => layerNormBackward(gpu, enc, { dinp, dweight: dw, dbias: db, dout, inp, weight: w, mean, rstd, N: BT, C })],
  ];
  log(`| kernel | ms (median of ${reps}) | min ms |  B=${B} T=${T} C=${C} NH=${NH} V=${V}`);
  for (const [name, run] of cases) {
    if (!only.test(name)) continue;
    gpu.submit(run);
    await gpu.finish();
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      gpu.submit(run);
      await gpu.finish();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    log(`| ${name} | ${times[times.length >> 1]!.toFixed(1)} | ${times[0]!.toFixed(1)} |`);
  }
}
