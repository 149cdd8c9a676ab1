import { afterAll, describe, expect, it } from 'vitest';
import { launch, screenshot, stopServer } from './harness';

afterAll(stopServer);

describe('the built app in headless Chromium', () => {
  it('finds a WebGPU adapter, runs a kernel on it and shows a result that matches the CPU', async () => {
    const s = await launch();
    try {
      await s.page.goto(s.url);
      const adapter = s.page.getByTestId('adapter-name');
      await adapter.waitFor({ timeout: 60_000 });
      const name = (await adapter.textContent()) ?? '';
      console.log(`[e2e] adapter shown: ${name}`);
      expect(name.length).toBeGreaterThan(3);
      expect(name).not.toMatch(/unknown adapter/);

      const check = s.page.getByTestId('kernel-check');
      await check.waitFor({ timeout: 120_000 });
      const text = (await check.textContent()) ?? '';
      console.log(`[e2e] ${text}`);
      expect(await check.getAttribute('data-ok')).toBe('true');
      expect(Number(await check.getAttribute('data-max-abs-diff'))).toBeLessThan(1e-3);
      expect(text).toMatch(/Kernel check passed/);

      await screenshot(s.page, 'app-gpu-status');
      expect(s.consoleErrors).toEqual([]);
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('explains what to do when the browser has no WebGPU', async () => {
    const s = await launch({
      initScript: 'delete Navigator.prototype.gpu; Object.defineProperty(navigator, "gpu", { value: undefined });',
    });
    try {
      await s.page.goto(s.url);
      const page = s.page.getByTestId('no-webgpu');
      await page.waitFor({ timeout: 30_000 });
      expect(await page.getAttribute('data-reason')).toBe('no-webgpu');
      const text = (await page.textContent()) ?? '';
      expect(text).toMatch(/does not offer WebGPU/);
      expect(text).toMatch(/Chrome or Edge/);
      await screenshot(s.page, 'app-no-webgpu');
      expect(s.pageErrors).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('explains what to do when WebGPU offers no adapter', async () => {
    // Chromium without the WebGPU flags on a machine with no GPU driver it trusts gives no adapter.
    const s = await launch({ args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-gpu'] });
    try {
      await s.page.goto(s.url);
      const page = s.page.getByTestId('no-webgpu');
      await page.waitFor({ timeout: 30_000 });
      const reason = await page.getAttribute('data-reason');
      console.log(`[e2e] without the WebGPU flags the app says: ${reason}`);
      expect(['no-adapter', 'no-webgpu']).toContain(reason);
      expect(((await page.textContent()) ?? '').length).toBeGreaterThan(100);
      expect(s.pageErrors).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
