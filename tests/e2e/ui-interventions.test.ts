// Circuits through the page: the Induction preset trained on the repeat task
// until its held-out accuracy moves, then the Insights tab's ablation grid,
// logit attribution bars and patching heatmap read from the page and checked
// against the engine's own numbers for the same request; a live ablation of
// the head the grid singles out changes the greedy sample and switching it
// off restores it; bad input gets its sentence.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { CircuitsJob, CircuitsResult, EngineReply } from '../../src/engine/protocol';
import { launch, ROOT, stopServer } from './harness';

afterAll(stopServer);

const STEPS = 150;
const SETUP = `?test&preset=induction&maxSteps=${STEPS}&evalInterval=25&checkpointInterval=0`;
// Twelve letters written twice, the second copy cut before its last letter: an induction head predicts "g".
const CLEAN = 'bkdpamcfhjegbkdpamcfhje';
const CORRUPTED = 'bkdpamcfhjenbkdpamcfhje';

async function engine(page: Page, job: CircuitsJob): Promise<CircuitsResult> {
  const reply = await page.evaluate((j) => (window as unknown as { __circuits: (j: CircuitsJob) => Promise<EngineReply> }).__circuits(j), job);
  if (reply.kind !== 'circuits') throw new Error(`engine: ${JSON.stringify(reply)}`);
  return reply.result;
}

const num = async (page: Page, id: string, attr: string) => Number(await page.getByTestId(id).getAttribute(attr));

async function greedy(page: Page, prompt: string): Promise<string> {
  await page.getByTestId('tab-sample').click();
  await page.getByTestId('sample-prompt').fill(prompt);
  await page.getByTestId('sample-max').fill('24');
  await page.getByTestId('sample-greedy').check();
  await page.getByTestId('sample-generate').click();
  const output = page.getByTestId('sample-output');
  await expect.poll(() => output.getAttribute('data-running'), { timeout: 60_000 }).toBe('false');
  const text = (await output.textContent()) ?? '';
  await page.getByTestId('tab-insights').click();
  return text;
}

describe('circuits in the page', () => {
  it('trains the Induction preset, reads the ablation grid, attribution and patching, and ablates a head live', async () => {
    const s = await launch({ viewport: { width: 1280, height: 1000 } });
    const page = s.page;
    try {
      await page.goto(s.url + SETUP);
      await page.getByTestId('kernel-check').waitFor({ timeout: 120_000 });
      await page.getByTestId('tab-data').click();
      await page.getByTestId('toy-kind').selectOption('repeat');
      await page.getByTestId('toy-length').fill('12');
      await page.getByTestId('toy-alphabet').fill('16');
      await page.getByTestId('toy-examples').fill('4000');
      await page.getByTestId('toy-seed').fill('1');
      await page.getByTestId('toy-use').click();
      await expect.poll(() => page.getByTestId('corpus-name').textContent(), { timeout: 60_000 }).toMatch(/^Toy task: Repeat/);

      await page.getByTestId('tab-train').click();
      const t0 = Date.now();
      await page.getByTestId('train-toggle').click();
      const panel = page.getByTestId('training-panel');
      const acc = page.getByTestId('toy-accuracy');
      await acc.waitFor({ timeout: 180_000 });
      const char0 = Number(await acc.getAttribute('data-first-per-char'));
      // The accuracy at every evaluation, as the chart reports its latest point.
      const accuracy = new Map<number, number>();
      const deadline = Date.now() + 480_000;
      while (Date.now() < deadline) {
        accuracy.set(Number(await acc.getAttribute('data-step')), Number(await acc.getAttribute('data-per-char')));
        if ((await panel.getAttribute('data-state')) === 'done') break;
        await page.waitForTimeout(2000);
      }
      expect(await panel.getAttribute('data-state')).toBe('done');
      await expect.poll(async () => Number(await acc.getAttribute('data-step')), { timeout: 30_000 }).toBe(STEPS);
      const perChar = Number(await acc.getAttribute('data-per-char'));
      console.log(`[e2e] Induction preset: per-character accuracy ${char0.toFixed(3)} at step 0, ${perChar.toFixed(3)} at step ${STEPS} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      expect(perChar).toBeGreaterThan(char0 + 0.3);
      accuracy.set(STEPS, perChar);
      console.log(`[e2e] per-character accuracy by step: ${[...accuracy].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}: ${v.toFixed(3)}`).join(', ')}`);

      // Anthropic's two scores over training, from the timeline.
      await page.getByTestId('tab-insights').click();
      const chart = page.getByTestId('head-chart');
      await expect.poll(async () => JSON.parse((await chart.getAttribute('data-steps')) ?? '[]').at(-1), { timeout: 60_000 }).toBe(STEPS);
      const steps = JSON.parse((await chart.getAttribute('data-steps'))!) as number[];
      const prefix = JSON.parse((await chart.getAttribute('data-values'))!) as Record<string, Array<number | null>>;
      const best = steps.map((_, i) => Math.max(...Object.values(prefix).map((v) => v[i] ?? 0)));
      const icl = JSON.parse((await page.getByTestId('icl-chart').getAttribute('data-values'))!) as number[];
      console.log(`[e2e] timeline steps ${steps.join(' ')}; highest prefix-matching score ${best.map((v) => v.toFixed(3)).join(' ')}; ICL score ${icl.map((v) => v.toFixed(3)).join(' ')}`);
      const crossed = steps.find((_, i) => best[i] >= 0.4);
      console.log(`[e2e] some head's prefix-matching score first >= 0.4 at step ${crossed ?? 'none'}`);
      expect(icl.length).toBe(steps.length);
      // Measured (see the README): the preset copies through a fixed-offset layer-0 head, so neither score need move; both are read, not assumed.
      for (const v of icl) expect(Number.isFinite(v)).toBe(true);
      for (const v of best) expect(v).toBeGreaterThanOrEqual(0);
      for (const v of best) expect(v).toBeLessThanOrEqual(1);
      mkdirSync(resolve(ROOT, 'docs'), { recursive: true });
      await page.locator('[data-testid="head-chart"], [data-testid="icl-chart"]').first().scrollIntoViewIfNeeded();
      const box1 = (await chart.boundingBox())!;
      const box2 = (await page.getByTestId('icl-chart').boundingBox())!;
      await page.screenshot({ path: resolve(ROOT, 'docs/induction-timeline.png'), fullPage: true, clip: { x: box1.x, y: box1.y, width: box1.width, height: box2.y + box2.height - box1.y } });

      const before = await greedy(page, CLEAN.slice(0, 14));
      // The ablation grid, as the page shows it and as the engine computes it.
      await page.getByTestId('grid-run').click();
      await page.getByTestId('ablation-grid').waitFor({ timeout: 60_000 });
      const grid = (await engine(page, { what: 'grid', mode: 'zero' })) as Extract<CircuitsResult, { what: 'grid' }>;
      const cells: number[] = [];
      for (let l = 0; l < grid.L; l++) for (let h = 0; h < grid.H; h++) cells.push(await num(page, `grid-cell-${l}-${h}`, 'data-delta'));
      for (let i = 0; i < cells.length; i++) expect(cells[i]).toBeCloseTo(grid.deltas[i], 6);
      expect(await num(page, 'grid-summary', 'data-clean')).toBeCloseTo(grid.clean, 6);
      const top = { l: await num(page, 'grid-summary', 'data-top-layer'), h: await num(page, 'grid-summary', 'data-top-head') };
      const topDelta = await num(page, 'grid-summary', 'data-top-delta');
      expect(topDelta).toBe(Math.max(...cells));
      console.log(`[e2e] zero-ablation grid (clean loss ${grid.clean.toFixed(4)}): ${cells.map((v) => v.toFixed(3)).join(' ')}; singled out L${top.l}.H${top.h} (${topDelta.toFixed(3)})`);
      expect(topDelta).toBeGreaterThan(0.1);

      // Direct logit attribution of "g" after the corrupted-free prompt.
      await page.getByTestId('dla-text').fill(CLEAN);
      await page.getByTestId('dla-target').fill('g');
      await page.getByTestId('dla-run').click();
      await page.getByTestId('dla').waitFor({ timeout: 60_000 });
      const dla = (await engine(page, { what: 'attribution', text: CLEAN, pos: CLEAN.length - 1, target: 'g' })) as Extract<CircuitsResult, { what: 'attribution' }>;
      for (let i = 0; i < dla.names.length; i++) expect(await num(page, `dla-bar-${dla.names[i]}`, 'data-value')).toBeCloseTo(dla.contributions[i], 5);
      const [sum, logit, bias] = [await num(page, 'dla', 'data-sum'), await num(page, 'dla', 'data-logit'), await num(page, 'dla', 'data-norm-bias')];
      expect(sum).toBeCloseTo(dla.sum, 5);
      expect(logit).toBeCloseTo(dla.logit, 5);
      expect(Math.abs(sum + bias - logit)).toBeLessThan(1e-3 * Math.max(1, Math.abs(logit)));
      console.log(`[e2e] attribution of "g": sum ${sum.toFixed(3)}, logit ${logit.toFixed(3)}, ln_f bias term ${bias.toFixed(3)}; largest ${dla.names.map((n, i) => [n, dla.contributions[i]] as const).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([n, v]) => `${n} ${v.toFixed(2)}`).join(', ')}`);

      // Activation patching clean -> corrupted ("g" against "n").
      await page.getByTestId('patch-clean').fill(CLEAN);
      await page.getByTestId('patch-corrupted').fill(CORRUPTED);
      await page.getByTestId('patch-target').fill('g');
      await page.getByTestId('patch-other').fill('n');
      await page.getByTestId('patch-run').click();
      await page.getByTestId('patching').waitFor({ timeout: 120_000 });
      const p = (await engine(page, { what: 'patching', clean: CLEAN, corrupted: CORRUPTED, target: 'g', other: 'n' })) as Extract<CircuitsResult, { what: 'patching' }>;
      const T = CLEAN.length;
      for (let l = 0; l <= p.L; l++) for (const t of [0, 11, T - 1]) expect(await num(page, `patch-resid-${l}-${t}`, 'data-restored')).toBeCloseTo(p.resid[l * T + t], 5);
      for (let l = 0; l < p.L; l++) for (let h = 0; h < p.H; h++) expect(await num(page, `patch-head-${l}-${h}-${T - 1}`, 'data-restored')).toBeCloseTo(p.heads[((T - 1) * p.L + l) * p.H + h], 5);
      expect(p.clean).toBeGreaterThan(p.corrupted);
      // Patching the whole final residual at the last position restores everything.
      expect(await num(page, `patch-resid-${p.L}-${T - 1}`, 'data-restored')).toBeCloseTo(1, 3);
      console.log(`[e2e] patching: clean ${p.clean.toFixed(3)}, corrupted ${p.corrupted.toFixed(3)}; resid_pre 0 at the changed letter (11): ${p.resid[11].toFixed(3)}`);
      await page.getByTestId('circuits').screenshot({ path: resolve(ROOT, 'docs/circuits-induction.png') });

      // Live: the singled-out head off changes the greedy sample; back on restores it.
      await page.getByTestId(`live-${top.l}-${top.h}`).click();
      await expect.poll(() => page.getByTestId('live-status').getAttribute('data-live')).toBe(`${top.l}.${top.h}`);
      const ablated = await greedy(page, CLEAN.slice(0, 14));
      await page.getByTestId(`live-${top.l}-${top.h}`).click();
      await expect.poll(() => page.getByTestId('live-status').getAttribute('data-live')).toBe('');
      const restored = await greedy(page, CLEAN.slice(0, 14));
      console.log(`[e2e] greedy sample: ${JSON.stringify(before)}; L${top.l}.H${top.h} off: ${JSON.stringify(ablated)}; back on: ${JSON.stringify(restored)}`);
      expect(ablated).not.toBe(before);
      expect(restored).toBe(before);

      // Bad input: a sentence each, and the results stay.
      await page.getByTestId('patch-corrupted').fill(CORRUPTED.slice(1));
      await page.getByTestId('patch-run').click();
      await expect.poll(() => page.getByTestId('circuits-error-patching').textContent()).toBe(
        `The clean and corrupted prompts must have the same number of tokens to patch position by position; they have ${T} and ${T - 1}.`,
      );
      expect(await page.getByTestId('patching').count()).toBe(1);
      await page.getByTestId('dla-pos').fill(String(T));
      await page.getByTestId('dla-run').click();
      await expect.poll(() => page.getByTestId('circuits-error-attribution').textContent()).toBe(`Position ${T} is beyond the prompt: it has positions 0 to ${T - 1}.`);
      await page.getByTestId('dla-pos').fill('');
      await page.getByTestId('dla-target').fill('z');
      await page.getByTestId('dla-run').click();
      await expect.poll(() => page.getByTestId('circuits-error-attribution').textContent()).toMatch(/The target token "z" is outside the vocabulary/);
      expect(await page.getByTestId('dla').count()).toBe(1);
      const heads: Array<[number, number]> = [];
      for (let l = 0; l < grid.L; l++) for (let h = 0; h < grid.H; h++) heads.push([l, h]);
      for (const [l, h] of heads.slice(0, -1)) {
        await page.getByTestId(`live-${l}-${h}`).click();
        await expect.poll(() => page.getByTestId(`live-${l}-${h}`).isChecked()).toBe(true);
      }
      const [ll, lh] = heads.at(-1)!;
      await page.getByTestId(`live-${ll}-${lh}`).click();
      await expect.poll(() => page.getByTestId('circuits-error-live').textContent()).toMatch(/Ablating every head \(all \d+\) leaves the model no attention/);
      expect(await page.getByTestId(`live-${ll}-${lh}`).isChecked()).toBe(false);
      await page.getByTestId('live-clear').click();
      await expect.poll(() => page.getByTestId('live-status').getAttribute('data-live')).toBe('');

      expect(s.consoleErrors).toEqual([]);
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  }, 600_000);
});
