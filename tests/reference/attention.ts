// float64 CPU reference for causal multi-head self-attention (llm.c's
// attention_forward / attention_backward), plain loops.
//
// qkv (B, T, C + 2 KV hs): q heads | k heads | v heads along the last dim
// (3C when KV = NH); query head h uses channels h*hs..(h+1)*hs and, with
// grouped-query attention (KV dividing NH), key/value head h / (NH / KV).
// Optional dropout on the probabilities (nanoGPT's attn_dropout) takes its mask
// from the caller: out = (mask * att / (1 - p)) v, att returned before dropout.

export interface AttentionShape {
  B: number;
  T: number;
  C: number;
  NH: number;
  /** key/value heads (grouped-query attention); NH when absent */
  KV?: number;
}

/** Row width of qkv and the offsets of query head h's key and value channels. */
function layout(C: number, NH: number, KV = NH) {
  const hs = C / NH;
  const W = C + 2 * KV * hs;
  const group = NH / KV;
  return { hs, W, k: (h: number) => C + Math.floor(h / group) * hs, v: (h: number) => C + KV * hs + Math.floor(h / group) * hs };
}

export interface AttentionDropoutRef {
  p: number;
  /** (B, NH, T, T): 1 = kept (scaled by 1 / (1 - p)), 0 = dropped */
  mask: ArrayLike<number>;
}

/** mask / (1 - p) at flat index i of (B, NH, T, T); 1 without dropout. */
const dropFactor = (drop: AttentionDropoutRef | undefined, i: number) => (drop ? drop.mask[i] / (1 - drop.p) : 1);

/**
 * out (B, T, C), att (B, NH, T, T) probabilities (exactly 0 above the diagonal;
 * before dropout) and lse (B, NH, T), the logsumexp of each row's scores.
 */
export function attentionForwardRef(qkv: ArrayLike<number>, { B, T, C, NH, KV }: AttentionShape, drop?: AttentionDropoutRef) {
  const { hs, W, k: kOff, v: vOff } = layout(C, NH, KV);
  const scale = 1 / Math.sqrt(hs);
  const out = new Float64Array(B * T * C);
  const att = new Float64Array(B * NH * T * T);
  const lse = new Float64Array(B * NH * T);
  const row = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const q = (b * T + t) * W + h * hs;
        let max = -Infinity;
        for (let t2 = 0; t2 <= t; t2++) {
          const k = (b * T + t2) * W + kOff(h);
          let s = 0;
          for (let d = 0; d < hs; d++) s += qkv[q + d] * qkv[k + d];
          row[t2] = s * scale;
          if (row[t2] > max) max = row[t2];
        }
        let sum = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          row[t2] = Math.exp(row[t2] - max);
          sum += row[t2];
        }
        const a = ((b * NH + h) * T + t) * T;
        for (let t2 = 0; t2 <= t; t2++) att[a + t2] = row[t2] / sum;
        lse[(b * NH + h) * T + t] = max + Math.log(sum);
        const o = (b * T + t) * C + h * hs;
        for (let t2 = 0; t2 <= t; t2++) {
          const v = (b * T + t2) * W + vOff(h);
          const p = att[a + t2] * dropFactor(drop, a + t2);
          for (let d = 0; d < hs; d++) out[o + d] += p * qkv[v + d];
        }
      }
    }
  }
  return { out, att, lse };
}

/** dqkv (B, T, C + 2 KV hs) from dout (B, T, C), given the forward's inputs, probabilities and dropout mask. */
export function attentionBackwardRef(
  dout: ArrayLike<number>,
  qkv: ArrayLike<number>,
  att: ArrayLike<number>,
  { B, T, C, NH, KV }: AttentionShape,
  drop?: AttentionDropoutRef,
): Float64Array {
  const { hs, W, k: kOff, v: vOff } = layout(C, NH, KV);
  const scale = 1 / Math.sqrt(hs);
  const dqkv = new Float64Array(B * T * W);
  const dp = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const a = ((b * NH + h) * T + t) * T;
        const o = (b * T + t) * C + h * hs;
        const q = (b * T + t) * W + h * hs;
        // out = (m * att) @ v with m = mask / (1 - p): dv += m * att * dout, datt = m * (dout . v)
        let dot = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const v = (b * T + t2) * W + vOff(h);
          const m = dropFactor(drop, a + t2);
          let s = 0;
          for (let d = 0; d < hs; d++) {
            s += dout[o + d] * qkv[v + d];
            dqkv[v + d] += m * att[a + t2] * dout[o + d];
          }
          dp[t2] = m * s;
          dot += att[a + t2] * dp[t2];
        }
        // softmax backward, then scores = scale * q . k
        for (let t2 = 0; t2 <= t; t2++) {
          const ds = att[a + t2] * (dp[t2] - dot) * scale;
          const k = (b * T + t2) * W + kOff(h);
          for (let d = 0; d < hs; d++) {
            dqkv[q + d] += ds * qkv[k + d];
            dqkv[k + d] += ds * qkv[q + d];
          }
        }
      }
    }
  }
  return dqkv;
}
