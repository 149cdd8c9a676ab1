// A newcomer's first visit: on the software adapter of CI the page opens on the
// Tiny preset with one sentence saying why, and the one Start on the first
// screen trains it while the loss, a live sample and an attention thumbnail appear.
import { afterAll, describe, expect, it } from 'vitest';
import { launch, screenshot, stopServer } from './harness';

afterAll(stopServer);

describe('first visit', () => {
  it('opens on Tiny on a software adapter and trains from the one Start, showing loss, sample and attention', async () => {
    const s = await launch();
    const page = s.page;
    try {
      await page.goto(s.url);
      await page.waitForSelector('[data-testid="gpu-status"][data-phase="ready"]', { timeout: 120_000 });
      const software = ((await page.getByTestId('adapter-name').textContent()) ?? '').includes('software renderer');
      const setup = page.getByTestId('quick-setup');
      if (software) {
        await expect.poll(() => setup.getAttribute('data-preset'), { timeout: 60_000 }).toBe('tiny');
        const note = (await page.getByTestId('default-note').textContent()) ?? '';
        expect(note).toMatch(/software renderer/);
        expect(note).toMatch(/Tutorial GPT/);
        // One sentence.
        expect(note.trim().split(/[.;]\s+(?=[A-Z])/).length).toBe(1);
        await expect.poll(() => page.getByTestId('corpus-name').textContent(), { timeout: 60_000 }).toBe('Moby Dick');
        expect(page.url()).toContain('preset=tiny');
      } else {
        expect(await setup.getAttribute('data-preset')).toBe('tutorial');
        expect(await page.getByTestId('default-note').count()).toBe(0);
      }
      // Every panel is one key away, and the keys are shown.
      expect(await page.getByTestId('quick-keys').textContent()).toMatch(/1.*Dataset.*3.*Model & training/);

      const start = page.getByTestId('quick-start');
      await expect.poll(() => start.isEnabled(), { timeout: 120_000 }).toBe(true);
      await start.click();
      const panel = page.getByTestId('quick-start-panel');
      await expect.poll(() => panel.getAttribute('data-state'), { timeout: 120_000 }).toBe('running');
      const loss = page.getByTestId('quick-loss');
      await expect.poll(async () => Number(await loss.getAttribute('data-loss')), { timeout: 120_000 }).toBeGreaterThan(0);
      const first = Number(await loss.getAttribute('data-loss'));
      expect(first).toBeLessThan(Math.log(200));
      // The step-0 evaluation's snapshot: a greedy sample and the attention maps.
      const sample = page.getByTestId('quick-sample');
      await expect.poll(() => sample.getAttribute('data-step'), { timeout: 120_000 }).not.toBeNull();
      expect(((await sample.locator('.sample-text').textContent()) ?? '').length).toBeGreaterThan(8);
      const attention = page.getByTestId('quick-attention');
      await expect.poll(() => attention.getAttribute('data-step'), { timeout: 120_000 }).not.toBeNull();
      const drawn = await attention.locator('canvas').evaluate((c: HTMLCanvasElement) => {
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let painted = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) painted++;
        return painted / (c.width * c.height);
      });
      // A causal map paints the lower triangle: about half the square.
      expect(drawn).toBeGreaterThan(0.4);
      await expect.poll(async () => Number(await panel.getAttribute('data-step')), { timeout: 120_000 }).toBeGreaterThanOrEqual(3);
      expect(Number(await loss.getAttribute('data-loss'))).toBeGreaterThan(0);
      await screenshot(page, 'ui-first-visit');
      // The button pauses what it started.
      await start.click();
      await expect.poll(() => panel.getAttribute('data-state'), { timeout: 60_000 }).toBe('paused');
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  }, 300_000);
});
