import { describe, expect, it } from 'vitest';
import { PRESETS } from '../../src/model/config';
import { matchingPreset, presetForRun, shapeDifferences } from '../../src/ui/runPreset';

const preset = (id: string) => PRESETS.find((p) => p.id === id)!;

describe('the preset a run is shown under', () => {
  it('every preset is its own match, also with another step budget', () => {
    for (const p of PRESETS) {
      expect(matchingPreset(p.model, p.train)?.id).toBe(p.id);
      const longer = { ...p.train, maxSteps: p.train.maxSteps + 123 };
      expect(presetForRun({ ...p.model }, longer).id).toBe(p.id);
    }
  });

  it('settings that match no preset are custom, shown under the preset the run was made from', () => {
    const tiny = preset('tiny');
    const model = { ...tiny.model, nLayer: 1 };
    expect(matchingPreset(model, tiny.train)).toBeNull();
    expect(matchingPreset(tiny.model, { ...tiny.train, learningRate: 1e-2 })).toBeNull();
    expect(presetForRun(model, tiny.train, tiny.label).id).toBe('tiny');
    // Without a label, the nearest model: Tiny with one layer fewer is still nearest Tiny.
    expect(presetForRun(model, tiny.train).id).toBe('tiny');
    expect(shapeDifferences(tiny.model, model)).toEqual(['nLayer']);
  });

  it('LLaMA-only fields do not tell GPT-2 models apart, and do tell LLaMA ones', () => {
    const tiny = preset('tiny');
    expect(shapeDifferences(tiny.model, { ...tiny.model, nKvHead: 1 })).toEqual([]);
    const llama = preset('llama-tiny');
    expect(shapeDifferences(llama.model, { ...llama.model, nKvHead: 4 })).toEqual(['nKvHead']);
    expect(shapeDifferences(tiny.model, { ...tiny.model, block: 'gpt2' })).toEqual([]);
  });
});
