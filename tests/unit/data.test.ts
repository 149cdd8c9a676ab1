import { describe, expect, it } from 'vitest';
import { BatchSampler, splitCorpus } from '../../src/model/data';

const ids = Int32Array.from({ length: 1000 }, (_, i) => i);

describe('train / validation split', () => {
  it('keeps the first 90% for training and the rest for validation', () => {
    const { train, val } = splitCorpus(ids, 16);
    expect(train.length).toBe(900);
    expect(val.length).toBe(100);
    expect(train[899]).toBe(899);
    expect(val[0]).toBe(900);
  });

  it('says clearly when either split cannot hold blockSize + 1 tokens', () => {
    expect(() => splitCorpus(ids, 100)).toThrow(
      /too short: 1000 characters split into 900 for training and 100 for validation, but each part needs at least 101/,
    );
    expect(() => splitCorpus(ids, 99)).not.toThrow();
    expect(() => splitCorpus(Int32Array.from([1, 2, 3]), 1)).toThrow(/at least 11 characters/);
  });
});

describe('batch sampler', () => {
  it('draws windows with targets shifted by one', () => {
    const s = new BatchSampler(ids, 4, 8, 1);
    const { x, y } = s.next();
    expect(x.length).toBe(32);
    for (let b = 0; b < 4; b++) {
      for (let t = 0; t < 8; t++) {
        expect(x[b * 8 + t]).toBe(x[b * 8] + t);
        expect(y[b * 8 + t]).toBe(x[b * 8 + t] + 1);
      }
      expect(x[b * 8] + 8).toBeLessThan(1000);
    }
  });

  it('reaches every start position, including the last one', () => {
    const small = Int32Array.from({ length: 12 }, (_, i) => i);
    const s = new BatchSampler(small, 64, 4, 3);
    const starts = new Set(Array.from({ length: 20 }, () => s.next()).flatMap((b) => Array.from({ length: 64 }, (_, r) => b.x[r * 4])));
    expect([...starts].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('gives the same batches for the same seed, and again after restoring its state', () => {
    const a = new BatchSampler(ids, 2, 8, 42);
    const b = new BatchSampler(ids, 2, 8, 42);
    expect(a.next()).toEqual(b.next());
    const saved = a.state;
    const first = [a.next(), a.next()];
    const c = new BatchSampler(ids, 2, 8, 7);
    c.state = saved;
    expect([c.next(), c.next()]).toEqual(first);
    expect(new BatchSampler(ids, 2, 8, 43).next()).not.toEqual(new BatchSampler(ids, 2, 8, 42).next());
  });

  it('refuses a split shorter than blockSize + 1', () => {
    expect(() => new BatchSampler(Int32Array.from([1, 2, 3]), 1, 3, 0)).toThrow(/3 tokens cannot fill a context of 3/);
  });
});
