// Next-token sampling from one row of logits, in a fixed order:
//   temperature (0 or greedy => argmax) -> softmax -> top-k -> top-p -> renormalise -> draw.
// The draw uses a seeded RNG whose state advances once per token, so the same
// seed, prompt and weights give the same text.

export interface SamplingSettings {
  /** 0 means greedy. */
  temperature: number;
  /** 0 = off, else keep the k most likely tokens. */
  topK: number;
  /** 1 = off, else keep the smallest set with this much probability mass. */
  topP: number;
  greedy: boolean;
  seed: number;
}

export interface TokenDistribution {
  /** Top candidates after temperature, most likely first (at most 20). */
  ids: number[];
  probs: number[];
  /** False where top-k / top-p removed the token. */
  kept: boolean[];
  /** Probability mass removed by top-k / top-p. */
  removedMass: number;
}

/** How many candidates the distribution view shows. */
export const SHOWN_CANDIDATES = 20;

/** mulberry32: a small seeded generator with a 32-bit state that can be saved and restored. */
export class SeededRng {
  state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

export interface SampledToken {
  id: number;
  /** Probability of the sampled token under the shown distribution (after temperature, before filtering). */
  prob: number;
  /** Probability it was actually drawn with (after top-k / top-p and renormalising). */
  keptProb: number;
  dist: TokenDistribution;
}

/** True when these settings pick the argmax, whatever the RNG says. */
export function isGreedy(s: SamplingSettings): boolean {
  return s.greedy || !(s.temperature > 0);
}

/** softmax(logits / temperature) in float64, max-subtracted; non-finite logits count as -inf. */
export function softmaxWithTemperature(logits: ArrayLike<number>, temperature: number): Float64Array {
  const n = logits.length;
  const out = new Float64Array(n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = logits[i];
    if (Number.isFinite(x) && x > max) max = x;
  }
  if (max === -Infinity) {
    out.fill(1 / n);
    return out;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const x = logits[i];
    const e = Number.isFinite(x) ? Math.exp((x - max) / temperature) : 0;
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < n; i++) out[i] /= sum;
  return out;
}

function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    if (Number.isFinite(x) && x > bestValue) {
      bestValue = x;
      best = i;
    }
  }
  return best;
}

/**
 * Which tokens survive top-k then top-p, given probabilities after temperature.
 * Returns the ids sorted by probability (ties by id) and how many of them are kept.
 */
export function filterCandidates(probs: Float64Array, topK: number, topP: number): { order: number[]; keep: number } {
  const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b);
  let keep = order.length;
  if (topK > 0 && topK < keep) keep = Math.floor(topK);
  if (topP > 0 && topP < 1) {
    // Renormalise over the top-k survivors, then keep the smallest prefix whose mass reaches p.
    let kMass = 0;
    for (let i = 0; i < keep; i++) kMass += probs[order[i]];
    let cum = 0;
    let n = 0;
    while (n < keep) {
      cum += probs[order[n]] / kMass;
      n++;
      if (cum >= topP) break;
    }
    keep = n;
  }
  return { order, keep: Math.max(1, keep) };
}

/** Sample one token id from a row of logits (length V). */
export function sampleToken(logits: ArrayLike<number>, settings: SamplingSettings, rng: SeededRng): SampledToken {
  const greedy = isGreedy(settings);
  // One draw per token whatever the settings, so the RNG's position is the token count.
  const u = rng.next();
  // Greedy decoding shows the model's own distribution (temperature 1) with only the argmax kept.
  const probs = softmaxWithTemperature(logits, greedy ? 1 : settings.temperature);
  let id: number;
  let kept: Set<number>;
  let keptMass: number;
  let order: number[];
  if (greedy) {
    id = argmax(logits);
    order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b);
    kept = new Set([id]);
    keptMass = probs[id];
  } else {
    const filtered = filterCandidates(probs, settings.topK, settings.topP);
    order = filtered.order;
    kept = new Set(order.slice(0, filtered.keep));
    keptMass = 0;
    for (const k of kept) keptMass += probs[k];
    // Draw from the kept set, renormalised.
    const r = u * keptMass;
    let acc = 0;
    id = order[filtered.keep - 1];
    for (let i = 0; i < filtered.keep; i++) {
      acc += probs[order[i]];
      if (r < acc) {
        id = order[i];
        break;
      }
    }
  }
  const shown = order.slice(0, SHOWN_CANDIDATES);
  return {
    id,
    prob: probs[id],
    keptProb: keptMass > 0 ? probs[id] / keptMass : 1,
    dist: {
      ids: shown,
      probs: shown.map((i) => probs[i]),
      kept: shown.map((i) => kept.has(i)),
      removedMass: Math.max(0, 1 - keptMass),
    },
  };
}
