// A bigram language model on the CPU with the engine's model interface: a
// (V, V) table of logits trained by AdamW in float32, so the trainer's loop,
// rollback, checkpoints and resume can be tested without a GPU. Steps finish
// asynchronously (a timer), like GPU work, and it counts how many are pending.
import type { ModelConfig } from '../../src/model/config';
import type { Batch, EngineModel, NamedTensor, OptimizerState, StepHyper, StepReadback } from '../../src/engine/model';

export class BigramModel implements EngineModel {
  readonly paramCount: number;
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  pending = 0;
  maxPending = 0;
  stepsRun = 0;
  destroyed = false;

  constructor(
    readonly config: ModelConfig,
    readonly batchSize: number,
    seed = 1,
  ) {
    const V = config.vocabSize;
    this.paramCount = V * V;
    this.params = new Float32Array(V * V);
    let s = seed;
    for (let i = 0; i < V * V; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      this.params[i] = (s / 2 ** 32 - 0.5) * 0.02;
    }
    this.m = new Float32Array(V * V);
    this.v = new Float32Array(V * V);
  }

  private lossAndGrad(batch: Batch, grad: Float64Array | null): number {
    const V = this.config.vocabSize;
    const n = batch.x.length;
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const row = batch.x[i] * V;
      let max = -Infinity;
      for (let j = 0; j < V; j++) max = Math.max(max, this.params[row + j]);
      let sum = 0;
      for (let j = 0; j < V; j++) sum += Math.exp(this.params[row + j] - max);
      loss += Math.log(sum) + max - this.params[row + batch.y[i]];
      if (grad) {
        for (let j = 0; j < V; j++) grad[row + j] += Math.exp(this.params[row + j] - max) / sum / n;
        grad[row + batch.y[i]] -= 1 / n;
      }
    }
    return loss / n;
  }

  private later<T>(value: () => T): Promise<T> {
    if (this.destroyed) return new Promise(() => undefined);
    return new Promise((resolve) => setTimeout(() => resolve(value()), 1));
  }

  step(batch: Batch, h: StepHyper): Promise<StepReadback> {
    const grad = new Float64Array(this.paramCount);
    const loss = this.lossAndGrad(batch, grad);
    let norm = 0;
    for (const g of grad) norm += g * g;
    norm = Math.sqrt(norm);
    const clip = h.gradClip > 0 ? Math.min(1, h.gradClip / (norm + 1e-6)) : 1;
    const bc1 = 1 - h.beta1 ** h.t;
    const bc2 = 1 - h.beta2 ** h.t;
    for (let i = 0; i < this.paramCount; i++) {
      const g = grad[i] * clip;
      this.params[i] -= h.lr * h.weightDecay * this.params[i];
      this.m[i] = h.beta1 * this.m[i] + (1 - h.beta1) * g;
      this.v[i] = h.beta2 * this.v[i] + (1 - h.beta2) * g * g;
      this.params[i] -= (h.lr * (this.m[i] / bc1)) / (Math.sqrt(this.v[i] / bc2) + h.eps);
    }
    this.stepsRun++;
    this.pending++;
    this.maxPending = Math.max(this.maxPending, this.pending);
    return this.later(() => {
      this.pending--;
      return { loss, gradNorm: norm, doneAt: performance.now() };
    });
  }

  evalLoss(batch: Batch): Promise<number> {
    const loss = this.lossAndGrad(batch, null);
    return this.later(() => loss);
  }

  logits(ids: Int32Array): Promise<Float32Array> {
    const V = this.config.vocabSize;
    const row = ids[ids.length - 1] * V;
    const out = this.params.slice(row, row + V);
    return this.later(() => out);
  }

  attention(ids: Int32Array): Promise<Float32Array> {
    const { nLayer: L, nHead: H } = this.config;
    const T = ids.length;
    const out = new Float32Array(L * H * T * T);
    for (let lh = 0; lh < L * H; lh++) for (let t = 0; t < T; t++) for (let s = 0; s <= t; s++) out[(lh * T + t) * T + s] = 1 / (t + 1);
    return this.later(() => out);
  }

  readState(): Promise<OptimizerState> {
    const state = { params: this.params.slice(), m: this.m.slice(), v: this.v.slice() };
    return this.later(() => state);
  }

  writeState(s: OptimizerState): void {
    this.params.set(s.params);
    this.m.set(s.m);
    this.v.set(s.v);
  }

  tensors(): NamedTensor[] {
    const V = this.config.vocabSize;
    return [{ name: 'bigram.weight', shape: [V, V], offset: 0 }];
  }

  finish(): Promise<void> {
    return this.later(() => undefined);
  }

  destroy(): void {
    this.destroyed = true;
  }
}
