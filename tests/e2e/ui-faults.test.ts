// Faults through the page, as a person meets them: a learning rate that blows
// up, a lost GPU device, and a browser that refuses storage. Each must leave a
// sentence on screen, training in a sane state and the charts free of NaN.
import { afterAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { DebugAction, EngineReply } from '../../src/engine/protocol';
import { attr, launch, num, screenshot, stopServer, type Session } from './harness';

afterAll(stopServer);

// Small enough for SwiftShader: one layer, 16 wide, context 8, batch 4.
const SMALL = 'preset=tiny&nLayer=1&nHead=2&nEmbd=16&blockSize=8&batchSize=4&maxSteps=5000&warmupSteps=0&evalIters=1';

declare global {
  interface Window {
    __engineDebug?: (action: DebugAction) => Promise<EngineReply>;
  }
}

async function openTraining(s: Session, query: string): Promise<void> {
  const page = s.page;
  await page.goto(`${s.url}?test&${query}`);
  await page.getByTestId('corpus-vocab').waitFor({ timeout: 180_000 });
  await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
  await page.getByTestId('tab-train').click();
}

/** The chart's data attributes hold only finite numbers, and none of its series is non-finite. */
async function expectFiniteChart(page: Page): Promise<void> {
  const points = page.getByTestId('chart-points');
  expect(await points.getAttribute('data-nonfinite')).toBe('0');
  for (const name of ['data-points', 'data-train-loss', 'data-first-step', 'data-last-step']) {
    const v = await points.getAttribute(name);
    if (v !== null) expect(Number.isFinite(Number(v)), `${name}=${v}`).toBe(true);
  }
  const val = await points.getAttribute('data-val-loss');
  if (val !== null) expect(Number.isFinite(Number(val))).toBe(true);
}

function expectCleanSession(s: Session): void {
  if (s.consoleErrors.length) console.log(`[e2e] console errors: ${s.consoleErrors.join(' | ')}`);
  expect(s.pageErrors).toEqual([]);
  expect(s.foreignRequests).toEqual([]);
}

describe('faults in the playground', () => {
  it('a learning rate that blows up shows the NaN sentence, pauses, and keeps NaN out of the charts', async () => {
    const s = await launch();
    const page = s.page;
    try {
      await openTraining(s, `${SMALL}&evalInterval=1000&checkpointInterval=2`);
      // The form refuses 1e6 outright, with a sentence beside the field.
      await page.getByText('Training settings').click();
      const lr = page.getByTestId('field-learningRate');
      await lr.fill('1e6');
      await expect.poll(() => page.getByTestId('problem-learningRate').textContent()).toMatch(/learning rate/i);
      expect(await page.getByTestId('train-toggle').isDisabled()).toBe(true);
      // The largest rate it accepts, with heavy weight decay and no clipping, diverges within a few steps.
      await lr.fill('1');
      await page.getByTestId('field-weightDecay').fill('10');
      await page.getByTestId('field-gradClip').fill('0');
      await lr.blur();
      await expect.poll(() => page.getByTestId('train-toggle').isDisabled()).toBe(false);
      await page.getByTestId('train-toggle').click();

      const alert = page.getByTestId('nonfinite-alert');
      await alert.waitFor({ timeout: 300_000 });
      const text = (await alert.textContent()) ?? '';
      console.log(`[e2e] NaN alert: ${text}`);
      expect(await alert.getAttribute('role')).toBe('alert');
      expect(text).toMatch(/non-finite/);
      expect(text).toMatch(/learning rate/);
      await expect.poll(() => attr(page, 'training-panel', 'data-state'), { timeout: 60_000 }).toBe('paused');
      expect(await page.getByTestId('train-toggle').textContent()).toMatch(/Resume/);
      await page.waitForTimeout(600); // one chart redraw
      await expectFiniteChart(page);
      // The curve ends at the step the weights were rolled back to.
      const rolledBack = Number(/rolled back to step (\d+)/.exec(text)?.[1] ?? NaN);
      expect(await num(page, 'training-panel', 'data-step')).toBe(rolledBack);
      const last = await attr(page, 'chart-points', 'data-last-step');
      if (last !== null) expect(Number(last)).toBe(rolledBack);
      await screenshot(page, 'ui-faults-nan');
      expectCleanSession(s);
    } finally {
      await s.close();
    }
  });

  it('a lost GPU shows a Recover action that continues training with an unbroken loss curve', async () => {
    const s = await launch();
    const page = s.page;
    try {
      await openTraining(s, `${SMALL}&evalInterval=1000&checkpointInterval=4`);
      await page.getByTestId('train-toggle').click();
      await expect.poll(() => num(page, 'chart-points', 'data-points'), { timeout: 300_000 }).toBeGreaterThanOrEqual(6);
      await expect.poll(() => attr(page, 'checkpoint-status', 'data-saved'), { timeout: 60_000 }).toBe('true');

      expect(await page.evaluate(() => window.__engineDebug!('loseDevice'))).toEqual({ kind: 'ok' });
      const alert = page.getByTestId('device-lost-alert');
      await alert.waitFor({ timeout: 60_000 });
      expect(await alert.getAttribute('role')).toBe('alert');
      console.log(`[e2e] device lost: ${await alert.textContent()}`);
      await expect.poll(() => attr(page, 'training-panel', 'data-state'), { timeout: 60_000 }).toBe('error');
      const checkpointed = await num(page, 'checkpoint-status', 'data-step');
      await screenshot(page, 'ui-faults-device-lost');

      await page.getByTestId('device-recover').click();
      await alert.waitFor({ state: 'detached', timeout: 120_000 });
      await expect.poll(() => attr(page, 'training-panel', 'data-state'), { timeout: 60_000 }).toBe('running');
      await expect.poll(() => num(page, 'chart-points', 'data-last-step'), { timeout: 300_000 }).toBeGreaterThanOrEqual(checkpointed + 3);
      await page.getByTestId('train-toggle').click();
      await expect.poll(() => attr(page, 'training-panel', 'data-state'), { timeout: 60_000 }).toBe('paused');
      await page.waitForTimeout(600);
      // One continuous curve from step 1: the steps lost with the device were replaced, not left as a gap or a jump.
      const points = page.getByTestId('chart-points');
      expect(await points.getAttribute('data-first-step')).toBe('1');
      expect(await points.getAttribute('data-contiguous')).toBe('true');
      expect(Number(await points.getAttribute('data-points'))).toBe(Number(await points.getAttribute('data-last-step')));
      await expectFiniteChart(page);
      expect(await page.getByTestId('device-lost').count()).toBe(0);
      expectCleanSession(s);
    } finally {
      await s.close();
    }
  });

  it('with storage blocked, the checkpoint line says so while training goes on', async () => {
    // The page and every worker it starts (the engine saves from its worker) get an IndexedDB that refuses.
    const block = `(() => {
      const deny = () => { throw new DOMException('The user denied permission to access the database.', 'SecurityError'); };
      self.IDBFactory.prototype.open = deny;
      self.IDBDatabase.prototype.transaction = deny;
    })()`;
    const s = await launch({ initScript: block });
    const page = s.page;
    page.on('worker', (w) => void w.evaluate(block).catch(() => undefined));
    try {
      await openTraining(s, `${SMALL}&evalInterval=1000&checkpointInterval=2`);
      await page.getByTestId('train-toggle').click();
      const status = page.getByTestId('checkpoint-status');
      await expect.poll(() => status.getAttribute('data-saved'), { timeout: 300_000 }).toBe('false');
      const sentence = (await status.textContent()) ?? '';
      console.log(`[e2e] storage blocked: ${sentence}`);
      expect(sentence).toMatch(/^Checkpoints are not being saved: .*Training goes on/);
      const step = await num(page, 'training-panel', 'data-step');
      await expect.poll(() => num(page, 'training-panel', 'data-step'), { timeout: 300_000 }).toBeGreaterThan(step + 2);
      expect(await attr(page, 'training-panel', 'data-state')).toBe('running');
      await screenshot(page, 'ui-faults-storage');
      await page.getByTestId('train-toggle').click();
      await expect.poll(() => attr(page, 'training-panel', 'data-state'), { timeout: 60_000 }).toBe('paused');
      expectCleanSession(s);
    } finally {
      await s.close();
    }
  });
});
