// Every kind of run tells the same story in the runs list (what the Runs
// table shows) and in its curves, through the engine worker in headless
// Chromium: a merged LoRA run carries the LoRA run's step and validation loss
// (and a fresh evaluation agrees), a DPO run lists its DPO steps and
// statistics, and a checkpoint file imported back keeps the run's step, step
// budget and curves, with progress events on the way. Then a second tab opens
// the app and its Runs table and compare chart are read for the same runs.
import { afterAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { PreferencePair, RunSummary } from '../../src/engine/protocol';
import type { ModelShape, TrainConfig } from '../../src/model/config';
import { DEFAULT_TRAIN } from '../../src/model/config';
import { events, loaded, openEngine, request, trainToEnd } from './engine';
import { launch, stopServer } from './harness';

afterAll(stopServer);

const TEXT =
  'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n' +
  'First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n' +
  'First Citizen:\nFirst, you know Caius Marcius is chief enemy to the people.\n\nAll:\nWe know\'t, we know\'t.\n';
const TARGET = 'All:\nSpeak, speak.\n\n'.repeat(24);
const MODEL: ModelShape = { nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16, dropout: 0, bias: true, tieWeights: true, activation: 'gelu' };
const TRAIN: TrainConfig = { ...DEFAULT_TRAIN, batchSize: 4, maxSteps: 20, learningRate: 1e-2, warmupSteps: 0, evalInterval: 10, evalIters: 2, checkpointInterval: 0, seed: 7 };
const LORA = { r: 4, alpha: 8, modules: ['attn.c_attn', 'mlp.c_fc'] as ('attn.c_attn' | 'mlp.c_fc')[] };

async function runs(page: Page): Promise<RunSummary[]> {
  const r = await request(page, { kind: 'listRuns' });
  if (r.kind !== 'runs') throw new Error(JSON.stringify(r));
  return r.runs;
}

describe('every run tells the same story', () => {
  it('merged, DPO and imported runs list their steps, losses and curves', async () => {
    const s = await launch();
    const { page } = s;
    try {
      await openEngine(page, s.url);
      loaded(await request(page, { kind: 'load', corpusName: 'e2e text', text: TEXT, model: MODEL, train: TRAIN, runName: 'Base' }));
      await trainToEnd(page);

      // A LoRA fine-tune, then merged: the merged run is at the LoRA run's step with its validation loss.
      loaded(await request(page, { kind: 'startLora', corpusName: 'target', text: TARGET, lora: LORA, train: { ...TRAIN, maxSteps: 12 } }));
      await trainToEnd(page);
      const merged = loaded(await request(page, { kind: 'mergeLora' }));
      const list = await runs(page);
      const loraRow = list.find((r) => r.fineTune?.kind === 'lora')!;
      const mergedRow = list.find((r) => r.id === merged.runId)!;
      expect(mergedRow.step).toBe(12);
      expect(mergedRow.step).toBe(loraRow.step);
      expect(mergedRow.train.maxSteps).toBe(12);
      expect(Math.abs(mergedRow.valLoss! - loraRow.valLoss!)).toBeLessThanOrEqual(1e-6);
      expect(mergedRow.evalHistory.map((p) => p.step)).toEqual(loraRow.evalHistory.map((p) => p.step));
      expect(mergedRow.lossHistory.length).toBe(loraRow.lossHistory.length);
      // A fresh evaluation of the merged weights on the same corpus at the same step agrees (float rounding of the merge only).
      const fresh = await request(page, { kind: 'evaluate' });
      if (fresh.kind !== 'evaluated') throw new Error(JSON.stringify(fresh));
      const diff = Math.abs(fresh.stats.valLoss - loraRow.valLoss!);
      console.log(`[e2e story] merged at step ${mergedRow.step}: val ${mergedRow.valLoss!.toFixed(6)} (LoRA ${loraRow.valLoss!.toFixed(6)}), fresh evaluation differs by ${diff.toExponential(2)}`);
      expect(fresh.stats.step).toBe(12);
      expect(diff).toBeLessThan(1e-5);

      // DPO of the base: listed at its DPO step with its statistics; its curve is the DPO loss.
      const baseId = list.find((r) => r.name === 'Base')!.id;
      loaded(await request(page, { kind: 'resume', id: baseId, text: TEXT }));
      const pairs: PreferencePair[] = [
        { prompt: 'All:\n', chosen: 'Speak, speak.', rejected: 'We know\'t.' },
        { prompt: 'First ', chosen: 'Citizen:', rejected: 'you know' },
      ];
      await events(page);
      const dpo = loaded(await request(page, { kind: 'startDpo', pairs, beta: 0.1, learningRate: 3e-3, steps: 6, target: 'all', judge: '' }));
      await page.waitForFunction(() => window.__events!.some((e) => e.kind === 'dpoDone'), null, { timeout: 300_000, polling: 100 });
      const done = (await events(page)).find((e) => e.kind === 'dpoDone');
      if (done?.kind !== 'dpoDone') throw new Error('no dpoDone');
      const dpoRow = (await runs(page)).find((r) => r.id === dpo.runId)!;
      const last = done.history.at(-1)!;
      console.log(`[e2e story] DPO row: step ${dpoRow.step}, train loss ${dpoRow.trainLoss?.toFixed(4)}, margin ${dpoRow.fineTune?.dpo?.margin.toFixed(4)}, accuracy ${dpoRow.fineTune?.dpo?.accuracy}`);
      expect(dpoRow.step).toBe(6);
      expect(dpoRow.train.maxSteps).toBe(6);
      expect(dpoRow.fineTune?.dpo).toEqual(last);
      expect(dpoRow.trainLoss).toBeCloseTo(last.loss, 6);
      expect(dpoRow.lossHistory.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(dpoRow.valLoss).not.toBeNull();

      // The base exported with its optimizer state and imported back under a smaller page budget: its step, budget and curves.
      const base = loaded(await request(page, { kind: 'resume', id: baseId, text: TEXT }));
      const file = await page.evaluate(async () => {
        const reply = await window.__engine!.request({ kind: 'exportCheckpoint', withOptimizer: true });
        if (reply.kind === 'exported') window.__bytes = reply.bytes.slice(0);
        return reply.kind;
      });
      expect(file).toBe('exported');
      await events(page);
      const imported = loaded(
        await page.evaluate(
          ({ text, train }) => window.__engine!.request({ kind: 'importCheckpoint', bytes: window.__bytes!.slice(0), fileName: 'base.checkpoint.safetensors', corpusName: 'e2e text', text, builtIn: false, train }),
          { text: TEXT, train: { ...TRAIN, maxSteps: 5 } },
        ),
      );
      expect(imported.step).toBe(20);
      expect(imported.train.maxSteps).toBe(20);
      expect(imported.lossHistory!.map((p) => p.step)).toEqual(base.lossHistory!.map((p) => p.step));
      expect(imported.lossHistory!.map((p) => p.loss)).toEqual(base.lossHistory!.map((p) => p.loss));
      expect(imported.evalHistory!.map((p) => p.step)).toEqual(base.evalHistory!.map((p) => p.step));
      // The reply comes once the weights are on the GPU; the evaluation and the save follow in the background.
      await page.waitForFunction(() => window.__events!.some((e) => e.kind === 'importProgress' && e.fraction === 1), null, { timeout: 120_000, polling: 100 });
      const progress = (await events(page)).flatMap((e) => (e.kind === 'importProgress' ? [e.fraction] : []));
      console.log(`[e2e story] import progress: ${progress.map((f) => Math.round(100 * f)).join(' ')} %`);
      expect(progress[0]).toBe(0);
      expect(progress.at(-1)).toBe(1);
      expect(progress.every((f, i) => i === 0 || f >= progress[i - 1])).toBe(true);
      const importedRow = (await runs(page)).find((r) => r.id === imported.runId)!;
      expect(importedRow.step).toBe(20);
      expect(importedRow.train.maxSteps).toBe(20);
      expect(importedRow.lossHistory.length).toBe(base.lossHistory!.length);

      // The same story read from the page: a second tab opens the app, and its Runs table and compare chart show each run's row and curves.
      const stored = await runs(page);
      const tab = await s.context.newPage();
      await tab.goto(s.url);
      await tab.getByTestId('tab-runs').click();
      await expect.poll(() => tab.getByTestId('run-row').count(), { timeout: 60_000 }).toBe(stored.length);
      const cells = async (id: string) => {
        const row = tab.locator(`[data-testid="run-row"][data-run-id="${id}"]`);
        const td = (i: number) => row.locator('td').nth(i).innerText();
        return { step: await td(4), train: await td(5), val: await td(6), row };
      };
      const shown = (x: number | null) => (x === null ? '–' : x.toFixed(3));
      for (const r of [loraRow, mergedRow, dpoRow, importedRow]) {
        const now = stored.find((x) => x.id === r.id)!;
        const c = await cells(r.id);
        expect(c.step).toBe(now.step.toLocaleString('en-US'));
        expect(c.train).toBe(shown(now.trainLoss));
        expect(c.val).toBe(shown(now.valLoss));
      }
      const mergedCells = await cells(mergedRow.id);
      const loraCells = await cells(loraRow.id);
      console.log(`[e2e story] Runs table: merged step ${mergedCells.step} val ${mergedCells.val}, LoRA step ${loraCells.step} val ${loraCells.val}`);
      expect(mergedCells.step).toBe('12');
      expect(mergedCells.val).toBe(loraCells.val);
      const dpoTag = (await cells(dpoRow.id)).row.getByTestId('run-dpo');
      expect(Number(await dpoTag.getAttribute('data-loss'))).toBeCloseTo(last.loss, 6);
      expect(Number(await dpoTag.getAttribute('data-margin'))).toBeCloseTo(last.margin, 6);
      expect(Number(await dpoTag.getAttribute('data-accuracy'))).toBe(last.accuracy);
      expect(await dpoTag.innerText()).toContain(`DPO step 6: loss ${last.loss.toFixed(4)}`);
      expect((await cells(importedRow.id)).step).toBe('20');
      // Ticked, their curves: as many points as each run's history, ending at its last validation loss.
      for (const r of [loraRow, mergedRow, dpoRow, importedRow]) await (await cells(r.id)).row.getByTestId('run-select').check();
      await expect.poll(() => tab.getByTestId('compare-chart').getAttribute('data-series')).toBe('4');
      for (const r of [loraRow, mergedRow, dpoRow, importedRow]) {
        const now = stored.find((x) => x.id === r.id)!;
        const item = tab.locator(`[data-testid="compare-legend"] li[data-run-id="${r.id}"]`);
        expect(Number(await item.getAttribute('data-points'))).toBe(now.lossHistory.length);
        expect(Number(await item.getAttribute('data-val-points'))).toBe(now.evalHistory.length);
        expect(Number(await item.getAttribute('data-last-val'))).toBeCloseTo(now.evalHistory.at(-1)!.valLoss, 6);
        expect(now.lossHistory.length).toBeGreaterThan(0);
      }
      const mergedItem = tab.locator(`[data-testid="compare-legend"] li[data-run-id="${mergedRow.id}"]`);
      const loraItem = tab.locator(`[data-testid="compare-legend"] li[data-run-id="${loraRow.id}"]`);
      expect(await mergedItem.getAttribute('data-last-val')).toBe(await loraItem.getAttribute('data-last-val'));
      expect(await mergedItem.getAttribute('data-points')).toBe(await loraItem.getAttribute('data-points'));
      expect(s.pageErrors).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
