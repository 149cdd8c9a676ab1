// Bits per character of a loss in nats per token, for the open run: a
// character run has one token per character (bits = loss / ln 2); a run on
// tokens scales by its split's tokens per character, so runs on different
// tokenizers share one axis.
import type { EvalStats } from '../../engine/protocol';
import { bitsPerChar } from '../../model/runTokenizer';

export interface SplitSizes {
  trainTokens: number;
  valTokens: number;
  trainChars?: number;
  valChars?: number;
}

/** Bits per character of a training-split loss (the per-step curve). */
export function trainBpc(lossNats: number, sizes: SplitSizes | null): number {
  if (!sizes?.trainChars) return lossNats / Math.LN2;
  return bitsPerChar(lossNats, sizes.trainTokens, sizes.trainChars);
}

/** Bits per character of an evaluation's validation loss (the engine's figure when it sent one). */
export function valBpc(e: Pick<EvalStats, 'valLoss' | 'valBpc'>, sizes: SplitSizes | null): number {
  if (e.valBpc !== undefined) return e.valBpc;
  if (!sizes?.valChars) return e.valLoss / Math.LN2;
  return bitsPerChar(e.valLoss, sizes.valTokens, sizes.valChars);
}
