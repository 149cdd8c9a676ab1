// Circuits through the page: a small model trained a few steps on Moby-Dick,
// then the Insights tab's timeline scores, the
// ablation grid, logit attribution bars and patching heatmap read from the page
// and checked against the engine's own numbers for the same request; a live
// ablation of the head the grid singles out changes the greedy sample and
// switching it off restores it; bad input gets its sentence. The model need not
// have formed a circuit: this checks that the page shows what the engine
// computes (the measured induction experiment is scripts/induction-experiment.mjs).
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { CircuitsJob, CircuitsResult, EngineReply } from '../../src/engine/protocol';
import { launch, stopServer } from './harness';

afterAll(stopServer);

const STEPS = 30;
// The Tiny preset (2 layers of 2 heads, batch 8) 32 wide: seconds of training on SwiftShader; evaluated at steps 0 and 30.
const SETUP = `?test&preset=tiny&nEmbd=32&learningRate=0.01&maxSteps=${STEPS}&evalInterval=${STEPS}&evalIters=2&checkpointInterval=0`;
// Seven letters written twice, the second copy cut before its last letter: an induction head predicts "f".
const CLEAN = 'bkdpamfbkdpam';
const CORRUPTED = 'bkdpamnbkdpam';
const CHANGED = 6;

async function engine(page: Page, job: CircuitsJob): Promise<CircuitsResult> {
  const reply = await page.evaluate((j) => (window as unknown as { __circuits: (j: CircuitsJob) => Promise<EngineReply> }).__circuits(j), job);
  if (reply.kind !== 'circuits') throw new Error(`engine: ${JSON.stringify(reply)}`);
  return reply.result;
}

const num = async (page: Page, id: string, attr: string) => Number(await page.getByTestId(id).getAttribute(attr));

async function greedy(page: Page, prompt: string): Promise<string> {
  await page.getByTestId('tab-sample').click();
  await page.getByTestId('sample-prompt').fill(prompt);
  await page.getByTestId('sample-max').fill('16');
  await page.getByTestId('sample-greedy').check();
  await page.getByTestId('sample-generate').click();
  const output = page.getByTestId('sample-output');
  await expect.poll(() => output.getAttribute('data-running'), { timeout: 60_000 }).toBe('false');
  const text = (await output.textContent()) ?? '';
  await page.getByTestId('tab-insights').click();
  return text;
}

describe('circuits in the page', () => {
  it('trains a small model, reads the ablation grid, attribution and patching, and ablates a head live', async () => {
    const s = await launch({ viewport: { width: 1280, height: 1000 } });
    const page = s.page;
    try {
      await page.goto(s.url + SETUP);
      await page.getByTestId('kernel-check').waitFor({ timeout: 120_000 });
      await page.getByTestId('tab-train').click();
      const t0 = Date.now();
      await page.getByTestId('train-toggle').click();
      const panel = page.getByTestId('training-panel');
      await expect.poll(() => panel.getAttribute('data-state'), { timeout: 240_000, interval: 1000 }).toBe('done');
      console.log(`[e2e] ${STEPS} steps with evaluations at 0 and ${STEPS}: ${((Date.now() - t0) / 1000).toFixed(0)} s`);

      // Anthropic's two scores over training, from the timeline: one value per head per snapshot, in range.
      await page.getByTestId('tab-insights').click();
      const chart = page.getByTestId('head-chart');
      await expect.poll(async () => JSON.parse((await chart.getAttribute('data-steps')) ?? '[]').at(-1), { timeout: 60_000 }).toBe(STEPS);
      const steps = JSON.parse((await chart.getAttribute('data-steps'))!) as number[];
      const prefix = JSON.parse((await chart.getAttribute('data-values'))!) as Record<string, Array<number | null>>;
      const icl = JSON.parse((await page.getByTestId('icl-chart').getAttribute('data-values'))!) as number[];
      expect(steps).toEqual([0, STEPS]);
      expect(Object.keys(prefix).length).toBe(4);
      for (const v of Object.values(prefix)) {
        expect(v.length).toBe(steps.length);
        for (const x of v) expect(x).toBeGreaterThanOrEqual(0);
        for (const x of v) expect(x).toBeLessThanOrEqual(1);
      }
      expect(icl.length).toBe(steps.length);
      for (const v of icl) expect(Number.isFinite(v)).toBe(true);
      // The loss chart's best prefix-matching line is the head chart's highest head at every snapshot, over the training loss.
      const best = JSON.parse((await page.getByTestId('icl-chart').getAttribute('data-prefix-max'))!) as number[];
      expect(best.length).toBe(steps.length);
      steps.forEach((_, i) => expect(best[i]).toBeCloseTo(Math.max(...Object.values(prefix).map((v) => v[i]!)), 6));
      expect(Number(await page.getByTestId('icl-chart').getAttribute('data-loss-points'))).toBeGreaterThan(1);

      const before = await greedy(page, CLEAN.slice(0, 8));
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

      // Direct logit attribution of "f" after the clean prompt.
      await page.getByTestId('dla-text').fill(CLEAN);
      await page.getByTestId('dla-target').fill('f');
      await page.getByTestId('dla-run').click();
      await page.getByTestId('dla').waitFor({ timeout: 60_000 });
      const dla = (await engine(page, { what: 'attribution', text: CLEAN, pos: CLEAN.length - 1, target: 'f' })) as Extract<CircuitsResult, { what: 'attribution' }>;
      for (let i = 0; i < dla.names.length; i++) expect(await num(page, `dla-bar-${dla.names[i]}`, 'data-value')).toBeCloseTo(dla.contributions[i], 5);
      const [sum, logit, bias] = [await num(page, 'dla', 'data-sum'), await num(page, 'dla', 'data-logit'), await num(page, 'dla', 'data-norm-bias')];
      expect(sum).toBeCloseTo(dla.sum, 5);
      expect(logit).toBeCloseTo(dla.logit, 5);
      expect(Math.abs(sum + bias - logit)).toBeLessThan(1e-3 * Math.max(1, Math.abs(logit)));
      console.log(`[e2e] attribution of "f": sum ${sum.toFixed(3)}, logit ${logit.toFixed(3)}, ln_f bias term ${bias.toFixed(3)}; largest ${dla.names.map((n, i) => [n, dla.contributions[i]] as const).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([n, v]) => `${n} ${v.toFixed(2)}`).join(', ')}`);

      // Activation patching clean -> corrupted ("f" against "n").
      await page.getByTestId('patch-clean').fill(CLEAN);
      await page.getByTestId('patch-corrupted').fill(CORRUPTED);
      await page.getByTestId('patch-target').fill('f');
      await page.getByTestId('patch-other').fill('n');
      await page.getByTestId('patch-run').click();
      await page.getByTestId('patching').waitFor({ timeout: 120_000 });
      const p = (await engine(page, { what: 'patching', clean: CLEAN, corrupted: CORRUPTED, target: 'f', other: 'n' })) as Extract<CircuitsResult, { what: 'patching' }>;
      const T = CLEAN.length;
      for (let l = 0; l <= p.L; l++) for (const t of [0, CHANGED, T - 1]) expect(await num(page, `patch-resid-${l}-${t}`, 'data-restored')).toBeCloseTo(p.resid[l * T + t], 5);
      for (let l = 0; l < p.L; l++) for (let h = 0; h < p.H; h++) expect(await num(page, `patch-head-${l}-${h}-${T - 1}`, 'data-restored')).toBeCloseTo(p.heads[((T - 1) * p.L + l) * p.H + h], 5);
      expect(p.clean).not.toBe(p.corrupted);
      // Patching the whole final residual at the last position restores everything.
      expect(await num(page, `patch-resid-${p.L}-${T - 1}`, 'data-restored')).toBeCloseTo(1, 3);
      console.log(`[e2e] patching: clean ${p.clean.toFixed(3)}, corrupted ${p.corrupted.toFixed(3)}; resid_pre 0 at the changed letter (${CHANGED}): ${p.resid[CHANGED].toFixed(3)}`);

      // Live: the singled-out head off changes the greedy sample; back on restores it.
      await page.getByTestId(`live-${top.l}-${top.h}`).click();
      await expect.poll(() => page.getByTestId('live-status').getAttribute('data-live')).toBe(`${top.l}.${top.h}`);
      const ablated = await greedy(page, CLEAN.slice(0, 8));
      await page.getByTestId(`live-${top.l}-${top.h}`).click();
      await expect.poll(() => page.getByTestId('live-status').getAttribute('data-live')).toBe('');
      const restored = await greedy(page, CLEAN.slice(0, 8));
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
      await page.getByTestId('dla-target').fill('€');
      await page.getByTestId('dla-run').click();
      await expect.poll(() => page.getByTestId('circuits-error-attribution').textContent()).toMatch(/The target token "€" is outside the vocabulary/);
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
  }, 300_000);
});
