// What each Insights view measures and what a high value means, in one
// sentence for a newcomer; and the head-score chart's axis, scaled to its data.

export const EXPLAIN = {
  surprisal:
    'Surprisal measures how unexpected each character was to the model, in bits (−log₂ of the probability it gave that character): a high value (red) is a character it failed to predict, a low one something it has learned.',
  lens:
    'The logit lens measures what the model would predict if it stopped after each block: a high probability already in an early row means that layer has worked out the next character.',
  roles:
    'Head roles measure where each attention head looks: the share of its attention on the previous character, the first one, itself, or (induction) the character that followed an earlier copy of the current one; a high score (near 1) means the head does almost only that.',
  chart:
    "This chart measures how each head's induction or previous-token score changed over training: a line rising high above the others is a head taking on that role.",
  sample: 'The greedy sample is the likeliest continuation of a short prompt at this snapshot: the closer it reads to the corpus, the more the model has learned.',
  health:
    'Training health measures, for every weight tensor, the gradient norm and the update-to-weight ratio (how much one step changes the weights): a ratio far above 1e-3 means the steps are too large for that tensor (lower the learning rate), far below means it barely learns.',
} as const;

/** What the model reads one at a time: characters, or a tokenizer's tokens. */
export type TextUnit = 'character' | 'token';

/** The view's sentence for a run that reads `unit`s (the sentences above speak of characters). */
export function explainText(view: keyof typeof EXPLAIN, unit: TextUnit = 'character'): string {
  return unit === 'character' ? EXPLAIN[view] : EXPLAIN[view].replaceAll('character', unit);
}

export function Explain({ view, unit = 'character' }: { view: keyof typeof EXPLAIN; unit?: TextUnit }) {
  return (
    <p className="explain" data-testid={`explain-${view}`} data-unit={unit}>
      {explainText(view, unit)}
    </p>
  );
}

/**
 * The top of the head-score axis: the largest score rounded up to a readable
 * step (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1), so scores of a few hundredths are
 * not a flat line at the bottom of a 0-1 axis; never above 1.
 */
export function scoreAxisMax(values: Iterable<number>): number {
  let max = 0;
  for (const v of values) if (Number.isFinite(v) && v > max) max = v;
  for (const top of [0.01, 0.02, 0.05, 0.1, 0.2, 0.5]) if (max <= top) return top;
  return 1;
}

/** Round steps between ticks, by axis top: 5 or 6 ticks, each label at most 5 characters. */
const TICK_STEP: Record<number, number> = { 0.01: 0.002, 0.02: 0.005, 0.05: 0.01, 0.1: 0.02, 0.2: 0.05, 0.5: 0.1, 1: 0.25 };

/** Ticks from 0 to the axis top at a round step. */
export function scoreTicks(top: number): number[] {
  const step = TICK_STEP[top] ?? top / 4;
  const n = Math.round(top / step);
  return Array.from({ length: n + 1 }, (_, i) => Number((i * step).toPrecision(3)));
}

/** A tick's label: as few decimals as the axis needs ("0.005", "0.25", "1"). */
export function scoreTick(v: number): string {
  return String(Number(v.toPrecision(3)));
}
