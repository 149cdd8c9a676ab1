import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL } from '../../src/model/config';
import { RunTokenizer } from '../../src/model/runTokenizer';
import { trainBpe } from '../../src/tokenizer/trainer';
import { Generation } from '../../src/engine/generator';
import type { Decoder } from '../../src/engine/model';
import type { EngineEvent, SamplingSettings } from '../../src/engine/protocol';
import { Serial } from '../../src/engine/serial';
import { BigramModel } from './engine-fakeModel';

const tok = RunTokenizer.charsOf('abcdefgh\n');
const config = { ...DEFAULT_MODEL, nLayer: 1, nHead: 1, nEmbd: 4, blockSize: 4, vocabSize: tok.size };
const sampling: SamplingSettings = { temperature: 1, topK: 0, topP: 1, greedy: false, seed: 5 };

function model(withDecoder = false): BigramModel & { decoded: number } {
  const m = new BigramModel(config, 1, 3) as BigramModel & { decoded: number; decoder?: () => Decoder };
  m.decoded = 0;
  // A bigram's next-token logits depend on the last token only, so a "cache" is just that token.
  if (withDecoder) {
    m.decoder = () => {
      let length = 0;
      return {
        get length() {
          return length;
        },
        push: (id: number) => {
          length++;
          m.decoded++;
          return m.logits(Int32Array.of(id));
        },
        dispose: () => undefined,
      };
    };
  }
  return m;
}

async function generate(m: BigramModel, s: SamplingSettings, n: number, prompt = 'ab') {
  const events: EngineEvent[] = [];
  const g = new Generation(m, tok, new Serial(), (e) => events.push(e), s);
  const result = await g.run(1, prompt, n);
  return { result, events, g };
}

describe('generation', () => {
  it('streams one token event per character, and the same seed gives the same text', async () => {
    const a = await generate(model(), sampling, 30);
    const b = await generate(model(), sampling, 30);
    const c = await generate(model(), { ...sampling, seed: 6 }, 30);
    expect(a.result.text).toHaveLength(30);
    expect(a.result.text).toBe(b.result.text);
    expect(a.result.text).not.toBe(c.result.text);
    const tokens = a.events.flatMap((e) => (e.kind === 'token' ? [e] : []));
    expect(tokens.map((t) => t.char).join('')).toBe(a.result.text);
    for (const t of tokens) {
      expect(t.requestId).toBe(1);
      expect(t.prob).toBeGreaterThan(0);
      expect(t.dist.ids.length).toBe(tok.size);
    }
  });

  it('greedy decoding follows the argmax chain', async () => {
    const m = model();
    const { result } = await generate(m, { ...sampling, greedy: true }, 10, 'a');
    let last = tok.id('a');
    let want = '';
    for (let i = 0; i < 10; i++) {
      const row = m.params.subarray(last * tok.size, (last + 1) * tok.size);
      last = row.indexOf(Math.max(...row));
      want += tok.vocab[last];
    }
    expect(result.text).toBe(want);
  });

  it('uses the KV cache while the context fits and a full forward once it slides, with the same text', async () => {
    const cached = model(true);
    const a = await generate(cached, sampling, 12);
    const b = await generate(model(), sampling, 12);
    expect(a.result.text).toBe(b.result.text);
    expect(cached.decoded).toBeGreaterThan(0);
  });

  it('new settings apply from the next token and stop ends the stream', async () => {
    const events: EngineEvent[] = [];
    const m = model();
    const g = new Generation(m, tok, new Serial(), (e) => {
      events.push(e);
      const n = events.length;
      if (n === 3) g.setSettings({ ...sampling, greedy: true });
      if (n === 8) g.stop();
    }, sampling);
    const result = await g.run(2, 'a', 100);
    expect(result.stopped).toBe(true);
    expect(result.text).toHaveLength(8);
    const tokens = events.flatMap((e) => (e.kind === 'token' ? [e] : []));
    for (const t of tokens.slice(3)) expect(t.dist.kept.filter(Boolean)).toHaveLength(1);
  });

  it('reports characters the model has never seen and starts from a newline when nothing is known', async () => {
    const { result } = await generate(model(), sampling, 3, 'zz');
    expect(result.unknown).toEqual(['z']);
    expect(result.text).toHaveLength(3);
  });
});

describe('generation on byte-level tokens', () => {
  it('holds a character split across tokens until its last byte arrives', async () => {
    const out = trainBpe('aa bb aa bb 東京', 260);
    if (!out.ok) throw new Error(out.message);
    const bpe = RunTokenizer.bpe('toy', out.model);
    // A greedy "model" that, after any token, writes the three bytes of 東 (e6 9d b1) in turn.
    const cycle = [0xe6, 0x9d, 0xb1];
    const V = bpe.size;
    const fake = {
      config: { ...config, vocabSize: V, blockSize: 16 },
      logits: async (ids: Int32Array) => {
        const logits = new Float32Array(V);
        logits[cycle[(cycle.indexOf(ids[ids.length - 1]!) + 1) % 3]!] = 10;
        return logits;
      },
    } as unknown as BigramModel;
    const events: EngineEvent[] = [];
    const g = new Generation(fake, bpe, new Serial(), (e) => events.push(e), { ...sampling, greedy: true });
    const result = await g.run(1, 'a', 6);
    const chars = events.flatMap((e) => (e.kind === 'token' ? [e.char] : []));
    expect(chars).toEqual(['', '', '東', '', '', '東']);
    expect(result.text).toBe('東東');
  });
});
