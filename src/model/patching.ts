// Activation patching on the GPU (float64 reference: tests/reference/interventions.ts).
// Clean and corrupted prompts of equal length T (batch 1); the metric is
// logit[target] - logit[other] at the last position. A patch copies the clean
// run's activation into the corrupted run:
//   residual   hook_resid_pre[l] at position t (l = 0..L; l = L is what the final norm reads)
//   head       head h's slice of hook_z[l] at position t
// fraction restored = (patched - corrupted) / (clean - corrupted), grids
// residual (L+1, T) and heads (T, L, H).
//
// One clean forward caches every hook_resid_pre and hook_z (T rows each);
// then one command buffer of (L+1)T + T L H + 1 corrupted forwards, each
// followed by a copy of its two logits into a results buffer; one readback.
import type { Binding, Gpu, Recorder } from '../gpu/runtime';
import { patchRows } from '../kernels/intervention';
import type { ModelConfig } from './config';
import { blockDims } from './description';
import type { ForwardHooks, HookedForward } from './hooks';
import { copyFloat } from './interventions';

export interface PatchingRequest {
  clean: Int32Array;
  corrupted: Int32Array;
  target: number;
  other: number;
}

export interface PatchingResult {
  T: number;
  L: number;
  H: number;
  /** logit[target] - logit[other] at the last position of the clean and corrupted runs */
  clean: number;
  corrupted: number;
  /** (L+1, T) fraction restored by patching the residual stream entering layer l at position t */
  resid: Float32Array;
  /** (T, L, H) fraction restored by patching head h of layer l at position t */
  heads: Float32Array;
}

/** The sentence that says why a patching request cannot run, or null. */
export function patchingProblem(config: ModelConfig, r: PatchingRequest): string | null {
  const V = config.vocabSize;
  if (r.clean.length !== r.corrupted.length) {
    return `The clean and corrupted prompts must have the same number of tokens to patch position by position; they have ${r.clean.length} and ${r.corrupted.length}.`;
  }
  if (r.clean.length < 1 || r.clean.length > config.blockSize) return `A prompt must hold 1 to ${config.blockSize} tokens, got ${r.clean.length}.`;
  for (const id of [...r.clean, ...r.corrupted]) if (!(id >= 0 && id < V)) return `Token id ${id} is outside the vocabulary (0..${V - 1}).`;
  for (const [name, id] of [['target', r.target], ['other', r.other]] as const) {
    if (!(Number.isInteger(id) && id >= 0 && id < V)) return `The ${name} token ${id} is outside the vocabulary (0..${V - 1}).`;
  }
  if (r.target === r.other) return 'The target and the other token are the same, so their logit difference is always 0; pick two different tokens.';
  return null;
}

export async function activationPatching(gpu: Gpu, model: { readonly config: ModelConfig; hooked(): HookedForward }, r: PatchingRequest): Promise<PatchingResult> {
  const problem = patchingProblem(model.config, r);
  if (problem) throw new Error(problem);
  const { nLayer: L, vocabSize: V } = model.config;
  const { C, H, D } = blockDims(model.config);
  const HD = H * D;
  const T = r.clean.length;
  const hf = model.hooked();
  const zBase = (L + 1) * T * C;
  const cache = gpu.buffer(4 * (zBase + L * T * HD), 'clean activations'); // resid_pre (L+1, T, C) | z (L, T, HD)
  const sites = (L + 1) * T + T * L * H;
  const results = gpu.buffer(4 * 2 * (sites + 2), 'patched logits');
  const logitsAt = (encoder: GPUCommandEncoder, k: number) => {
    copyFloat(encoder, hf.logits, (T - 1) * V + r.target, results, 2 * k);
    copyFloat(encoder, hf.logits, (T - 1) * V + r.other, results, 2 * k + 1);
  };
  try {
    // The clean run, caching every resid_pre and z.
    const save: ForwardHooks = {
      layer: (l) => ({
        residPre: (rec, resid) => patchRows(gpu, rec, { dst: cache, src: resid, S: C, r0: 0, rows: T, lo: 0, width: C, dstBase: l * T * C }),
        z: (rec, atty) => patchRows(gpu, rec, { dst: cache, src: atty, S: HD, r0: 0, rows: T, lo: 0, width: HD, dstBase: zBase + l * T * HD }),
      }),
      final: (rec, resid) => patchRows(gpu, rec, { dst: cache, src: resid, S: C, r0: 0, rows: T, lo: 0, width: C, dstBase: L * T * C }),
    };
    hf.writeTokens(r.clean);
    let encoder = gpu.device.createCommandEncoder({ label: 'patching: clean' });
    let pass = encoder.beginComputePass({ label: 'clean' });
    hf.record(pass, 1, T, save);
    pass.end();
    logitsAt(encoder, 0);
    gpu.device.queue.submit([encoder.finish()]);

    hf.writeTokens(r.corrupted);
    encoder = gpu.device.createCommandEncoder({ label: 'patching: corrupted' });
    const run = (k: number, hooks: ForwardHooks | null) => {
      pass = encoder.beginComputePass({ label: `patch ${k}` });
      hf.record(pass, 1, T, hooks);
      pass.end();
      logitsAt(encoder, k);
    };
    run(1, null);
    let k = 2;
    for (let l = 0; l <= L; l++) {
      for (let t = 0; t < T; t++) {
        const patch = (rec: Recorder, resid: Binding) => patchRows(gpu, rec, { dst: resid, src: cache, S: C, r0: t, rows: 1, lo: 0, width: C, srcBase: l * T * C });
        run(k++, l < L ? { layer: (m) => (m === l ? { residPre: patch } : null) } : { layer: () => null, final: patch });
      }
    }
    for (let t = 0; t < T; t++) {
      for (let l = 0; l < L; l++) {
        for (let h = 0; h < H; h++) {
          run(k++, {
            layer: (m) => (m === l ? { z: (rec, atty) => patchRows(gpu, rec, { dst: atty, src: cache, S: HD, r0: t, rows: 1, lo: h * D, width: D, srcBase: zBase + l * T * HD }) } : null),
          });
        }
      }
    }
    gpu.device.queue.submit([encoder.finish()]);
    const got = await gpu.readF32(results, 2 * (sites + 2));
    const metric = (i: number) => got[2 * i] - got[2 * i + 1];
    const clean = metric(0);
    const corrupted = metric(1);
    if (!(Math.abs(clean - corrupted) > 1e-6)) {
      throw new Error(`The clean and corrupted prompts give the same logit difference (${clean.toFixed(4)}), so there is nothing to restore; change the corrupted prompt where it matters.`);
    }
    const restored = (i: number) => (metric(i) - corrupted) / (clean - corrupted);
    const resid = Float32Array.from({ length: (L + 1) * T }, (_, i) => restored(2 + i));
    const heads = Float32Array.from({ length: T * L * H }, (_, i) => restored(2 + (L + 1) * T + i));
    return { T, L, H, clean, corrupted, resid, heads };
  } finally {
    gpu.destroy(cache);
    gpu.destroy(results);
  }
}



