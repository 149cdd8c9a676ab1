// A run's tokenizer: characters, a trained BPE and the OpenAI encodings as the
// model's vocabulary (the corpus's tokens, by rank, renumbered), the 90% split by
// characters, streaming decoding that holds partial UTF-8, refusals as
// sentences, and bits per character.
import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import o200k from 'js-tiktoken/ranks/o200k_base';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL } from '../../src/model/config';
import { exportSafetensors, importSafetensors } from '../../src/model/files';
import { initParams, paramLayout } from '../../src/model/layout';
import { bitsPerChar, RunTokenizer, tokenSplitProblem, unknownSentence } from '../../src/model/runTokenizer';
import { trainBpe } from '../../src/tokenizer/trainer';

const TEXT =
  'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n' +
  'First Citizen:\nYou are all resolved rather to die than to famish? Café — naïve 東京 🙂 done.\n';

function trained(vocab: number) {
  const out = trainBpe(TEXT, vocab);
  if (!out.ok) throw new Error(out.message);
  return out.model;
}

describe('character runs', () => {
  it('keep the sorted characters and split at 90% of them', async () => {
    const { tokenizer, splits } = await RunTokenizer.forCorpus({ kind: 'char' }, TEXT);
    const chars = [...TEXT];
    expect(tokenizer.vocab).toEqual([...new Set(chars)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!));
    expect(splits.trainChars).toBe(Math.floor(chars.length * 0.9));
    expect(splits.train.length).toBe(splits.trainChars);
    expect(splits.val.length).toBe(chars.length - splits.trainChars);
    expect(tokenizer.decode([...splits.train, ...splits.val])).toBe(TEXT);
    expect(tokenizer.encode('Speak!').unknown).toEqual(['!']);
  });
});

describe('a trained BPE', () => {
  const model = trained(300);
  const tok = RunTokenizer.bpe('toy', model);

  it('keeps every token of the tokenizer, ids = ranks, and round-trips the corpus', async () => {
    expect(tok.size).toBe(model.tokens.length);
    const { splits } = await RunTokenizer.forCorpus({ kind: 'bpe', name: 'toy', model }, TEXT);
    expect(tok.decode([...splits.train, ...splits.val])).toBe(TEXT);
    // Each part encoded on its own: the split is by characters, not tokens.
    const cut = [...TEXT].slice(0, splits.trainChars).join('');
    expect(tok.decode(splits.train)).toBe(cut);
    expect(splits.trainChars + splits.valChars).toBe([...TEXT].length);
    // Fewer tokens than characters: the merges compress.
    expect(splits.train.length).toBeLessThan(splits.trainChars);
  });

  it('streams text whose characters cross token boundaries, holding partial UTF-8', () => {
    // Single bytes of "東" (e6 9d b1): three tokens, one character.
    const ids = [0xe6, 0x9d, 0xb1];
    const stream = tok.stream();
    expect(stream.push(ids[0]!)).toBe('');
    expect(stream.push(ids[1]!)).toBe('');
    expect(stream.push(ids[2]!)).toBe('東');
    expect(tok.tokenTexts([...ids, tok.encode('!').ids[0]!])).toEqual(['', '', '東', '!']);
    expect(tok.vocab[0xe6]).toBe('\uFFFD');
    // An unfinished character at the end comes out as a replacement character.
    expect(tok.decode([0xe6, 0x9d])).toBe('\uFFFD');
  });

  it('travels in an exported model file, and a damaged one is refused', async () => {
    const layout = paramLayout({ ...DEFAULT_MODEL, nLayer: 1, nHead: 1, nEmbd: 8, blockSize: 8, vocabSize: tok.size });
    const params = initParams(layout, 1);
    const file = importSafetensors(exportSafetensors(layout, params, tok.vocab, undefined, tok.spec()));
    expect(file.tokenizer).toEqual(tok.spec());
    const back = await RunTokenizer.fromSpec(file.tokenizer!);
    expect(back.decode(back.encode(TEXT).ids)).toBe(TEXT);
    // A character run's file has no tokenizer metadata: its vocabulary is the characters.
    const chars = RunTokenizer.charsOf(TEXT);
    const charLayout = paramLayout({ ...layout.config, vocabSize: chars.size });
    expect(importSafetensors(exportSafetensors(charLayout, initParams(charLayout, 1), chars.vocab, undefined, chars.spec())).tokenizer).toBeUndefined();
  });

  it('survives its spec (what a checkpoint keeps)', async () => {
    const back = await RunTokenizer.fromSpec(JSON.parse(JSON.stringify(tok.spec())));
    expect(back.kind).toBe('bpe');
    expect(back.vocab).toEqual(tok.vocab);
    expect(Array.from(back.encode(TEXT).ids)).toEqual(Array.from(tok.encode(TEXT).ids));
  });
});

describe.each([
  ['cl100k_base', cl100k],
  ['o200k_base', o200k],
] as const)('%s', (name, ranks) => {
  it('keeps only the corpus tokens, by rank, renumbered; encodes as js-tiktoken does', async () => {
    const { tokenizer, splits } = await RunTokenizer.forCorpus({ kind: name }, TEXT);
    const ref = new Tiktoken(ranks);
    const cut = [...TEXT].slice(0, splits.trainChars).join('');
    const refTrain = ref.encode(cut, [], []);
    const refVal = ref.encode(TEXT.slice(cut.length), [], []);
    const used = [...new Set([...refTrain, ...refVal])].sort((a, b) => a - b);
    expect(tokenizer.ranks).toEqual(used);
    expect(tokenizer.size).toBe(used.length);
    expect(tokenizer.fullSize).toBeGreaterThan(90_000);
    expect(Array.from(splits.train, (id) => used[id])).toEqual(refTrain);
    expect(Array.from(splits.val, (id) => used[id])).toEqual(refVal);
    expect(tokenizer.decode([...splits.train, ...splits.val])).toBe(TEXT);
    const back = await RunTokenizer.fromSpec(JSON.parse(JSON.stringify(tokenizer.spec())));
    expect(back.vocab).toEqual(tokenizer.vocab);
    // Loading a rank table of 100k-200k tokens takes seconds on a busy machine.
  }, 60_000);

  it('refuses a prompt the vocabulary cannot encode, naming the pieces', async () => {
    const { tokenizer } = await RunTokenizer.forCorpus({ kind: name }, TEXT);
    const { ids, unknown } = tokenizer.encode('Speak zebra quantum');
    expect(unknown).toEqual([' zebra', ' quantum']);
    expect(tokenizer.decode(ids)).toBe('Speak');
    expect(unknownSentence(unknown)).toBe(
      `The prompt has pieces this run's vocabulary cannot encode: " zebra", " quantum". Use only text like the corpus the model was trained on.`,
    );
  });

  it('checks LoRA texts and preference pairs part by part, naming each missing piece once', async () => {
    const { tokenizer } = await RunTokenizer.forCorpus({ kind: name }, TEXT);
    expect(tokenizer.encodeProblem(['All:\n', 'Speak, speak', 'Before we proceed'], 'Pair 1')).toBeNull();
    // Each part on its own: "Citizen" without its leading space is another token than " Citizen".
    expect(tokenizer.encodeProblem(['First', ' Citizen', 'Citizen', ' zebra zebra'], 'Pair 2')).toBe(
      `Pair 2 has pieces this run's vocabulary cannot encode: "Citizen", " zebra". Use only text like the corpus the model was trained on.`,
    );
  });
});

describe('encodeProblem on characters and a trained BPE', () => {
  it('names characters for a character run (as before), nothing for a BPE (every byte is a token)', () => {
    const chars = RunTokenizer.charsOf(TEXT);
    expect(chars.encodeProblem(['Speak', 'Zoo!'], 'The target text')).toBe(
      'The target text has 2 characters the base model has never seen ("Z", "!"); remove or replace them.',
    );
    expect(chars.encodeProblem('Speak, speak.')).toBeNull();
    const bpe = RunTokenizer.bpe('toy', trained(300));
    expect(bpe.encodeProblem(['Zoo! ∑ 🦓', 'anything at all'])).toBeNull();
  });
});

describe('bad input and bits per character', () => {
  it('a corpus shorter than one context plus one, in tokens, gets a sentence', async () => {
    const { splits } = await RunTokenizer.forCorpus({ kind: 'cl100k_base' }, TEXT);
    expect(tokenSplitProblem(splits, splits.val.length - 1, 'cl100k_base')).toBeNull();
    const problem = tokenSplitProblem(splits, splits.val.length, 'cl100k_base');
    expect(problem).toContain(`its training part is ${splits.train.length} tokens and its validation part ${splits.val.length}`);
    expect(problem).toContain(`needs at least ${splits.val.length + 1}`);
  });

  it('a damaged spec is refused with a sentence', async () => {
    await expect(RunTokenizer.fromSpec({ kind: 'bpe', name: 'x', pattern: 'x', tiktoken: 'bm9@ 0\n' })).rejects.toThrow(/cannot be read back.*not valid base64/);
    await expect(RunTokenizer.fromSpec({ kind: 'p50k' } as never)).rejects.toThrow(/not one this app knows/);
  });

  it('bits per character: total nats over the split, per character, in bits', () => {
    // Characters: loss / ln 2.
    expect(bitsPerChar(1.5, 1000, 1000)).toBeCloseTo(1.5 / Math.LN2, 12);
    // 250 tokens at 4 nats each over 1000 characters = 1 nat per character.
    expect(bitsPerChar(4, 250, 1000)).toBeCloseTo(1 / Math.LN2, 12);
  });
});
