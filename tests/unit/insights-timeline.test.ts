// The inspection timeline: bounded (older half thinned, the latest kept), a
// snapshot at or before a later one replaces that future (a rollback), and
// the bytes a snapshot holds.
import { describe, expect, it } from 'vitest';
import { MAX_SNAPSHOTS, snapshotBytes, Timeline } from '../../src/engine/insights';
import { LENS_TOP, type Insights } from '../../src/engine/protocol';

function snapshot(step: number, L = 2, NH = 2, T = 16): Insights {
  return {
    step, source: 'eval', tokens: Array.from({ length: T }, () => 'a'), nLayer: L, nHead: NH, T,
    att: new Float32Array(L * NH * T * T), lensIds: new Uint16Array(L * T * LENS_TOP), lensProbs: new Float32Array(L * T * LENS_TOP),
    bits: new Float32Array(T - 1), heads: new Float32Array(L * NH * 4), inductionLength: 8, samplePrompt: 'abcdefgh', sample: 'x'.repeat(24), cropped: 0, unknown: [],
  };
}

describe('inspection timeline', () => {
  it('keeps at most MAX_SNAPSHOTS, thinning the older half and keeping the latest', () => {
    const t = new Timeline();
    for (let s = 1; s <= 200; s++) t.add(snapshot(10 * s));
    expect(t.snapshots.length).toBeLessThanOrEqual(MAX_SNAPSHOTS);
    expect(t.snapshots.length).toBeGreaterThan(MAX_SNAPSHOTS / 2);
    expect(t.snapshots.at(-1)!.step).toBe(2000);
    const steps = t.snapshots.map((x) => x.step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    // Recent snapshots stay dense: the last quarter is consecutive evaluations.
    const tail = steps.slice(-MAX_SNAPSHOTS / 4);
    for (let i = 1; i < tail.length; i++) expect(tail[i] - tail[i - 1]).toBe(10);
  });

  it('a snapshot at an earlier step drops the ones after it (a rollback)', () => {
    const t = new Timeline();
    for (const s of [10, 20, 30, 40]) t.add(snapshot(s));
    t.add(snapshot(20));
    expect(t.snapshots.map((x) => x.step)).toEqual([10, 20]);
    expect(t.upTo(15).map((x) => x.step)).toEqual([10]);
  });

  it('counts the bytes of a snapshot: attention dominates', () => {
    const s = snapshot(1, 2, 2, 16);
    const att = 4 * 2 * 2 * 16 * 16;
    const lens = (2 + 4) * 2 * 16 * LENS_TOP;
    expect(snapshotBytes(s)).toBe(att + lens + 4 * 15 + 4 * 2 * 2 * 4 + 2 * (16 + 24 + 8));
  });
});
