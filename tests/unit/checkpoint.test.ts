import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, DEFAULT_TRAIN } from '../../src/model/config';
import { CHECKPOINT_VERSION, CheckpointStore, appendThinned, checkpointProblem, firstNonFinite, type RunCheckpoint } from '../../src/engine/checkpointStore';

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
    expect(await store.load()).toBeNull();
    const bad = await store.save(run({ params: new Float32Array([Number.NaN, 0, 0]) }));
    expect(bad.saved).toBe(false);
  });
});
