// The Fine-tune tab, clicked as a person would: a LoRA fine-tune of a Tiny
// Moby Dick run on the names corpus (its validation loss falls below the base
// model's), the adapter strength (0 gives the base's next-token distribution),
// the PEFT adapter file out and back onto the base (same distribution), a
// merge into a full run (same distribution), and DPO on pairs labelled by a
// rule (accuracy and margin rise from step 0).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unzipSync } from 'fflate';
import type { Page } from 'playwright-core';
import { ARTIFACTS, launch, screenshot, stopServer, type Session } from './harness';

afterAll(stopServer);

const SETUP = '?preset=tiny&nLayer=2&nHead=2&nEmbd=32&blockSize=16&batchSize=4&maxSteps=40&evalInterval=10&evalIters=2&checkpointInterval=0';
const PROMPT = 'Emma';

const attr = (page: Page, testId: string, name: string) => page.getByTestId(testId).getAttribute(name);
const num = async (page: Page, testId: string, name = 'data-value') => Number(await attr(page, testId, name));

interface Dist {
  ids: number[];
  probs: number[];
}

/** Largest difference between two shown distributions (a token missing from one counts as probability 0 there). */
function distDiff(a: Dist, b: Dist): number {
  const pa = new Map(a.ids.map((id, i) => [id, a.probs[i]]));
  const pb = new Map(b.ids.map((id, i) => [id, b.probs[i]]));
  let worst = 0;
  for (const id of new Set([...a.ids, ...b.ids])) worst = Math.max(worst, Math.abs((pa.get(id) ?? 0) - (pb.get(id) ?? 0)));
  return worst;
}

async function readDist(page: Page): Promise<Dist> {
  return JSON.parse((await attr(page, 'sample-dist', 'data-dist')) ?? 'null') as Dist;
}

/** The next-token distribution after PROMPT, as the Sampling tab shows it after generating one character. */
async function nextTokenDist(page: Page): Promise<Dist> {
  await page.getByTestId('tab-sample').click();
  await page.getByTestId('sample-prompt').fill(PROMPT);
  await page.getByTestId('sample-max').fill('1');
  await page.getByTestId('sample-temperature').fill('1');
  const output = page.getByTestId('sample-output');
  await page.getByTestId('sample-generate').click();
  await expect.poll(() => output.getAttribute('data-running'), { timeout: 120_000 }).toBe('false');
  expect(await output.getAttribute('data-chars')).toBe('1');
  return readDist(page);
}

/** Move the adapter strength slider and wait until the engine applied it and the views were redrawn. */
async function setStrength(page: Page, value: string): Promise<void> {
  await page.getByTestId('lora-strength').fill(value);
  await expect.poll(() => attr(page, 'lora-strength', 'data-applied'), { timeout: 60_000 }).toBe(value);
}

/** A Tiny run on Moby Dick trained to its 40th step through the Train tab. */
async function trainBase(s: Session): Promise<void> {
  const page = s.page;
  await page.goto(s.url + SETUP);
  await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
  await page.getByTestId('corpus-vocab').waitFor({ timeout: 180_000 });
  await page.getByTestId('tab-train').click();
  await page.getByTestId('train-toggle').click();
  await expect.poll(() => attr(page, 'training-panel', 'data-state'), { timeout: 400_000 }).toBe('done');
  expect(await num(page, 'training-panel', 'data-step')).toBe(40);
}

/** Reads the tensor table and metadata of a safetensors file: 8-byte little-endian header length, then JSON. */
function safetensorsHeader(bytes: Uint8Array): { tensors: Record<string, { dtype: string; shape: number[] }>; metadata: Record<string, string> } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const { __metadata__: metadata, ...tensors } = header;
  return { tensors: tensors as Record<string, { dtype: string; shape: number[] }>, metadata: (metadata ?? {}) as Record<string, string> };
}

function noErrors(s: Session): void {
  expect(s.consoleErrors).toEqual([]);
  expect(s.pageErrors).toEqual([]);
  expect(s.foreignRequests).toEqual([]);
}

describe('the Fine-tune tab', () => {
  it('LoRA-tunes a Tiny Moby Dick run on names, blends it with the strength slider, exports and re-imports its adapter, and merges it', async () => {
    const s = await launch();
    const page = s.page;
    const t0 = Date.now();
    try {
      await trainBase(s);
      const params = await num(page, 'model-cost', 'data-params');
      const baseDist = await nextTokenDist(page);
      expect(baseDist.ids.length).toBeGreaterThan(0);
      console.log(`[e2e] base trained to step 40 in ${((Date.now() - t0) / 1000).toFixed(0)} s (${params.toLocaleString('en-US')} parameters)`);

      // The tab, from the keyboard (key 8).
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await page.keyboard.press('8');
      await page.getByTestId('lora-panel').waitFor();
      // The names corpus is the default target: every character of it is in Moby Dick's vocabulary.
      await expect.poll(() => attr(page, 'lora-target-status', 'data-chars'), { timeout: 60_000 }).not.toBeNull();
      expect(await page.getByTestId('lora-vocab-problem').count()).toBe(0);

      // A pasted text with characters Moby Dick lacks is refused with a sentence naming them; Start is disabled.
      await page.getByTestId('lora-target-own').check();
      await page.getByTestId('lora-own-paste').fill('Zoë and Chloé\n'.repeat(4));
      await page.getByTestId('lora-own-use').click();
      const vocabProblem = page.getByTestId('lora-vocab-problem');
      await vocabProblem.waitFor({ timeout: 60_000 });
      expect(await vocabProblem.textContent()).toMatch(/2 characters the base model has never seen \("ë", "é"\)/);
      expect(await page.getByTestId('lora-start').isDisabled()).toBe(true);
      await page.getByTestId('lora-target-names').check();
      await vocabProblem.waitFor({ state: 'detached', timeout: 60_000 });

      // PEFT's rank checked as PEFT states it.
      await page.getByTestId('lora-r').fill('65');
      expect(await page.getByTestId('lora-problem').textContent()).toBe('The rank r must be a whole number from 1 to 64.');
      expect(await page.getByTestId('lora-start').isDisabled()).toBe(true);
      await page.getByTestId('lora-r').fill('8');
      await page.getByTestId('lora-alpha').fill('16');
      await page.getByTestId('lora-lr').fill('0.01');
      await page.getByTestId('lora-steps').fill('30');
      await page.getByTestId('lora-start').click();
      const peft = page.getByTestId('lora-peft-line');
      await peft.waitFor({ timeout: 120_000 });

      // r = 8 on all four Linear layers of 2 layers, 32 wide: (8·32 + 96·8) + (8·32 + 32·8) + (8·32 + 128·8) + (8·128 + 32·8) = 4,096 per layer.
      const trainable = 2 * 4096;
      const all = params + trainable;
      expect(await peft.textContent()).toBe(
        `trainable params: ${trainable.toLocaleString('en-US')} || all params: ${all.toLocaleString('en-US')} || trainable%: ${((100 * trainable) / all).toFixed(4)}`,
      );
      const bytes = await num(page, 'lora-memory', 'data-bytes');
      const fullBytes = await num(page, 'lora-memory', 'data-full-bytes');
      expect(bytes).toBeGreaterThan(0);
      expect(bytes).toBeLessThan(fullBytes);
      const memoryLine = (await page.getByTestId('lora-memory').textContent()) ?? '';
      expect(memoryLine).toMatch(/^GPU memory: [\d.]+ MiB with LoRA vs [\d.]+ MiB for a full fine-tune \(\d+% less\)$/);
      const baseName = (await attr(page, 'lora-base', 'data-base-name')) ?? '';
      expect(baseName).toMatch(/^Tiny/);
      expect(await attr(page, 'lora-base', 'data-base-step')).toBe('40');
      console.log(`[e2e] ${await peft.textContent()}; ${memoryLine}`);

      // Step 0 is the base model on names (the adapters start at zero); train the adapters with the normal train actions.
      await expect.poll(() => attr(page, 'lora-base-val-loss', 'data-value'), { timeout: 60_000 }).not.toBeNull();
      const baseOnNames = await num(page, 'lora-base-val-loss');
      await page.getByTestId('lora-train').click();
      await expect.poll(() => attr(page, 'lora-state', 'data-state'), { timeout: 400_000 }).toBe('done');
      await expect.poll(() => attr(page, 'lora-val-loss', 'data-step'), { timeout: 60_000 }).toBe('30');
      const tunedOnNames = await num(page, 'lora-val-loss');
      console.log(`[e2e] LoRA on names: validation loss ${baseOnNames.toFixed(4)} (base, step 0) -> ${tunedOnNames.toFixed(4)} (step 30), ${((Date.now() - t0) / 1000).toFixed(0)} s so far`);
      expect(tunedOnNames).toBeLessThan(baseOnNames);
      // The fine-tune's curve beside the base run's.
      expect(await num(page, 'lora-curves', 'data-val-points')).toBe(4);
      expect(await num(page, 'lora-base-curves', 'data-val-points')).toBe(5);
      expect(await num(page, 'lora-base-curves', 'data-points')).toBe(40);
      await screenshot(page, 'ui-finetune-lora');

      // The strength slider in the Sampling tab: 1 is the fine-tune, 0 the base model exactly.
      const tunedDist = await nextTokenDist(page);
      expect(await page.getByTestId('lora-strength-value').textContent()).toBe('1.00');
      const tunedVsBase = distDiff(tunedDist, baseDist);
      await setStrength(page, '0');
      const zeroDist = await readDist(page);
      const zeroVsBase = distDiff(zeroDist, baseDist);
      await setStrength(page, '0.5');
      const halfDist = await readDist(page);
      console.log(
        `[e2e] next-token distribution after "${PROMPT}": max |p - p_base| ${tunedVsBase.toExponential(2)} at strength 1, ${distDiff(halfDist, baseDist).toExponential(2)} at 0.5, ${zeroVsBase.toExponential(2)} at 0`,
      );
      expect(tunedVsBase).toBeGreaterThan(1e-3);
      expect(zeroVsBase).toBeLessThan(1e-5);
      expect(distDiff(halfDist, baseDist)).toBeGreaterThan(1e-4);
      expect(distDiff(halfDist, tunedDist)).toBeGreaterThan(1e-4);

      // The same slider (one value) in the Attention tab; moving it back to 1 there redraws the Sampling tab's distribution too.
      await page.getByTestId('tab-attention').click();
      await page.getByTestId('attention-canvas').waitFor({ timeout: 60_000 });
      expect(await page.getByTestId('lora-strength-value').textContent()).toBe('0.50');
      const attention = () => page.evaluate(() => window.__attention!.matrix.flat());
      const halfAttention = await attention();
      await setStrength(page, '1');
      // The map redraws at the new strength (the adapters on attn.c_attn move the queries and keys).
      await expect
        .poll(async () => Math.max(...(await attention()).map((x, i) => Math.abs(x - halfAttention[i]))), { timeout: 60_000 })
        .toBeGreaterThan(1e-6);
      await page.getByTestId('tab-sample').click();
      expect(distDiff(await readDist(page), tunedDist)).toBeLessThan(1e-6);

      // The adapter file: PEFT's names and shapes, PEFT's LoraConfig as adapter_config.
      await page.getByTestId('tab-finetune').click();
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('lora-export').click()]);
      expect(download.suggestedFilename()).toMatch(/-step30\.adapter\.zip$/);
      const file = resolve(ARTIFACTS, download.suggestedFilename());
      await download.saveAs(file);
      // PEFT's adapter folder, zipped: adapter_config.json beside adapter_model.safetensors.
      const folder = unzipSync(readFileSync(file));
      expect(Object.keys(folder).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
      const { tensors } = safetensorsHeader(folder['adapter_model.safetensors']!);
      const dims: Record<string, [number, number]> = { 'attn.c_attn': [32, 96], 'attn.c_proj': [32, 32], 'mlp.c_fc': [32, 128], 'mlp.c_proj': [128, 32] };
      const expected: Record<string, number[]> = {};
      for (let l = 0; l < 2; l++) {
        for (const [module, [inF, outF]] of Object.entries(dims)) {
          expected[`base_model.model.transformer.h.${l}.${module}.lora_A.weight`] = [8, inF];
          expected[`base_model.model.transformer.h.${l}.${module}.lora_B.weight`] = [outF, 8];
        }
      }
      expect(Object.keys(tensors).sort()).toEqual(Object.keys(expected).sort());
      for (const [name, shape] of Object.entries(expected)) {
        expect(tensors[name].shape).toEqual(shape);
        expect(tensors[name].dtype).toBe('F32');
      }
      const config = JSON.parse(new TextDecoder().decode(folder['adapter_config.json'])) as { peft_type: string; r: number; lora_alpha: number; target_modules: string[]; base_model_name_or_path: string };
      expect(config.peft_type).toBe('LORA');
      expect(config.r).toBe(8);
      expect(config.lora_alpha).toBe(16);
      expect(config.target_modules).toEqual(['c_attn', 'c_proj', 'c_fc']);
      expect(config.base_model_name_or_path).toBe(baseName);

      // Back onto the base: open it from the Runs tab, import the file, and the distribution is the fine-tune's.
      await page.getByTestId('tab-runs').click();
      const baseRow = page.locator(`[data-testid="run-row"][data-name="${baseName}"]`);
      await baseRow.waitFor({ timeout: 60_000 });
      await baseRow.getByTestId('run-open').click();
      // An opened run shows on the Train tab.
      await expect.poll(() => attr(page, 'training-panel', 'data-step'), { timeout: 120_000 }).toBe('40');
      await page.getByTestId('tab-finetune').click();
      expect(await page.getByTestId('lora-open').count()).toBe(0);
      await page.getByTestId('lora-import').setInputFiles(file);
      await page.getByTestId('lora-peft-line').waitFor({ timeout: 120_000 });
      expect(await page.getByTestId('lora-peft-line').textContent()).toBe(await peft.textContent());
      expect(await page.getByTestId('lora-note').textContent()).toMatch(/^Imported .*\.adapter\.zip onto "Tiny/);
      const importedDist = await nextTokenDist(page);
      const importedVsTuned = distDiff(importedDist, tunedDist);
      console.log(`[e2e] imported adapter on the base: max |p - p_tuned| ${importedVsTuned.toExponential(2)}`);
      expect(importedVsTuned).toBeLessThan(1e-5);

      // Merged into a new full run (W + lora_alpha/r · B A): no adapters any more, the same predictions.
      await page.getByTestId('tab-finetune').click();
      await page.getByTestId('lora-merge').click();
      await expect.poll(() => page.getByTestId('lora-note').textContent(), { timeout: 120_000 }).toMatch(/^Merged the adapters into the new run "Merged /);
      expect(await page.getByTestId('lora-open').count()).toBe(0);
      const mergedVsTuned = distDiff(await nextTokenDist(page), tunedDist);
      console.log(`[e2e] merged run: max |p - p_tuned| ${mergedVsTuned.toExponential(2)}`);
      expect(mergedVsTuned).toBeLessThan(1e-4);

      console.log(`[e2e] LoRA test took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      noErrors(s);
    } finally {
      await s.close();
    }
  });

  it('labels pairs with a rule and DPO raises the preference accuracy and the reward margin', async () => {
    const s = await launch();
    const page = s.page;
    const t0 = Date.now();
    try {
      await trainBase(s);
      await page.getByTestId('tab-finetune').click();
      const dpo = page.getByTestId('dpo-panel');
      await dpo.waitFor();

      // Pairs by hand: two continuations side by side, B picked with the keyboard.
      await page.getByTestId('dpo-prompt').fill('The ');
      await page.getByTestId('dpo-length').fill('12');
      await page.getByTestId('dpo-write').click();
      await page.getByTestId('dpo-candidates').waitFor({ timeout: 120_000 });
      const a = (await page.getByTestId('dpo-candidate-a').textContent()) ?? '';
      const b = (await page.getByTestId('dpo-candidate-b').textContent()) ?? '';
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await page.keyboard.press('b');
      await expect.poll(() => attr(page, 'dpo-pairs', 'data-count')).toBe('1');
      expect(await page.getByTestId('dpo-pair-chosen').inputValue()).toBe(b);
      expect(await page.getByTestId('dpo-pair-rejected').inputValue()).toBe(a);
      expect(await page.getByTestId('dpo-pair-by').textContent()).toBe('you');
      await page.getByTestId('dpo-pair-delete').click();
      await expect.poll(() => attr(page, 'dpo-pairs', 'data-count')).toBe('0');

      // The rule: prefer the continuation without an "a".
      await page.getByTestId('dpo-rule-kind').selectOption('avoids');
      await page.getByTestId('dpo-rule-char').fill('a');
      await page.getByTestId('dpo-rule-count').fill('16');
      await page.getByTestId('dpo-label').click();
      await page.getByTestId('dpo-note').waitFor({ timeout: 300_000 });
      const labelled = await num(page, 'dpo-pairs', 'data-count');
      console.log(`[e2e] ${await page.getByTestId('dpo-note').textContent()}`);
      expect(labelled).toBeGreaterThanOrEqual(2);
      for (let i = 0; i < labelled; i++) {
        const row = page.getByTestId('dpo-pair').nth(i);
        expect(await row.getByTestId('dpo-pair-chosen').inputValue()).not.toContain('a');
        expect(await row.getByTestId('dpo-pair-rejected').inputValue()).toContain('a');
        expect(await row.getByTestId('dpo-pair-by').textContent()).toBe('the rule: it prefers the continuation without "a"');
      }

      // TRL's JSONL out; a bad line is refused with its sentence.
      const [jsonl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('dpo-export').click()]);
      const jsonlFile = resolve(ARTIFACTS, 'preference-pairs.jsonl');
      await jsonl.saveAs(jsonlFile);
      const lines = readFileSync(jsonlFile, 'utf8').trim().split('\n');
      expect(lines.length).toBe(labelled);
      for (const line of lines) expect(Object.keys(JSON.parse(line))).toEqual(['prompt', 'chosen', 'rejected']);
      await page.getByTestId('dpo-import').setInputFiles({ name: 'bad.jsonl', mimeType: 'text/plain', buffer: Buffer.from(`${lines[0]}\n{"prompt": "The "}\n`) });
      expect(await page.getByTestId('dpo-import-error').textContent()).toBe(
        'bad.jsonl was not imported: Line 2 needs a text "chosen" field (the format is {"prompt", "chosen", "rejected"}). The list is unchanged.',
      );
      expect(await num(page, 'dpo-pairs', 'data-count')).toBe(labelled);

      // DPO on all weights against the frozen reference.
      await page.getByTestId('dpo-beta').fill('0.1');
      await page.getByTestId('dpo-lr').fill('0.001');
      await page.getByTestId('dpo-steps').fill('20');
      await page.getByTestId('dpo-start').click();
      const run = page.getByTestId('dpo-run');
      await run.waitFor({ timeout: 120_000 });
      expect((await page.getByTestId('dpo-before').textContent())?.length).toBeGreaterThan(0);
      await expect.poll(() => run.getAttribute('data-running'), { timeout: 400_000 }).toBe('false');
      expect(await page.getByTestId('dpo-run-message').count()).toBe(0);
      expect(await num(page, 'dpo-step')).toBe(20);
      expect(await page.getByTestId('dpo-progress').textContent()).toMatch(/^step 20 of 20/);
      const first = { loss: await num(page, 'dpo-first-loss'), margin: await num(page, 'dpo-first-margin'), accuracy: await num(page, 'dpo-first-accuracy') };
      const last = {
        loss: await num(page, 'dpo-loss'),
        margin: await num(page, 'dpo-margin'),
        accuracy: await num(page, 'dpo-accuracy'),
        chosen: await num(page, 'dpo-reward-chosen'),
        rejected: await num(page, 'dpo-reward-rejected'),
      };
      console.log(
        `[e2e] DPO (${labelled} pairs, beta 0.1, lr 1e-3, 20 steps): loss ${first.loss.toFixed(4)} -> ${last.loss.toFixed(4)}, margin ${first.margin.toFixed(4)} -> ${last.margin.toFixed(4)}, accuracy ${first.accuracy} -> ${last.accuracy}, rewards chosen ${last.chosen.toFixed(4)} / rejected ${last.rejected.toFixed(4)}`,
      );
      expect(Math.abs(first.loss - Math.LN2)).toBeLessThan(1e-4);
      expect(first.margin).toBe(0);
      expect(first.accuracy).toBe(0);
      expect(last.accuracy).toBeGreaterThan(first.accuracy);
      expect(last.margin).toBeGreaterThan(first.margin);
      expect(last.loss).toBeLessThan(first.loss);
      // Before and after: the same prompt and seed, from the reference and from the tuned model.
      await expect.poll(() => attr(page, 'dpo-after', 'data-ready'), { timeout: 120_000 }).toBe('true');
      console.log(`[e2e] before: ${JSON.stringify(await page.getByTestId('dpo-before').textContent())} after: ${JSON.stringify(await page.getByTestId('dpo-after').textContent())}`);
      await screenshot(page, 'ui-finetune-dpo');

      // A reload keeps the pairs and the form.
      await page.reload();
      await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
      await page.getByTestId('tab-finetune').click();
      expect(await num(page, 'dpo-pairs', 'data-count')).toBe(labelled);
      expect(await page.getByTestId('dpo-steps').inputValue()).toBe('20');
      expect(await page.getByTestId('dpo-rule-char').inputValue()).toBe('a');
      console.log(`[e2e] DPO test took ${((Date.now() - t0) / 1000).toFixed(0)} s`);

      noErrors(s);
    } finally {
      await s.close();
    }
  });
});
