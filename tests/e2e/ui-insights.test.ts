// The Insights tab on a small model trained through the page: perplexity and
// bits per character beside the losses, one timeline snapshot per evaluation,
// the slider showing that step's maps, the head-score chart, hovering a
// character for its probability, the logit lens's last row against the
// Sampling panel's greedy next character, and the timeline back after a reload.
import { afterAll, describe, expect, it } from 'vitest';
import { launch, screenshot, stopServer } from './harness';

afterAll(stopServer);

const L = 2;
const NH = 2;
const EVAL = 10;
const STEPS = 30;
const SETUP = `?preset=tiny&nLayer=${L}&nHead=${NH}&nEmbd=32&blockSize=16&batchSize=4&maxSteps=${STEPS}&evalInterval=${EVAL}&evalIters=2&checkpointInterval=0`;

describe('insights panel', () => {
  it('shows perplexity, a snapshot per evaluation, surprisal on hover and a lens that agrees with sampling', async () => {
    const s = await launch();
    const page = s.page;
    try {
      await page.goto(s.url + SETUP);
      await page.getByTestId('kernel-check').waitFor({ timeout: 120_000 });
      await page.getByTestId('tab-train').click();
      await page.getByTestId('train-toggle').click();
      const panel = page.getByTestId('training-panel');
      await expect.poll(() => panel.getAttribute('data-state'), { timeout: 300_000 }).toBe('done');

      // Perplexity = exp(validation loss), bits per character = loss / ln 2, as the page shows them.
      const val = Number(await page.getByTestId('val-loss').getAttribute('data-value'));
      const ppl = Number(await page.getByTestId('val-perplexity').getAttribute('data-value'));
      const bpc = Number(await page.getByTestId('val-bpc').getAttribute('data-value'));
      console.log(`[e2e insights] validation loss ${val.toFixed(4)}, perplexity ${ppl.toFixed(3)}, ${bpc.toFixed(4)} bits/char`);
      expect(val).toBeGreaterThan(0);
      expect(Math.abs(ppl - Math.exp(val))).toBeLessThan(1e-9 * ppl);
      expect(Math.abs(bpc - val / Math.LN2)).toBeLessThan(1e-12);
      expect(await page.getByTestId('val-perplexity').textContent()).toBe(Math.exp(val).toFixed(3));
      expect(Number(await page.getByTestId('summary-val').getAttribute('data-perplexity'))).toBe(ppl);
      await page.getByTestId('chart-metric').selectOption('perplexity');
      await expect.poll(() => page.getByTestId('loss-chart').locator('h2').textContent()).toBe('Perplexity');

      // One snapshot per evaluation, and one chart point per evaluation for every head.
      await page.getByTestId('tab-insights').click();
      const timeline = page.getByTestId('timeline');
      // Evaluations at step 0 (as nanoGPT) and every EVAL steps after.
      const evalSteps = Array.from({ length: STEPS / EVAL + 1 }, (_, i) => i * EVAL);
      await expect.poll(async () => Number(await timeline.getAttribute('data-count')), { timeout: 60_000 }).toBe(evalSteps.length);
      const chart = page.getByTestId('head-chart');
      expect(JSON.parse((await chart.getAttribute('data-steps'))!)).toEqual(evalSteps);
      const counts = JSON.parse((await chart.getAttribute('data-counts'))!) as Record<string, number>;
      expect(Object.keys(counts).length).toBe(L * NH);
      for (const n of Object.values(counts)) expect(n).toBe(evalSteps.length);
      expect(await chart.locator('.recharts-line').count()).toBe(L * NH);

      // Training health: a reading at the first step and every 10th, in small multiples per layer.
      const health = page.getByTestId('health');
      expect(Number(await health.getAttribute('data-readings'))).toBe(1 + STEPS / 10);
      expect(Number(await health.getAttribute('data-last-step'))).toBe(STEPS);
      expect(Number(await health.getAttribute('data-groups'))).toBe(L + 2);
      expect(await page.getByTestId('health-group-block-1').locator('.recharts-line').count()).toBeGreaterThan(0);

      // The slider scrubs: the first snapshot's step and its own attention maps.
      const shown = page.getByTestId('insights-shown');
      await expect.poll(() => shown.getAttribute('data-step')).toBe(String(STEPS));
      const last = await page.evaluate(() => window.__attention!);
      expect(last.step).toBe(STEPS);
      await page.getByTestId('timeline-slider').fill('0');
      await expect.poll(() => shown.getAttribute('data-step')).toBe(String(evalSteps[0]));
      await expect.poll(() => page.evaluate(() => window.__attention!.step)).toBe(evalSteps[0]);
      const first = await page.evaluate(() => window.__attention!);
      expect(first.tokens).toEqual(last.tokens);
      let differs = 0;
      for (let q = 0; q < first.T; q++) for (let k = 0; k <= q; k++) differs = Math.max(differs, Math.abs(first.matrix[q][k] - last.matrix[q][k]));
      expect(differs).toBeGreaterThan(1e-4);
      const headPrev = Number(await page.getByTestId('head-0-0').getAttribute('data-previous'));
      expect(headPrev).toBeCloseTo(first.matrix.slice(1).reduce((a, row, i) => a + row[i], 0) / (first.T - 1), 5);
      await screenshot(page, 'ui-insights-timeline');

      // Hovering a character shows its probability under the model.
      const ch = page.getByTestId('surprisal-char-5');
      const bits = Number(await ch.getAttribute('data-bits'));
      await ch.hover();
      const info = page.getByTestId('surprisal-info');
      await expect.poll(() => info.getAttribute('data-pos')).toBe('5');
      const p = Number(await info.getAttribute('data-prob'));
      expect(Math.abs(p - 2 ** -bits)).toBeLessThan(1e-9);
      await expect.poll(() => info.textContent()).toContain(`p = ${p.toFixed(4)}`);

      // The lens's last row is the model's prediction: the same next character greedy sampling picks.
      const prompt = 'The whale';
      await page.getByTestId('insights-text').fill(prompt);
      await page.getByTestId('insights-inspect').click();
      await expect.poll(() => shown.getAttribute('data-source'), { timeout: 60_000 }).toBe('request');
      const cell = page.getByTestId(`lens-cell-${L - 1}-${prompt.length - 1}`);
      const lensChar = await cell.getAttribute('data-char');
      const lensProb = Number(await cell.getAttribute('data-prob'));
      await cell.hover();
      await expect.poll(() => page.getByTestId('lens-info').textContent()).toContain(`${JSON.stringify(lensChar)} ${(100 * lensProb).toFixed(1)}%`);
      await page.getByTestId('tab-sample').click();
      await page.getByTestId('sample-prompt').fill(prompt);
      await page.getByTestId('sample-max').fill('1');
      await page.getByTestId('sample-greedy').check();
      await page.getByTestId('sample-generate').click();
      const output = page.getByTestId('sample-output');
      await expect.poll(() => output.getAttribute('data-chars'), { timeout: 60_000 }).toBe('1');
      await expect.poll(() => output.getAttribute('data-running'), { timeout: 60_000 }).toBe('false');
      const sampled = ((await output.textContent()) ?? '').slice(prompt.length);
      console.log(`[e2e insights] lens output after ${JSON.stringify(prompt)}: ${JSON.stringify(lensChar)} (${lensProb.toFixed(3)}); greedy sample: ${JSON.stringify(sampled)}`);
      expect(sampled).toBe(lensChar);

      // The timeline is saved with the run: after a reload and Resume, the same snapshots come back.
      await page.goto(s.url + SETUP);
      const offer = page.getByTestId('saved-run-offer');
      await offer.waitFor({ timeout: 120_000 });
      await page.getByTestId('saved-run-resume').click();
      await offer.waitFor({ state: 'detached', timeout: 120_000 });
      await page.getByTestId('tab-insights').click();
      await expect.poll(async () => Number(await page.getByTestId('timeline').getAttribute('data-count')), { timeout: 60_000 }).toBe(evalSteps.length);
      expect(JSON.parse((await page.getByTestId('head-chart').getAttribute('data-steps'))!)).toEqual(evalSteps);

      expect(s.consoleErrors).toEqual([]);
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
