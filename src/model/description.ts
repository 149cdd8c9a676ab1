// The model description: from a config, every parameter tensor and every
// per-layer activation of the model, named once. The flat parameter layout
// (./layout.ts), the allocation table (./allocation.ts), the memory estimate,
// the analytic minimum, the decoder's weights, file names (nanoGPT and
// Hugging Face LLaMA) and the step plan all read this table; nothing else
// lists tensors.
//
// Two blocks:
//   gpt2   nanoGPT's Block: LayerNorm (optional bias), learned positions,
//          c_attn (3C, C) -> attention -> c_proj, c_fc (4C, C) -> ReLU/GELU -> c_proj
//   llama  Hugging Face's LlamaDecoderLayer: RMSNorm, rotary positions, no
//          biases, grouped-query attention (KV key/value heads shared by
//          H / KV query heads each), SwiGLU MLP (gate, up (I, C), down (C, I))
//
// A LLaMA block's q_proj, k_proj and v_proj are one fused tensor qkv
// ((H + 2 KV) D, C) and gate_proj, up_proj one fused gate_up (2I, C), so
// each is one matmul; `files` names the row ranges Hugging Face files hold.

import type { BlockKind, ModelConfig } from './config';

export type { BlockKind };

export type InitKind = 'normal' | 'residualProj' | 'zeros' | 'ones';

/** What a parameter tensor is to the block code (a block fetches its weights by role). */
export type ParamRole =
  | 'tokenEmbedding' | 'positionEmbedding'
  | 'norm1' | 'norm1Bias' | 'qkv' | 'qkvBias' | 'attnOut' | 'attnOutBias'
  | 'norm2' | 'norm2Bias' | 'mlpIn' | 'mlpInBias' | 'mlpOut' | 'mlpOutBias'
  | 'normF' | 'normFBias' | 'lmHead';

/** A tensor as a file names it: `rows` rows of ours, from row `row0` (a fused tensor has several). */
export interface FileTensor {
  name: string;
  row0: number;
  rows: number;
}

export interface ParamSpec {
  /** Our name: nanoGPT's state_dict name (gpt2), Hugging Face's (llama; fused tensors get their own). */
  name: string;
  shape: number[];
  init: InitKind;
  /** AdamW decays it (2+ dims, nanoGPT's configure_optimizers). */
  decay: boolean;
  role: ParamRole;
  /** The block it belongs to, or null (embeddings, final norm, head). */
  layer: number | null;
  /** The tensors a file of this block's format holds for it. */
  files: FileTensor[];
}

/** Widths of one block's activations (per row of the residual stream). */
export interface BlockDims {
  C: number;
  /** query heads, key/value heads, head size */
  H: number;
  KV: number;
  D: number;
  /** qkv row: (H + 2 KV) D */
  qkv: number;
  /** the MLP's first product: 4C (gpt2) or gate | up 2I (llama) */
  mlpIn: number;
  /** the MLP's hidden activation: 4C (gpt2) or I (llama) */
  mlpHidden: number;
}

export const blockKind = (c: Pick<ModelConfig, 'block'>): BlockKind => c.block ?? 'gpt2';

/** Key/value heads (the query heads unless the LLaMA block shares them). */
export const kvHeads = (c: Pick<ModelConfig, 'nHead' | 'nKvHead' | 'block'>): number =>
  blockKind(c) === 'llama' ? c.nKvHead ?? c.nHead : c.nHead;

/** The LLaMA MLP's intermediate size I (default: the 8C/3 of LLaMA rounded up to a multiple of 8). */
export const intermediateSize = (c: Pick<ModelConfig, 'nEmbd' | 'ffnHidden'>): number =>
  c.ffnHidden ?? Math.ceil((8 * c.nEmbd) / 3 / 8) * 8;

export function blockDims(c: ModelConfig): BlockDims {
  const C = c.nEmbd;
  const H = c.nHead;
  const KV = kvHeads(c);
  const D = C / H;
  if (blockKind(c) === 'llama') {
    const I = intermediateSize(c);
    return { C, H, KV, D, qkv: (H + 2 * KV) * D, mlpIn: 2 * I, mlpHidden: I };
  }
  return { C, H, KV: H, D, qkv: 3 * C, mlpIn: 4 * C, mlpHidden: 4 * C };
}

/** Every parameter tensor, in the file's state_dict order (a tied lm_head omitted: it reads the token embedding). */
export function describeParams(c: ModelConfig): ParamSpec[] {
  return blockKind(c) === 'llama' ? llamaParams(c) : gpt2Params(c);
}

const spec = (name: string, shape: number[], init: InitKind, role: ParamRole, layer: number | null, files?: FileTensor[]): ParamSpec => ({
  name, shape, init, role, layer, decay: shape.length >= 2, files: files ?? [{ name, row0: 0, rows: shape[0]! }],
});

function gpt2Params(c: ModelConfig): ParamSpec[] {
  const { nLayer: L, nEmbd: C, blockSize: T, vocabSize: V, bias } = c;
  const out: ParamSpec[] = [
    spec('transformer.wte.weight', [V, C], 'normal', 'tokenEmbedding', null), // (V, C)
    spec('transformer.wpe.weight', [T, C], 'normal', 'positionEmbedding', null), // (T, C)
  ];
  for (let l = 0; l < L; l++) {
    const h = `transformer.h.${l}`;
    const withBias = (name: string, w: ParamSpec, n: number, role: ParamRole) =>
      bias ? [w, spec(`${h}.${name}.bias`, [n], 'zeros', role, l)] : [w];
    out.push(
      ...withBias('ln_1', spec(`${h}.ln_1.weight`, [C], 'ones', 'norm1', l), C, 'norm1Bias'), // (C)
      ...withBias('attn.c_attn', spec(`${h}.attn.c_attn.weight`, [3 * C, C], 'normal', 'qkv', l), 3 * C, 'qkvBias'), // (3C, C)
      ...withBias('attn.c_proj', spec(`${h}.attn.c_proj.weight`, [C, C], 'residualProj', 'attnOut', l), C, 'attnOutBias'), // (C, C)
      ...withBias('ln_2', spec(`${h}.ln_2.weight`, [C], 'ones', 'norm2', l), C, 'norm2Bias'), // (C)
      ...withBias('mlp.c_fc', spec(`${h}.mlp.c_fc.weight`, [4 * C, C], 'normal', 'mlpIn', l), 4 * C, 'mlpInBias'), // (4C, C)
      ...withBias('mlp.c_proj', spec(`${h}.mlp.c_proj.weight`, [C, 4 * C], 'residualProj', 'mlpOut', l), C, 'mlpOutBias'), // (C, 4C)
    );
  }
  out.push(spec('transformer.ln_f.weight', [C], 'ones', 'normF', null));
  if (bias) out.push(spec('transformer.ln_f.bias', [C], 'zeros', 'normFBias', null));
  if (!c.tieWeights) out.push(spec('lm_head.weight', [V, C], 'normal', 'lmHead', null)); // (V, C)
  return out;
}

function llamaParams(c: ModelConfig): ParamSpec[] {
  const { nLayer: L, nEmbd: C, vocabSize: V } = c;
  const { H, KV, D, qkv, mlpHidden: I } = blockDims(c);
  const out: ParamSpec[] = [spec('model.embed_tokens.weight', [V, C], 'normal', 'tokenEmbedding', null)]; // (V, C)
  for (let l = 0; l < L; l++) {
    const h = `model.layers.${l}`;
    const a = `${h}.self_attn`;
    out.push(
      spec(`${h}.input_layernorm.weight`, [C], 'ones', 'norm1', l), // (C)
      spec(`${a}.qkv_proj.weight`, [qkv, C], 'normal', 'qkv', l, [ // ((H + 2KV) D, C)
        { name: `${a}.q_proj.weight`, row0: 0, rows: H * D },
        { name: `${a}.k_proj.weight`, row0: H * D, rows: KV * D },
        { name: `${a}.v_proj.weight`, row0: (H + KV) * D, rows: KV * D },
      ]),
      spec(`${a}.o_proj.weight`, [C, H * D], 'normal', 'attnOut', l), // (C, H D)
      spec(`${h}.post_attention_layernorm.weight`, [C], 'ones', 'norm2', l), // (C)
      spec(`${h}.mlp.gate_up_proj.weight`, [2 * I, C], 'normal', 'mlpIn', l, [ // (2I, C)
        { name: `${h}.mlp.gate_proj.weight`, row0: 0, rows: I },
        { name: `${h}.mlp.up_proj.weight`, row0: I, rows: I },
      ]),
      spec(`${h}.mlp.down_proj.weight`, [C, I], 'normal', 'mlpOut', l), // (C, I)
    );
  }
  out.push(spec('model.norm.weight', [C], 'ones', 'normF', null));
  if (!c.tieWeights) out.push(spec('lm_head.weight', [V, C], 'normal', 'lmHead', null)); // (V, C)
  return out;
}

/** sum(p.numel() for p in model.parameters()): nanoGPT's GPT or Hugging Face's LlamaForCausalLM (tied lm_head counted once). */
export function paramCount(c: ModelConfig): number {
  return describeParams(c).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
}

/** The name of the tensor holding a role (of layer l for block roles); undefined when the model has none (a bias, wpe). */
export function roleName(c: ModelConfig, role: ParamRole, layer: number | null = null): string | undefined {
  return describeParams(c).find((t) => t.role === role && t.layer === layer)?.name;
}

/** The tensor lm_head reads: the token embedding when tied. */
export function lmHeadName(c: ModelConfig): string {
  const role = c.tieWeights ? 'tokenEmbedding' : 'lmHead';
  return roleName(c, role)!;
}

/**
 * The activations one block saves for backward, (rows, width) each: the
 * allocation table allocates them per layer, the analytic minimum counts them.
 * `lse` is the attention's logsumexp (B, H, T), sized by the caller.
 */
export function savedBlockActivations(c: ModelConfig): Array<{ name: string; width: number }> {
  const d = blockDims(c);
  const C = d.C;
  if (blockKind(c) === 'llama') {
    return [
      { name: 'ln1', width: C }, { name: 'ln1 rstd', width: 1 },
      { name: 'qkv', width: d.qkv }, // after the rotary embedding
      { name: 'atty', width: d.H * d.D }, { name: 'res2', width: C },
      { name: 'ln2', width: C }, { name: 'ln2 rstd', width: 1 },
      { name: 'fch', width: d.mlpIn }, { name: 'fch act', width: d.mlpHidden }, { name: 'res3', width: C },
    ];
  }
  return [
    { name: 'ln1', width: C }, { name: 'ln1 mean', width: 1 }, { name: 'ln1 rstd', width: 1 },
    { name: 'qkv', width: d.qkv }, { name: 'atty', width: C }, { name: 'res2', width: C },
    { name: 'ln2', width: C }, { name: 'ln2 mean', width: 1 }, { name: 'ln2 rstd', width: 1 },
    { name: 'fch', width: d.mlpIn }, { name: 'fch act', width: d.mlpHidden }, { name: 'res3', width: C },
  ];
}

/** The final norm's saved statistics: mean and rstd (LayerNorm) or rstd alone (RMSNorm). */
export const finalNormStats = (c: ModelConfig): string[] => (blockKind(c) === 'llama' ? ['ln_f rstd'] : ['ln_f mean', 'ln_f rstd']);

/** The block weights a block's code reads, by its field names, and the role each holds. */
export const BLOCK_WEIGHT_ROLES = {
  ln1w: 'norm1', ln1b: 'norm1Bias', attnW: 'qkv', attnB: 'qkvBias', projW: 'attnOut', projB: 'attnOutBias',
  ln2w: 'norm2', ln2b: 'norm2Bias', fcW: 'mlpIn', fcB: 'mlpInBias', mprojW: 'mlpOut', mprojB: 'mlpOutBias',
} as const satisfies Record<string, ParamRole>;

/** Layer l's tensor names by block field (undefined: the block has none, e.g. a bias). */
export function blockWeightNames(c: ModelConfig, l: number): Record<keyof typeof BLOCK_WEIGHT_ROLES, string | undefined> {
  const byRole = new Map(describeParams(c).filter((t) => t.layer === l).map((t) => [t.role, t.name]));
  return Object.fromEntries(Object.entries(BLOCK_WEIGHT_ROLES).map(([k, role]) => [k, byRole.get(role)])) as Record<keyof typeof BLOCK_WEIGHT_ROLES, string | undefined>;
}
