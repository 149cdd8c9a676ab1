// Ablations on the GPU (TransformerLens's definitions, float64 reference in
// tests/reference/interventions.ts):
//
//   head zero-ablation   hook_z[l][:, head h's slice] = 0            (before the output projection)
//   head mean-ablation   hook_z[l][:, slice] = its mean over the batch's rows (batch and positions)
//   sublayer ablation    hook_attn_out[l] or hook_mlp_out[l] (bias included) = 0 or its mean
//   delta                loss(ablated) - loss(clean), mean cross-entropy over the batch
//
// The ablation grid (L, H) is the delta of each head ablated alone: one
// command buffer of L*H + 1 forward passes over the model's own buffers, each
// followed by a copy of its loss into a results buffer, and one readback.
import type { Binding, Gpu } from '../gpu/runtime';
import { ablateColumns, type AblationMode } from '../kernels/intervention';
import type { ModelConfig } from './config';
import { blockDims } from './description';
import type { BlockHooks, ForwardHooks, HookedForward } from './hooks';

export type { AblationMode };

/** One intervention: a head of a layer, or a whole attention or MLP sublayer. */
export type Ablation =
  | { kind: 'head'; layer: number; head: number; mode: AblationMode }
  | { kind: 'attn' | 'mlp'; layer: number; mode: AblationMode };

/** The sentence that says why a set of ablations cannot run on this model, or null. */
export function ablationProblem(config: ModelConfig, ablations: readonly Ablation[]): string | null {
  const { nLayer: L } = config;
  const { H } = blockDims(config);
  for (const a of ablations) {
    if (!(Number.isInteger(a.layer) && a.layer >= 0 && a.layer < L)) return `Layer ${a.layer} does not exist: this model has layers 0 to ${L - 1}.`;
    if (a.kind === 'head' && !(Number.isInteger(a.head) && a.head >= 0 && a.head < H)) return `Head ${a.head} does not exist: each layer has heads 0 to ${H - 1}.`;
  }
  const off = new Set<string>();
  for (const a of ablations) {
    if (a.kind === 'attn') for (let h = 0; h < H; h++) off.add(`${a.layer}.${h}`);
    if (a.kind === 'head') off.add(`${a.layer}.${a.head}`);
  }
  if (off.size === L * H) return `Ablating every head (all ${L * H}) leaves the model no attention at all, so nothing is learned from it; keep at least one head on.`;
  return null;
}

/** Forward hooks that apply `ablations` (mean ablations average over the rows of each forward). */
export function ablationHooks(gpu: Gpu, config: ModelConfig, ablations: readonly Ablation[], scratch: Binding): ForwardHooks {
  const problem = ablationProblem(config, ablations);
  if (problem) throw new Error(problem);
  const { C, H, D } = blockDims(config);
  const HD = H * D;
  const byLayer = new Map<number, BlockHooks>();
  for (let l = 0; l < config.nLayer; l++) {
    const mine = ablations.filter((a) => a.layer === l);
    if (!mine.length) continue;
    const heads = mine.filter((a) => a.kind === 'head');
    const attn = mine.find((a) => a.kind === 'attn');
    const mlp = mine.find((a) => a.kind === 'mlp');
    const hooks: BlockHooks = { scratch };
    if (heads.length) {
      hooks.z = (rec, atty, N) => {
        for (const a of heads) ablateColumns(gpu, rec, { x: atty, N, S: HD, lo: a.head * D, width: D, mode: a.mode });
      };
    }
    if (attn) hooks.attnOut = (rec, out, N) => ablateColumns(gpu, rec, { x: out, N, S: C, lo: 0, width: C, mode: attn.mode });
    if (mlp) hooks.mlpOut = (rec, out, N) => ablateColumns(gpu, rec, { x: out, N, S: C, lo: 0, width: C, mode: mlp.mode });
    byLayer.set(l, hooks);
  }
  return { layer: (l) => byLayer.get(l) ?? null };
}

/** What the loss evaluation needs of a model (GptModel satisfies it). */
export interface AblatableModel {
  readonly config: ModelConfig;
  readonly batchSize: number;
  hooked(): HookedForward;
}

/**
 * Mean loss of (x, y) (B*T each, B = the model's batch size, T = its context)
 * under each set of ablations; the empty set is the clean loss. One submit.
 */
export async function ablatedLosses(gpu: Gpu, model: AblatableModel, batch: { x: Int32Array; y: Int32Array }, sets: readonly (readonly Ablation[])[]): Promise<Float32Array> {
  const B = model.batchSize;
  const T = model.config.blockSize;
  if (batch.x.length !== B * T || batch.y.length !== B * T) throw new Error(`An ablation batch must hold ${B * T} inputs and targets, got ${batch.x.length} and ${batch.y.length}.`);
  const hf = model.hooked();
  const hooks = sets.map((s) => (s.length ? ablationHooks(gpu, model.config, s, hf.scratch) : null));
  hf.writeTokens(batch.x, batch.y);
  const results = gpu.buffer(4 * Math.max(1, sets.length), 'ablation losses');
  try {
    const encoder = gpu.device.createCommandEncoder({ label: 'ablations' });
    hooks.forEach((h, k) => {
      const pass = encoder.beginComputePass({ label: `ablation ${k}` });
      hf.record(pass, B, T, h);
      hf.recordLoss(pass, B * T);
      pass.end();
      copyFloat(encoder, hf.loss, 0, results, k);
    });
    gpu.device.queue.submit([encoder.finish()]);
    return await gpu.readF32(results, sets.length);
  } finally {
    gpu.destroy(results);
  }
}

/** Copy float `i` of a binding to float `k` of a buffer. */
export function copyFloat(encoder: GPUCommandEncoder, src: Binding, i: number, dst: GPUBuffer, k: number): void {
  const [buffer, offset] = 'buffer' in src ? [src.buffer, src.offset] : [src, 0];
  encoder.copyBufferToBuffer(buffer, offset + 4 * i, dst, 4 * k, 4);
}

export interface AblationGrid {
  mode: AblationMode;
  clean: number;
  /** (L, H) loss(ablated) - loss(clean), each head alone */
  deltas: Float32Array;
  L: number;
  H: number;
}

/** The (L, H) change in loss with each head alone ablated. */
export async function ablationGrid(gpu: Gpu, model: AblatableModel, batch: { x: Int32Array; y: Int32Array }, mode: AblationMode): Promise<AblationGrid> {
  const L = model.config.nLayer;
  const { H } = blockDims(model.config);
  const sets: Ablation[][] = [[]];
  for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) sets.push([{ kind: 'head', layer: l, head: h, mode }]);
  const losses = await ablatedLosses(gpu, model, batch, sets);
  const clean = losses[0];
  return { mode, clean, deltas: losses.slice(1).map((v) => v - clean), L, H };
}
