// Compiling ahead: the engine's warmUp for a preset's shape builds every GPU
// pipeline that a run of that shape then needs for its step-0 evaluation and
// snapshot, its training steps (with the health readings) and an attention
// map. Checked by the device's pipeline count: a whole short run afterwards
// adds none. (How much time that saves is measured by npm run bench:first-step.)
import { afterAll, describe, expect, it } from 'vitest';
import type { EngineReply } from '../../src/engine/protocol';
import { PRESETS } from '../../src/model/config';
import { loaded, openEngine, request, trainToEnd } from './engine';
import { launch, stopServer } from './harness';

afterAll(stopServer);

const TEXT = 'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n'.repeat(12);
const VOCAB = new Set(TEXT).size;

function warmed(reply: EngineReply): Extract<EngineReply, { kind: 'warmedUp' }> {
  if (reply.kind !== 'warmedUp') throw new Error(JSON.stringify(reply));
  return reply;
}

describe('compiling ahead', () => {
  it('a run of the warmed shape compiles no pipeline of its own', async () => {
    const tiny = PRESETS.find((p) => p.id === 'tiny')!;
    const s = await launch();
    const { page } = s;
    try {
      await openEngine(page, s.url);
      const first = warmed(await request(page, { kind: 'warmUp', model: tiny.model, batchSize: tiny.train.batchSize, vocabSize: VOCAB }));
      console.log(`[e2e warm-up] Tiny: ${first.pipelines} pipelines in ${(first.ms / 1000).toFixed(1)} s`);
      expect(first.stopped).toBeUndefined();
      expect(first.pipelines).toBeGreaterThan(10);
      expect(first.total).toBeGreaterThanOrEqual(first.pipelines);

      // The same shape again: nothing to do.
      const again = warmed(await request(page, { kind: 'warmUp', model: tiny.model, batchSize: tiny.train.batchSize, vocabSize: VOCAB }));
      expect(again).toEqual({ kind: 'warmedUp', ms: 0, pipelines: 0, total: first.total });

      // A run of that shape: evaluations (with snapshots) at 0, 1 and 2, two steps, an attention map.
      const train = { ...tiny.train, maxSteps: 2, evalInterval: 1, evalIters: 1, checkpointInterval: 0 };
      loaded(await request(page, { kind: 'load', corpusName: 'e2e text', text: TEXT, model: tiny.model, train, runName: 'Warm' }));
      const evals = await trainToEnd(page);
      expect(evals.map((e) => e.step)).toEqual([0, 1, 2]);
      expect((await request(page, { kind: 'attention', prompt: 'First Citizen' })).kind).toBe('attention');
      const after = warmed(await request(page, { kind: 'warmUp', model: tiny.model, batchSize: tiny.train.batchSize, vocabSize: VOCAB }));
      console.log(`[e2e warm-up] pipelines on the device: ${first.total} after the warm-up, ${after.total} after the run`);
      expect(after.total).toBe(first.total);

      expect(s.pageErrors).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
