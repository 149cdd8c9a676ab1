// The in-app benchmark: times training steps of the current config on this
// GPU and reports ms/step and tokens/s with the adapter's name, then the GPU
// time of each kernel group of one step where the adapter has timestamp queries.
import { afterAll, describe, expect, it } from 'vitest';
import { KERNEL_GROUPS, NO_TIMESTAMPS } from '../../src/gpu/profiler';
import { launch, screenshot, stopServer } from './harness';

afterAll(stopServer);

const SETUP = '?preset=tiny&nLayer=1&nHead=2&nEmbd=16&blockSize=8&batchSize=4&maxSteps=5000&warmupSteps=0&evalInterval=1000&evalIters=1&checkpointInterval=0';

describe('the Benchmark button', () => {
  it('shows ms/step and tokens/s consistent with batch × context, and is off while training runs', async () => {
    const s = await launch();
    const page = s.page;
    try {
      await page.goto(s.url + SETUP);
      await page.getByTestId('corpus-vocab').waitFor({ timeout: 180_000 });
      await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
      await page.getByTestId('tab-train').click();
      const button = page.getByTestId('benchmark-run');
      await expect.poll(() => button.isDisabled()).toBe(false);

      await button.click();
      await page.getByTestId('benchmark-progress').waitFor({ timeout: 60_000 });
      const result = page.getByTestId('benchmark-result');
      await result.waitFor({ timeout: 300_000 });
      const ms = Number(await result.getAttribute('data-ms-per-step'));
      const tps = Number(await result.getAttribute('data-tokens-per-sec'));
      const perStep = Number(await result.getAttribute('data-tokens-per-step'));
      const text = (await result.textContent()) ?? '';
      console.log(`[e2e] benchmark: ${text}`);
      expect(await result.getAttribute('data-steps')).toBe('10');
      expect(perStep).toBe(4 * 8);
      expect(ms).toBeGreaterThan(0);
      expect(Math.abs(tps - (perStep * 1000) / ms) / tps).toBeLessThan(1e-6);
      expect(text).toMatch(/\d+\.\d ms\/step, [\d,]+ tokens\/s/);
      const adapter = (await page.getByTestId('benchmark-adapter').textContent()) ?? '';
      expect(adapter).toBe((await page.getByTestId('adapter-name').locator('strong').textContent()) ?? '-');
      expect(adapter.length).toBeGreaterThan(0);

      // GPU time per kernel group: every group of a step, shares summing to 100%; or a sentence without the feature.
      const timestamps = await page.evaluate(async () => !!(await navigator.gpu.requestAdapter())?.features.has('timestamp-query'));
      console.log(`[e2e] adapter offers timestamp-query: ${timestamps}`);
      if (timestamps) {
        const rows = page.getByTestId('kernel-time');
        await page.getByTestId('kernel-times').waitFor();
        const shown = await rows.evaluateAll((trs) =>
          trs.map((tr) => ({
            group: tr.getAttribute('data-group'),
            ms: Number(tr.getAttribute('data-ms')),
            share: Number(tr.getAttribute('data-share')),
            dispatches: Number(tr.getAttribute('data-dispatches')),
            percent: Number(tr.querySelectorAll('td')[3]?.textContent?.replace('%', '')),
          })),
        );
        console.log(`[e2e] kernel groups: ${shown.map((r) => `${r.group} ${(100 * r.share).toFixed(1)}%`).join(', ')}`);
        expect(shown.map((r) => r.group)).toEqual(KERNEL_GROUPS);
        for (const r of shown) {
          expect(r.dispatches, r.group!).toBeGreaterThan(0);
          expect(r.ms, r.group!).toBeGreaterThanOrEqual(0);
        }
        const total = shown.reduce((s, r) => s + r.ms, 0);
        expect(total).toBeGreaterThan(0);
        expect(Math.abs(shown.reduce((s, r) => s + r.share, 0) - 1)).toBeLessThan(1e-9);
        // The percentages as shown (one decimal each) add up to 100 within their rounding.
        expect(Math.abs(shown.reduce((s, r) => s + r.percent, 0) - 100)).toBeLessThanOrEqual(0.05 * shown.length);
        for (const r of shown) expect(r.share).toBeCloseTo(r.ms / total, 9);
        // One bar per group in the chart.
        const bars = await page.getByTestId('kernel-times').locator('.recharts-bar-rectangle').count();
        expect(bars).toBeGreaterThanOrEqual(shown.filter((r) => r.share > 0).length);
        expect(bars).toBeLessThanOrEqual(KERNEL_GROUPS.length);
      } else {
        expect(await page.getByTestId('kernel-times-unavailable').textContent()).toBe(NO_TIMESTAMPS);
      }

      // The benchmark leaves the run where it was: still at step 0.
      expect(await page.getByTestId('training-panel').getAttribute('data-step')).toBe('0');
      await screenshot(page, 'ui-bench');

      // While training runs the button is off; after a pause it is back.
      await page.getByTestId('train-toggle').click();
      await expect.poll(() => page.getByTestId('training-panel').getAttribute('data-state'), { timeout: 120_000 }).toBe('running');
      expect(await button.isDisabled()).toBe(true);
      await page.getByTestId('train-toggle').click();
      await expect.poll(() => page.getByTestId('training-panel').getAttribute('data-state'), { timeout: 120_000 }).toBe('paused');
      await expect.poll(() => button.isDisabled()).toBe(false);

      if (s.consoleErrors.length) console.log(`[e2e] console errors: ${s.consoleErrors.join(' | ')}`);
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
