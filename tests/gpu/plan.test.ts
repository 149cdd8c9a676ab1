// The step plan's instrument: what it records of a step (without running it)
// and the arithmetic of its roofline model, on a tiny config.
import { describe, expect, it } from 'vitest';
import { KERNEL_GROUPS, kernelGroup } from '../../src/gpu/profiler';
import { matmul } from '../../src/kernels/matmul';
import type { ModelConfig, TrainConfig } from '../../src/model/config';
import { DEFAULT_TRAIN } from '../../src/model/config';
import { GptModel, stepHyper } from '../../src/model/gpt';
import {
  COPY_FIXED_US,
  DISPATCH_FIXED_US,
  PASS_FIXED_US,
  PROFILES,
  occupancy,
  planJson,
  summarize,
  underfills,
} from '../../bench/plan/model';
import { stepRecorder } from '../../bench/plan/record';
import { checked, testGpu } from './context';

const cfg: ModelConfig = {
  nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 8, vocabSize: 13, dropout: 0.1, bias: true, tieWeights: false, activation: 'gelu',
};
const train: TrainConfig = { ...DEFAULT_TRAIN, batchSize: 3 };

describe('step plan', () => {
  it('records dispatches, compute passes, copies and clears without running anything', async () => {
    const { handle } = await testGpu();
    const rec = stepRecorder(handle.device);
    const gpu = rec.gpu;
    const [M, N, K] = [37, 29, 19];
    const a = gpu.upload(new Float32Array(M * K).fill(1));
    const b = gpu.upload(new Float32Array(N * K).fill(1));
    const bias = gpu.upload(new Float32Array(N).fill(1));
    const out = gpu.upload(new Float32Array(M * N).fill(Number.NaN));
    const dx = gpu.upload(new Float32Array(M * K).fill(Number.NaN));
    const y = gpu.upload(new Float32Array(M * N).fill(Number.NaN));
    const { dispatches, commands } = await checked(gpu, () =>
      rec.record(() =>
        gpu.submit((enc) => {
          enc.clearBuffer(y);
          const pass = enc.beginComputePass();
          matmul(gpu, pass, { site: 'attn.c_attn', out, a, b, bias, M, N, K, transB: true }); // (M, N) = a (M, K) b (N, K)^T + bias
          matmul(gpu, pass, { site: 'attn.c_attn', out: dx, a: out, b, M, N: K, K: N }); // (M, K) = out (M, N) b (N, K)
          pass.end();
          matmul(gpu, enc, { site: 'mlp.c_fc', out: y, a: dx, b, M, N, K, transB: true }); // its own pass
          enc.copyBufferToBuffer(a, 0, b, 0, 64);
        }),
      ),
    );
    expect(commands).toMatchObject({ passes: 2, clears: 1, copies: 1, copyBytes: 64, clearBytes: y.size, dispatchCommands: 3, submits: 1 });
    expect(dispatches.map((d) => d.label)).toEqual(['attn.c_attn fwd', 'attn.c_attn dX', 'mlp.c_fc fwd']);
    expect(dispatches.map((d) => d.flops)).toEqual([2 * M * N * K, 2 * M * K * N, 2 * M * N * K]);
    // bytes: A and B read once, C written once, the bias read once
    expect(dispatches.map((d) => d.bytes)).toEqual([
      4 * (M * K + N * K + M * N + N),
      4 * (M * N + N * K + M * K),
      4 * (M * K + N * K + M * N),
    ]);
    for (const d of dispatches) {
      expect(d.kernel).toMatch(/^matmul/);
      expect(d.workgroupSize).toBeGreaterThan(0);
      expect(d.workgroups.every((w) => w >= 1)).toBe(true);
    }
    // Recorded, never run: the outputs still hold their NaN.
    for (const buf of [out, dx, y]) expect(Number.isNaN((await gpu.readF32(buf, 1))[0])).toBe(true);
    for (const buf of [a, b, bias, out, dx, y]) gpu.destroy(buf);

    // The roofline model, recomputed by hand for every profile.
    for (const p of PROFILES) {
      const s = summarize(dispatches, commands, p);
      let roofline = 0;
      let predicted = 0;
      for (const d of dispatches) {
        const r = Math.max(d.flops / p.peakFlops, d.bytes / p.bandwidth);
        const w = d.workgroups[0] * d.workgroups[1] * d.workgroups[2];
        const wave = 2 * p.computeUnits;
        roofline += r;
        predicted += r / (w / (wave * Math.ceil(w / wave))) + DISPATCH_FIXED_US * 1e-6;
        expect(underfills(d, p)).toBe(w < wave);
      }
      predicted += 2 * PASS_FIXED_US * 1e-6 + 2 * COPY_FIXED_US * 1e-6 + (2 * 64 + y.size) / p.bandwidth;
      expect(s.rooflineMs).toBeCloseTo(roofline * 1e3, 12);
      expect(s.predictedMs).toBeCloseTo(predicted * 1e3, 12);
      expect(s.underfilled).toBe(dispatches.length);
    }
  });

  it('occupancy: full waves of twice the compute units, a partial last wave idles', () => {
    const p = PROFILES.find((x) => x.id === 'rtx-4070')!;
    const d = (w: number) => ({ kernel: 'k', workgroups: [w, 1, 1] as [number, number, number], workgroupSize: 64, flops: 1, bytes: 1 });
    expect(occupancy(d(92), p)).toBe(1);
    expect(occupancy(d(46), p)).toBe(0.5);
    expect(occupancy(d(93), p)).toBeCloseTo(93 / 184, 12);
    expect(occupancy(d(920), p)).toBe(1);
    expect(underfills(d(91), p)).toBe(true);
    expect(underfills(d(92), p)).toBe(false);
  });

  it('one training step of a tiny model: every dispatch described, every matmul 2MNK, totals the sums', async () => {
    const { handle } = await testGpu();
    const rec = stepRecorder(handle.device);
    const B = train.batchSize;
    const BT = B * cfg.blockSize;
    const model = new GptModel(rec.gpu, cfg, B);
    const batch = { x: new Int32Array(BT), y: new Int32Array(BT) };
    const { dispatches, commands } = await checked(rec.gpu, () => rec.record(() => model.step(batch, stepHyper(train, 0))));
    await model.finish?.();
    model.destroy();

    expect(dispatches.length).toBeGreaterThan(20);
    for (const d of dispatches) {
      expect(d.kernel, JSON.stringify(d)).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(d.kernel).not.toBe('kernel');
      expect(d.workgroupSize, d.kernel).toBeGreaterThan(0);
      expect(d.bytes, d.kernel).toBeGreaterThan(0);
    }
    const { nEmbd: C, vocabSize: V } = cfg;
    // (M, N, K) of each Linear's forward, dX and dW at these shapes.
    const linears: Record<string, [number, number]> = { 'attn.c_attn': [3 * C, C], 'attn.c_proj': [C, C], 'mlp.c_fc': [4 * C, C], 'mlp.c_proj': [C, 4 * C], lm_head: [V, C] };
    // Each product of each Linear appears once per layer (the head once) with 2MNK FLOPs; a split-K
    // product may add a reduction dispatch under the same label.
    for (const [site, [out, inp]] of Object.entries(linears)) {
      for (const dir of ['fwd', 'dX', 'dW']) {
        const [M, N, K] = dir === 'fwd' ? [BT, out, inp] : dir === 'dX' ? [BT, inp, out] : [out, inp, BT];
        const products = dispatches.filter((d) => d.label === `${site} ${dir}` && d.flops === 2 * M * N * K);
        expect(products.length, `${site} ${dir}`).toBe(site === 'lm_head' ? 1 : cfg.nLayer);
      }
    }
    // The fused step: the weight and norm gradients of the tail and of each block finish in one gradient
    // reduce each (no split-K reduce, no norm parameter passes), the residual branches drop their output in
    // the projections' epilogue, the embeddings' dropout runs inside the embedding kernels (both gradients
    // in one dispatch), and the loss and dlogits come from one pass over the logits.
    const count = (k: string) => dispatches.filter((d) => d.kernel === k).length;
    expect(count('grad_reduce')).toBe(cfg.nLayer + 1);
    expect(count('embedding_backward')).toBe(1);
    expect(count('cross_entropy')).toBe(1);
    for (const gone of ['matmul_splitk_reduce', 'layernorm_backward_params', 'layernorm_backward_params_reduce', 'dropout_residual', 'embedding_backward_wte', 'embedding_backward_wpe', 'cross_entropy_forward', 'cross_entropy_backward']) {
      expect(count(gone), gone).toBe(0);
    }
    // Every group of the profile appears in a step.
    const groups = new Set(dispatches.map(kernelGroup));
    for (const g of KERNEL_GROUPS) expect(groups.has(g), g).toBe(true);

    const json = planJson({ ...cfg, batchSize: B }, dispatches, commands);
    expect(json.passes).toBe(commands.passes);
    expect(json.passes).toBeGreaterThanOrEqual(1);
    expect(json.passes).toBeLessThanOrEqual(dispatches.length);
    expect(json.copies).toBe(commands.copies + commands.clears);
    expect(json.dispatches.length).toBe(dispatches.length);
    for (const p of PROFILES) {
      const sum = json.dispatches.reduce((s, d) => s + Math.max(d.flops / p.peakFlops, d.bytes / p.bandwidth), 0) * 1e3;
      expect(json.rooflineMs[p.id]).toBeCloseTo(sum, 12);
      expect(json.predictedMs[p.id]).toBeGreaterThan(json.rooflineMs[p.id]!);
    }
  });
  it('one decoded token records one compute pass and one copy (the logits readback), GPT-2 and LLaMA blocks', async () => {
    const { handle } = await testGpu();
    for (const config of [cfg, { ...cfg, block: 'llama' as const, nKvHead: 1, bias: false, dropout: 0 }]) {
      const rec = stepRecorder(handle.device);
      const model = new GptModel(rec.gpu, config, 2);
      const dec = model.decoder();
      await rec.record(() => void dec.push(1).catch(() => {}));
      const { dispatches, commands } = await checked(rec.gpu, () => rec.record(() => dec.push(2)));
      dec.dispose();
      model.destroy();
      expect(commands).toMatchObject({ passes: 1, copies: 1, clears: 0, copyBytes: 4 * cfg.vocabSize, submits: 1 });
      expect(dispatches.length).toBe(commands.dispatchCommands);
      expect(dispatches.filter((d) => d.kernel === 'kv_append').length).toBe(cfg.nLayer);
      expect(dispatches.filter((d) => d.kernel === 'embedding_forward').length).toBe(1);
    }
  });
});
