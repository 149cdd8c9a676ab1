// Two tabs of one browser on one run: the tab that opened it first trains it,
// the other shows it read-only and live, refuses to train it with a sentence,
// renames it without the owner's next checkpoint undoing the name, duplicates it
// into a run of its own, and takes the run over once the owner tab is closed.
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { attr, launch, screenshot, stopServer } from './harness';

afterAll(stopServer);

// Tiny, with a checkpoint every 20 steps and a budget no test reaches.
const SETUP = '?preset=tiny&maxSteps=5000&evalInterval=100&evalIters=2&checkpointInterval=20';

const savedStep = async (page: Page) => ((await attr(page, 'checkpoint-status', 'data-saved')) === 'true' ? Number(await attr(page, 'checkpoint-status', 'data-step')) : -1);
const rowOf = (page: Page, id: string) => page.locator(`[data-testid="run-row"][data-run-id="${id}"]`);

async function ready(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
  await page.getByTestId('corpus-vocab').waitFor({ timeout: 180_000 });
}

async function openRuns(page: Page): Promise<void> {
  await page.getByTestId('tab-runs').click();
  await page.getByTestId('runs-panel').waitFor();
}

describe('one run, two tabs', () => {
  it('keeps one writer per run: read-only and live elsewhere, renames kept, freed when the owner closes', async () => {
    const s = await launch();
    const a = s.page;
    const b = await s.context.newPage();
    const bErrors: string[] = [];
    b.on('pageerror', (e) => bErrors.push(e.message));
    try {
      // Tab A trains the Tiny run; its first checkpoints are stored.
      await ready(a, s.url + SETUP);
      await a.getByTestId('tab-train').click();
      await a.getByTestId('train-toggle').click();
      await expect.poll(() => savedStep(a), { timeout: 120_000 }).toBeGreaterThanOrEqual(20);
      await openRuns(a);
      const id = (await a.locator('[data-testid="run-row"][data-open="true"]').getAttribute('data-run-id'))!;
      await a.getByTestId('tab-train').click();

      // Tab B opens: the run A trains is not offered for resuming; the table says another tab has it.
      await ready(b, s.url + SETUP);
      await b.waitForTimeout(1500);
      expect(await b.getByTestId('saved-run-offer').count()).toBe(0);
      await openRuns(b);
      await expect.poll(() => rowOf(b, id).getAttribute('data-elsewhere'), { timeout: 20_000 }).toBe('true');
      expect(await rowOf(b, id).getByTestId('run-delete').isDisabled()).toBe(true);

      // B opens it read-only: the banner says so and follows A's checkpoints live.
      await rowOf(b, id).getByTestId('run-open').click();
      const banner = b.getByTestId('other-tab-banner');
      await banner.waitFor({ timeout: 120_000 });
      expect(await b.getByTestId('other-tab-text').textContent()).toMatch(/Another tab of this browser has “.+” open and is the one that trains it/);
      const seen = await savedStep(a);
      await expect.poll(async () => Number((await banner.getAttribute('data-other-step')) ?? -1), { timeout: 60_000 }).toBeGreaterThan(seen);

      // Training it in B is refused with a sentence; A keeps training.
      await b.getByTestId('tab-train').click();
      await b.getByTestId('train-toggle').click();
      await expect.poll(() => b.getByTestId('train-problem').first().textContent(), { timeout: 30_000 }).toMatch(/Another tab of this browser has this run open/);
      expect(await attr(b, 'training-panel', 'data-state')).not.toBe('running');
      await screenshot(b, 'ui-tabs-read-only');

      // A rename in B survives A's next checkpoint, in both tabs.
      await openRuns(b);
      await rowOf(b, id).getByTestId('run-rename').click();
      await b.getByTestId('run-rename-input').fill('Renamed in tab B');
      await b.getByTestId('run-rename-save').click();
      const afterRename = await savedStep(a);
      await expect.poll(() => savedStep(a), { timeout: 60_000 }).toBeGreaterThan(afterRename);
      await expect.poll(() => rowOf(b, id).getAttribute('data-name'), { timeout: 20_000 }).toBe('Renamed in tab B');
      await openRuns(a);
      await expect.poll(() => rowOf(a, id).getAttribute('data-name'), { timeout: 20_000 }).toBe('Renamed in tab B');

      // "Duplicate to train here": B gets a copy of its own, at the stored step, that it may train.
      await b.getByTestId('duplicate-here').click();
      await banner.waitFor({ state: 'detached', timeout: 120_000 });
      await b.getByTestId('tab-train').click();
      const copyStep = Number(await attr(b, 'training-panel', 'data-step'));
      expect(copyStep).toBeGreaterThanOrEqual(20);
      await b.getByTestId('train-step').click();
      await expect.poll(() => savedStep(b), { timeout: 120_000 }).toBe(copyStep + 1);
      await openRuns(b);
      const copy = b.locator('[data-testid="run-row"][data-open="true"]');
      expect(await copy.getAttribute('data-name')).toBe('Renamed in tab B (copy)');
      expect(await copy.getAttribute('data-step')).toBe(String(copyStep + 1));
      // Back to the original: read-only again.
      await rowOf(b, id).getByTestId('run-open').click();
      await banner.waitFor({ timeout: 120_000 });

      // Every step A trained is stored: A pauses, and the table in B shows A's step.
      await a.getByTestId('tab-train').click();
      await a.getByTestId('train-toggle').click();
      await expect.poll(() => attr(a, 'training-panel', 'data-state'), { timeout: 60_000 }).toBe('paused');
      const aStep = Number(await attr(a, 'training-panel', 'data-step'));
      await expect.poll(() => savedStep(a), { timeout: 30_000 }).toBe(aStep);
      await openRuns(b);
      await expect.poll(async () => Number(await rowOf(b, id).getAttribute('data-step')), { timeout: 20_000 }).toBe(aStep);
      console.log(`[e2e tabs] tab A trained and stored ${aStep} steps while tab B looked on`);

      // Closing A frees the run: B's banner says so, and Start in B carries on from A's last step.
      await a.close();
      await expect.poll(() => banner.getAttribute('data-elsewhere'), { timeout: 30_000 }).toBe('false');
      await b.getByTestId('tab-train').click();
      await b.getByTestId('train-step').click();
      await expect.poll(() => savedStep(b), { timeout: 120_000 }).toBe(aStep + 1);
      await banner.waitFor({ state: 'detached', timeout: 30_000 });
      await openRuns(b);
      await expect.poll(async () => Number(await rowOf(b, id).getAttribute('data-step')), { timeout: 20_000 }).toBe(aStep + 1);
      expect(await rowOf(b, id).getAttribute('data-name')).toBe('Renamed in tab B');
      expect(await rowOf(b, id).getAttribute('data-elsewhere')).toBe('false');
      expect(bErrors).toEqual([]);
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  }, 400_000);
});
