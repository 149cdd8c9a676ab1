// A toy task through the page: the repeat task picked on the Dataset tab, the
// Induction preset trained on it, and the held-out accuracy of greedy
// completions read from the Training tab as it changes.
import { afterAll, describe, expect, it } from 'vitest';
import { launch, screenshot, stopServer } from './harness';

afterAll(stopServer);

/**
 * The Induction preset, shortened. In float64 on the CPU (tests/reference/gpt.ts,
 * same init seed and batches) the second copy's accuracy jumps from about 0.1
 * to 0.99 between steps 100 and 150 (the induction circuit forms there). Measured
 * here through the page (SwiftShader, 2026-12-05): per-character accuracy 0.063 at
 * step 0, 0.143 at step 100, 0.964 at step 150, 1.000 at step 200.
 */
const STEPS = 150;
const SETUP = `?preset=induction&maxSteps=${STEPS}&evalInterval=50&checkpointInterval=0`;

describe('toy tasks in the page', () => {
  it('picks the repeat task, trains the Induction preset on it and plots the held-out accuracy', async () => {
    const s = await launch();
    const page = s.page;
    try {
      await page.goto(s.url + SETUP);
      await page.getByTestId('kernel-check').waitFor({ timeout: 120_000 });
      await page.getByTestId('tab-data').click();
      await page.getByTestId('toy-kind').selectOption('repeat');
      // Bad input: lines longer than the context get a sentence, and nothing is loaded.
      await page.getByTestId('toy-length').fill('20');
      await expect.poll(() => page.getByTestId('toy-problem').textContent(), { timeout: 10_000 }).toBe(
        "A repeat example of length 20 is up to 40 characters, longer than the model's context of 32: use a length of at most 16 or a context of at least 40.",
      );
      expect(await page.getByTestId('toy-use').isDisabled()).toBe(true);
      await page.getByTestId('toy-length').fill('12');
      await page.getByTestId('toy-alphabet').fill('16');
      await page.getByTestId('toy-examples').fill('4000');
      await page.getByTestId('toy-seed').fill('1');
      expect(await page.getByTestId('toy-problem').count()).toBe(0);
      await page.getByTestId('toy-use').click();
      await expect
        .poll(() => page.getByTestId('corpus-name').textContent(), { timeout: 60_000 })
        .toBe('Toy task: Repeat (length 12, alphabet 16, 4000 examples, seed 1)');
      expect(await page.getByTestId('corpus-vocab').getAttribute('data-vocab')).toBe('17');
      expect(await page.getByTestId('toy-active').getAttribute('data-kind')).toBe('repeat');
      const preview = (await page.getByTestId('corpus-preview').textContent()) ?? '';
      for (const line of preview.split('\n').slice(0, 5)) expect(line.slice(12)).toBe(line.slice(0, 12));

      await page.getByTestId('tab-train').click();
      const panel = page.getByTestId('training-panel');
      const t0 = Date.now();
      await page.getByTestId('train-toggle').click();
      const acc = page.getByTestId('toy-accuracy');
      // Step 0 is evaluated before training: the untrained model's accuracy.
      await acc.waitFor({ timeout: 180_000 });
      expect(await acc.getAttribute('data-first-step')).toBe('0');
      const exact0 = Number(await acc.getAttribute('data-first-exact'));
      const char0 = Number(await acc.getAttribute('data-first-per-char'));
      // Progress is logged, so a slow machine shows where the time went.
      const deadline = Date.now() + 420_000;
      let seen = '';
      while ((await panel.getAttribute('data-state')) !== 'done' && Date.now() < deadline) {
        await page.waitForTimeout(5000);
        const now = `per-character accuracy ${await acc.getAttribute('data-per-char')} at step ${await acc.getAttribute('data-step')}`;
        if (now !== seen) console.log(`[e2e] ${((Date.now() - t0) / 1000).toFixed(0)} s: ${now}`);
        seen = now;
      }
      expect(await panel.getAttribute('data-state')).toBe('done');
      await expect.poll(async () => Number(await acc.getAttribute('data-step')), { timeout: 30_000 }).toBe(STEPS);
      const exact = Number(await acc.getAttribute('data-exact'));
      const perChar = Number(await acc.getAttribute('data-per-char'));
      const evals = Number(await acc.getAttribute('data-points'));
      console.log(
        `[e2e] held-out repeat accuracy: exact ${exact0.toFixed(3)} / per character ${char0.toFixed(3)} at step 0, ` +
          `${exact.toFixed(3)} / ${perChar.toFixed(3)} at step ${STEPS} (${evals} evaluations, ${((Date.now() - t0) / 1000).toFixed(0)} s)`,
      );
      expect(evals).toBe(STEPS / 50 + 1);
      for (const x of [exact0, char0, exact, perChar]) {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(1);
      }
      // An untrained model guesses: about 1 in 17 characters, almost never a whole copy.
      expect(char0).toBeLessThan(0.25);
      // Measured: the induction circuit has formed by step 200 (see the README's figures).
      expect(perChar).toBeGreaterThan(char0 + 0.4);
      expect(exact).toBeGreaterThan(exact0);
      expect(await acc.textContent()).toMatch(new RegExp(`Step ${STEPS}: .* of 32 held-out examples completed exactly`));
      await screenshot(page, 'ui-toy');

      expect(s.consoleErrors).toEqual([]);
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  }, 600_000);
});
