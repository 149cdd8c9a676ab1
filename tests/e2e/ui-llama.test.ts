// The LLaMA-style block through the page: the preset fills the form (GPT-2-only
// fields disabled with the reason), the model trains and its loss drops, it
// samples, the attention tab shows one map per head, the logit lens shows, and
// the Hugging Face export (one zip) imports back as the same model, while the
// nanoGPT export is disabled with its reason.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ARTIFACTS, attr, launch, num, screenshot, stopServer } from './harness';

afterAll(stopServer);

const SETUP = '?preset=tiny';
const L = 2;
const NH = 4;

/** Greedy text after a fixed prompt and the last token's distribution: a fingerprint of the weights. */
async function greedy(page: Page): Promise<{ text: string; probs: Map<number, number> }> {
  await page.getByTestId('tab-sample').click();
  await page.getByTestId('sample-prompt').fill('The whale');
  await page.getByTestId('sample-max').fill('24');
  await page.getByTestId('sample-greedy').check();
  const output = page.getByTestId('sample-output');
  await page.getByTestId('sample-generate').click();
  await expect.poll(() => output.getAttribute('data-running'), { timeout: 120_000 }).toBe('false');
  expect(await output.getAttribute('data-chars')).toBe('24');
  const text = (await output.textContent()) ?? '';
  const dist = JSON.parse((await page.getByTestId('sample-dist').getAttribute('data-dist')) ?? '{}') as { ids: number[]; probs: number[] };
  const probs = new Map(dist.ids.map((id, i) => [id, dist.probs[i]!]));
  await page.getByTestId('tab-train').click();
  return { text, probs };
}

describe('the LLaMA-style block in the app', () => {
  it('trains, samples, shows attention and the lens, and exports for Hugging Face and back', async () => {
    const s = await launch();
    const page = s.page;
    try {
      await page.goto(s.url + SETUP);
      await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
      await page.getByTestId('corpus-vocab').waitFor({ timeout: 180_000 });

      // The preset, chosen in the form: the block, its fields, and the GPT-2-only fields disabled with the reason.
      await page.getByTestId('tab-train').click();
      await page.getByTestId('preset').selectOption('llama-tiny');
      await expect.poll(() => page.getByTestId('field-block').inputValue()).toBe('llama');
      expect(await page.getByTestId('preset-description').textContent()).toMatch(/RMSNorm.*rotary.*SwiGLU.*grouped-query/);
      expect(await page.getByTestId('field-nKvHead').inputValue()).toBe('2');
      expect(await page.getByTestId('field-ffnHidden').inputValue()).toBe('128');
      expect(await page.getByTestId('ffn-default').textContent()).toMatch(/Default 128/);
      expect(await page.getByTestId('field-activation').isDisabled()).toBe(true);
      expect(await page.getByTestId('field-bias').isDisabled()).toBe(true);
      expect(await page.getByTestId('gpt2-only').textContent()).toMatch(/GPT-2 block only/);
      const params = await num(page, 'model-cost', 'data-params');
      // The block is a field like the others, from the keyboard: GPT-2 enables activation and bias again.
      await page.getByTestId('field-block').focus();
      await page.keyboard.press('ArrowUp');
      await expect.poll(() => page.getByTestId('field-block').inputValue()).toBe('gpt2');
      expect(await page.getByTestId('field-activation').isDisabled()).toBe(false);
      expect(await page.getByTestId('field-nKvHead').count()).toBe(0);
      expect(await num(page, 'model-cost', 'data-params')).not.toBe(params);
      await page.keyboard.press('ArrowDown');
      await expect.poll(() => page.getByTestId('field-block').inputValue()).toBe('llama');
      await expect.poll(() => num(page, 'model-cost', 'data-params')).toBe(params);
      await page.getByTestId('field-nKvHead').fill('4');
      await expect.poll(() => num(page, 'model-cost', 'data-params')).toBeGreaterThan(params);
      await page.getByTestId('field-nKvHead').fill('3');
      await expect.poll(() => page.getByTestId('problem-nKvHead').textContent()).toMatch(/must divide the query heads/);
      await page.getByTestId('field-nKvHead').fill('2');
      await expect.poll(() => num(page, 'model-cost', 'data-params')).toBe(params);
      expect(new URL(page.url()).searchParams.get('preset')).toBe('llama-tiny');
      await screenshot(page, 'ui-llama-form');
      // Evaluate often, so a few dozen steps show the loss dropping.
      await page.locator('summary', { hasText: 'Training settings' }).click();
      await page.getByTestId('field-evalInterval').fill('10');
      await page.getByTestId('field-evalIters').fill('2');
      await page.getByTestId('field-checkpointInterval').fill('0');

      // Train a few dozen steps: the validation loss drops.
      const points = page.getByTestId('chart-points');
      await page.getByTestId('train-toggle').click();
      await expect.poll(() => points.getAttribute('data-val-loss'), { timeout: 300_000 }).not.toBeNull();
      const firstVal = Number(await points.getAttribute('data-val-loss'));
      await expect.poll(() => num(page, 'training-panel', 'data-step'), { timeout: 300_000 }).toBeGreaterThanOrEqual(40);
      await page.getByTestId('train-toggle').click();
      await expect.poll(() => attr(page, 'training-panel', 'data-state'), { timeout: 120_000 }).toBe('paused');
      const laterVal = Number(await points.getAttribute('data-val-loss'));
      const step = await num(page, 'training-panel', 'data-step');
      console.log(`[e2e llama] ${params} parameters; validation loss ${firstVal.toFixed(3)} at the first evaluation, ${laterVal.toFixed(3)} by step ${step}`);
      expect(laterVal).toBeLessThan(firstVal - 0.2);

      // Attention: one map per layer and head; rows sum to 1 and are causal.
      await page.getByTestId('tab-attention').click();
      await page.getByTestId('attention-prompt').fill('Call me Ishmael.');
      await page.getByTestId('attention-refresh').click();
      const canvas = page.getByTestId('attention-canvas');
      await canvas.waitFor({ timeout: 60_000 });
      await expect.poll(() => page.evaluate(() => window.__attention?.tokens.join('') ?? ''), { timeout: 60_000 }).toBe('Call me Ishmael.');
      expect(await page.locator('[data-testid^="thumb-"]').count()).toBe(L * NH);
      const sums: number[] = JSON.parse((await canvas.getAttribute('data-row-sums')) ?? '[]');
      expect(sums.length).toBe(16);
      for (const x of sums) expect(Math.abs(x - 1)).toBeLessThan(1e-3);
      const drawn = await page.evaluate(() => window.__attention!);
      for (let q = 0; q < drawn.T; q++) for (let k = q + 1; k < drawn.T; k++) expect(drawn.matrix[q][k]).toBe(0);
      await page.getByTestId(`thumb-${L - 1}-${NH - 1}`).click();
      await expect.poll(() => canvas.getAttribute('data-head')).toBe(String(NH - 1));
      await screenshot(page, 'ui-llama-attention');

      // The logit lens: a row per layer, its last row the model's own prediction.
      await page.getByTestId('tab-insights').click();
      const prompt = 'The whale';
      await page.getByTestId('insights-text').fill(prompt);
      await page.getByTestId('insights-inspect').click();
      await expect.poll(() => attr(page, 'insights-shown', 'data-source'), { timeout: 120_000 }).toBe('request');
      const cell = page.getByTestId(`lens-cell-${L - 1}-${prompt.length - 1}`);
      await cell.waitFor({ timeout: 60_000 });
      const lensChar = await cell.getAttribute('data-char');
      expect(await page.locator('[data-testid^="lens-row-"]').count()).toBe(L);

      // Sampling: greedy text, whose first character is the lens's last-row prediction.
      await page.getByTestId('tab-train').click();
      const before = await greedy(page);
      console.log(`[e2e llama] greedy after ${JSON.stringify(prompt)}: ${JSON.stringify(before.text)}; lens: ${JSON.stringify(lensChar)}`);
      expect(before.text.slice(prompt.length, prompt.length + 1)).toBe(lensChar);

      // nanoGPT cannot run this model: its export is disabled with the reason.
      expect(await page.getByTestId('export-nanogpt').isDisabled()).toBe(true);
      expect(await page.getByTestId('export-nanogpt-reason').textContent()).toMatch(/has no LLaMA block/);

      // Export for Hugging Face: one zip with model.safetensors and config.json.
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-hf').click()]);
      expect(download.suggestedFilename()).toMatch(new RegExp(`-step${step}\\.hf\\.zip$`));
      const file = resolve(ARTIFACTS, download.suggestedFilename());
      await download.saveAs(file);
      const files = unzipSync(new Uint8Array(readFileSync(file)));
      expect(Object.keys(files).sort()).toEqual(['config.json', 'model.safetensors']);
      const config = JSON.parse(new TextDecoder().decode(files['config.json']));
      expect(config).toMatchObject({ model_type: 'llama', num_hidden_layers: L, num_attention_heads: NH, num_key_value_heads: 2, hidden_size: 48, intermediate_size: 128 });

      // Train on so the weights move (the next-token distribution changes), then import the zip: the same
      // greedy text and next-token distribution as at export.
      await page.getByTestId('train-step').click();
      await expect.poll(() => num(page, 'training-panel', 'data-step'), { timeout: 120_000 }).toBe(step + 1);
      const moved = await greedy(page);
      // The largest difference over the shown candidates (a candidate shown on one side only counts as 0 on the other).
      const gap = (a: Map<number, number>, b: Map<number, number>) => Math.max(...[...new Set([...a.keys(), ...b.keys()])].map((id) => Math.abs((a.get(id) ?? 0) - (b.get(id) ?? 0))));
      expect(gap(moved.probs, before.probs)).toBeGreaterThan(1e-5);
      await page.getByTestId('import-file').setInputFiles(file);
      await expect.poll(() => page.getByTestId('transfer-note').textContent(), { timeout: 120_000 }).toMatch(/^Imported .*\.hf\.zip/);
      const imported = await greedy(page);
      console.log(`[e2e llama] next-token probabilities: largest gap ${gap(moved.probs, before.probs).toExponential(2)} one step later, ${gap(imported.probs, before.probs).toExponential(2)} after the import`);
      expect(imported.text).toBe(before.text);
      expect(before.probs.size).toBeGreaterThan(5);
      expect(gap(imported.probs, before.probs)).toBeLessThan(1e-6);
      // The imported run is LLaMA-style: the form says so.
      expect(await page.getByTestId('field-block').inputValue()).toBe('llama');

      await screenshot(page, 'ui-llama-imported');

      // Our own checkpoint file works for a LLaMA run: its metadata names the block, and it imports back as LLaMA.
      const [own] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-weights').click()]);
      expect(own.suggestedFilename()).toMatch(/\.checkpoint\.safetensors$/);
      const ownFile = resolve(ARTIFACTS, own.suggestedFilename());
      await own.saveAs(ownFile);
      const ownBytes = readFileSync(ownFile);
      const header = JSON.parse(ownBytes.subarray(8, 8 + Number(ownBytes.readBigUInt64LE(0))).toString('utf8'));
      expect(header).toHaveProperty('model.embed_tokens.weight');
      expect(header).toHaveProperty(['optimizer.m.model.embed_tokens.weight']);
      expect(JSON.parse(header.__metadata__.playground_architecture)).toMatchObject({ block: 'llama', n_kv_head: 2, ffn_hidden: 128 });
      await page.getByTestId('import-file').setInputFiles(ownFile);
      await expect.poll(() => page.getByTestId('transfer-note').textContent(), { timeout: 120_000 }).toMatch(/^Imported .*\.checkpoint\.safetensors/);
      expect(await page.getByTestId('field-block').inputValue()).toBe('llama');
      expect((await greedy(page)).text).toBe(before.text);

      // Fine-tune (of the imported run, one step on so it counts as trained): the LoRA form offers PEFT's LLaMA modules.
      await page.getByTestId('train-step').click();
      await expect.poll(() => num(page, 'training-panel', 'data-step'), { timeout: 120_000 }).toBe(1);
      await page.getByTestId('tab-finetune').click();
      for (const m of ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']) expect(await page.getByTestId(`lora-module-${m}`).isChecked()).toBe(true);
      expect(await page.getByTestId('lora-module-attn.c_attn').count()).toBe(0);
      expect(await page.getByTestId('lora-problem').count()).toBe(0);
      if (await page.getByTestId('dpo-target-lora').count()) expect(await page.getByTestId('dpo-target-lora').isDisabled()).toBe(false);

      // Runs: compare with the other block makes the GPT-2 run of nearly the same size; one step stores it,
      // and the comparison overlays both.
      await page.getByTestId('tab-runs').click();
      const open = page.locator('[data-testid="run-row"][data-open="true"]');
      await open.waitFor({ timeout: 60_000 });
      const llamaParams = params;
      await open.getByTestId('run-compare-block').click();
      await expect.poll(() => page.getByTestId('runs-note').textContent(), { timeout: 120_000 }).toMatch(/A GPT-2-block run like/);
      await page.getByTestId('tab-train').click();
      expect(await page.getByTestId('field-block').inputValue()).toBe('gpt2');
      const gptParams = await num(page, 'model-cost', 'data-params');
      console.log(`[e2e llama] compare: LLaMA ${llamaParams} parameters, GPT-2 ${gptParams}`);
      expect(Math.abs(gptParams - llamaParams) / llamaParams).toBeLessThan(0.05);
      await page.getByTestId('train-step').click();
      await expect.poll(() => attr(page, 'checkpoint-status', 'data-saved'), { timeout: 120_000 }).toBe('true');
      await page.getByTestId('tab-runs').click();
      await expect.poll(() => attr(page, 'compare-chart', 'data-series'), { timeout: 60_000 }).toBe('2');
      await screenshot(page, 'ui-llama-compare');
      expect(s.pageErrors).toEqual([]);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
