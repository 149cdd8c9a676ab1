// Fine-tuning a LLaMA-style run through the engine worker in headless
// Chromium: DPO on all weights starts at ln 2 and raises the accuracy and the
// reward margin; LoRA and DPO on LoRA adapters are refused with a sentence.
import { afterAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { DpoStats, EngineReply, PreferencePair } from '../../src/engine/protocol';
import type { ModelShape, TrainConfig } from '../../src/model/config';
import { DEFAULT_TRAIN } from '../../src/model/config';
import { events, openEngine, request } from './engine';
import { launch, stopServer } from './harness';

afterAll(stopServer);

const TEXT =
  'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n' +
  'First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n' +
  'First Citizen:\nFirst, you know Caius Marcius is chief enemy to the people.\n\nAll:\nWe know\'t, we know\'t.\n';

const MODEL: ModelShape = { block: 'llama', nLayer: 1, nHead: 4, nKvHead: 2, nEmbd: 16, ffnHidden: 24, blockSize: 16, dropout: 0, bias: false, tieWeights: false, activation: 'gelu' };
const TRAIN: TrainConfig = { ...DEFAULT_TRAIN, batchSize: 4, maxSteps: 20, learningRate: 1e-2, warmupSteps: 0, evalInterval: 10, evalIters: 2, checkpointInterval: 0, seed: 7 };
const LORA = { r: 4, alpha: 8, modules: ['attn.c_attn'] as 'attn.c_attn'[] };

function loaded(reply: EngineReply): Extract<EngineReply, { kind: 'loaded' }> {
  if (reply.kind !== 'loaded') throw new Error(JSON.stringify(reply));
  return reply;
}

async function trainToEnd(page: Page): Promise<void> {
  await events(page);
  expect(await request(page, { kind: 'train', action: 'start' })).toEqual({ kind: 'ok' });
  await page.waitForFunction(() => window.__events!.some((e) => e.kind === 'trainState' && e.state === 'done'), null, { timeout: 300_000, polling: 100 });
}

describe('fine-tuning a LLaMA-style run', () => {
  it('DPO on all weights learns the preferences; LoRA is refused with the reason', async () => {
    const s = await launch();
    const { page } = s;
    try {
      await openEngine(page, s.url);
      loaded(await request(page, { kind: 'load', corpusName: 'e2e text', text: TEXT, model: MODEL, train: TRAIN, runName: 'Base' }));
      await trainToEnd(page);

      const lora = await request(page, { kind: 'startLora', corpusName: 'e2e text', text: TEXT, lora: LORA, train: { ...TRAIN, maxSteps: 5 } });
      expect(lora.kind).toBe('error');
      expect(JSON.stringify(lora)).toMatch(/GPT-2 block only so far/);

      const pairs: PreferencePair[] = [
        { prompt: 'All:\n', chosen: 'Speak, speak.', rejected: 'We know\'t.' },
        { prompt: 'First ', chosen: 'Citizen:', rejected: 'you know' },
      ];
      const onLora = await request(page, { kind: 'startDpo', pairs, beta: 0.1, learningRate: 1e-2, steps: 4, target: 'lora', lora: LORA, judge: '' });
      expect(onLora.kind).toBe('invalid');
      expect(JSON.stringify(onLora)).toMatch(/GPT-2 block only so far/);

      await events(page);
      const steps = 12;
      const reply = loaded(await request(page, { kind: 'startDpo', pairs, beta: 0.1, learningRate: 3e-3, steps, target: 'all', judge: '' }));
      expect(reply.config.block).toBe('llama');
      await page.waitForFunction(() => window.__events!.some((e) => e.kind === 'dpoDone'), null, { timeout: 300_000, polling: 100 });
      const done = (await events(page)).find((e) => e.kind === 'dpoDone');
      if (done?.kind !== 'dpoDone') throw new Error('no dpoDone');
      expect(done.message).toBeUndefined();
      const hist: DpoStats[] = done.history;
      const [first, last] = [hist[0]!, hist.at(-1)!];
      console.log(`[e2e llama dpo] loss ${first.loss.toFixed(4)} -> ${last.loss.toFixed(4)}, margin ${first.margin.toFixed(4)} -> ${last.margin.toFixed(4)}, accuracy ${first.accuracy} -> ${last.accuracy}`);
      expect(hist).toHaveLength(steps + 1);
      expect(Math.abs(first.loss - Math.LN2)).toBeLessThan(1e-5);
      expect(first.margin).toBe(0);
      expect(last.margin).toBeGreaterThan(0);
      expect(last.accuracy).toBeGreaterThan(first.accuracy);
      expect(last.loss).toBeLessThan(first.loss);
      expect(s.pageErrors).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
