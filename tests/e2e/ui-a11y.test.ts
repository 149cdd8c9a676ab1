// Accessibility and phone layout, on a small model trained through the page:
// axe-core on every tab, in light and dark colour schemes, at a desktop and a
// phone viewport (no serious or critical violation; every violation printed),
// no sideways scrolling at 390 px, the keyboard ways to read the heatmap and the
// loss chart, and charts that hold still under prefers-reduced-motion.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launch, ROOT, screenshot, stopServer } from './harness';

afterAll(stopServer);

const STEPS = 12;
const SETUP = `?preset=tiny&nLayer=2&nHead=2&nEmbd=32&blockSize=16&batchSize=4&maxSteps=${STEPS}&evalInterval=6&evalIters=2&checkpointInterval=0`;
const TABS = ['data', 'tokenizer', 'train', 'attention', 'sample', 'insights', 'runs', 'finetune'] as const;
// What shows that a tab has drawn its content.
const READY: Record<(typeof TABS)[number], string> = {
  data: 'corpus-vocab',
  tokenizer: 'tokenizer-panel',
  train: 'chart-points',
  attention: 'attention-canvas',
  sample: 'sample-output',
  insights: 'timeline',
  runs: 'runs-panel',
  finetune: 'finetune-panel',
};
const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;
const SCHEMES = ['light', 'dark'] as const;

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; summary: string }[];
}

const axeSource = readFileSync(resolve(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');

async function runAxe(page: Page): Promise<Violation[]> {
  // Evaluated through the DevTools protocol, so the page's Content-Security-Policy stays as it is.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<{ violations: Violation[] }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.map(String), summary: (n as unknown as { failureSummary?: string }).failureSummary ?? '' })),
    }));
  });
}

async function openTab(page: Page, tab: (typeof TABS)[number]) {
  await page.getByTestId(`tab-${tab}`).click();
  await page.getByTestId(READY[tab]).first().waitFor({ timeout: 60_000 });
  // Let charts finish drawing (or settle at once, under reduced motion).
  await page.waitForTimeout(300);
}

/** The innermost elements that reach past the right edge of the viewport, to say what makes a page too wide. */
function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    for (const el of Array.from(document.body.querySelectorAll('*'))) {
      const r = el.getBoundingClientRect();
      if (r.right <= window.innerWidth + 0.5 || r.width === 0) continue;
      if (Array.from(el.children).some((c) => c.getBoundingClientRect().right > window.innerWidth + 0.5)) continue;
      const cls = typeof el.className === 'string' && el.className ? '.' + el.className.split(' ').join('.') : '';
      const id = el.getAttribute('data-testid');
      out.push(`${el.tagName.toLowerCase()}${cls}${id ? `[${id}]` : ''} ${Math.round(r.left)}-${Math.round(r.right)}`);
    }
    return out.slice(0, 8);
  });
}

/** Tabs, the attention heatmap and the loss chart, with the keyboard alone. */
async function keyboardChecks(page: Page) {
  // The tab list: one tab stop, arrows / Home / End move and select.
  await page.getByTestId('tab-data').click();
  await page.keyboard.press('ArrowRight');
  await expect.poll(() => page.getByTestId('tab-tokenizer').getAttribute('aria-selected')).toBe('true');
  expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('tab-tokenizer');
  await page.keyboard.press('End');
  await expect.poll(() => page.getByTestId('tab-finetune').getAttribute('aria-selected')).toBe('true');
  await page.keyboard.press('ArrowRight');
  await expect.poll(() => page.getByTestId('tab-data').getAttribute('aria-selected')).toBe('true');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('Home');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await expect.poll(() => page.getByTestId('tab-attention').getAttribute('aria-selected')).toBe('true');

  // The heatmap is reached with Tab from the tab list, and read cell by cell with the arrows.
  const canvas = page.getByTestId('attention-canvas');
  await canvas.waitFor({ timeout: 60_000 });
  let presses = 0;
  while ((await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))) !== 'attention-canvas') {
    expect(++presses).toBeLessThan(40);
    await page.keyboard.press('Tab');
  }
  console.log(`[e2e a11y] the attention map is ${presses} Tab presses after the tab list`);
  for (const key of ['ArrowDown', 'ArrowDown', 'ArrowDown', 'ArrowRight', 'ArrowRight', 'ArrowRight']) await page.keyboard.press(key);
  const info = page.getByTestId('attention-info');
  expect(await info.getAttribute('aria-live')).toBe('polite');
  await expect.poll(() => info.getAttribute('data-q')).toBe('3');
  expect(await info.getAttribute('data-k')).toBe('2');
  const drawn = await page.evaluate(() => window.__attention!);
  const tok = (i: number) => JSON.stringify(drawn.tokens[i]);
  expect(await info.textContent()).toBe(`Query ${tok(3)} (3) → key ${tok(2)} (2): weight ${drawn.matrix[3][2].toFixed(4)}`);
  // Escape reads the focused query's whole row, largest weights first.
  await page.keyboard.press('Escape');
  const row = drawn.matrix[3].slice(0, 4).map((w, k) => ({ w, k })).sort((x, y) => y.w - x.w);
  await expect.poll(() => info.textContent()).toContain(`largest weights: ${tok(row[0].k)} (${row[0].k}) ${row[0].w.toFixed(3)}`);
  console.log(`[e2e a11y] focused query read as text: ${await info.textContent()}`);

  // Surprisal and the logit lens: arrows read what hovering shows.
  await page.getByTestId('tab-insights').click();
  await page.getByRole('region', { name: /Text coloured by surprisal/ }).focus();
  for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowRight');
  const surprisal = page.getByTestId('surprisal-info');
  await expect.poll(() => surprisal.getAttribute('data-pos')).toBe('5');
  const bits = Number(await page.getByTestId('surprisal-char-5').getAttribute('data-bits'));
  expect(await surprisal.textContent()).toContain(`p = ${(2 ** -bits).toFixed(4)}`);
  await page.getByRole('region', { name: /Logit lens table/ }).focus();
  for (const key of ['ArrowRight', 'ArrowRight', 'ArrowRight']) await page.keyboard.press(key);
  const lensCell = page.getByTestId('lens-cell-1-2');
  const lensProb = Number(await lensCell.getAttribute('data-prob'));
  await expect.poll(() => page.getByTestId('lens-info').textContent()).toContain(`${JSON.stringify(await lensCell.getAttribute('data-char'))} ${(100 * lensProb).toFixed(1)}%`);

  // The loss chart: its latest values as text, and its points one by one with the arrows.
  await page.getByTestId('tab-train').click();
  const points = page.getByTestId('chart-points');
  const latest = page.getByTestId('chart-latest');
  const train = Number(await points.getAttribute('data-train-loss'));
  const val = Number(await points.getAttribute('data-val-loss'));
  const text = (await latest.textContent()) ?? '';
  console.log(`[e2e a11y] loss chart as text: ${text}`);
  expect(text).toContain(`step ${STEPS}: train ${train.toFixed(4)}`);
  expect(text).toContain(`validation ${val.toFixed(4)} at step ${STEPS}`);
  const surface = page.getByTestId('loss-chart').locator('svg[role="application"]');
  await surface.focus();
  await page.keyboard.press('ArrowRight');
  const tooltip = page.getByTestId('loss-chart').locator('.recharts-tooltip-wrapper');
  await expect.poll(() => tooltip.evaluate((el) => getComputedStyle(el).visibility)).toBe('visible');
  await expect.poll(() => tooltip.textContent()).toMatch(/train.*\d\.\d{4}/);
  console.log(`[e2e a11y] loss chart point read with the keyboard: ${await tooltip.textContent()}`);
}

/** Under prefers-reduced-motion the chart tooltip jumps instead of gliding and streamed text does not scroll the box. */
async function reducedMotionChecks(page: Page) {
  const tooltip = page.getByTestId('loss-chart').locator('.recharts-tooltip-wrapper');
  const duration = () => tooltip.evaluate((el) => getComputedStyle(el).transitionDuration);
  expect(await duration()).not.toBe('0s');
  await page.emulateMedia({ reducedMotion: 'reduce' });
  await page.keyboard.press('ArrowRight');
  await expect.poll(duration).toBe('0s');

  const generate = async () => {
    await page.getByTestId('tab-sample').click();
    await page.getByTestId('sample-max').fill('800');
    await page.getByTestId('sample-generate').click();
    const output = page.getByTestId('sample-output');
    await expect.poll(() => output.getAttribute('data-chars'), { timeout: 120_000 }).toBe('800');
    await expect.poll(() => output.getAttribute('data-running'), { timeout: 60_000 }).toBe('false');
    return output.evaluate((el) => ({ top: el.scrollTop, height: el.scrollHeight, client: el.clientHeight }));
  };
  await page.setViewportSize({ width: 390, height: 844 });
  const still = await generate();
  await page.emulateMedia({ reducedMotion: 'no-preference' });
  const moving = await generate();
  console.log(`[e2e a11y] output box after 800 characters: scrollTop ${still.top} under reduced motion, ${moving.top} without (scrollHeight ${moving.height}, clientHeight ${moving.client})`);
  expect(moving.height).toBeGreaterThan(moving.client);
  expect(moving.top + moving.client).toBeGreaterThanOrEqual(moving.height - 2);
  expect(still.top).toBe(0);
}

describe('accessibility and phone layout', () => {
  it('has no serious or critical axe violations on any tab, in both schemes, at 1280 and 390 px, and no sideways scroll on a phone', async () => {
    const s = await launch();
    const page = s.page;
    try {
      await page.goto(s.url + SETUP);
      await page.getByTestId('kernel-check').waitFor({ timeout: 120_000 });
      await page.getByTestId('tab-train').click();
      await page.getByTestId('train-toggle').click();
      await expect.poll(() => page.getByTestId('training-panel').getAttribute('data-state'), { timeout: 300_000 }).toBe('done');
      // Put every view on screen once: sampled text with its distribution, attention maps, the insights timeline.
      await page.getByTestId('tab-sample').click();
      await page.getByTestId('sample-max').fill('20');
      await page.getByTestId('sample-generate').click();
      await expect.poll(() => page.getByTestId('sample-output').getAttribute('data-chars'), { timeout: 120_000 }).toBe('20');
      await expect.poll(() => page.getByTestId('sample-output').getAttribute('data-running'), { timeout: 60_000 }).toBe('false');
      await openTab(page, 'attention');
      await openTab(page, 'insights');

      const serious: string[] = [];
      const wide: string[] = [];
      const summary: Record<string, Record<string, string>> = {};
      for (const vp of VIEWPORTS) {
        await page.setViewportSize({ width: vp.width, height: vp.height });
        for (const scheme of SCHEMES) {
          await page.emulateMedia({ colorScheme: scheme });
          for (const tab of TABS) {
            await openTab(page, tab);
            const where = `${tab} ${scheme} ${vp.name}`;
            const violations = await runAxe(page);
            for (const v of violations) {
              console.log(`[e2e a11y] ${where}: ${v.id} (${v.impact}, ${v.nodes.length} nodes) ${v.help}`);
              for (const n of v.nodes.slice(0, 4)) console.log(`    ${n.target.join(' ')} :: ${n.summary.replace(/\s+/g, ' ').slice(0, 240)}`);
              if (v.impact === 'serious' || v.impact === 'critical') serious.push(`${where}: ${v.id} (${v.impact}) x${v.nodes.length}`);
            }
            (summary[tab] ??= {})[`${scheme} ${vp.name}`] = violations.map((v) => `${v.id}:${v.impact}:${v.nodes.length}`).join(' ') || 'none';
            if (vp.name === 'phone') {
              const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
              console.log(`[e2e a11y] ${tab} ${scheme} at 390 px: scrollWidth ${scrollWidth}, innerWidth ${innerWidth}`);
              if (scrollWidth > innerWidth) {
                wide.push(`${tab} ${scheme}: ${scrollWidth} > ${innerWidth}`);
                console.log(`    wider than the screen: ${(await overflowing(page)).join(' | ')}`);
              }
              if (scheme === 'light' && (tab === 'train' || tab === 'attention')) await screenshot(page, `ui-a11y-phone-${tab}`);
            }
          }
        }
      }
      console.log(`[e2e a11y] summary ${JSON.stringify(summary, null, 1)}`);
      console.log(`[e2e a11y] serious/critical: ${serious.length}; too wide at 390 px: ${wide.length}`);
      expect(serious).toEqual([]);
      expect(wide).toEqual([]);

      await page.setViewportSize({ width: 1280, height: 800 });
      await page.emulateMedia({ colorScheme: 'light', reducedMotion: 'no-preference' });
      await keyboardChecks(page);
      await reducedMotionChecks(page);
      expect(s.consoleErrors).toEqual([]);
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('has no axe violation on the page shown without WebGPU', async () => {
    const s = await launch({ initScript: 'delete Navigator.prototype.gpu; Object.defineProperty(navigator, "gpu", { value: undefined });' });
    try {
      await s.page.goto(s.url);
      await s.page.getByTestId('no-webgpu').waitFor({ timeout: 60_000 });
      for (const scheme of SCHEMES) {
        await s.page.emulateMedia({ colorScheme: scheme });
        const violations = await runAxe(s.page);
        for (const v of violations) console.log(`[e2e a11y] no-WebGPU page, ${scheme}: ${v.id} (${v.impact}, ${v.nodes.length} nodes) ${v.help}`);
        expect(violations.map((v) => v.id)).toEqual([]);
      }
    } finally {
      await s.close();
    }
  });
});
