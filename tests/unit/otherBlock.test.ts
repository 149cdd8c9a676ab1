// "Compare with the other block": the matching model keeps layers, heads and
// context and lands within a few percent of the parameter count, both ways.
import { describe, expect, it } from 'vitest';
import { PRESETS } from '../../src/model/config';
import { paramCount } from '../../src/model/description';
import { otherBlockShape } from '../../src/model/otherBlock';
import { validateConfig } from '../../src/model/validate';

describe('the matching model with the other block', () => {
  const cases = [
    ...PRESETS.map((p) => [p.id, p.model, 65] as const),
    ['odd head size', { ...PRESETS[0]!.model, nHead: 4, nEmbd: 36, dropout: 0 }, 37] as const,
    ['wide vocabulary', { ...PRESETS[0]!.model, nLayer: 3, nHead: 2, nEmbd: 40, dropout: 0 }, 500] as const,
  ];
  for (const [name, shape, vocab] of cases) {
    it(`${name}: the other block, same layers, heads and context, within a few % of the parameters, and back`, () => {
      const other = otherBlockShape(shape, vocab);
      expect(other.block).toBe(shape.block === 'llama' ? 'gpt2' : 'llama');
      expect([other.nLayer, other.nHead, other.blockSize]).toEqual([shape.nLayer, shape.nHead, shape.blockSize]);
      const a = paramCount({ ...shape, vocabSize: vocab });
      const b = paramCount({ ...other, vocabSize: vocab });
      // Towards GPT-2 the width moves in steps of the heads, so the match is coarser.
      expect(Math.abs(b - a) / a).toBeLessThan(shape.block === 'llama' ? 0.05 : 0.01);
      expect(validateConfig({ ...other, vocabSize: vocab }, PRESETS[2]!.train)).toEqual([]);
      const back = otherBlockShape(other, vocab);
      expect(back.block ?? 'gpt2').toBe(shape.block ?? 'gpt2');
      expect(Math.abs(paramCount({ ...back, vocabSize: vocab }) - b) / b).toBeLessThan(back.block === 'llama' ? 0.01 : 0.05);
    });
  }
});
