// The other kernels of a training step at the reference shapes (B*T rows,
// C = 192, NH = 6, T = 128, V = 65), each against the same computation written
// with tfjs ops on its WebGPU backend where tfjs has one. Forward and
// forward+backward are timed as units on both sides (tf.grads recomputes the
// forward, so "backward alone" would not be comparable).
//
// Rates: GB/s for memory-bound kernels (bytes each side must at least move,
// counted the same for both), GFLOP/s for attention (the dense T x T products
// both sides compute: 4 B NH T T hs forward, 8 B NH T T hs backward).

import type { Gpu } from '../src/gpu/runtime';
import { activationBackward, activationForward } from '../src/kernels/activation';
import { adamw, adamwHyper, gradNorm, gradNormScratchFloats } from '../src/kernels/adamw';
import { attentionBackward, attentionForward, attentionRowFloats } from '../src/kernels/attention';
import { biasBackward } from '../src/kernels/biasBackward';
import { crossEntropyBackward, crossEntropyForward, meanLoss } from '../src/kernels/crossEntropy';
import { embeddingBackward, embeddingForward } from '../src/kernels/embedding';
import { layerNormBackward, layerNormForward } from '../src/kernels/layerNorm';
import { paramCount } from '../src/model/validate';
import { DEFAULT_MODEL } from '../src/model/config';
import { maxRelDiff, randomData, type KernelRow } from './common';
import { peerFinish, tf } from './peer';
import { timeSideBySide, type Timed, type TimingPlan } from './timing';

interface Case {
  group: string;
  kernel: string;
  shape: string;
  unit: 'GFLOP/s' | 'GB/s';
  /** FLOPs or bytes of one run */
  amount: number;
  ours: (enc: GPUCommandEncoder) => void;
  /** One run of the tfjs equivalent; returns the tensors to compare and dispose. */
  peer?: () => tf.Tensor | tf.Tensor[];
  /** Our output to compare with the peer's first tensor. */
  oursOut?: () => Promise<Float32Array>;
  note?: string;
}

export async function benchOtherKernels(
  gpu: Gpu,
  o: { full: boolean; plan: TimingPlan; only: RegExp; log: (s: string) => void },
): Promise<KernelRow[]> {
  const B = o.full ? 32 : 8;
  const { blockSize: T, nEmbd: C, nHead: NH } = DEFAULT_MODEL;
  const V = 65;
  const BT = B * T;
  const hs = C / NH;
  const owned: GPUBuffer[] = [];
  const buf = (floats: number, seed?: number, scale = 1) => {
    const b = seed === undefined ? gpu.buffer(floats * 4) : gpu.upload(randomData(floats, seed).map((x) => x * scale));
    owned.push(b);
    return b;
  };
  const data = (floats: number, seed: number, scale = 1) => randomData(floats, seed).map((x) => x * scale);
  const tokensData = Int32Array.from(randomData(BT, 77), (x) => Math.floor((x + 1) * 0.5 * V) % V);
  const tokens = gpu.upload(tokensData);
  owned.push(tokens);
  const cases: Case[] = [];

  // LayerNorm over (BT, C).
  {
    const inpD = data(BT * C, 11), wD = data(C, 12), bD = data(C, 13), doutD = data(BT * C, 14);
    const inp = gpu.upload(inpD), w = gpu.upload(wD), bias = gpu.upload(bD), dout = gpu.upload(doutD);
    owned.push(inp, w, bias, dout);
    const out = buf(BT * C), mean = buf(BT), rstd = buf(BT), dinp = buf(BT * C), dw = buf(C), db = buf(C);
    const [ti, tw, tb, tdout] = [tf.tensor2d(inpD, [BT, C]), tf.tensor1d(wD), tf.tensor1d(bD), tf.tensor2d(doutD, [BT, C])];
    const lnTf = (x: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => {
      const { mean: mu, variance } = tf.moments(x, -1, true);
      return x.sub(mu).mul(tf.rsqrt(variance.add(1e-5))).mul(ww).add(bb);
    };
    const lnGrads = tf.grads((x, ww, bb) => lnTf(x, ww, bb) as tf.Tensor);
    const fwd = (enc: GPUCommandEncoder) => layerNormForward(gpu, enc, { out, mean, rstd, inp, weight: w, bias, N: BT, C });
    const fwdBytes = 4 * (2 * BT * C + 2 * BT + 2 * C);
    cases.push({
      group: 'layernorm', kernel: 'layernorm forward', shape: `${BT}x${C}`, unit: 'GB/s', amount: fwdBytes,
      ours: fwd, peer: () => tf.tidy(() => lnTf(ti, tw, tb)), oursOut: () => gpu.readF32(out, BT * C),
    });
    cases.push({
      group: 'layernorm', kernel: 'layernorm forward+backward', shape: `${BT}x${C}`, unit: 'GB/s',
      amount: fwdBytes + 4 * (4 * BT * C + 2 * BT + 4 * C),
      ours: (enc) => {
        fwd(enc);
        enc.clearBuffer(dinp);
        layerNormBackward(gpu, enc, { dinp, dweight: dw, dbias: db, dout, inp, weight: w, mean, rstd, N: BT, C });
      },
      peer: () => lnGrads([ti, tw, tb], tdout),
      oursOut: () => gpu.readF32(dinp, BT * C),
      note: 'dinp compared',
    });
  }

  // Causal self-attention, (B, T, 3C) -> (B, T, C).
  {
    const qkvD = data(BT * 3 * C, 21), doutD = data(BT * C, 22);
    const qkv = gpu.upload(qkvD), dout = gpu.upload(doutD);
    owned.push(qkv, dout);
    const out = buf(BT * C), lse = buf(attentionRowFloats(B, T, NH)), dqkv = buf(BT * 3 * C), delta = buf(attentionRowFloats(B, T, NH));
    const tq = tf.tensor3d(qkvD, [B, T, 3 * C]);
    const tdout = tf.tensor3d(doutD, [B, T, C]);
    const mask = tf.tidy(() => tf.linalg.bandPart(tf.ones([T, T]), -1, 0).sub(1).mul(1e9)); // 0 on and below the diagonal, -1e9 above
    const attnTf = (x: tf.Tensor) => {
      const [q, k, v] = tf.split(x, 3, 2);
      const heads = (t: tf.Tensor) => t.reshape([B, T, NH, hs]).transpose([0, 2, 1, 3]); // (B, NH, T, hs)
      const scores = tf.matMul(heads(q!), heads(k!), false, true).mul(1 / Math.sqrt(hs)).add(mask); // (B, NH, T, T)
      const y = tf.matMul(tf.softmax(scores), heads(v!)); // (B, NH, T, hs)
      return y.transpose([0, 2, 1, 3]).reshape([B, T, C]);
    };
    const attnGrad = tf.grad((x: tf.Tensor) => attnTf(x));
    const fwd = (enc: GPUCommandEncoder) => attentionForward(gpu, enc, { out, lse, qkv, B, T, C, NH });
    const flopsF = 4 * B * NH * T * T * hs;
    cases.push({
      group: 'attention', kernel: 'attention forward', shape: `B${B} T${T} C${C} NH${NH}`, unit: 'GFLOP/s', amount: flopsF,
      ours: fwd, peer: () => tf.tidy(() => attnTf(tq)), oursOut: () => gpu.readF32(out, BT * C),
    });
    cases.push({
      group: 'attention', kernel: 'attention forward+backward', shape: `B${B} T${T} C${C} NH${NH}`, unit: 'GFLOP/s', amount: 3 * flopsF,
      ours: (enc) => {
        fwd(enc);
        attentionBackward(gpu, enc, { dqkv, delta, dout, qkv, out, lse, B, T, C, NH });
      },
      peer: () => attnGrad(tq, tdout),
      oursOut: () => gpu.readF32(dqkv, BT * 3 * C),
      note: 'tfjs: matMul + mask + softmax + matMul, tf.grads; dqkv compared',
    });
  }

  // Cross-entropy over (BT, V) logits.
  {
    const logitsD = data(BT * V, 31, 4);
    const logits = gpu.upload(logitsD);
    owned.push(logits);
    const losses = buf(BT), loss = buf(1), dlogits = buf(BT * V);
    const tl = tf.tensor2d(logitsD, [BT, V]);
    const onehot = tf.oneHot(tf.tensor1d(tokensData, 'int32'), V).toFloat();
    const ceTf = (x: tf.Tensor) => tf.logSoftmax(x).mul(onehot).sum(-1).mean().neg() as tf.Scalar;
    const ceGrad = tf.grad(ceTf);
    const fwd = (enc: GPUCommandEncoder) => {
      crossEntropyForward(gpu, enc, { losses, logits, targets: tokens, BT, V });
      meanLoss(gpu, enc, { out: loss, losses, n: BT });
    };
    cases.push({
      group: 'cross-entropy', kernel: 'cross-entropy forward (mean loss)', shape: `${BT}x${V}`, unit: 'GB/s', amount: 4 * (BT * V + 2 * BT),
      ours: fwd, peer: () => tf.tidy(() => ceTf(tl)), oursOut: () => gpu.readF32(loss, 1),
    });
    cases.push({
      group: 'cross-entropy', kernel: 'cross-entropy forward+backward', shape: `${BT}x${V}`, unit: 'GB/s', amount: 4 * (3 * BT * V + 3 * BT),
      ours: (enc) => {
        fwd(enc);
        crossEntropyBackward(gpu, enc, { dlogits, logits, targets: tokens, BT, V });
      },
      peer: () => ceGrad(tl),
      oursOut: () => gpu.readF32(dlogits, BT * V),
    });
  }

  // Activation on the MLP's (BT, 4C) hidden layer.
  {
    const n = BT * 4 * C;
    const inpD = data(n, 41), doutD = data(n, 42);
    const inp = gpu.upload(inpD), dout = gpu.upload(doutD);
    owned.push(inp, dout);
    const out = buf(n), dinp = buf(n);
    const ti = tf.tensor1d(inpD), td = tf.tensor1d(doutD);
    const reluGrad = tf.grad((x: tf.Tensor) => tf.relu(x));
    cases.push({
      group: 'activation', kernel: 'relu forward', shape: `${BT}x${4 * C}`, unit: 'GB/s', amount: 8 * n,
      ours: (enc) => activationForward(gpu, enc, { out, inp, n, kind: 'relu' }),
      peer: () => tf.relu(ti), oursOut: () => gpu.readF32(out, n),
    });
    cases.push({
      group: 'activation', kernel: 'relu backward', shape: `${BT}x${4 * C}`, unit: 'GB/s', amount: 12 * n,
      ours: (enc) => activationBackward(gpu, enc, { dinp, inp, dout, n, kind: 'relu' }),
      peer: () => reluGrad(ti, td), oursOut: () => gpu.readF32(dinp, n),
    });
    cases.push({
      group: 'activation', kernel: 'gelu (erf) forward', shape: `${BT}x${4 * C}`, unit: 'GB/s', amount: 8 * n,
      ours: (enc) => activationForward(gpu, enc, { out, inp, n, kind: 'gelu' }),
      note: 'tfjs has no GELU op',
    });
  }

  // Bias gradient: column sums of (BT, 4C).
  {
    const doutD = data(BT * 4 * C, 51);
    const dout = gpu.upload(doutD);
    owned.push(dout);
    const db = buf(4 * C);
    const td = tf.tensor2d(doutD, [BT, 4 * C]);
    cases.push({
      group: 'bias', kernel: 'bias backward (column sums)', shape: `${BT}x${4 * C}`, unit: 'GB/s', amount: 4 * BT * 4 * C,
      ours: (enc) => {
        enc.clearBuffer(db);
        biasBackward(gpu, enc, { dbias: db, dout, M: BT, N: 4 * C });
      },
      peer: () => tf.sum(td, 0), oursOut: () => gpu.readF32(db, 4 * C),
    });
  }

  // Embeddings.
  {
    const wteD = data(V * C, 61), wpeD = data(T * C, 62), doutD = data(BT * C, 63);
    const wte = gpu.upload(wteD), wpe = gpu.upload(wpeD), dout = gpu.upload(doutD);
    owned.push(wte, wpe, dout);
    const out = buf(BT * C), dwte = buf(V * C), dwpe = buf(T * C);
    const twte = tf.tensor2d(wteD, [V, C]), twpe = tf.tensor2d(wpeD, [T, C]);
    const ttok = tf.tensor2d(tokensData, [B, T], 'int32');
    cases.push({
      group: 'embedding', kernel: 'embedding forward', shape: `${BT}x${C}`, unit: 'GB/s', amount: 4 * (2 * BT * C + BT),
      ours: (enc) => embeddingForward(gpu, enc, { out, tokens, wte, wpe, B, T, C }),
      peer: () => tf.tidy(() => tf.gather(twte, ttok).add(twpe).reshape([BT, C])), oursOut: () => gpu.readF32(out, BT * C),
    });
    cases.push({
      group: 'embedding', kernel: 'embedding backward', shape: `${BT}x${C}`, unit: 'GB/s', amount: 4 * (BT * C + BT + V * C + T * C),
      ours: (enc) => embeddingBackward(gpu, enc, { dwte, dwpe, dout, tokens, B, T, C, V }),
      note: 'deterministic, no atomics',
    });
  }

  // Global gradient norm + AdamW over all parameters of the reference model.
  {
    const P = paramCount({ ...DEFAULT_MODEL, vocabSize: V });
    const params = buf(P, 71), grads = buf(P, 72, 1e-3), m = buf(P), v = buf(P);
    const scratch = buf(gradNormScratchFloats(P)), norm = buf(1);
    const hyper = gpu.upload(adamwHyper({ lr: 3e-4, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, maxNorm: 1, t: 10 }));
    owned.push(hyper);
    const tvar = tf.variable(tf.tensor1d(data(P, 71)));
    const tgrad = tf.tensor1d(data(P, 72, 1e-3));
    const opt = tf.train.adam(3e-4, 0.9, 0.99, 1e-8);
    cases.push({
      group: 'optimizer', kernel: 'grad norm + AdamW', shape: `${P} params`, unit: 'GB/s', amount: 4 * P * 8,
      ours: (enc) => {
        gradNorm(gpu, enc, { norm, grads, n: P, scratch });
        adamw(gpu, enc, { params, grads, m, v, offset: 0, count: P, decay: true, hyper, norm });
      },
      peer: () => {
        opt.applyGradients([{ name: tvar.name, tensor: tgrad }]);
        return [];
      },
      note: 'tfjs: tf.train.adam (no clipping, no decay)',
    });
  }

  const rows: KernelRow[] = [];
  for (const c of cases) {
    if (!o.only.test(`${c.group} ${c.kernel}`)) continue;
    const ours: Timed = {
      run: (n) => gpu.submit((enc) => {
        for (let i = 0; i < n; i++) c.ours(enc);
      }),
      finish: () => gpu.finish(),
    };
    const impls: Timed[] = [ours];
    let diff: number | undefined;
    if (c.peer) {
      const peerOnce = c.peer;
      impls.push({
        run: (n) => {
          for (let i = 0; i < n; i++) tf.dispose(peerOnce());
        },
        finish: peerFinish,
      });
      if (c.oursOut) {
        gpu.submit((enc) => c.ours(enc));
        const got = await c.oursOut();
        const res = peerOnce();
        const first = Array.isArray(res) ? res[0] : res;
        if (first) diff = maxRelDiff(got, (await first.data()) as Float32Array);
        tf.dispose(res);
      }
    }
    const t = await timeSideBySide(impls, o.plan);
    const row: KernelRow = {
      group: c.group,
      kernel: c.kernel,
      shape: c.shape,
      unit: c.unit,
      oursMs: t[0]!.ms,
      ours: c.amount / t[0]!.ms / 1e6,
      note: c.note ?? '',
    };
    if (t[1]) Object.assign(row, { peerMs: t[1].ms, peer: c.amount / t[1].ms / 1e6, ratio: t[1].ms / t[0]!.ms, maxDiff: diff });
    o.log(
      `${row.kernel} ${row.shape}: ours ${row.oursMs.toFixed(2)} ms` +
        (row.peerMs !== undefined ? `, tfjs ${row.peerMs.toFixed(2)} ms, ratio ${row.ratio!.toFixed(2)}x` : '') +
        (diff !== undefined ? `, maxdiff ${diff.toExponential(1)}` : ''),
    );
    rows.push(row);
  }
  for (const b of owned) gpu.destroy(b);
  tf.disposeVariables();
  return rows;
}
