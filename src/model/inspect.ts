// What a trained GPT's numbers mean, computed in TypeScript from what the GPU
// forward of a prompt returns (GptModel.probe): per-character surprisal with the
// top predictions, the logit lens grid, and the attention heads' roles.
//
// Conventions: att is (L, NH, T, T) with rows = queries and columns = keys
// (zero above the diagonal); logits are (T, V) or (L, T, V) row-major; losses
// are natural-log cross-entropies (nats) per position.

/** Top-k of one row of logits after a float64 softmax: ids and probabilities, likeliest first. */
export function topK(logits: ArrayLike<number>, offset: number, V: number, k: number): { ids: number[]; probs: number[] } {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[offset + v]);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[offset + v] - max);
  const order = Array.from({ length: V }, (_, v) => v).sort((a, b) => logits[offset + b] - logits[offset + a] || a - b);
  const ids = order.slice(0, Math.min(k, V));
  return { ids, probs: ids.map((v) => Math.exp(logits[offset + v] - max) / sum) };
}

/** Bits per character of a mean loss in nats. */
export const bitsPerChar = (lossNats: number): number => lossNats / Math.LN2;
/** Perplexity of a mean loss in nats. */
export const perplexity = (lossNats: number): number => Math.exp(lossNats);

export interface CharSurprisal {
  /** Position in the text (the character predicted). */
  pos: number;
  id: number;
  /** -log2 p(actual character | the characters before it) */
  bits: number;
  prob: number;
  /** Top 5 predictions at this position (ids, probabilities). */
  top: { ids: number[]; probs: number[] };
}

/**
 * Surprisal of characters 1..T-1 of `ids` from the GPU's per-position losses
 * (T-1, nats: row t predicts ids[t+1]) and the logits (T, V) for the top-5.
 */
export function surprisalOf(ids: Int32Array, losses: ArrayLike<number>, logits: ArrayLike<number>, V: number, k = 5): CharSurprisal[] {
  const out: CharSurprisal[] = [];
  for (let t = 0; t + 1 < ids.length; t++) {
    const nats = losses[t];
    out.push({ pos: t + 1, id: ids[t + 1], bits: nats / Math.LN2, prob: Math.exp(-nats), top: topK(logits, t * V, V, k) });
  }
  return out;
}

/** Mean surprisal (bits) per distinct character over a text, easiest first; characters seen fewer than `minCount` times are left out. */
export function meanSurprisalByChar(chars: CharSurprisal[], minCount = 1): Array<{ id: number; bits: number; count: number }> {
  const acc = new Map<number, { sum: number; count: number }>();
  for (const c of chars) {
    const a = acc.get(c.id) ?? { sum: 0, count: 0 };
    a.sum += c.bits;
    a.count++;
    acc.set(c.id, a);
  }
  return [...acc]
    .filter(([, a]) => a.count >= minCount)
    .map(([id, a]) => ({ id, bits: a.sum / a.count, count: a.count }))
    .sort((a, b) => a.bits - b.bits || a.id - b.id);
}

export interface LensCell {
  /** Likeliest next token after block `layer` at position `pos`, and the top 5. */
  ids: number[];
  probs: number[];
}

/** The logit-lens grid: (L rows of T cells), each cell the top-k of ln_f + lm_head of that block's residual stream. */
export function lensGrid(lens: ArrayLike<number>, L: number, T: number, V: number, k = 5): LensCell[][] {
  return Array.from({ length: L }, (_, l) => Array.from({ length: T }, (_, t) => topK(lens, (l * T + t) * V, V, k)));
}

export interface HeadScores {
  /** Mean attention to position i-1 over queries i = 1..T-1. */
  previous: number;
  /** Mean attention to position 0 over queries i = 1..T-1. */
  first: number;
  /** Mean attention to itself over queries i = 1..T-1. */
  self: number;
}

/** Per-query previous-token attention of one head (index i holds att[i][i-1], i >= 1; index 0 is NaN). */
export function previousTokenRow(att: ArrayLike<number>, base: number, T: number): number[] {
  return Array.from({ length: T }, (_, i) => (i === 0 ? Number.NaN : att[base + i * T + i - 1]));
}

/** Previous-token, first-token and self scores of every head: (L, NH). Needs T >= 2. */
export function headScores(att: ArrayLike<number>, L: number, NH: number, T: number): HeadScores[][] {
  if (T < 2) throw new Error('Head scores need a probe of at least two characters.');
  return Array.from({ length: L }, (_, l) =>
    Array.from({ length: NH }, (_, h) => {
      const base = (l * NH + h) * T * T;
      let previous = 0;
      let first = 0;
      let self = 0;
      for (let i = 1; i < T; i++) {
        previous += att[base + i * T + i - 1];
        first += att[base + i * T];
        self += att[base + i * T + i];
      }
      return { previous: previous / (T - 1), first: first / (T - 1), self: self / (T - 1) };
    }),
  );
}

/**
 * Prefix-matching score (Anthropic's induction measure) of every head (L, NH)
 * on a sequence of n tokens repeated twice (T = 2n): the mean attention from
 * each token of the second copy (position n + j) to the token after its first
 * occurrence (position j + 1).
 */
export function inductionScores(att: ArrayLike<number>, L: number, NH: number, n: number): number[][] {
  const T = 2 * n;
  return Array.from({ length: L }, (_, l) =>
    Array.from({ length: NH }, (_, h) => {
      const base = (l * NH + h) * T * T;
      let s = 0;
      for (let j = 0; j < n; j++) s += att[base + (n + j) * T + j + 1];
      return s / n;
    }),
  );
}

/**
 * The induction probe: n tokens drawn from the vocabulary (without repeats
 * while the vocabulary allows), then the same n again. A seeded xorshift so
 * every snapshot of a run uses the same probe. Ids in `exclude` (the line
 * break, where a toy task's examples end) are left out while enough others
 * remain.
 */
export function inductionProbe(V: number, n: number, seed = 12345, exclude: readonly number[] = []): Int32Array {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  const all = Array.from({ length: V }, (_, v) => v);
  const kept = all.filter((v) => !exclude.includes(v));
  const ids = kept.length >= Math.min(n, V) && kept.length > 0 ? kept : all;
  const pool = [...ids];
  const first: number[] = [];
  for (let j = 0; j < n; j++) {
    if (pool.length === 0) pool.push(...ids);
    first.push(pool.splice(next() % pool.length, 1)[0]);
  }
  return Int32Array.from([...first, ...first]);
}

/** Badges a head earns: a score of at least `threshold` on that measure. */
export function headBadges(scores: HeadScores, induction: number | null, threshold = 0.4): string[] {
  const out: string[] = [];
  if (induction !== null && induction >= threshold) out.push('induction');
  if (scores.previous >= threshold) out.push('previous token');
  if (scores.first >= threshold) out.push('first token');
  if (scores.self >= threshold) out.push('self');
  return out;
}
