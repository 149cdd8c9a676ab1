// Keeping a run through the page: pause saves a checkpoint, a reload offers
// the run back and resumes it with its curves, the weights download as
// .safetensors and load back exactly, and bad files are refused with a
// sentence while the model stays usable.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ARTIFACTS, attr, launch, num, screenshot, stopServer, waitState } from './harness';

/** A safetensors file's header without the run's story, its tensor bytes, and that story (`playground_run`). */
function splitFile(bytes: Buffer): { header: Record<string, unknown>; data: Buffer; run: { step: number; lossHistory: unknown[] } } {
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as { __metadata__: Record<string, string> };
  const run = JSON.parse(header.__metadata__.playground_run!) as { step: number; lossHistory: unknown[] };
  delete header.__metadata__.playground_run;
  return { header, data: bytes.subarray(8 + n), run };
}

afterAll(stopServer);

const SETUP = '?preset=tiny&nLayer=1&nHead=2&nEmbd=16&blockSize=8&batchSize=4&maxSteps=5000&warmupSteps=0&evalInterval=5&evalIters=1&checkpointInterval=0';

/** 24 characters sampled with a fixed seed after a fixed prompt: a fingerprint of the weights. */
async function seededSample(page: Page): Promise<string> {
  await page.getByTestId('tab-sample').click();
  await page.getByTestId('sample-prompt').fill('The whale');
  await page.getByTestId('sample-max').fill('24');
  if (await page.getByTestId('sample-greedy').isChecked()) await page.getByTestId('sample-greedy').uncheck();
  await page.getByTestId('sample-temperature').fill('1');
  const output = page.getByTestId('sample-output');
  await page.getByTestId('sample-generate').click();
  await expect.poll(() => output.getAttribute('data-running'), { timeout: 120_000 }).toBe('false');
  expect(await output.getAttribute('data-chars')).toBe('24');
  const text = (await output.textContent()) ?? '';
  await page.getByTestId('tab-train').click();
  return text;
}

describe('checkpoints in the playground', () => {
  it('resumes after a reload, exports and imports the weights, and refuses bad files', async () => {
    const s = await launch();
    const page = s.page;
    try {
      await page.goto(s.url + SETUP);
      await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
      await page.getByTestId('corpus-vocab').waitFor({ timeout: 180_000 });
      expect(await page.getByTestId('saved-run-offer').count()).toBe(0);
      await page.getByTestId('tab-train').click();

      // Train a few steps and pause: the pause saves a checkpoint.
      await page.getByTestId('train-toggle').click();
      await expect.poll(() => num(page, 'chart-points', 'data-points'), { timeout: 300_000 }).toBeGreaterThanOrEqual(6);
      await page.getByTestId('train-toggle').click();
      await waitState(page, 'paused', 120_000);
      const step = await num(page, 'training-panel', 'data-step');
      await expect.poll(() => attr(page, 'checkpoint-status', 'data-step'), { timeout: 60_000 }).toBe(String(step));
      expect(await attr(page, 'checkpoint-status', 'data-saved')).toBe('true');
      expect(await page.getByTestId('checkpoint-status').textContent()).toMatch(new RegExp(`Last checkpoint: step ${step}, saved`));
      await page.waitForTimeout(600);
      const pointsBefore = await num(page, 'chart-points', 'data-points');
      const lossBefore = await attr(page, 'chart-points', 'data-train-loss');
      const valBefore = await attr(page, 'chart-points', 'data-val-loss');
      expect(pointsBefore).toBe(step);

      // Reload with a bare link (the default preset): the run is offered; Resume (from the keyboard) brings back
      // its setup, step and curves, and training carries on.
      await page.goto(s.url);
      const offer = page.getByTestId('saved-run-offer');
      await offer.waitFor({ timeout: 120_000 });
      const sentence = (await page.getByTestId('saved-run-text').textContent()) ?? '';
      console.log(`[e2e] offer: ${sentence}`);
      expect(sentence).toMatch(new RegExp(`^Resume training from step ${step} of Moby Dick — saved (just now|1 minute ago)$`));
      await screenshot(page, 'ui-checkpoint-offer');
      await page.getByTestId('saved-run-resume').focus();
      await page.keyboard.press('Enter');
      await offer.waitFor({ state: 'detached', timeout: 120_000 });
      await page.getByTestId('tab-train').click();
      await expect.poll(() => num(page, 'chart-points', 'data-last-step'), { timeout: 300_000 }).toBeGreaterThan(step + 1);
      await page.getByTestId('train-toggle').click();
      await waitState(page, 'paused', 120_000);
      await page.waitForTimeout(600);
      const points = page.getByTestId('chart-points');
      expect(await points.getAttribute('data-first-step')).toBe('1');
      expect(await points.getAttribute('data-contiguous')).toBe('true');
      expect(await points.getAttribute('data-nonfinite')).toBe('0');
      expect(Number(await points.getAttribute('data-points'))).toBe(await num(page, 'training-panel', 'data-step'));
      console.log(`[e2e] before reload: ${pointsBefore} points, loss ${lossBefore}, val ${valBefore}; after resume: ${await points.getAttribute('data-points')} points`);
      expect(lossBefore).not.toBeNull();
      // The setup came back with the run, and the link follows it.
      expect(await page.getByTestId('field-nEmbd').inputValue()).toBe('16');
      expect(await page.getByTestId('field-nLayer').inputValue()).toBe('1');
      expect(new URL(page.url()).searchParams.get('nEmbd')).toBe('16');
      await screenshot(page, 'ui-checkpoint-resumed');

      // Export: a .safetensors download made in the page (a blob URL, no request).
      const exportStep = await num(page, 'training-panel', 'data-step');
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-weights').click()]);
      // The file name says what it is: the run, the step, and a checkpoint (with AdamW's state).
      expect(download.suggestedFilename()).toMatch(new RegExp(`^tiny-changed-on-moby-dick(-\\d+)?-step${exportStep}\\.checkpoint\\.safetensors$`));
      const file = resolve(ARTIFACTS, download.suggestedFilename());
      await download.saveAs(file);
      const bytes = readFileSync(file);
      const headerLength = Number(bytes.readBigUInt64LE(0));
      expect(8 + headerLength).toBeLessThan(bytes.length);
      expect(JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'))).toHaveProperty('transformer.wte.weight');
      const exportedHash = await attr(page, 'transfer-note', 'data-sha256');
      expect(exportedHash).toMatch(/^[0-9a-f]{64}$/);
      const atExport = await seededSample(page);

      // Train on, so the weights move away from the file.
      await page.getByTestId('train-step').click();
      await expect.poll(() => num(page, 'training-panel', 'data-step'), { timeout: 120_000 }).toBe(exportStep + 1);
      const afterTraining = await seededSample(page);
      console.log(`[e2e] sampled at export: ${JSON.stringify(atExport)}; one step later: ${JSON.stringify(afterTraining)}`);

      // Import the file: the step and the weights (greedy text) are those of the export.
      const picker = page.getByTestId('import-file');
      await picker.setInputFiles(file);
      await expect.poll(() => page.getByTestId('transfer-note').textContent(), { timeout: 120_000 }).toMatch(new RegExp(`step ${exportStep}\\.$`));
      expect(await num(page, 'training-panel', 'data-step')).toBe(exportStep);
      expect(await attr(page, 'transfer-note', 'data-sha256')).toBe(exportedHash);
      expect(await seededSample(page)).toBe(atExport);
      // Exporting again gives the very same bytes: weights, AdamW moments and step all came back.
      const [again] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-weights').click()]);
      // The import became a run of its own, named after the file.
      expect(again.suggestedFilename()).toMatch(new RegExp(`^imported-.*-step${exportStep}\\.checkpoint\\.safetensors$`));
      await expect.poll(() => page.getByTestId('transfer-note').textContent(), { timeout: 60_000 }).toMatch(/^Exported /);
      // The same tensors, step and config; the run's story (its name differs) in "playground_run" keeps the step and the curves.
      const againFile = resolve(ARTIFACTS, again.suggestedFilename());
      await again.saveAs(againFile);
      const [a, b] = [splitFile(readFileSync(file)), splitFile(readFileSync(againFile))];
      expect(b.header).toEqual(a.header);
      expect(Buffer.compare(b.data, a.data)).toBe(0);
      expect(b.run.step).toBe(a.run.step);
      expect(b.run.lossHistory).toEqual(a.run.lossHistory);

      // This model uses ReLU and a separate lm_head, which nanoGPT's model.py cannot compute: its export is disabled, with the reason.
      expect(await page.getByTestId('export-nanogpt').isDisabled()).toBe(true);
      expect(await page.getByTestId('export-nanogpt-reason').textContent()).toMatch(/always uses GELU and ties lm_head/);

      // A truncated file and a file that is not safetensors are refused with a sentence; the model is unchanged.
      await picker.setInputFiles({ name: 'cut.safetensors', mimeType: 'application/octet-stream', buffer: bytes.subarray(0, Math.floor(bytes.length / 2)) });
      const error = page.getByTestId('transfer-error');
      await error.waitFor({ timeout: 120_000 });
      const truncated = (await error.textContent()) ?? '';
      console.log(`[e2e] truncated: ${truncated}`);
      expect(truncated).toMatch(/^cut\.safetensors was not imported: .{20,}The model loaded before is unchanged\.$/);
      expect(await error.getAttribute('role')).toBe('alert');
      await picker.setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('Call me Ishmael. Some years ago, never mind how long precisely.') });
      await expect.poll(() => error.textContent(), { timeout: 120_000 }).toMatch(/^notes\.txt was not imported: .{20,}/);
      console.log(`[e2e] not safetensors: ${await error.textContent()}`);
      await screenshot(page, 'ui-checkpoint-import-error');
      expect(await num(page, 'training-panel', 'data-step')).toBe(exportStep);
      expect(await seededSample(page)).toBe(atExport);
      // Still trainable.
      await page.getByTestId('train-step').click();
      await expect.poll(() => num(page, 'training-panel', 'data-step'), { timeout: 120_000 }).toBe(exportStep + 1);

      if (s.consoleErrors.length) console.log(`[e2e] console errors: ${s.consoleErrors.join(' | ')}`);
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('Discard removes the saved run', async () => {
    const s = await launch();
    const page = s.page;
    try {
      await page.goto(s.url + SETUP);
      await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
      await page.getByTestId('tab-train').click();
      await page.getByTestId('train-step').click();
      await expect.poll(() => attr(page, 'checkpoint-status', 'data-saved'), { timeout: 120_000 }).toBe('true');
      await page.reload();
      await page.getByTestId('saved-run-offer').waitFor({ timeout: 120_000 });
      await page.getByTestId('saved-run-discard').click();
      await page.getByTestId('saved-run-offer').waitFor({ state: 'detached', timeout: 60_000 });
      await page.reload();
      await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
      await page.waitForTimeout(1000);
      expect(await page.getByTestId('saved-run-offer').count()).toBe(0);
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
