// A model on tokens, as a person would make one: train a small BPE in the
// Tokenizer tab, pick it in the Dataset tab, train a tiny model on it beside a
// character run, sample, look at its attention and surprisal (labels are token
// pieces), and compare the two in bits per character in the Runs tab.
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { attr, launch, screenshot, stopServer } from './harness';

afterAll(stopServer);

const STEPS = 60;
const SETUP = `?preset=names&nLayer=1&nHead=2&nEmbd=16&blockSize=16&batchSize=8&maxSteps=${STEPS}&evalInterval=30&evalIters=2&checkpointInterval=0`;

async function trainToEnd(page: Page): Promise<void> {
  await page.getByTestId('tab-train').click();
  await page.getByTestId('train-toggle').click();
  // A new run, trained to its last step.
  await expect.poll(() => page.evaluate(() => document.querySelector('[data-testid="training-panel"]')?.getAttribute('data-state')), { timeout: 60_000 }).not.toBe('done');
  await expect.poll(() => attr(page, 'training-panel', 'data-state'), { timeout: 300_000 }).toBe('done');
  expect(await attr(page, 'training-panel', 'data-step')).toBe(String(STEPS));
}

describe('models on tokens', () => {
  it('trains a BPE in the page, a model on it, samples, shows pieces in attention and surprisal, and compares with characters in bits per character', async () => {
    const s = await launch();
    const page = s.page;
    try {
      await page.goto(s.url + SETUP);
      await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
      await expect.poll(() => page.getByTestId('corpus-name').textContent(), { timeout: 60_000 }).toBe('First names');

      // The character run first.
      await trainToEnd(page);
      const charBpc = Number(await attr(page, 'val-bpc', 'data-value'));
      const charLoss = Number(await attr(page, 'val-loss', 'data-value'));
      expect(Math.abs(charBpc - charLoss / Math.LN2)).toBeLessThan(1e-9);

      // A 300-token BPE of the corpus, trained in the page.
      await page.getByTestId('tab-tokenizer').click();
      await page.getByTestId('bpe-vocab').fill('300');
      await page.getByTestId('bpe-train').click();
      await expect.poll(() => attr(page, 'bpe-summary', 'data-tokens'), { timeout: 60_000 }).toBe('300');

      // The Dataset tab says what the choice means: tokens used, vocabulary, parameters.
      await page.getByTestId('tab-data').click();
      await page.getByTestId('run-tokenizer-bpe').check();
      const usage = page.getByTestId('run-tokenizer-usage');
      await expect.poll(() => usage.getAttribute('data-vocab'), { timeout: 60_000 }).toBe('300');
      const used = Number(await usage.getAttribute('data-used'));
      expect(used).toBeGreaterThan(60);
      expect(used).toBeLessThanOrEqual(300);
      expect(await usage.textContent()).toMatch(/The corpus uses \d+ of the tokenizer's 300 tokens \([\d.]+ characters per token\)/);
      const params = Number(await usage.getAttribute('data-params'));

      // The BPE run: the model's vocabulary is the tokenizer's.
      await trainToEnd(page);
      const loaded = page.getByTestId('loaded-tokenizer');
      expect(await loaded.getAttribute('data-kind')).toBe('bpe');
      expect(await loaded.getAttribute('data-vocab')).toBe('300');
      expect(await page.getByTestId('loaded-model').textContent()).toContain(`${params.toLocaleString('en-US')} parameters`);
      const bpeLoss = Number(await attr(page, 'val-loss', 'data-value'));
      const bpeBpc = Number(await attr(page, 'val-bpc', 'data-value'));
      console.log(`[e2e tokens] after ${STEPS} steps: characters ${charBpc.toFixed(4)} bits/char; BPE-300 ${bpeBpc.toFixed(4)} bits/char (loss ${bpeLoss.toFixed(4)} nats/token)`);
      // Total bits over the validation split's characters: loss x tokens / (characters x ln 2), fewer tokens than characters.
      const valTokens = Number(await attr(page, 'loaded-model', 'data-val-tokens'));
      const valChars = Number(await attr(page, 'loaded-model', 'data-val-chars'));
      expect(valTokens).toBeLessThan(valChars);
      expect(Math.abs(bpeBpc - (bpeLoss * valTokens) / (valChars * Math.LN2))).toBeLessThan(1e-9);
      await page.getByTestId('chart-metric').selectOption('bpc');
      await expect.poll(() => page.getByTestId('loss-chart').locator('h2').textContent()).toBe('Bits per character');
      await expect.poll(() => page.getByTestId('chart-latest').textContent()).toContain(`validation ${bpeBpc.toFixed(4)} at step ${STEPS}`);

      // Sampling streams text.
      await page.getByTestId('tab-sample').click();
      await page.getByTestId('sample-prompt').fill('Anna');
      await page.getByTestId('sample-max').fill('20');
      await page.getByTestId('sample-generate').click();
      const output = page.getByTestId('sample-output');
      await expect.poll(() => output.getAttribute('data-running'), { timeout: 60_000 }).toBe('false');
      const sampled = (await output.textContent()) ?? '';
      console.log(`[e2e tokens] sample: ${JSON.stringify(sampled)}`);
      expect(sampled.startsWith('Anna')).toBe(true);
      expect(sampled.length).toBeGreaterThan('Anna'.length + 5);

      // Attention labels are the token pieces.
      await page.getByTestId('tab-attention').click();
      await page.getByTestId('attention-prompt').fill('Christopher Anna');
      await page.getByTestId('attention-refresh').click();
      await expect.poll(() => page.evaluate(() => window.__attention?.tokens.join('') ?? ''), { timeout: 60_000 }).toBe('Christopher Anna');
      const tokens = await page.evaluate(() => window.__attention!.tokens);
      console.log(`[e2e tokens] attention labels: ${JSON.stringify(tokens)}`);
      expect(tokens.length).toBeLessThan('Christopher Anna'.length);
      expect(tokens.some((t) => [...t].length > 1)).toBe(true);

      // Surprisal colours each token's span.
      await page.getByTestId('tab-insights').click();
      await page.getByTestId('insights-text').fill('Christopher Anna');
      await page.getByTestId('insights-inspect').click();
      await expect.poll(() => attr(page, 'insights-shown', 'data-source'), { timeout: 60_000 }).toBe('request');
      const spans = await page.getByTestId('surprisal').locator('[data-testid^="surprisal-char-"]').allTextContents();
      expect(spans).toEqual(tokens);
      expect(Number(await attr(page, 'surprisal-char-1', 'data-bits'))).toBeGreaterThan(0);
      // The views speak of tokens: the summary gives bits per token and per character of the text they spell.
      expect(await attr(page, 'insights-shown', 'data-unit')).toBe('token');
      expect(await page.getByTestId('insights-shown').textContent()).toContain(`${tokens.length} tokens.`);
      expect(await page.getByTestId('explain-surprisal').textContent()).toContain('how unexpected each token was');
      expect(await page.getByTestId('lens').locator('thead th').count()).toBe(tokens.length);
      const spanBits = await page.getByTestId('surprisal').locator('[data-bits]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-bits'))));
      const summary = (await page.getByTestId('surprisal-summary').textContent()) ?? '';
      console.log(`[e2e tokens] surprisal summary: ${summary}`);
      const spelled = 'Christopher Anna'.length - tokens[0].length;
      expect(summary).toMatch(new RegExp(`^Mean [\\d.]+ bits per token \\([\\d.]+ bits per character over the ${spelled} characters they spell\\)`));
      const sumBits = spanBits.reduce((a, b) => a + b, 0);
      expect(Math.abs(Number(await attr(page, 'surprisal-summary', 'data-bits-per-char')) - sumBits / spelled)).toBeLessThan(1e-5);
      expect(Number(await attr(page, 'timeline', 'data-count'))).toBeGreaterThanOrEqual(2);
      await screenshot(page, 'ui-tokens-surprisal');

      // The Runs tab compares both in bits per character.
      await page.getByTestId('tab-runs').click();
      const rows = page.getByTestId('run-row');
      await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(2);
      const bpcs = (await page.getByTestId('run-val-bpc').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))))).sort();
      expect(bpcs).toEqual([charBpc, bpeBpc].sort());
      expect(await page.locator('[data-testid="run-corpus"][data-tokenizer="bpe"]').count()).toBe(1);
      for (const box of await page.getByTestId('run-select').all()) await box.check();
      await page.getByTestId('compare-metric').selectOption('bpc');
      await page.getByTestId('compare-axis-flops').check();
      const chart = page.getByTestId('compare-chart');
      await expect.poll(() => chart.getAttribute('data-metric')).toBe('bpc');
      const lastVals = (await page.getByTestId('compare-legend').locator('li').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-last-val'))))).sort();
      expect(lastVals).toEqual(bpcs);
      expect(await page.getByTestId('runs-panel').textContent()).toContain('training FLOPs (6 · parameters · tokens)');
      await screenshot(page, 'ui-tokens-runs');
    } finally {
      await s.close();
    }
  }, 900_000);
});
