// Runs you never lose, presets that say what they are, exports that load where
// they claim: one session that clicks through them as a person would.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { strFromU8, unzipSync } from 'fflate';
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, launch, num, screenshot, stopServer, waitState } from './harness';

afterAll(stopServer);

// The Tiny preset made smaller still, with GELU and tied embeddings (what nanoGPT's model.py computes).
const SETUP =
  '?preset=tiny&nLayer=1&nHead=2&nEmbd=16&blockSize=8&batchSize=4&maxSteps=6&evalInterval=3&evalIters=2&checkpointInterval=0&activation=gelu&tieWeights=1';

async function download(page: Page, testId: string) {
  const [d] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
  const path = resolve(ARTIFACTS, `runs-${d.suggestedFilename()}`);
  await d.saveAs(path);
  return { name: d.suggestedFilename(), path, bytes: readFileSync(path) };
}

const header = (b: Buffer) => JSON.parse(b.subarray(8, 8 + Number(b.readBigUInt64LE(0))).toString('utf8')) as Record<string, unknown>;

/** The runs table as name -> step. */
async function table(page: Page): Promise<Record<string, number>> {
  await page.getByTestId('tab-runs').click();
  await page.getByTestId('runs-panel').waitFor();
  const rows = page.getByTestId('run-row');
  const out: Record<string, number> = {};
  for (let i = 0; i < (await rows.count()); i++) out[(await rows.nth(i).getAttribute('data-name'))!] = Number(await rows.nth(i).getAttribute('data-step'));
  return out;
}

const row = (page: Page, name: string) => page.locator(`[data-testid="run-row"][data-name="${name}"]`);

describe('runs, presets and exports', () => {
  it('keeps every run, compares, continues, exports by name and kind, imports as a run, and Names trains on names', async () => {
    const s = await launch();
    const page = s.page;
    try {
      await page.goto(s.url + SETUP);
      await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
      await page.getByTestId('corpus-vocab').waitFor({ timeout: 180_000 });
      const V = Number(await page.getByTestId('corpus-vocab').getAttribute('data-vocab'));
      await page.getByTestId('tab-train').click();

      // Train to the end: the first validation point is the untrained model's, at step 0, near ln(V).
      await page.getByTestId('train-toggle').click();
      await waitState(page, 'done');
      const points = page.getByTestId('chart-points');
      await expect.poll(() => points.getAttribute('data-points'), { timeout: 10_000 }).toBe('6');
      expect(await points.getAttribute('data-first-val-step')).toBe('0');
      const val0 = Number(await points.getAttribute('data-first-val-loss'));
      console.log(`[e2e] validation loss at step 0: ${val0.toFixed(4)}; ln(${V}) = ${Math.log(V).toFixed(4)}`);
      expect(Math.abs(val0 - Math.log(V))).toBeLessThan(0.1);

      // The two exports have names that say what they are, and differ.
      const ckpt = await download(page, 'export-weights');
      const plain = await download(page, 'export-nanogpt');
      console.log(`[e2e] exports: ${ckpt.name}, ${plain.name}`);
      expect(ckpt.name).toMatch(/^tiny-changed-on-moby-dick-step6\.checkpoint\.safetensors$/);
      expect(plain.name).toMatch(/^tiny-changed-on-moby-dick-step6\.nanogpt\.safetensors$/);
      const meta = header(plain.bytes).__metadata__ as Record<string, string>;
      expect(Object.keys(JSON.parse(meta.config)).sort()).toEqual(['bias', 'block_size', 'dropout', 'n_embd', 'n_head', 'n_layer', 'vocab_size']);
      expect(Object.keys(header(plain.bytes)).some((k) => k.startsWith('optimizer.'))).toBe(false);
      expect(Object.keys(header(ckpt.bytes)).some((k) => k.startsWith('optimizer.m.'))).toBe(true);

      // The cluster zip, after saying the corpus goes into it.
      await page.getByTestId('export-cluster').click();
      expect(await page.getByTestId('cluster-confirm').textContent()).toMatch(/leaves this tab only as that file/);
      const zip = await download(page, 'cluster-download');
      const files = unzipSync(new Uint8Array(zip.bytes));
      const stem = 'tiny-changed-on-moby-dick';
      expect(Object.keys(files).sort()).toEqual(
        ['README.md', 'ckpt_to_playground.py', `config/train_${stem}.py`, `data/${stem}/input.txt`, `data/${stem}/prepare.py`, `${stem}-step6.checkpoint.safetensors`, 'playground_to_ckpt.py'].sort(),
      );
      const config = strFromU8(files[`config/train_${stem}.py`]);
      for (const line of ['n_layer = 1', 'n_head = 2', 'n_embd = 16', 'block_size = 8', 'max_iters = 6', 'eval_interval = 3', 'eval_iters = 2', "init_from = \"resume\""]) {
        expect(config).toContain(line);
      }
      expect(config).toMatch(/gradient_accumulation_steps = 4\nbatch_size = 1\n/);
      expect(strFromU8(files[`data/${stem}/input.txt`]).length).toBeGreaterThan(1_000_000);

      // Train 4 more steps: the counter carries on and the curve stays one unbroken line.
      await page.getByTestId('continue-steps').fill('4');
      await page.getByTestId('continue-run').click();
      await expect.poll(() => num(page, 'training-panel', 'data-step'), { timeout: 180_000 }).toBe(10);
      await waitState(page, 'done');
      await expect.poll(() => points.getAttribute('data-points'), { timeout: 10_000 }).toBe('10');
      expect(await points.getAttribute('data-first-step')).toBe('1');
      expect(await points.getAttribute('data-contiguous')).toBe('true');
      expect(await page.getByTestId('field-maxSteps').inputValue()).toBe('10');

      // The Names preset loads the names and trains on them, as a new run; the first run stays.
      await page.getByTestId('preset').selectOption('names');
      await expect.poll(() => page.getByTestId('preset-description').textContent()).toMatch(/first names/);
      await page.getByTestId('train-step').click();
      await expect.poll(() => num(page, 'training-panel', 'data-step'), { timeout: 180_000 }).toBe(1);
      await waitState(page, 'paused');
      expect(await page.getByLabel('Run summary').textContent()).toMatch(/Corpus: First names/);
      expect(new URL(page.url()).searchParams.get('preset')).toBe('names');
      expect(new URL(page.url()).searchParams.get('corpus')).toBeNull();
      expect(await table(page)).toEqual({ 'Tiny (changed) on Moby Dick': 10, 'Names on First names': 1 });
      expect(await row(page, 'Names on First names').locator('td').nth(3).textContent()).toBe('First names');
      // Every run shows its validation loss in bits per character beside it (loss / ln 2 for characters).
      for (const name of ['Tiny (changed) on Moby Dick', 'Names on First names']) {
        const cells = row(page, name).locator('td');
        const val = Number(await cells.nth(6).textContent());
        expect(val).toBeGreaterThan(0);
        expect(Number(await cells.nth(7).textContent())).toBeCloseTo(val / Math.LN2, 2);
        expect(Number(await row(page, name).getByTestId('run-val-bpc').getAttribute('data-value'))).toBeCloseTo(val / Math.LN2, 2);
      }

      // After a reload both runs are there; the first opens at its step with its whole curve.
      await page.reload();
      await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
      expect(await table(page)).toEqual({ 'Tiny (changed) on Moby Dick': 10, 'Names on First names': 1 });

      // Compare overlays both, by steps, tokens or wall time.
      await row(page, 'Tiny (changed) on Moby Dick').getByTestId('run-select').check();
      await row(page, 'Names on First names').getByTestId('run-select').check();
      const chart = page.getByTestId('compare-chart');
      await expect.poll(() => chart.getAttribute('data-series')).toBe('2');
      const legend = (name: string) => page.getByTestId('compare-legend').locator(`li[data-name="${name}"]`);
      const tiny = legend('Tiny (changed) on Moby Dick');
      expect(await tiny.getAttribute('data-points')).toBe('10');
      expect(await legend('Names on First names').getAttribute('data-points')).toBe('1');
      await page.getByTestId('compare-axis-tokens').check();
      await expect.poll(() => chart.getAttribute('data-axis')).toBe('tokens');
      // 10 steps of 4 sequences of 8 characters.
      expect(await tiny.getAttribute('data-last-x')).toBe('320');
      await page.getByTestId('compare-axis-time').check();
      await expect.poll(() => chart.getAttribute('data-axis')).toBe('time');
      expect(Number(await tiny.getAttribute('data-last-x'))).toBeGreaterThan(0);
      await screenshot(page, 'ui-runs-compare');

      await row(page, 'Tiny (changed) on Moby Dick').getByTestId('run-open').click();
      await page.getByTestId('training-panel').waitFor({ timeout: 120_000 });
      await expect.poll(() => num(page, 'training-panel', 'data-step'), { timeout: 120_000 }).toBe(10);
      await expect.poll(() => points.getAttribute('data-points'), { timeout: 10_000 }).toBe('10');
      expect(await points.getAttribute('data-contiguous')).toBe('true');
      expect(await page.getByTestId('field-nEmbd').inputValue()).toBe('16');

      // An imported file becomes a run of its own, kept across a reload.
      await page.getByTestId('import-file').setInputFiles(ckpt.path);
      await expect.poll(() => page.getByTestId('transfer-note').textContent(), { timeout: 120_000 }).toMatch(/as the run "Imported .*": the model is at step 6\.$/);
      // The weights come first; the evaluation and the save follow in the background, shown until done.
      await page.getByTestId('import-progress').waitFor({ state: 'detached', timeout: 120_000 });
      await page.reload();
      await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
      const after = await table(page);
      const imported = Object.keys(after).find((n) => n.startsWith('Imported '));
      expect(imported).toBeDefined();
      expect(after[imported!]).toBe(6);
      expect(Object.keys(after)).toHaveLength(3);

      // Rename, and delete after a confirmation.
      await row(page, 'Names on First names').getByTestId('run-rename').click();
      await page.getByTestId('run-rename-input').fill('Names, one step');
      await page.getByTestId('run-notes-input').fill('Only to see it start.');
      await page.getByTestId('run-rename-save').click();
      await row(page, 'Names, one step').waitFor({ timeout: 30_000 });
      expect(await row(page, 'Names, one step').getByTestId('run-notes').textContent()).toBe('Only to see it start.');
      await row(page, 'Names, one step').getByTestId('run-delete').click();
      await row(page, 'Names, one step').getByTestId('run-delete-confirm').click();
      await row(page, 'Names, one step').waitFor({ state: 'detached', timeout: 30_000 });
      expect(Object.keys(await table(page))).toHaveLength(2);
      expect(await page.getByTestId('storage-estimate').textContent()).toMatch(/This site uses .+ of the .+ the browser allows it\./);

      if (s.consoleErrors.length) console.log(`[e2e] console errors: ${s.consoleErrors.join(' | ')}`);
      expect(s.consoleErrors).toEqual([]);
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('disables the nanoGPT export for ReLU with a separate lm_head, saying why', async () => {
    const s = await launch();
    const page = s.page;
    try {
      await page.goto(s.url + SETUP.replace('activation=gelu&tieWeights=1', 'activation=relu&tieWeights=0'));
      await page.getByTestId('corpus-vocab').waitFor({ timeout: 180_000 });
      await page.getByTestId('tab-train').click();
      expect(await page.getByTestId('export-nanogpt').isDisabled()).toBe(true);
      expect(await page.getByTestId('export-cluster').isDisabled()).toBe(true);
      expect(await page.getByTestId('export-nanogpt-reason').textContent()).toMatch(/always uses GELU and ties lm_head .* this model uses ReLU and separate embeddings/);
      // GELU with tied embeddings enables it.
      await page.getByTestId('config-panel').locator('#activation').selectOption('gelu');
      await page.getByLabel('Tie input and output embeddings').check();
      await expect.poll(() => page.getByTestId('export-nanogpt-reason').count()).toBe(0);
      await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
      await expect.poll(() => page.getByTestId('export-nanogpt').isDisabled()).toBe(false);
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
