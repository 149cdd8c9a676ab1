// The nanoGPT zip of a run on tokens: the splits pre-tokenized as nanoGPT's
// prepare scripts leave them (train.bin / val.bin, uint16 little-endian) and a
// meta.pkl that Python's pickle reads as {vocab_size, itos, stoi}.
import { execFileSync } from 'node:child_process';
import { strFromU8, unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { buildBundle } from '../../src/engine/nanogptBundle';
import { idsFile, metaPickle } from '../../src/engine/nanogpt/tokenData';
import { PRESETS } from '../../src/model/config';
import { RunTokenizer, type TokenizerSpec } from '../../src/model/runTokenizer';
import { parseTiktoken, toTiktoken } from '../../src/tokenizer/tiktokenFile';
import { trainBpe } from '../../src/tokenizer/trainer';

const TEXT = 'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak. — “Ünïcode” ok? 😀\n'.repeat(7);
const trained = trainBpe(TEXT, 300);
if (!trained.ok) throw new Error(trained.message);
const tok = RunTokenizer.bpe('toy', trained.model);
const splits = tok.splitCorpus(TEXT);
const preset = PRESETS.find((p) => p.id === 'nanogpt-char')!;

const python = (() => {
  try {
    execFileSync('python3', ['--version']);
    return true;
  } catch {
    return false;
  }
})();

describe('nanoGPT zip of a run on tokens', () => {
  const files = unzipSync(
    buildBundle({
      stem: 'toy-bpe',
      runName: 'Toy BPE',
      text: TEXT,
      vocab: tok.vocab,
      model: { ...preset.model, nLayer: 1, nEmbd: 16, blockSize: 8, vocabSize: tok.size },
      train: { ...preset.train, batchSize: 4, maxSteps: 10 },
      step: 10,
      checkpoint: new Uint8Array([1, 2, 3]),
      tokens: { train: splits.train, val: splits.val, vocab: tok.vocab, label: tok.label, spec: tok.spec() },
    }),
  );

  it('holds train.bin / val.bin as uint16 ids and meta.pkl, and no prepare.py', () => {
    expect(Object.keys(files).filter((f) => f.startsWith('data/')).sort()).toEqual(
      ['data/toy-bpe/input.txt', 'data/toy-bpe/meta.pkl', 'data/toy-bpe/train.bin', 'data/toy-bpe/val.bin', 'data/toy-bpe/toy-bpe.tiktoken'].sort(),
    );
    const bin = files['data/toy-bpe/train.bin']!;
    expect(bin.length).toBe(2 * splits.train.length);
    const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
    expect(Array.from({ length: splits.train.length }, (_, i) => view.getUint16(2 * i, true))).toEqual(Array.from(splits.train));
    expect(files['data/toy-bpe/val.bin']!.length).toBe(2 * splits.val.length);
    const readme = strFromU8(files['README.md']!);
    expect(readme).toContain('skip prepare.py');
    expect(readme).not.toContain('python data/toy-bpe/prepare.py');
    expect(readme).toContain(`${tok.size} tokens of BPE toy (300)`);
    // The BPE travels as tiktoken's rank file, with the pattern Python's tiktoken needs beside it in the README.
    const ranks = strFromU8(files['data/toy-bpe/toy-bpe.tiktoken']!);
    expect(ranks).toBe(toTiktoken(trained.model));
    expect(parseTiktoken('toy', ranks)).toMatchObject({ ok: true });
    expect(readme).toContain(`pat_str=${JSON.stringify(trained.model.pattern)}`);
    expect(readme).toContain("load_tiktoken_bpe('data/toy-bpe/toy-bpe.tiktoken')");
    // Past 65,535 the ids are uint32.
    expect(idsFile(Int32Array.of(1, 70000), true)).toEqual(new Uint8Array(Uint32Array.of(1, 70000).buffer));
  });

  it.skipIf(!python)("meta.pkl is what Python's pickle reads: vocab_size, itos and stoi", () => {
    const vocab = ['\n', 'a', 'é', 'Ünï', '😀', '\uFFFD'];
    const out = execFileSync('python3', ['-c', 'import pickle,sys,json; m = pickle.loads(sys.stdin.buffer.read()); print(json.dumps([m["vocab_size"], sorted(m["itos"].items()), sorted(m["stoi"].items())]))'], {
      input: Buffer.from(metaPickle(vocab)),
    });
    const [size, itos, stoi] = JSON.parse(out.toString()) as [number, [number, string][], [string, number][]];
    expect(size).toBe(vocab.length);
    expect(itos).toEqual(vocab.map((s, i) => [i, s]));
    expect(new Map(stoi)).toEqual(new Map(vocab.map((s, i) => [s, i])));
    expect(stoi.length).toBe(vocab.length);
  });

  it.skipIf(!python)("meta.pkl keeps the run's tokenizer (what ckpt_to_playground.py writes back into the checkpoint)", async () => {
    const out = execFileSync('python3', ['-c', 'import pickle,sys; m = pickle.loads(sys.stdin.buffer.read()); sys.stdout.write(m["playground_tokenizer"])'], {
      input: Buffer.from(files['data/toy-bpe/meta.pkl']!),
    });
    const spec = JSON.parse(out.toString()) as TokenizerSpec;
    expect(spec).toEqual(tok.spec());
    // Read back, it is the same tokenizer: the same ids for the corpus.
    const back = await RunTokenizer.fromSpec(spec);
    expect(back.splitCorpus(TEXT).train).toEqual(splits.train);
    // The converter copies it into the safetensors metadata the browser's import reads.
    expect(strFromU8(files['ckpt_to_playground.py']!)).toContain("metadata['tokenizer'] = meta['playground_tokenizer']");
  });
});
