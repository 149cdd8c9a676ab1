// The import reads a LLaMA run's Hugging Face zip, its model.safetensors
// alone, or that file with config.json beside it, and our own checkpoints;
// a LLaMA file without a vocabulary is refused with a sentence.
import { describe, expect, it } from 'vitest';
import { strToU8, unzipSync, zipSync } from 'fflate';
import type { ModelConfig } from '../../src/model/config';
import { exportSafetensors } from '../../src/model/files';
import { exportHfLlama } from '../../src/model/hfFiles';
import { initParams, paramLayout } from '../../src/model/layout';
import { readSafetensors, writeSafetensors } from '../../src/model/safetensors';
import { hfZip, readModelFile } from '../../src/engine/modelFiles';
import { RunTokenizer } from '../../src/model/runTokenizer';
import { trainBpe } from '../../src/tokenizer/trainer';

const config: ModelConfig = {
  block: 'llama', nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 24, ffnHidden: 40, blockSize: 9, vocabSize: 7,
  ropeTheta: 10000, rmsNormEps: 1e-5, tieWeights: false, dropout: 0, bias: false, activation: 'gelu',
};
const vocab = ['\n', ' ', 'a', 'b', 'c', 'd', 'e'];
const layout = paramLayout(config);
const params = initParams(layout, 11);

function withoutMeta(bytes: Uint8Array, drop: string[]): Uint8Array {
  const file = readSafetensors(bytes);
  const meta = Object.fromEntries(Object.entries(file.metadata).filter(([k]) => !drop.includes(k)));
  const tensors: Array<[string, { shape: number[]; data: Float32Array }]> = [...file.tensors].map(([n, t]) => [n, { shape: t.shape, data: Float32Array.from(t.data) }]);
  return writeSafetensors(tensors, meta);
}

describe('model files for the import', () => {
  it('the Hugging Face zip holds model.safetensors and config.json, and reads back as the same model', () => {
    const zip = hfZip(layout, params, vocab);
    const files = unzipSync(zip);
    expect(Object.keys(files).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(JSON.parse(new TextDecoder().decode(files['config.json']))).toMatchObject({ model_type: 'llama', num_key_value_heads: 2, intermediate_size: 40 });
    const back = readModelFile(zip);
    expect(back.layout.config).toEqual(config);
    expect(back.params).toEqual(params);
    expect(back.vocab).toEqual(vocab);
    expect(back.adam).toBeNull();
    // model.safetensors alone: the config is in its metadata.
    expect(readModelFile(files['model.safetensors']!).params).toEqual(params);
    // A folder zipped whole keeps its folder name in the paths.
    const nested = zipSync({ 'my-model/model.safetensors': files['model.safetensors']!, 'my-model/config.json': files['config.json']! });
    expect(readModelFile(nested).params).toEqual(params);
  });

  it('the Hugging Face zip of a run on tokens carries its tokenizer, which reads back as the same one', async () => {
    const text = 'First Citizen:\nBefore we proceed any further, hear me speak.\n'.repeat(6);
    const bpe = trainBpe(text, 270);
    if (!bpe.ok) throw new Error(bpe.message);
    const tok = RunTokenizer.bpe('toy', bpe.model);
    const bpeLayout = paramLayout({ ...config, vocabSize: tok.size });
    const bpeParams = initParams(bpeLayout, 3);
    const back = readModelFile(hfZip(bpeLayout, bpeParams, tok.vocab, tok.spec()));
    expect(back.tokenizer).toEqual(tok.spec());
    expect(back.params).toEqual(bpeParams);
    const again = await RunTokenizer.fromSpec(back.tokenizer!);
    expect(again.vocab).toEqual(back.vocab);
    expect(again.splitCorpus(text).train).toEqual(tok.splitCorpus(text).train);
    // A character run's file has none (its vocabulary is its tokenizer); a damaged one gets a sentence.
    expect(readModelFile(hfZip(layout, params, vocab, RunTokenizer.chars(vocab).spec())).tokenizer).toBeUndefined();
    const { safetensors } = exportHfLlama(bpeLayout, bpeParams, tok.vocab, tok.spec());
    const file = readSafetensors(safetensors);
    const damaged = writeSafetensors([...file.tensors].map(([n, t]) => [n, { shape: t.shape, data: Float32Array.from(t.data) }]), { ...file.metadata, tokenizer: '{oops' });
    expect(() => readModelFile(damaged)).toThrow('The file\'s "tokenizer" metadata is not valid JSON.');
  });

  it('config.json picked with a model.safetensors that has no config metadata', () => {
    const { safetensors, configJson } = exportHfLlama(layout, params, vocab);
    const bare = withoutMeta(safetensors, ['config']);
    expect(() => readModelFile(bare)).toThrow();
    const back = readModelFile(bare, configJson);
    expect(back.layout.config).toEqual(config);
    expect(back.params).toEqual(params);
    expect(readModelFile(zipSync({ 'model.safetensors': bare, 'config.json': strToU8(configJson) })).params).toEqual(params);
  });

  it('refuses a LLaMA file without a vocabulary, and a zip without weights, with a sentence', () => {
    const { safetensors } = exportHfLlama(layout, params, vocab);
    expect(() => readModelFile(withoutMeta(safetensors, ['vocab']))).toThrow(/has no vocabulary/);
    expect(() => readModelFile(zipSync({ 'README.md': strToU8('hi') }))).toThrow(/no model.safetensors/);
  });

  it('still reads our checkpoints, GPT-2 and LLaMA, with their AdamW state', () => {
    const gpt: ModelConfig = { nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 5, vocabSize: 7, dropout: 0, bias: true, tieWeights: true, activation: 'gelu' };
    const g = paramLayout(gpt);
    const gp = initParams(g, 3);
    expect(readModelFile(exportSafetensors(g, gp, vocab)).params).toEqual(gp);
    const m = params.map((x) => x / 2);
    const back = readModelFile(exportSafetensors(layout, params, vocab, { m, v: params.map(Math.abs), step: 5 }));
    expect(back.layout.config).toEqual(config);
    expect(back.adam?.step).toBe(5);
    expect(back.adam?.m).toEqual(m);
  });
});
