import { afterAll, describe, expect, it } from 'vitest';
import { PRESETS } from '../../src/model/config';
import { paramCount } from '../../src/model/validate';
import { launch, screenshot, stopServer } from './harness';

afterAll(stopServer);

const tiny = PRESETS.find((p) => p.id === 'tiny')!;

describe('model and training panel', () => {
  it('updates the parameter count as you type, shows each problem beside its field, and keeps the link in step', async () => {
    const s = await launch();
    try {
      await s.page.goto(`${s.url}?preset=tiny`);
      const vocabCell = s.page.getByTestId('corpus-vocab');
      await vocabCell.waitFor({ timeout: 60_000 });
      const V = Number(await vocabCell.getAttribute('data-vocab'));
      await s.page.getByTestId('tab-train').click();
      const cost = s.page.getByTestId('model-cost');
      expect(Number(await cost.getAttribute('data-params'))).toBe(paramCount({ ...tiny.model, vocabSize: V }));

      await s.page.getByTestId('field-nLayer').fill('4');
      await expect.poll(() => cost.getAttribute('data-params')).toBe(String(paramCount({ ...tiny.model, nLayer: 4, vocabSize: V })));
      expect(s.page.url()).toContain('nLayer=4');

      await s.page.getByTestId('field-nHead').fill('5');
      const problem = s.page.getByTestId('problem-nHead');
      await expect.poll(() => problem.textContent()).toMatch(/must be divisible by the number of heads/);
      expect(await s.page.getByTestId('train-toggle').isDisabled()).toBe(true);
      await screenshot(s.page, 'ui-model-invalid');

      await s.page.getByTestId('field-nHead').fill('4');
      await expect.poll(() => problem.count()).toBe(0);
      expect(await s.page.getByTestId('train-toggle').textContent()).toMatch(/Start\s*Space/);
      expect(await s.page.getByTestId('train-step').textContent()).toMatch(/Step\s*S/);

      // A new preset replaces the whole config.
      await s.page.getByTestId('preset').selectOption('names');
      await expect.poll(() => s.page.getByTestId('field-nLayer').inputValue()).toBe('3');
      expect(s.page.url()).toMatch(/preset=names/);
      await screenshot(s.page, 'ui-model-training');
      expect(s.consoleErrors).toEqual([]);
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('lays out at 1920x1080', async () => {
    const s = await launch({ viewport: { width: 1920, height: 1080 } });
    try {
      await s.page.goto(`${s.url}?preset=tiny`);
      await s.page.getByTestId('corpus-vocab').waitFor({ timeout: 60_000 });
      await s.page.keyboard.press('3');
      await s.page.getByTestId('config-panel').waitFor();
      const width = await s.page.evaluate(() => document.documentElement.scrollWidth);
      expect(width).toBeLessThanOrEqual(1920);
      await screenshot(s.page, 'ui-model-training-1920');
      expect(s.pageErrors).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
