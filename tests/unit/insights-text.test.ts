import { describe, expect, it } from 'vitest';
import { EXPLAIN, scoreAxisMax, scoreTick, scoreTicks } from '../../src/ui/insightsText';

describe('the head-score axis', () => {
  it('is scaled to the largest score, rounded up to a readable step, never past 1', () => {
    expect(scoreAxisMax([0.003, 0.004])).toBe(0.01);
    expect(scoreAxisMax([0.012, 0.0])).toBe(0.02);
    expect(scoreAxisMax([0.031])).toBe(0.05);
    expect(scoreAxisMax([0.18, 0.07])).toBe(0.2);
    expect(scoreAxisMax([0.51])).toBe(1);
    expect(scoreAxisMax([0.97, NaN, Infinity])).toBe(1);
    expect(scoreAxisMax([])).toBe(0.01);
  });

  it('has five or six ticks at a round step, with short labels', () => {
    expect(scoreTicks(0.02)).toEqual([0, 0.005, 0.01, 0.015, 0.02]);
    expect(scoreTicks(0.05)).toEqual([0, 0.01, 0.02, 0.03, 0.04, 0.05]);
    expect(scoreTicks(1)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(scoreTicks(0.2).map(scoreTick)).toEqual(['0', '0.05', '0.1', '0.15', '0.2']);
    for (const top of [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1]) {
      const ticks = scoreTicks(top);
      expect(ticks.length).toBeGreaterThanOrEqual(5);
      expect(ticks.length).toBeLessThanOrEqual(6);
      expect(ticks.at(-1)).toBe(top);
      for (const t of ticks) expect(scoreTick(t).length).toBeLessThanOrEqual(5);
    }
    expect(scoreTick(0.1 + 0.2)).toBe('0.3');
  });

  it('every view says what it measures and what a high value means, in one sentence', () => {
    for (const [view, text] of Object.entries(EXPLAIN)) {
      expect(text, view).toMatch(/measure|is the likeliest/);
      expect(text, view).toMatch(/high|above|rising|closer/);
      expect(text.split(/\. [A-Z]/).length, view).toBe(1);
    }
  });
});
