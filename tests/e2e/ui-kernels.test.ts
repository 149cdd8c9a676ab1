// The kernel switch: SwiftShader gets the CPU-shaped kernels by default; the
// link parameter kernels=gpu forces the GPU-shaped ones (compiled by the
// browser's own WGSL compiler, with subgroups when it offers them), which
// train a tiny model, and the parameter survives edits and a reload.
import { afterAll, describe, expect, it } from 'vitest';
import { launch, screenshot, stopServer } from './harness';

afterAll(stopServer);

const SETUP = 'preset=tiny&nLayer=1&nHead=2&nEmbd=16&blockSize=8&batchSize=2&maxSteps=6&evalInterval=100&evalIters=1&checkpointInterval=0';

describe('kernel variants', () => {
  it('chooses CPU kernels on SwiftShader, and kernels=gpu trains with the GPU-shaped ones and stays in the link', async () => {
    const s = await launch();
    const page = s.page;
    try {
      await page.goto(`${s.url}?${SETUP}`);
      const variant = page.getByTestId('kernel-variant');
      await variant.waitFor({ timeout: 120_000 });
      expect(await variant.getAttribute('data-kernels')).toBe('cpu');

      await page.goto(`${s.url}?${SETUP}&kernels=gpu`);
      await variant.waitFor({ timeout: 120_000 });
      expect(await variant.getAttribute('data-kernels')).toBe('gpu');
      console.log(`[e2e] kernels=gpu: ${await variant.textContent()}`);
      await page.getByTestId('corpus-vocab').waitFor({ timeout: 60_000 });
      const V = Number(await page.getByTestId('corpus-vocab').getAttribute('data-vocab'));
      await page.getByTestId('tab-train').click();
      const panel = page.getByTestId('training-panel');
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await page.keyboard.press('Space');
      await expect.poll(async () => Number(await panel.getAttribute('data-step')), { timeout: 300_000 }).toBe(6);
      const loss = Number(await page.getByTestId('chart-points').getAttribute('data-train-loss'));
      console.log(`[e2e] GPU-shaped kernels: loss ${loss.toFixed(3)} after 6 steps (ln V = ${Math.log(V).toFixed(3)})`);
      expect(Number.isFinite(loss)).toBe(true);
      expect(loss).toBeLessThan(Math.log(V) + 1);
      await screenshot(page, 'ui-kernels-gpu');

      // The setup rewrites the link as it changes; the switch stays in it, and a reload keeps it.
      expect(new URL(page.url()).searchParams.get('kernels')).toBe('gpu');
      await page.reload();
      await variant.waitFor({ timeout: 120_000 });
      expect(await variant.getAttribute('data-kernels')).toBe('gpu');

      expect(s.consoleErrors).toEqual([]);
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
