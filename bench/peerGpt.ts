// nanoGPT's GPT written with tfjs ops, the peer of our engine in the training
// benchmark: same architecture (pre-LayerNorm blocks, causal self-attention,
// MLP with the configured activation, untied or tied lm_head), same initial
// weights (read from the same flat parameter array, by nanoGPT's names), same
// batches, trained with tf.train.adam.

import type { ModelConfig } from '../src/model/config';
import type { ParamLayout } from '../src/model/layout';
import { tf } from './peer';

export class PeerGpt {
  private readonly vars = new Map<string, tf.Variable>();
  private readonly optimizer: tf.Optimizer;
  private readonly mask: tf.Tensor; // (T, T): 0 on and below the diagonal, -1e9 above

  constructor(
    private readonly config: ModelConfig,
    layout: ParamLayout,
    params: Float32Array,
    lr: number,
  ) {
    for (const t of layout.tensors) {
      this.vars.set(t.name, tf.variable(tf.tensor(params.slice(t.offset, t.offset + t.size), t.shape), true, `peer/${t.name}`));
    }
    const T = config.blockSize;
    this.mask = tf.tidy(() => tf.linalg.bandPart(tf.ones([T, T]), -1, 0).sub(1).mul(1e9));
    this.optimizer = tf.train.adam(lr, 0.9, 0.99, 1e-8);
  }

  private p(name: string): tf.Tensor {
    const v = this.vars.get(name);
    if (!v) throw new Error(`peer model has no parameter ${name}`);
    return v;
  }

  private layerNorm(x: tf.Tensor, prefix: string): tf.Tensor {
    const { mean, variance } = tf.moments(x, -1, true);
    const y = x.sub(mean).mul(tf.rsqrt(variance.add(1e-5))).mul(this.p(`${prefix}.weight`));
    return this.config.bias ? y.add(this.p(`${prefix}.bias`)) : y;
  }

  /** y = x W^T (+ b) for x (N, in), W (out, in). */
  private linear(x: tf.Tensor, prefix: string): tf.Tensor {
    const y = tf.matMul(x, this.p(`${prefix}.weight`), false, true);
    return this.config.bias ? y.add(this.p(`${prefix}.bias`)) : y;
  }

  private dropout(x: tf.Tensor, training: boolean): tf.Tensor {
    return training && this.config.dropout > 0 ? tf.dropout(x, this.config.dropout) : x;
  }

  /** Mean cross-entropy of the next-token predictions. */
  loss(x: Int32Array, y: Int32Array, B: number, training: boolean): tf.Scalar {
    const { nLayer: L, nHead: NH, nEmbd: C, blockSize: T, vocabSize: V, activation } = this.config;
    const hs = C / NH;
    const BT = B * T;
    const heads = (t: tf.Tensor) => t.reshape([B, T, NH, hs]).transpose([0, 2, 1, 3]); // (B, NH, T, hs)
    // Token embedding as onehot(x) @ wte: tf.gather's gradient needs UnsortedSegmentSum, which the WASM backend lacks.
    const onehotX = tf.oneHot(tf.tensor1d(x, 'int32'), V).toFloat(); // (BT, V)
    const tok = tf.matMul(onehotX, this.p('transformer.wte.weight')).reshape([B, T, C]); // (B, T, C)
    let h = this.dropout(tok.add(this.p('transformer.wpe.weight')).reshape([BT, C]), training); // (BT, C)
    for (let l = 0; l < L; l++) {
      const pre = `transformer.h.${l}`;
      const qkv = this.linear(this.layerNorm(h, `${pre}.ln_1`), `${pre}.attn.c_attn`).reshape([B, T, 3 * C]); // (B, T, 3C)
      const [q, k, v] = tf.split(qkv, 3, 2);
      const scores = tf.matMul(heads(q!), heads(k!), false, true).mul(1 / Math.sqrt(hs)).add(this.mask); // (B, NH, T, T)
      const att = tf.matMul(tf.softmax(scores), heads(v!)).transpose([0, 2, 1, 3]).reshape([BT, C]); // (BT, C)
      h = h.add(this.dropout(this.linear(att, `${pre}.attn.c_proj`), training));
      const fc = this.linear(this.layerNorm(h, `${pre}.ln_2`), `${pre}.mlp.c_fc`); // (BT, 4C)
      const act = activation === 'gelu' ? fc.mul(tf.erf(fc.mul(Math.SQRT1_2)).add(1)).mul(0.5) : tf.relu(fc);
      h = h.add(this.dropout(this.linear(act, `${pre}.mlp.c_proj`), training));
    }
    const hf = this.layerNorm(h, 'transformer.ln_f');
    const head = this.config.tieWeights ? this.p('transformer.wte.weight') : this.p('lm_head.weight');
    const logits = tf.matMul(hf, head, false, true); // (BT, V)
    const onehot = tf.oneHot(tf.tensor1d(y, 'int32'), V);
    return tf.logSoftmax(logits).mul(onehot).sum(-1).mean().neg() as tf.Scalar;
  }

  /** One Adam step; resolves with the loss once the backend has finished it. */
  async step(x: Int32Array, y: Int32Array, B: number): Promise<number> {
    const loss = this.optimizer.minimize(() => this.loss(x, y, B, true), true) as tf.Scalar;
    const value = (await loss.data())[0]!;
    loss.dispose();
    return value;
  }

  dispose(): void {
    this.optimizer.dispose();
    tf.dispose([...this.vars.values(), this.mask]);
  }
}
