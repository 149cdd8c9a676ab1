import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, DEFAULT_TRAIN } from '../../src/model/config';
import { CHECKPOINT_VERSION, CheckpointStore, appendThinned, checkpointProblem, firstNonFinite, fullDiskMessage, summarize, type RunCheckpoint } from '../../src/engine/checkpointStore';

function run(over: Partial<RunCheckpoint> = {}): RunCheckpoint {
  return {
    version: CHECKPOINT_VERSION,
    savedAt: 0,
    corpus: { name: 'mine', builtIn: false, text: 'abcabc' },
    model: { ...DEFAULT_MODEL, vocabSize: 3 },
    train: { ...DEFAULT_TRAIN },
    vocab: ['a', 'b', 'c'],
    step: 10,
    params: new Float32Array([1, 2, 3]),
    m: new Float32Array(3),
    v: new Float32Array(3),
    samplerState: 42,
    lossHistory: [],
    evalHistory: [],
    ...over,
  };
}

describe('checkpoint records', () => {
  it('accepts a sound run', () => {
    expect(checkpointProblem(run())).toBeNull();
    expect(checkpointProblem(run({ corpus: { name: 'moby-dick', builtIn: true } }))).toBeNull();
  });

  it('refuses non-finite values anywhere in the state', () => {
    expect(firstNonFinite(new Float32Array([0, 1, Number.NaN]))).toBe(2);
    expect(firstNonFinite(new Float32Array([0, 1, 2]))).toBe(-1);
    expect(checkpointProblem(run({ params: new Float32Array([1, Number.NaN, 3]) }))).toMatch(/parameters contain a non-finite value \(index 1\)/);
    expect(checkpointProblem(run({ m: new Float32Array([Infinity, 0, 0]) }))).toMatch(/first moments/);
    expect(checkpointProblem(run({ v: new Float32Array([0, 0, -Infinity]) }))).toMatch(/second moments/);
  });

  it('refuses mismatched sizes, a lost corpus and other versions', () => {
    expect(checkpointProblem(run({ m: new Float32Array(2) }))).toMatch(/optimizer state/);
    expect(checkpointProblem(run({ vocab: ['a'] }))).toMatch(/vocabulary/);
    expect(checkpointProblem(run({ corpus: { name: 'mine', builtIn: false } }))).toMatch(/corpus text/);
    expect(checkpointProblem(run({ version: 99 }))).toMatch(/version 99/);
  });

  it('thins the loss history, keeping the latest points and the first', () => {
    let h: { step: number; loss: number }[] = [];
    for (let s = 0; s < 10_000; s++) h = appendThinned(h, { step: s, loss: 1 / (s + 1) }, 100);
    expect(h.length).toBeLessThanOrEqual(100);
    expect(h.length).toBeGreaterThan(50);
    expect(h[0].step).toBe(0);
    expect(h[h.length - 1].step).toBe(9999);
    for (let i = 1; i < h.length; i++) expect(h[i].step).toBeGreaterThan(h[i - 1].step);
  });

  it('reports a sentence, never throws, when storage is unavailable', async () => {
    const store = new CheckpointStore(null);
    const r = await store.save(run());
    expect(r.saved).toBe(false);
    if (!r.saved) expect(r.message).toMatch(/not being saved.*Training goes on/);
    expect(await store.load('current')).toBeNull();
    expect(await store.list()).toEqual([]);
    const bad = await store.save(run({ params: new Float32Array([Number.NaN, 0, 0]) }));
    expect(bad.saved).toBe(false);
  });

  it('summarizes a run for the table, and reads a record from before runs had names', () => {
    const id = { id: 'run-1', name: 'Tiny on Moby Dick', preset: 'Tiny', createdAt: 5, notes: '' };
    const sum = summarize(
      run({ run: id, wallMs: 1500, tokensPerSec: 900, lossHistory: [{ step: 10, loss: 2.5, time: 1.5 }], evalHistory: [{ step: 10, trainLoss: 2.4, valLoss: 2.6 }] }),
    );
    expect(sum).toMatchObject({ ...id, step: 10, wallMs: 1500, tokensPerSec: 900, trainLoss: 2.5, valLoss: 2.6, corpusName: 'mine' });
    // Three floats of weights and two moments, the text as UTF-16, and the curve points.
    expect(sum.bytes).toBe(9 * 4 + 6 * 2 + 2 * 24);
    expect(summarize(run())).toMatchObject({ id: 'current', name: 'Run on mine', wallMs: 0, trainLoss: null });
  });

  it('keeps a LoRA fine-tune: a frozen base without moments, finite adapters with theirs', () => {
    const info = {
      kind: 'lora' as const, baseRunId: 'run-base', baseRunName: 'Base', baseStep: 400, baseLossHistory: [], baseEvalHistory: [],
      trainable: 4, allParams: 7, gpuBytes: 10, fullGpuBytes: 20,
    };
    const adapters = (a: number[]) => ({ adapters: new Float32Array(a), m: new Float32Array(a.length), v: new Float32Array(a.length) });
    const lora = run({ m: new Float32Array(0), v: new Float32Array(0), fineTune: { info, lora: adapters([1, 2, 3, 4]) } });
    expect(checkpointProblem(lora)).toBeNull();
    // Three base floats, four adapters and their two moments.
    expect(summarize(lora)).toMatchObject({ fineTune: { kind: 'lora', baseRunName: 'Base', baseRunId: 'run-base' }, bytes: (3 + 12) * 4 + 6 * 2 });
    expect(checkpointProblem({ ...lora, fineTune: { info, lora: adapters([1, Number.NaN, 3, 4]) } })).toMatch(/adapters contain a non-finite value/);
    expect(checkpointProblem({ ...lora, fineTune: { info, lora: { ...adapters([1, 2]), m: new Float32Array(1) } } })).toMatch(/adapters are incomplete/);
    // A full-weight fine-tune (DPO on all weights) keeps its moments like any run.
    expect(checkpointProblem(run({ fineTune: { info: { ...info, kind: 'dpo' } } }))).toBeNull();
    expect(checkpointProblem(run({ m: new Float32Array(0), fineTune: { info: { ...info, kind: 'dpo' } } }))).toMatch(/optimizer state/);
  });

  it('a full disk names the largest other runs to delete, with human sizes', () => {
    const msg = fullDiskMessage([
      { name: 'small', bytes: 2048 },
      { name: 'big', bytes: 30 * 1024 * 1024 },
      { name: 'mid', bytes: 3 * 1024 * 1024 },
      { name: 'tiny', bytes: 10 },
    ]);
    expect(msg).toBe(
      'Checkpoints are not being saved: the browser storage for this site is full. Training goes on. ' +
        'Delete runs you no longer need in the Runs tab, largest first: "big" (30.0 MB), "mid" (3.0 MB), "small" (2.0 KB).',
    );
    expect(fullDiskMessage([])).toMatch(/No other run is stored/);
  });
});
