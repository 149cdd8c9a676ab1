import { describe, expect, it } from 'vitest';
import { PRESETS } from '../../src/model/config';
import { DEFAULT_SAMPLING, parseSetup, serializeSetup } from '../../src/ui/url';

const baby = PRESETS[0];
const names = PRESETS.find((p) => p.id === 'names')!;
const tiny = PRESETS.find((p) => p.id === 'tiny')!;

describe('setup in the query string', () => {
  it('an empty query gives the first preset, its corpus and default sampling, without notices', () => {
    const s = parseSetup('');
    expect(s).toEqual({ preset: 'tutorial', corpus: 'tiny-shakespeare', model: baby.model, train: baby.train, sampling: DEFAULT_SAMPLING, notices: [] });
  });

  it('round-trips a changed setup through the link', () => {
    const setup = {
      preset: 'tiny' as const,
      corpus: 'names' as const,
      model: { ...tiny.model, nLayer: 3, activation: 'gelu' as const, bias: false },
      train: { ...tiny.train, learningRate: 1e-3, lrDecay: true, seed: 7 },
      sampling: { temperature: 1.25, topK: 5, topP: 0.9, greedy: true, seed: 99 },
    };
    const query = serializeSetup(setup);
    expect(query).toContain('preset=tiny');
    expect(query).toContain('nLayer=3');
    expect(query).not.toContain('nHead');
    expect(parseSetup(query)).toEqual({ ...setup, notices: [] });
  });

  it('round-trips a LLaMA-style setup, from a GPT-2 preset and from the LLaMA preset', () => {
    const llamaTiny = PRESETS.find((p) => p.id === 'llama-tiny')!;
    const fromTiny = {
      preset: 'tiny' as const,
      corpus: 'moby-dick' as const,
      model: { ...tiny.model, block: 'llama' as const, nHead: 4, nKvHead: 2, ffnHidden: 96, ropeTheta: 500, dropout: 0 },
      train: tiny.train,
      sampling: DEFAULT_SAMPLING,
    };
    const query = serializeSetup(fromTiny);
    expect(query).toContain('block=llama');
    expect(query).toContain('nKvHead=2');
    expect(query).toContain('ffnHidden=96');
    expect(query).toContain('ropeTheta=500');
    expect(parseSetup(query)).toEqual({ ...fromTiny, notices: [] });
    const changed = { ...fromTiny, preset: 'llama-tiny' as const, model: { ...llamaTiny.model, nKvHead: 1, ffnHidden: 64, nLayer: 3 } };
    const q2 = serializeSetup(changed);
    expect(q2).toBe('?preset=llama-tiny&nLayer=3&nKvHead=1&ffnHidden=64');
    expect(parseSetup(q2)).toEqual({ ...changed, notices: [] });
    // The LLaMA preset switched back to GPT-2 in the form.
    const back = { ...changed, model: { ...llamaTiny.model, block: 'gpt2' as const } };
    expect(parseSetup(serializeSetup(back))).toEqual({ ...back, notices: [] });
    // A link with 3 key/value heads for 4 heads falls back to the preset, saying why.
    const bad = parseSetup('?preset=llama-tiny&nKvHead=3');
    expect(bad.model).toEqual(llamaTiny.model);
    expect(bad.notices.join(' ')).toMatch(/key\/value heads \(3\) must divide/);
  });

  it('only writes what differs from the preset', () => {
    expect(serializeSetup({ preset: 'names', corpus: 'names', model: names.model, train: names.train, sampling: DEFAULT_SAMPLING })).toBe(
      '?preset=names',
    );
  });

  it('falls back field by field, with a notice for each bad value', () => {
    const s = parseSetup('?preset=tiny&nLayer=abc&nHead=0x10&nEmbd=1e9&blockSize=16.5&dropout=-1&bias=maybe&activation=tanh&temp=7&topP=NaN&topK=3');
    expect(s.model).toEqual(tiny.model);
    expect(s.sampling).toEqual({ ...DEFAULT_SAMPLING, topK: 3 });
    expect(s.notices).toHaveLength(9);
    expect(s.notices[0]).toMatch(/^Ignored nLayer=abc from the link: it must be a whole number from 1 to 64\. Using 2\.$/);
  });

  it('unknown preset or corpus fall back with a notice', () => {
    const s = parseSetup('?preset=huge&corpus=/etc/passwd');
    expect(s.preset).toBe('tutorial');
    expect(s.corpus).toBe('tiny-shakespeare');
    expect(s.notices).toHaveLength(2);
  });

  it('reads the old "baby" preset id as the Tutorial GPT', () => {
    const s = parseSetup('?preset=baby');
    expect(s.preset).toBe('tutorial');
    expect(s.notices).toEqual([]);
  });

  it('never throws on hostile input', () => {
    for (const q of ['?%', '?nLayer=%E0%A4%A', '?' + 'a'.repeat(10_000), '?nLayer=1&nLayer=99999999999999999999', '?__proto__=1&constructor=2', '?blockSize=Infinity']) {
      expect(() => parseSetup(q)).not.toThrow();
    }
    expect(parseSetup('?blockSize=Infinity').model.blockSize).toBe(baby.model.blockSize);
    expect(parseSetup('?' + 'a'.repeat(10_000)).notices[0]).toMatch(/too long/);
  });

  it('a config the validator rejects falls back to the whole preset', () => {
    const validate = (m: { nEmbd: number; nHead: number }) => (m.nEmbd % m.nHead ? ['nEmbd must be divisible by nHead.'] : []);
    const s = parseSetup('?preset=tiny&nHead=5&maxSteps=10', validate);
    expect(s.model).toEqual(tiny.model);
    expect(s.train).toEqual(tiny.train);
    expect(s.notices[0]).toMatch(/nEmbd must be divisible by nHead/);
  });

  it('validates through validateConfig by default: a link cannot ask for more memory than the budget', () => {
    const s = parseSetup('?preset=tiny&nLayer=48&nEmbd=2048&nHead=16&blockSize=2048&batchSize=512');
    expect(s.model).toEqual(tiny.model);
    expect(s.train).toEqual(tiny.train);
    expect(s.notices.join(' ')).toMatch(/GPU memory|buffer limit/);
    expect(parseSetup('?preset=tiny&nHead=5').notices[0]).toMatch(/divisible by the number of heads/);
  });
});
