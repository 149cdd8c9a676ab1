// The screen follows the open run: opening a stored run puts its preset (or
// "Custom") in the picker, its description and its link; sentences about the
// run before leave; training-health readings come back with the run after a
// reload; and the Insights views read well at 1280 px.
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { attr, launch, screenshot, stopServer, waitState } from './harness';

afterAll(stopServer);

const SETUP = '?preset=tiny&maxSteps=12&evalInterval=6&evalIters=2&checkpointInterval=0';

const row = (page: Page, name: string) => page.locator(`[data-testid="run-row"][data-name="${name}"]`);
const link = (page: Page, key: string) => new URL(page.url()).searchParams.get(key);

/** Open a stored run from the Runs tab (the app then shows the Train tab), and check it is the open one. */
async function open(page: Page, name: string): Promise<void> {
  await page.getByTestId('tab-runs').click();
  await row(page, name).getByTestId('run-open').click();
  await page.getByTestId('training-panel').waitFor({ timeout: 120_000 });
  await page.getByTestId('tab-runs').click();
  await expect.poll(() => row(page, name).getAttribute('data-open'), { timeout: 30_000 }).toBe('true');
  await page.getByTestId('tab-train').click();
}

describe('the screen follows the open run', () => {
  it('picker, description and link name the open run; old sentences leave; health comes back after a reload', async () => {
    const s = await launch();
    const page = s.page;
    try {
      await page.goto(s.url + SETUP);
      await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
      await page.getByTestId('corpus-vocab').waitFor({ timeout: 180_000 });
      const vocab = { moby: await attr(page, 'corpus-vocab', 'data-vocab') };
      /** Wait on the Dataset tab until the preset's corpus is the loaded one. */
      const corpusLoaded = async (p: Page, which: 'names' | 'moby') => {
        await p.getByTestId('tab-data').click();
        if (which === 'moby') await expect.poll(() => attr(p, 'corpus-vocab', 'data-vocab'), { timeout: 60_000 }).toBe(vocab.moby);
        else await expect.poll(() => attr(p, 'corpus-vocab', 'data-vocab'), { timeout: 60_000 }).not.toBe(vocab.moby);
        await p.getByTestId('tab-train').click();
      };
      await page.getByTestId('tab-train').click();
      expect(await page.getByTestId('preset').inputValue()).toBe('tiny');

      // A Tiny run trained to its end (health readings at steps 1 and 10), then a Names run of one step.
      await page.getByTestId('train-toggle').click();
      await waitState(page, 'done');
      await page.getByTestId('preset').selectOption('names');
      await corpusLoaded(page, 'names');
      await page.getByTestId('train-step').click();
      await expect.poll(() => attr(page, 'training-panel', 'data-step'), { timeout: 180_000 }).toBe('1');
      await waitState(page, 'paused');
      // A custom run: Tiny with one layer.
      await page.getByTestId('preset').selectOption('tiny');
      await corpusLoaded(page, 'moby');
      await page.getByTestId('field-nLayer').fill('1');
      await expect.poll(() => attr(page, 'preset-description', 'data-custom')).toBe('true');
      expect(await page.getByTestId('preset').inputValue()).toBe('custom');
      await page.getByTestId('train-step').click();
      await expect.poll(() => attr(page, 'training-panel', 'data-step'), { timeout: 180_000 }).toBe('1');
      await waitState(page, 'paused');

      // The Names run, opened: Names in the picker, its description and its link.
      await open(page, 'Names on First names');
      expect(await page.getByTestId('preset').inputValue()).toBe('names');
      expect(await page.getByTestId('preset-description').textContent()).toMatch(/first names/);
      expect(link(page, 'preset')).toBe('names');
      expect(link(page, 'corpus')).toBeNull();

      // The Tiny run (its link set other steps and intervals), opened: Tiny, not Names, everywhere.
      await open(page, 'Tiny (changed) on Moby Dick');
      expect(await page.getByTestId('preset').inputValue()).toBe('tiny');
      expect(await attr(page, 'preset-description', 'data-custom')).toBe('false');
      expect(await page.getByTestId('preset-description').textContent()).toMatch(/2 layers, 2 heads, 48 wide, context 32/);
      expect(link(page, 'preset')).toBe('tiny');
      expect(link(page, 'corpus')).toBeNull();
      expect(link(page, 'nLayer')).toBeNull();
      expect(await page.getByTestId('field-nLayer').inputValue()).toBe('2');

      // The custom run, opened: "Custom", and a link that is Tiny with one layer.
      await open(page, 'Tiny (changed) on Moby Dick 2');
      expect(await page.getByTestId('preset').inputValue()).toBe('custom');
      expect(await page.getByTestId('preset-description').textContent()).toMatch(/^Custom: these settings match no preset \(they started from Tiny/);
      expect(link(page, 'preset')).toBe('tiny');
      expect(link(page, 'nLayer')).toBe('1');

      // A sentence about this run (a rename refused) leaves when another run is opened.
      await page.getByTestId('tab-runs').click();
      await row(page, 'Tiny (changed) on Moby Dick 2').getByTestId('run-rename').click();
      await page.getByTestId('run-rename-input').fill('   ');
      await page.getByTestId('run-rename-save').click();
      await expect.poll(() => page.getByTestId('runs-error').textContent()).toMatch(/A run needs a name/);
      await page.getByRole('button', { name: 'Cancel' }).click();
      await open(page, 'Names on First names');
      await page.getByTestId('tab-runs').click();
      expect(await page.getByTestId('runs-error').count()).toBe(0);

      // After a reload, the Tiny run opened from the Runs tab brings back its health readings and snapshots.
      await page.reload();
      await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
      await page.getByTestId('corpus-vocab').waitFor({ timeout: 180_000 });
      await page.getByTestId('runs-panel').waitFor().catch(() => undefined);
      await open(page, 'Tiny (changed) on Moby Dick');
      await page.getByTestId('tab-insights').click();
      await expect.poll(() => attr(page, 'health', 'data-readings'), { timeout: 60_000 }).toBe('2');
      expect(await attr(page, 'health', 'data-last-step')).toBe('10');
      expect(Number(await attr(page, 'timeline', 'data-count'))).toBeGreaterThan(0);
      expect(await page.getByTestId('health').textContent()).not.toMatch(/appear once training runs/);

      // Insights a newcomer can read, at 1280 x 800: a sentence under every view, a head-score axis scaled to its data.
      for (const view of ['surprisal', 'lens', 'roles', 'chart', 'sample', 'health']) {
        expect(await page.getByTestId(`explain-${view}`).textContent(), view).toMatch(/measure|likeliest/);
      }
      const chart = page.getByTestId('head-chart');
      const scores = Object.values(JSON.parse((await chart.getAttribute('data-values'))!) as Record<string, (number | null)[]>).flat().filter((v): v is number => v !== null);
      const top = Number(await chart.getAttribute('data-y-max'));
      console.log(`[e2e follow] head scores up to ${Math.max(...scores).toFixed(4)}; axis to ${top}`);
      expect(top).toBeGreaterThanOrEqual(Math.max(...scores));
      expect(top).toBeLessThanOrEqual(Math.max(0.01, Math.max(...scores) * 2.5));
      // The y axis's tick labels: right-aligned against the axis (the x axis's are centred).
      const tickLabels = chart.locator('text.recharts-cartesian-axis-tick-value[text-anchor="end"]');
      await expect.poll(() => tickLabels.count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(5);
      expect(await tickLabels.count()).toBeLessThanOrEqual(6);
      const ticks = await tickLabels.allTextContents();
      console.log(`[e2e follow] head-score ticks: ${ticks.join(', ')}`);
      for (const t of ticks) expect(t.length).toBeLessThanOrEqual(5);
      await screenshot(page, 'ui-insights-1280');
      // Nothing sticks out of its panel: the GPU panel's readings, and the Train tab's stats row.
      const overflow = (selector: string) =>
        page.evaluate((sel) => {
          const box = document.querySelector(sel)!.getBoundingClientRect();
          return [...document.querySelectorAll(`${sel} *`)].filter((el) => el.getBoundingClientRect().right > box.right + 0.5).map((el) => el.textContent);
        }, selector);
      expect(await overflow('[data-testid="gpu-status"]')).toEqual([]);
      await page.getByTestId('tab-train').click();
      expect(await overflow('[data-testid="training-panel"]')).toEqual([]);
      await screenshot(page, 'ui-train-1280');

      expect(s.consoleErrors).toEqual([]);
      expect(s.pageErrors).toEqual([]);
    } finally {
      await s.close();
    }
  }, 400_000);
});
