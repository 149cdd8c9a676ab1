// A model file tells the run's story: our checkpoint carries the run's step,
// budget and curves in `playground_run`; a nanoGPT checkpoint converted by
// nanogpt/ckpt_to_playground.py carries `iter_num` and `max_iters`. Both are
// read back through the import's own reader; bad metadata gets a sentence.
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, DEFAULT_TRAIN, type ModelConfig } from '../../src/model/config';
import { CharTokenizer } from '../../src/model/tokenizer';
import { splitCorpus } from '../../src/model/data';
import { exportSafetensors } from '../../src/model/files';
import { initParams, paramLayout } from '../../src/model/layout';
import { readSafetensors, writeSafetensors } from '../../src/model/safetensors';
import { readModelFile } from '../../src/engine/modelFiles';
import { readFileRun, RUN_KEY, runMetadata } from '../../src/engine/runRecord';
import { Serial } from '../../src/engine/serial';
import { Trainer } from '../../src/engine/trainer';
import { BigramModel } from './engine-fakeModel';

const vocab = ['\n', ' ', 'a', 'b', 'c', 'd', 'e'];
const config: ModelConfig = { ...DEFAULT_MODEL, nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 6, vocabSize: vocab.length, activation: 'gelu', tieWeights: true, dropout: 0 };
const layout = paramLayout(config);
const params = initParams(layout, 3);

/** Our file with these metadata entries changed (undefined: removed). */
function withMeta(change: Record<string, string | undefined>): Uint8Array {
  const file = readSafetensors(exportSafetensors(layout, params, vocab));
  const meta: Record<string, string> = { ...file.metadata };
  for (const [k, v] of Object.entries(change)) {
    if (v === undefined) delete meta[k];
    else meta[k] = v;
  }
  const tensors: Array<[string, { shape: number[]; data: Float32Array }]> = [...file.tensors].map(([n, t]) => [n, { shape: t.shape, data: Float32Array.from(t.data) }]);
  return writeSafetensors(tensors, meta);
}

const fileRun = (bytes: Uint8Array) => readFileRun(readModelFile(bytes).metadata);

describe("a model file's run record", () => {
  it('a trained run exported and read back keeps its step, budget, curves, wall time and throughput', async () => {
    const TEXT = 'the cat sat on the mat. the dog sat on the log. '.repeat(12);
    const tok = CharTokenizer.fromText(TEXT);
    const { train, val } = splitCorpus(tok.encode(TEXT).ids, 8);
    const cfg = { ...DEFAULT_MODEL, nLayer: 1, nHead: 1, nEmbd: 4, blockSize: 8, vocabSize: tok.size };
    const trainCfg = { ...DEFAULT_TRAIN, batchSize: 4, maxSteps: 30, learningRate: 0.05, weightDecay: 0, evalInterval: 10, evalIters: 2, checkpointInterval: 0 };
    const trainer = new Trainer(
      new BigramModel(cfg, trainCfg.batchSize),
      { run: { id: 'r', name: 'Story', preset: '', createdAt: 0, notes: '' }, corpus: { name: 't', builtIn: false, text: TEXT }, vocab: tok.vocab, train: trainCfg, trainTokens: train, valTokens: val },
      new Serial(),
      { emit: () => undefined, save: async () => ({ saved: true }) },
    );
    await trainer.snapshot();
    expect(await trainer.action('step', 20)).toBeNull();
    await trainer.settle();
    expect(trainer.step).toBe(20);
    const meta = runMetadata(trainer, 20);
    const bytes = exportSafetensors(layout, params, vocab, undefined, undefined, meta);
    const back = fileRun(bytes)!;
    expect(back.step).toBe(20);
    expect(back.maxSteps).toBe(30);
    expect(back.name).toBe('Story');
    expect(back.lossHistory).toEqual(trainer.lossHistory);
    expect(back.lossHistory.map((p) => p.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(back.evalHistory).toEqual(trainer.evalHistory);
    expect(back.evalHistory.map((p) => p.step)).toEqual([0, 10, 20]);
    expect(back.wallMs).toBe(trainer.wallMs);
    expect(back.tokensPerSec).toBe(trainer.tokensPerSec);
    // Curves past the exported step (a step in flight) are left out.
    expect(readFileRun(runMetadata(trainer, 15))!.lossHistory.at(-1)!.step).toBe(15);
  });

  it("a nanoGPT checkpoint's iter_num and max_iters (as ckpt_to_playground.py writes them)", () => {
    const r = fileRun(withMeta({ iter_num: '250', max_iters: '5000' }))!;
    expect(r).toEqual({ step: 250, maxSteps: 5000, name: null, lossHistory: [], evalHistory: [], wallMs: 0, tokensPerSec: 0 });
    // Without max_iters (or a meaningless one) the budget is unknown.
    expect(fileRun(withMeta({ iter_num: '250' }))!.maxSteps).toBeNull();
    expect(fileRun(withMeta({ iter_num: '250', max_iters: 'lots' }))!.maxSteps).toBeNull();
    // A file that says nothing of its run.
    expect(fileRun(withMeta({}))).toBeNull();
    expect(readFileRun(undefined)).toBeNull();
  });

  it('bad metadata is refused with a sentence', () => {
    expect(() => fileRun(withMeta({ iter_num: 'abc' }))).toThrow('The file\'s "iter_num" metadata (abc) is not a whole number of steps.');
    expect(() => fileRun(withMeta({ iter_num: '-3' }))).toThrow(/"iter_num" metadata \(-3\) is not a whole number/);
    expect(() => fileRun(withMeta({ iter_num: '2.5' }))).toThrow(/"iter_num" metadata \(2\.5\)/);
    expect(() => fileRun(withMeta({ [RUN_KEY]: '{not json' }))).toThrow(`The file's "${RUN_KEY}" metadata is not valid JSON.`);
    const needs = /metadata needs a whole-number step and its loss curves/;
    expect(() => fileRun(withMeta({ [RUN_KEY]: 'null' }))).toThrow(needs);
    expect(() => fileRun(withMeta({ [RUN_KEY]: JSON.stringify({ step: 'ten', lossHistory: [], evalHistory: [] }) }))).toThrow(needs);
    expect(() => fileRun(withMeta({ [RUN_KEY]: JSON.stringify({ step: 10, lossHistory: [{ step: 1, loss: 'x' }], evalHistory: [] }) }))).toThrow(needs);
    expect(() => fileRun(withMeta({ [RUN_KEY]: JSON.stringify({ step: 10, lossHistory: [], evalHistory: [{ step: 1 }] }) }))).toThrow(needs);
    expect(() => fileRun(withMeta({ [RUN_KEY]: JSON.stringify({ step: 10, lossHistory: [] }) }))).toThrow(needs);
  });
});
