// The GPU interventions (src/model/interventions.ts, patching.ts,
// attribution.ts over shaders/ablate.wgsl and shaders/patch_rows.wgsl) against
// the float64 references (tests/reference/interventions.ts, llamaInterventions.ts)
// on random models of awkward sizes, both blocks: the ablation grid (zero and
// mean), sublayer ablations, a live ablation in the prompt forward, residual
// and head patching, and direct logit attribution with its sum and difference.
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/model/config';
import { GptModel } from '../../src/model/gpt';
import { llamaTensors } from '../../src/model/hfFiles';
import { ablatedLosses, ablationGrid, ablationHooks, ablationProblem, type Ablation } from '../../src/model/interventions';
import { activationPatching, patchingProblem } from '../../src/model/patching';
import { attributionProblem, directLogitAttribution } from '../../src/model/attribution';
import { initParams, paramLayout, type ParamLayout } from '../../src/model/layout';
import { blockDims } from '../../src/model/description';
import { compare, report } from '../reference/compare';
import type { Tensors } from '../reference/gpt';
import * as gptRef from '../reference/interventions';
import type { Hooks, HookedRun } from '../reference/interventions';
import type { LlamaRefConfig } from '../reference/llama';
import * as llamaRef from '../reference/llamaInterventions';
import { randInts } from '../reference/random';
import { inContextLearning } from '../../src/engine/insights';
import { Serial } from '../../src/engine/serial';
import { checked, testGpu } from './context';

/** nanoGPT's init plus noise on norms and biases, larger matrices: attention far from uniform, every path matters. */
function params(layout: ParamLayout, seed: number): Float32Array {
  const p = initParams(layout, seed);
  const noise = initParams(layout, seed + 1);
  for (const t of layout.tensors) {
    if (t.decay) continue;
    for (let i = 0; i < t.size; i++) p[t.offset + i] += 0.3 * noise[(t.offset + i * 7) % layout.decayCount] * 20;
  }
  for (let i = 0; i < layout.decayCount; i++) p[i] *= 6;
  return p;
}

/** One block's float64 reference behind one interface. */
interface Ref {
  run(x: Int32Array, y: Int32Array | null, B: number, T: number, hooks?: Hooks): HookedRun;
  grid(x: Int32Array, y: Int32Array, B: number, T: number, mode: 'zero' | 'mean'): Float64Array;
  sublayer(x: Int32Array, y: Int32Array, B: number, T: number, layer: number, s: 'attn' | 'mlp', mode: 'zero' | 'mean'): number;
  patching(s: gptRef.PatchingSetup): { resid: Float64Array; heads: Float64Array; clean: number; corrupted: number };
  dla(x: Int32Array, pos: number, target: number, other?: number): gptRef.LogitAttribution;
}

function gpt2Ref(cfg: ModelConfig, layout: ParamLayout, w: Float32Array): Ref {
  const P: Tensors = new Map(layout.tensors.map((t) => [t.name, Float64Array.from(w.subarray(t.offset, t.offset + t.size))]));
  const c = { ...cfg, activation: cfg.activation } as gptRef.RefConfig;
  return {
    run: (x, y, B, T, hooks) => gptRef.runWithHooks(c, P, x, y, B, T, hooks),
    grid: (x, y, B, T, mode) => gptRef.ablationGrid(c, P, x, y, B, T, mode),
    sublayer: (x, y, B, T, l, s, mode) => gptRef.sublayerAblation(c, P, x, y, B, T, l, s, mode).delta,
    patching: (s) => {
      const r = gptRef.residualPatching(c, P, s);
      return { resid: r.restored, heads: gptRef.headPatching(c, P, s).restored, clean: r.clean, corrupted: r.corrupted };
    },
    dla: (x, pos, target, other) => gptRef.directLogitAttribution(c, P, x, 1, x.length, { row: 0, pos, target, other }),
  };
}

function llamaRefFor(cfg: ModelConfig, layout: ParamLayout, w: Float32Array): Ref {
  const P: Tensors = new Map(llamaTensors(layout, w).map(([n, t]) => [n, Float64Array.from(t.data as Float32Array)]));
  const d = blockDims(cfg);
  const c: LlamaRefConfig = {
    nLayer: cfg.nLayer, nHead: d.H, nKVHead: d.KV, nEmbd: d.C, headDim: d.D, intermediate: d.mlpHidden, vocabSize: cfg.vocabSize,
    blockSize: cfg.blockSize, tieWeights: cfg.tieWeights, ropeTheta: cfg.ropeTheta ?? 10000, rmsEps: cfg.rmsNormEps ?? 1e-5,
  };
  return {
    run: (x, y, B, T, hooks) => llamaRef.llamaRunWithHooks(c, P, x, y, B, T, hooks),
    grid: (x, y, B, T, mode) => llamaRef.llamaAblationGrid(c, P, x, y, B, T, mode),
    sublayer: (x, y, B, T, l, s, mode) => llamaRef.llamaSublayerAblation(c, P, x, y, B, T, l, s, mode).delta,
    patching: (s) => {
      const r = llamaRef.llamaPatching(c, P, s);
      return { resid: r.resid.restored, heads: r.heads.restored, clean: r.resid.clean, corrupted: r.resid.corrupted };
    },
    dla: (x, pos, target, other) => llamaRef.llamaDirectLogitAttribution(c, P, x, pos, target, other),
  };
}

const argmax = (a: ArrayLike<number>, lo: number, n: number, skip = -1) => {
  let best = -1;
  for (let v = 0; v < n; v++) if (v !== skip && (best < 0 || a[lo + v] > a[lo + best])) best = v;
  return best;
};

const BLOCKS: Array<[string, ModelConfig]> = [
  ['gpt2', { nLayer: 2, nHead: 3, nEmbd: 18, blockSize: 7, vocabSize: 13, dropout: 0, bias: true, tieWeights: false, activation: 'gelu' }],
  ['llama', {
    nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 24, ffnHidden: 19, blockSize: 7, vocabSize: 11, dropout: 0, bias: false, tieWeights: false,
    activation: 'gelu', block: 'llama',
  }],
];

describe.each(BLOCKS)('GPU interventions vs the float64 reference, %s block', (block, cfg) => {
  it('ablation grid (zero, mean), sublayer ablations, a live ablation, patching and logit attribution', async () => {
    const { gpu } = await testGpu();
    const B = 2;
    const T = cfg.blockSize;
    const layout = paramLayout(cfg);
    const w = params(layout, 5);
    const ref = block === 'llama' ? llamaRefFor(cfg, layout, w) : gpt2Ref(cfg, layout, w);
    const V = cfg.vocabSize;
    const { H } = blockDims(cfg);
    const x = randInts(B * T, V, 11);
    const y = randInts(B * T, V, 12);
    // Patching prompts (shorter than the context): the metric is the clean top token against the corrupted top token.
    const Tp = T - 1;
    const clean = randInts(Tp, V, 21);
    const corrupted = clean.slice();
    corrupted[1] = (clean[1] + 3) % V;
    corrupted[Tp - 2] = (clean[Tp - 2] + 5) % V;
    const cl = ref.run(clean, null, 1, Tp).logits;
    const target = argmax(cl, (Tp - 1) * V, V);
    const other = argmax(ref.run(corrupted, null, 1, Tp).logits, (Tp - 1) * V, V, target);
    const sub: Array<[number, 'attn' | 'mlp', 'zero' | 'mean']> = [[0, 'attn', 'zero'], [1, 'attn', 'mean'], [1, 'mlp', 'zero'], [0, 'mlp', 'mean']];
    const live: Ablation[] = [{ kind: 'head', layer: 1, head: 1, mode: 'zero' }, { kind: 'head', layer: 0, head: H - 1, mode: 'zero' }];

    const got = await checked(gpu, async () => {
      const model = new GptModel(gpu, cfg, B, { params: w });
      const zero = await ablationGrid(gpu, model, { x, y }, 'zero');
      const mean = await ablationGrid(gpu, model, { x, y }, 'mean');
      const subs = await ablatedLosses(gpu, model, { x, y }, [[], ...sub.map(([layer, kind, mode]) => [{ kind, layer, mode } as Ablation])]);
      const before = await model.logits(clean);
      model.viewHooks = ablationHooks(gpu, cfg, live, model.hooked().scratch);
      const ablatedLogits = await model.logits(clean);
      const dec = model.decoder();
      let decoded: Float32Array = new Float32Array(0);
      for (const id of clean) decoded = await dec.push(id);
      dec.dispose();
      // Evaluation's decoder leaves the live ablations out.
      const plain = model.decoder({ interventions: false });
      let unablated: Float32Array = new Float32Array(0);
      for (const id of clean) unablated = await plain.push(id);
      plain.dispose();
      const plainLogits = await model.logits(clean, { interventions: false });
      model.viewHooks = null;
      const after = await model.logits(clean);
      const patching = await activationPatching(gpu, model, { clean, corrupted, target, other });
      const dla = await directLogitAttribution(gpu, model, { ids: clean, pos: Tp - 2, target, other });
      const dlaOne = await directLogitAttribution(gpu, model, { ids: clean, pos: 0, target: other });
      model.destroy();
      return { zero, mean, subs, before, ablatedLogits, decoded, unablated, plainLogits, after, patching, dla, dlaOne };
    });

    const lines: string[] = [];
    const check = (label: string, g: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol = 1e-3) => {
      const c = compare(g, want, atol, rtol);
      lines.push(report(c, label));
      return c.ok ? null : `${label} (${report(c, label)})`;
    };
    const failures: Array<string | null> = [];
    failures.push(check('clean loss', [got.zero.clean], [ref.run(x, y, B, T).loss], 1e-4));
    failures.push(check('zero-ablation grid', got.zero.deltas, ref.grid(x, y, B, T, 'zero'), 2e-4));
    failures.push(check('mean-ablation grid', got.mean.deltas, ref.grid(x, y, B, T, 'mean'), 2e-4));
    failures.push(check('sublayer ablations', Array.from(got.subs.subarray(1), (v) => v - got.subs[0]), sub.map(([l, s, m]) => ref.sublayer(x, y, B, T, l, s, m)), 2e-4));
    const D = blockDims(cfg).D;
    const HD = H * D;
    const liveRef = ref.run(clean, null, 1, Tp, {
      z: (l, z) => {
        for (const a of live) if (a.kind === 'head' && a.layer === l) for (let n = 0; n < Tp; n++) z.fill(0, n * HD + a.head * D, n * HD + (a.head + 1) * D);
      },
    }).logits.subarray((Tp - 1) * V);
    failures.push(check('live zero-ablation of two heads (prompt forward)', got.ablatedLogits, liveRef, 2e-4));
    failures.push(check('live zero-ablation of two heads (key/value-cache decoder)', got.decoded, liveRef, 2e-4));
    failures.push(check('evaluation decoder without the live ablations', got.unablated, cl.subarray((Tp - 1) * V), 2e-4));
    failures.push(check('insights prompt forward without the live ablations', got.plainLogits, got.before, 0, 0));
    failures.push(check('switched off: the logits come back', got.after, got.before, 0, 0));
    failures.push(check('unablated prompt forward', got.before, cl.subarray((Tp - 1) * V), 2e-4));
    const p = ref.patching({ clean, corrupted, target, other });
    const gap = Math.abs(p.clean - p.corrupted);
    lines.push(`patching metric: clean ${p.clean.toFixed(4)}, corrupted ${p.corrupted.toFixed(4)}`);
    failures.push(check('patching clean / corrupted metric', [got.patching.clean, got.patching.corrupted], [p.clean, p.corrupted], 2e-4));
    failures.push(check('residual patching (L+1, T)', got.patching.resid, p.resid, 5e-4 / gap + 1e-4));
    failures.push(check('head patching (T, L, H)', got.patching.heads, p.heads, 5e-4 / gap + 1e-4));
    for (const [label, g, want] of [['dla logit difference', got.dla, ref.dla(clean, Tp - 2, target, other)], ['dla logit', got.dlaOne, ref.dla(clean, 0, other)]] as const) {
      expect(g.names).toEqual(want.names);
      failures.push(check(`${label}: contributions`, g.contributions, want.contributions, 2e-4));
      failures.push(check(`${label}: real logit`, [g.logit], [want.logit], 2e-4));
      failures.push(check(`${label}: norm bias`, [g.normBias], [want.lnfBias], 2e-4));
      // The sum of the contributions and the bias term give the real logit.
      failures.push(check(`${label}: sum + bias = logit`, [g.sum + g.normBias], [g.logit], 5e-4));
      failures.push(check(`${label}: difference = bias`, [g.difference], [g.normBias], 5e-4));
    }
    console.log(`[gpu interventions, ${block}]\n${lines.map((l) => `  ${l}`).join('\n')}`);
    // The interventions did something: the grids are not all zero, the live ablation moved the logits, patching the final residual restores all.
    expect(Math.max(...Array.from(got.zero.deltas, Math.abs))).toBeGreaterThan(1e-3);
    expect(Math.max(...Array.from(got.ablatedLogits, (v, i) => Math.abs(v - got.before[i])))).toBeGreaterThan(1e-3);
    expect(got.patching.resid[cfg.nLayer * Tp + Tp - 1]).toBeCloseTo(1, 4);
    expect(failures.filter((f) => f !== null)).toEqual([]);
  });
});

describe('bad interventions get a sentence', () => {
  const cfg: ModelConfig = { nLayer: 2, nHead: 2, nEmbd: 8, blockSize: 6, vocabSize: 10, dropout: 0, bias: true, tieWeights: false, activation: 'gelu' };
  it('unequal prompt lengths, a position beyond the prompt, a token outside the vocabulary, every head ablated', () => {
    const ids = Int32Array.of(1, 2, 3);
    expect(patchingProblem(cfg, { clean: ids, corrupted: Int32Array.of(1, 2), target: 1, other: 2 })).toMatch(/same number of tokens.*3 and 2/);
    expect(patchingProblem(cfg, { clean: ids, corrupted: ids, target: 10, other: 2 })).toMatch(/target token 10 is outside the vocabulary \(0\.\.9\)/);
    expect(attributionProblem(cfg, { ids, pos: 3, target: 1 })).toMatch(/Position 3 is beyond the prompt: it has positions 0 to 2/);
    expect(attributionProblem(cfg, { ids, pos: 2, target: 1, other: -1 })).toMatch(/other token -1 is outside/);
    const all: Ablation[] = [{ kind: 'attn', layer: 0, mode: 'zero' }, { kind: 'head', layer: 1, head: 0, mode: 'zero' }, { kind: 'head', layer: 1, head: 1, mode: 'mean' }];
    expect(ablationProblem(cfg, all)).toMatch(/Ablating every head \(all 4\)/);
    expect(ablationProblem(cfg, all.slice(0, 2))).toBeNull();
    expect(ablationProblem(cfg, [{ kind: 'head', layer: 2, head: 0, mode: 'zero' }])).toMatch(/Layer 2 does not exist/);
    expect(patchingProblem(cfg, { clean: ids, corrupted: Int32Array.of(1, 2, 4), target: 1, other: 2 })).toBeNull();
  });
});

describe('in-context-learning score on the GPU probe vs the float64 reference', () => {
  it('mean loss at the last query minus an early one, over evenly spaced validation windows', async () => {
    const { gpu } = await testGpu();
    const cfg = BLOCKS[0][1];
    const layout = paramLayout(cfg);
    const w = params(layout, 9);
    const val = randInts(40, cfg.vocabSize, 31);
    const icl = await checked(gpu, async () => {
      const model = new GptModel(gpu, cfg, 1, { params: w });
      const r = await inContextLearning(model, new Serial(), val, 3);
      model.destroy();
      return r;
    });
    const T = cfg.blockSize;
    expect(icl).not.toBeNull();
    expect([icl!.early, icl!.late, icl!.windows]).toEqual([1, T - 2, 3]);
    // The same windows (starts 0, (40 - T) / 2, 40 - T) as a batch of the reference: x = window[0..T-1), y = window[1..T).
    const starts = [0, Math.floor((40 - T) / 2), 40 - T];
    const x = Int32Array.from(starts.flatMap((s0) => Array.from(val.subarray(s0, s0 + T - 1))));
    const y = Int32Array.from(starts.flatMap((s0) => Array.from(val.subarray(s0 + 1, s0 + T))));
    const P: Tensors = new Map(layout.tensors.map((t) => [t.name, Float64Array.from(w.subarray(t.offset, t.offset + t.size))]));
    const want = gptRef.inContextLearningScore(cfg as gptRef.RefConfig, P, x, y, 3, T - 1, 1, T - 2);
    console.log(`[gpu icl] score ${icl!.score.toFixed(6)}, reference ${want.toFixed(6)}`);
    expect(Math.abs(icl!.score - want)).toBeLessThan(1e-4);
  });
});
