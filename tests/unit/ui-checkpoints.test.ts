import { describe, expect, it } from 'vitest';
import type { SavedRunSummary } from '../../src/engine/protocol';
import { DEFAULT_MODEL, DEFAULT_TRAIN } from '../../src/model/config';
import { builtinIdFor, describeSavedAt, describeSavedRun } from '../../src/ui/stores/checkpoints';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

function run(patch: Partial<SavedRunSummary>): SavedRunSummary {
  return {
    id: 'run-1',
    name: 'Tiny on Moby Dick',
    preset: 'Tiny',
    createdAt: NOW - 3600_000,
    notes: '',
    wallMs: 0,
    tokensPerSec: 0,
    trainLoss: null,
    valLoss: null,
    bytes: 0,
    corpusName: 'Moby Dick',
    builtIn: true,
    model: { ...DEFAULT_MODEL, vocabSize: 80 },
    train: DEFAULT_TRAIN,
    step: 120,
    savedAt: NOW - 3 * 60_000,
    lossHistory: [],
    evalHistory: [],
    ...patch,
  };
}

describe('the saved-run offer', () => {
  it('names the step, the corpus and when it was saved', () => {
    expect(describeSavedRun(run({}), NOW)).toBe('Resume training from step 120 of Moby Dick — saved 3 minutes ago');
    expect(describeSavedRun(run({ corpusName: 'names', step: 7, savedAt: NOW - 10_000 }), NOW)).toBe(
      'Resume training from step 7 of First names — saved just now',
    );
    expect(describeSavedRun(run({ corpusName: 'my poems.txt', builtIn: false, savedAt: NOW - 2 * 3600_000 }), NOW)).toBe(
      'Resume training from step 120 of my poems.txt — saved 2 hours ago',
    );
    // A finished run is offered to open, not to resume.
    expect(describeSavedRun(run({ step: 3000 }), NOW)).toMatch(/^Open the finished run “.+” \(step 3000 of Moby Dick\) — saved 3 minutes ago$/);
  });

  it('says when, in words, from seconds to days', () => {
    expect(describeSavedAt(NOW - 60_000, NOW)).toBe('1 minute ago');
    expect(describeSavedAt(NOW + 5_000, NOW)).toBe('just now');
    expect(describeSavedAt(NOW - 3 * 86_400_000, NOW)).toMatch(/^on 12 Jan 2025/);
  });

  it('finds built-in corpora by label or id, and nothing else', () => {
    expect(builtinIdFor('Moby Dick')).toBe('moby-dick');
    expect(builtinIdFor('moby-dick')).toBe('moby-dick');
    expect(builtinIdFor('First names')).toBe('names');
    expect(builtinIdFor('poems')).toBeNull();
  });
});
