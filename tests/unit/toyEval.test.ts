// Greedy completions of held-out toy examples, scored on a CPU bigram model
// whose table is set by hand: after each letter it predicts the next one of the
// alphabet (a -> b -> c ...), and after '\n' an 'a'.
import { describe, expect, it } from 'vitest';
import { toyAccuracy } from '../../src/engine/toyEval';
import { Serial } from '../../src/engine/serial';
import type { Decoder } from '../../src/engine/model';
import { CharTokenizer } from '../../src/model/tokenizer';
import { BigramModel } from './engine-fakeModel';

const vocab = ['\n', 'a', 'b', 'c', 'd', 'e', 'f', 'x'];
const tok = new CharTokenizer(vocab);

function successorModel(blockSize: number): BigramModel {
  const V = vocab.length;
  const m = new BigramModel({ nLayer: 1, nHead: 1, nEmbd: 4, blockSize, vocabSize: V, dropout: 0, bias: true, tieWeights: false, activation: 'relu' }, 1);
  m.params.fill(0);
  for (let i = 0; i < V; i++) m.params[i * V + (i === 0 ? 1 : Math.min(i + 1, V - 1))] = 5;
  return m;
}

/** The same model with a key/value-cache-like decoder: push returns the pushed token's row, and counts its calls. */
function withDecoder(m: BigramModel) {
  const V = vocab.length;
  let pushes = 0;
  let disposed = 0;
  const decoder = (): Decoder => {
    let length = 0;
    return {
      push: async (id) => {
        pushes++;
        length++;
        if (length > m.config.blockSize) throw new Error('cache full');
        return m.params.slice(id * V, (id + 1) * V);
      },
      get length() {
        return length;
      },
      dispose: () => void disposed++,
    };
  };
  return { model: Object.assign(m, { decoder }), counts: () => ({ pushes, disposed }) };
}

const EXAMPLES = [
  { prompt: 'ab', answer: 'cd' }, // exact
  { prompt: 'c', answer: 'dex' }, // d, e right; then f, not x
  { prompt: 'a', answer: 'xx' }, // b, c: both wrong
  { prompt: 'aq', answer: 'r' }, // unknown characters: skipped
  { prompt: 'abcdef', answer: 'xx' }, // '\n' + 6 + 2 - 1 = 8 positions: skipped with a context of 7
  { prompt: 'd', answer: 'e' }, // exact
];

describe('toy-task accuracy of greedy completions', () => {
  it('scores exact matches and characters, skipping examples the model cannot read or fit', async () => {
    for (const make of [(m: BigramModel) => ({ model: m, counts: null }), withDecoder]) {
      const { model, counts } = make(successorModel(7));
      const r = await toyAccuracy(model, new Serial(), tok, EXAMPLES);
      expect(r).toEqual({ exact: 2 / 4, perChar: (2 + 2 + 0 + 1) / (2 + 3 + 2 + 1), examples: 4 });
      if (counts) {
        // Per example: '\n' + prompt pushed, then one push per decoded character but the last.
        expect(counts()).toEqual({ pushes: (3 + 1) + (2 + 2) + (2 + 1) + (2 + 0), disposed: 4 });
      }
    }
  });

  it('scores the first `count` usable examples, and says null when none is usable', async () => {
    const m = successorModel(7);
    expect(await toyAccuracy(m, new Serial(), tok, EXAMPLES, 2)).toEqual({ exact: 1 / 2, perChar: 4 / 5, examples: 2 });
    expect(await toyAccuracy(m, new Serial(), tok, EXAMPLES.slice(3, 5))).toBeNull();
  });
});
