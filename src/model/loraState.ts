// The LoRA adapters of a GptModel as a parameter group of their own (./lora.ts
// gives the flat adapter layout): params, grads and AdamW moments over that
// layout, the x A^T each adapted Linear saves, and the hooks the block code
// calls. A model without adapters gets NO_ADAPTERS, hooks that record nothing,
// so the forward and backward are the same code with or without LoRA.

import type { Binding, Gpu, Recorder } from '../gpu/runtime';
import type { BlockLora } from './block';
import { loraBackward, loraScale, type AdapterSlice, type LoraAdapter, type LoraLayout, type LoraModule } from './lora';
import type { AdapterState, TrainableGroup } from './gptTypes';

/** What the block code asks of a model's adapters, layer by layer. */
export interface BlockAdapters {
  /** Layer l's adapters at a strength (0 = base, 1 = fully adapted) for the block forward; null when none. */
  forward(l: number, strength: number): BlockLora | null;
  /** Layer l's adapter backward on `module` (strength 1): its gradients (overwritten), dinp += its share; nothing when not adapted. */
  backward(pass: Recorder, l: number, module: LoraModule, dout: Binding, inp: Binding, dinp: Binding, N: number): void;
}

/** The hooks of a model without adapters. */
export const NO_ADAPTERS: BlockAdapters = { forward: () => null, backward: () => undefined };

const range = (buffer: GPUBuffer, t: { offset: number; size: number }) => ({ buffer, offset: 4 * t.offset, size: 4 * t.size });

export class LoraState implements BlockAdapters {
  /** The adapters' group: both A and B are matrices, all decayed. */
  readonly group: TrainableGroup;
  /** per layer, per adapted module: (BT, r) s x A^T saved for backward */
  private readonly xa: Array<Partial<Record<LoraModule, GPUBuffer>>>;
  private readonly dxa: GPUBuffer; // (BT, r) scratch
  private readonly slice: GPUBuffer | null; // (BT, max OUT) a fused Linear's adapter product, or its output gradient's columns

  /** `b` fetches a buffer of the model's allocation table; mmScratch takes the split-K partial products. */
  constructor(
    private readonly gpu: Gpu,
    readonly layout: LoraLayout,
    b: (name: string) => GPUBuffer,
    private readonly mmScratch: GPUBuffer,
    adapters?: Float32Array,
  ) {
    const n = layout.total;
    this.group = { params: b('lora params'), grads: b('lora grads'), m: b('lora m'), v: b('lora v'), count: n, decayCount: n, unpack: (flat) => flat };
    this.xa = layout.adapters.map((mods, l) => Object.fromEntries(Object.keys(mods).map((m) => [m, b(`h${l}.${m} xa`)])));
    this.dxa = b('lora dxa');
    this.slice = layout.adapters.some((mods) => Object.values(mods).some((ad) => ad.OUT !== ad.ld)) ? b('lora slice') : null;
    this.write({ adapters: adapters ?? new Float32Array(n) });
  }

  forward(l: number, strength: number): BlockLora {
    const g = this.group;
    const adapters: BlockLora['adapters'] = {};
    for (const ad of Object.values(this.layout.adapters[l])) {
      adapters[ad.module] = { A: range(g.params, ad.A), B: range(g.params, ad.B), r: ad.r, IN: ad.IN, OUT: ad.OUT, xa: this.xa[l][ad.module]!, slice: this.sliceOf(ad) };
    }
    return { adapters, scale: loraScale(this.layout.lora, strength) };
  }

  backward(pass: Recorder, l: number, module: LoraModule, dout: Binding, inp: Binding, dinp: Binding, N: number): void {
    const ad = this.layout.adapters[l][module];
    if (!ad) return;
    const g = this.group;
    loraBackward(this.gpu, pass, {
      dinp, dA: range(g.grads, ad.A), dB: range(g.grads, ad.B), dout, inp, xa: this.xa[l][module]!,
      A: range(g.params, ad.A), B: range(g.params, ad.B), dxa: this.dxa, N, IN: ad.IN, OUT: ad.OUT, r: ad.r,
      scale: loraScale(this.layout.lora, 1), scratch: this.mmScratch, site: module, slice: this.sliceOf(ad),
    });
  }

  /** A fused Linear's columns (rows row0.. of our tensor), or null when the adapter covers the whole output. */
  private sliceOf(ad: LoraAdapter): AdapterSlice | null {
    return ad.OUT === ad.ld ? null : { ld: ad.ld, col0: ad.row0, scratch: this.slice! };
  }

  /** The adapters and their AdamW moments (flat adapter layout). */
  async read(): Promise<AdapterState> {
    const g = this.group;
    const [adapters, m, v] = await Promise.all([g.params, g.m, g.v].map((buf) => this.gpu.readF32(buf, g.count)));
    return { adapters, m, v };
  }

  /** Replace the adapters (flat adapter layout); moments default to zero. */
  write(state: { adapters: Float32Array; m?: Float32Array; v?: Float32Array }): void {
    const g = this.group;
    const n = g.count;
    for (const a of [state.adapters, state.m, state.v]) {
      if (a && a.length !== n) throw new Error(`The adapter arrays must hold ${n} values, got ${a.length}.`);
    }
    this.gpu.write(g.params, state.adapters);
    this.gpu.write(g.m, state.m ?? new Float32Array(n));
    this.gpu.write(g.v, state.v ?? new Float32Array(n));
  }
}
