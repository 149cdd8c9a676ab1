// Direct logit attribution (TransformerLens's convention; float64 reference in
// tests/reference/interventions.ts and tests/reference/llamaInterventions.ts).
// The final residual at a position is a sum of components r_i: the token
// embedding, the position embedding (GPT-2 block only; the LLaMA block has
// none), each head's z_h W_O[:, h]^T, the attention bias (GPT-2 with biases)
// and each MLP's output. The final norm's scale is frozen from the real
// forward, so the norm is linear and splits the logit exactly:
//
//   GPT-2 (LayerNorm):  contribution_i = (r_i - mean(r_i)) rstd  w . u
//   LLaMA (RMSNorm):    contribution_i = r_i rstd  w . u
//   u = W_U[target] (- W_U[other] for a logit difference)
//   logit = sum_i contribution_i + ln_f.bias . u
//
// The forward runs on the GPU with hooks that keep z and the MLP outputs at
// the position; the (C)-sized products are done here in float64.
import type { Gpu } from '../gpu/runtime';
import { patchRows } from '../kernels/intervention';
import type { ModelConfig } from './config';
import { blockDims, blockKind, lmHeadName, roleName } from './description';
import type { HookedForward } from './hooks';

export interface AttributionRequest {
  ids: Int32Array;
  /** position in the prompt (0..T-1) whose next-token logit is attributed */
  pos: number;
  target: number;
  /** attribute logit[target] - logit[other] */
  other?: number;
}

export interface Attribution {
  /** embed, [pos_embed], then per layer L{l}.H{h}..., [L{l}.attn_bias], L{l}.mlp */
  names: string[];
  contributions: Float64Array;
  /** sum of the contributions */
  sum: number;
  /** the real logit (or logit difference) of the forward */
  logit: number;
  /** logit - sum: the final norm's bias term (plus float32 rounding) */
  difference: number;
  /** ln_f.bias . u (0 for RMSNorm or without biases) */
  normBias: number;
}

export function attributionProblem(config: ModelConfig, r: AttributionRequest): string | null {
  const V = config.vocabSize;
  const T = r.ids.length;
  if (T < 1 || T > config.blockSize) return `A prompt must hold 1 to ${config.blockSize} tokens, got ${T}.`;
  for (const id of r.ids) if (!(id >= 0 && id < V)) return `Token id ${id} is outside the vocabulary (0..${V - 1}).`;
  if (!(Number.isInteger(r.pos) && r.pos >= 0 && r.pos < T)) return `Position ${r.pos} is beyond the prompt: it has positions 0 to ${T - 1}.`;
  const tokens: Array<[string, number | undefined]> = [['target', r.target], ['other', r.other]];
  for (const [name, id] of tokens) {
    if (id !== undefined && !(Number.isInteger(id) && id >= 0 && id < V)) return `The ${name} token ${id} is outside the vocabulary (0..${V - 1}).`;
  }
  return null;
}

export async function directLogitAttribution(gpu: Gpu, model: { readonly config: ModelConfig; hooked(): HookedForward }, r: AttributionRequest): Promise<Attribution> {
  const cfg = model.config;
  const problem = attributionProblem(cfg, r);
  if (problem) throw new Error(problem);
  const { nLayer: L, vocabSize: V } = cfg;
  const { C, H, D } = blockDims(cfg);
  const HD = H * D;
  const T = r.ids.length;
  const i = r.pos;
  const llama = blockKind(cfg) === 'llama';
  const hf = model.hooked();
  const mlpBase = L * HD;
  const cache = gpu.buffer(4 * (mlpBase + L * C), 'attribution rows'); // z rows (L, HD) | mlp rows (L, C)
  try {
    hf.writeTokens(r.ids);
    const encoder = gpu.device.createCommandEncoder({ label: 'attribution' });
    const pass = encoder.beginComputePass({ label: 'attribution' });
    hf.record(pass, 1, T, {
      layer: (l) => ({
        scratch: hf.scratch,
        z: (rec, atty) => patchRows(gpu, rec, { dst: cache, src: atty, S: HD, r0: i, dstR0: l, rows: 1, lo: 0, width: HD }),
        mlpOut: (rec, out) => patchRows(gpu, rec, { dst: cache, src: out, S: C, r0: i, dstR0: l, rows: 1, lo: 0, width: C, dstBase: mlpBase }),
      }),
    });
    pass.end();
    gpu.device.queue.submit([encoder.finish()]);
    const weight = async (name: string | undefined, row = 0, rows?: number): Promise<Float64Array | null> => {
      const w = name === undefined ? null : hf.weight(name);
      if (!w) return null;
      const n = rows === undefined ? w.size / 4 - row * C : rows * C;
      return Float64Array.from(await gpu.readF32(w.buffer, n, w.offset / 4 + row * C));
    };
    const [rows, rstd, logits] = await Promise.all([
      gpu.readF32(cache, mlpBase + L * C),
      gpu.readF32(hf.lnfRstd, 1, i),
      gpu.readF32(hf.logits, V, i * V),
    ]);
    const head = lmHeadName(cfg);
    const u = (await weight(head, r.target, 1))!;
    if (r.other !== undefined) {
      const o = (await weight(head, r.other, 1))!;
      for (let c = 0; c < C; c++) u[c] -= o[c];
    }
    const normW = (await weight(roleName(cfg, 'normF')))!;
    const normB = await weight(roleName(cfg, 'normFBias'));
    const wu = u.map((v, c) => v * normW[c] * rstd[0]);
    const read = (x: ArrayLike<number>): number => {
      let m = 0;
      if (!llama) {
        for (let c = 0; c < C; c++) m += x[c];
        m /= C;
      }
      let s = 0;
      for (let c = 0; c < C; c++) s += (x[c] - m) * wu[c];
      return s;
    };
    const names: string[] = ['embed'];
    const values: number[] = [read((await weight(roleName(cfg, 'tokenEmbedding'), r.ids[i], 1))!)];
    if (!llama) {
      names.push('pos_embed');
      values.push(read((await weight(roleName(cfg, 'positionEmbedding'), i, 1))!));
    }
    for (let l = 0; l < L; l++) {
      const W = (await weight(roleName(cfg, 'attnOut', l)))!; // (C, HD)
      const z = rows.subarray(l * HD, (l + 1) * HD);
      for (let h = 0; h < H; h++) {
        const out = new Float64Array(C);
        for (let o = 0; o < C; o++) {
          let s = 0;
          for (let k = h * D; k < (h + 1) * D; k++) s += z[k] * W[o * HD + k];
          out[o] = s;
        }
        names.push(`L${l}.H${h}`);
        values.push(read(out));
      }
      if (!llama) {
        const b = await weight(roleName(cfg, 'attnOutBias', l));
        names.push(`L${l}.attn_bias`);
        values.push(b ? read(b) : 0);
      }
      names.push(`L${l}.mlp`);
      values.push(read(rows.subarray(mlpBase + l * C, mlpBase + (l + 1) * C)));
    }
    let normBias = 0;
    if (normB) for (let c = 0; c < C; c++) normBias += normB[c] * u[c];
    const logit = logits[r.target] - (r.other !== undefined ? logits[r.other] : 0);
    const sum = values.reduce((s, v) => s + v, 0);
    return { names, contributions: Float64Array.from(values), sum, logit, difference: logit - sum, normBias };
  } finally {
    gpu.destroy(cache);
  }
}
