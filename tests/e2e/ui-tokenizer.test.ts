import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import o200k from 'js-tiktoken/ranks/o200k_base';
import { afterAll, describe, expect, it } from 'vitest';
import { launch, screenshot, stopServer } from './harness';

afterAll(stopServer);

const TEXT = 'Call me Ishmael. Some years ago—never mind how long precisely—I thought I would sail about. 👨‍👩‍👧 naïve café 漢字 🇫🇷\tdone\n  indented();';

describe('tokenizer panel', () => {
  it('shows exactly the token counts js-tiktoken gives in Node, with whole-grapheme spans', async () => {
    const want = {
      cl100k_base: new Tiktoken(cl100k).encode(TEXT).length,
      o200k_base: new Tiktoken(o200k).encode(TEXT).length,
    };
    console.log(`[e2e] js-tiktoken in Node: cl100k_base ${want.cl100k_base}, o200k_base ${want.o200k_base}`);
    const s = await launch();
    try {
      await s.page.goto(s.url + '?preset=tiny');
      await s.page.getByTestId('corpus-name').waitFor({ timeout: 60_000 });
      // The BPE tables are not fetched before the tokenizer view is shown.
      const early = s.context.pages()[0];
      expect(await early.evaluate(() => performance.getEntriesByType('resource').some((r) => /cl100k|o200k/.test(r.name)))).toBe(false);

      await s.page.getByTestId('tab-tokenizer').click();
      await s.page.getByTestId('tokenizer-input').fill(TEXT);
      for (const name of ['cl100k_base', 'o200k_base'] as const) {
        const cell = s.page.getByTestId(`token-count-${name}`);
        await expect.poll(() => cell.getAttribute('data-count'), { timeout: 60_000 }).toBe(String(want[name]));
      }
      // Our character tokens: one per code point.
      expect(await s.page.getByTestId('token-count-char').getAttribute('data-count')).toBe(String([...TEXT].length));

      // No span shows a broken glyph; the family emoji is one span.
      const view = s.page.getByTestId('token-view-cl100k_base');
      const spans = await view.locator('.tok').allTextContents();
      expect(spans.join('')).not.toContain('\uFFFD');
      expect(spans.some((t) => t.includes('👨‍👩‍👧'))).toBe(true);
      // Whitespace is made visible, and the toggle turns it off.
      expect(spans.join('')).toContain('→');
      await s.page.getByTestId('whitespace-toggle').uncheck();
      expect((await view.locator('.tok').allTextContents()).join('')).toBe(TEXT);
      await s.page.getByTestId('whitespace-toggle').check();

      // Hovering a span shows its id and bytes and highlights the id in the list.
      await view.locator('.tok').first().hover();
      const info = (await s.page.getByTestId('token-info-cl100k_base').textContent()) ?? '';
      const firstId = new Tiktoken(cl100k).encode(TEXT)[0];
      expect(info).toContain(`"Call" → id ${firstId}; bytes 43 61 6c 6c`);
      expect(await view.locator('.id.hit').first().textContent()).toBe(String(firstId));

      // Characters outside the model's vocabulary are marked (Moby Dick has no 漢).
      expect(await s.page.getByTestId('token-view-char').locator('.tok.unknown').count()).toBeGreaterThan(0);

      await screenshot(s.page, 'ui-tokenizer');
      expect(s.consoleErrors).toEqual([]);
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
