// The matching model with the other block: same layers, heads and context, at
// nearly the same parameter count, for comparing GPT-2's block with LLaMA's.
// GPT-2 -> LLaMA keeps the width (made a multiple of 2 x heads, for rotary's
// even head size), uses plain multi-head attention and solves the SwiGLU
// intermediate size for the count; LLaMA -> GPT-2 (whose MLP is fixed at 4C)
// picks the width (a multiple of the heads) and bias whose count is nearest:
// coarser, since the width moves the count in steps of about 24 L C H.
import type { ModelConfig, ModelShape } from './config';
import { paramCount } from './description';

const withVocab = (s: ModelShape, vocabSize: number): ModelConfig => ({ ...s, vocabSize });

export function otherBlockShape(shape: ModelShape, vocabSize: number): ModelShape {
  const target = paramCount(withVocab(shape, vocabSize));
  const { nLayer, nHead, blockSize, tieWeights } = shape;
  if (shape.block === 'llama') {
    let best: ModelShape | null = null;
    let bestGap = Infinity;
    for (let C = nHead; C <= 4 * shape.nEmbd + nHead; C += nHead) {
      for (const bias of [true, false]) {
        const s: ModelShape = { nLayer, nHead, nEmbd: C, blockSize, dropout: 0, bias, tieWeights, activation: 'gelu', block: 'gpt2' };
        const gap = Math.abs(paramCount(withVocab(s, vocabSize)) - target);
        if (gap < bestGap) [best, bestGap] = [s, gap];
      }
    }
    return best!;
  }
  const step = 2 * nHead;
  const C = Math.max(step, Math.round(shape.nEmbd / step) * step);
  const base: ModelShape = { nLayer, nHead, nKvHead: nHead, nEmbd: C, blockSize, dropout: 0, bias: false, tieWeights, activation: 'gelu', block: 'llama' };
  // The count is linear in the intermediate size: 3 C per layer per unit.
  const at1 = paramCount(withVocab({ ...base, ffnHidden: 1 }, vocabSize));
  const ffnHidden = Math.max(1, Math.round((target - at1) / (3 * C * nLayer)) + 1);
  return { ...base, ffnHidden };
}
