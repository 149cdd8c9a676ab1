// Fine-tuning through the engine worker's protocol in headless Chromium: a
// LoRA fine-tune of a trained run on another text (its validation loss falls
// below the base's), the adapter strength (0 gives the base model exactly),
// a PEFT adapter folder (zipped) out and back in as the zip, its two files
// or the safetensors file alone (same predictions), a merge into
// a new run, the fine-tune reopened after a reload, and DPO on preference
// pairs (all weights and LoRA), whose accuracy and reward margin rise from
// where they start (loss ln 2, margin 0), and a DPO run stopped midway.
import { afterAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { DpoStats, PreferencePair } from '../../src/engine/protocol';
import type { ModelShape, TrainConfig } from '../../src/model/config';
import { DEFAULT_TRAIN } from '../../src/model/config';
import { unzipSync, zipSync } from 'fflate';
import { readSafetensors } from '../../src/model/safetensors';
import { events, loaded, openEngine, request, trainToEnd } from './engine';
import { launch, stopServer } from './harness';

afterAll(stopServer);

const TEXT =
  'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n' +
  'First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n' +
  'First Citizen:\nFirst, you know Caius Marcius is chief enemy to the people.\n\nAll:\nWe know\'t, we know\'t.\n\n' +
  'First Citizen:\nLet us kill him, and we\'ll have corn at our own price.\nIs\'t a verdict?\n';
/** A text in the base's characters with a pattern of its own. */
const TARGET = 'All:\nSpeak, speak.\n\n'.repeat(24);
const PROBE = 'All:\nSpeak, speak.\n';

const MODEL: ModelShape = { nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16, dropout: 0, bias: true, tieWeights: false, activation: 'gelu' };
const TRAIN: TrainConfig = { ...DEFAULT_TRAIN, batchSize: 4, maxSteps: 30, learningRate: 1e-2, warmupSteps: 0, evalInterval: 10, evalIters: 2, checkpointInterval: 0, seed: 7 };
const LORA = { r: 4, alpha: 8, modules: ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as ('attn.c_attn' | 'attn.c_proj' | 'mlp.c_fc' | 'mlp.c_proj')[] };


/** Bits of each next character of PROBE under the open model (its whole output on that text). */
async function bits(page: Page): Promise<number[]> {
  const r = await page.evaluate(async (text) => {
    const reply = await window.__engine!.request({ kind: 'insights', text });
    return reply.kind === 'insights' ? Array.from(reply.insights.bits) : reply;
  }, PROBE);
  if (!Array.isArray(r)) throw new Error(JSON.stringify(r));
  return r;
}

const maxDiff = (a: number[], b: number[]) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

describe('fine-tuning through the engine', () => {
  it('LoRA: lowers the loss on the target, strength 0 is the base, adapter files round-trip, merge, reopen', async () => {
    const s = await launch();
    const { page } = s;
    try {
      await openEngine(page, s.url);
      const base = loaded(await request(page, { kind: 'load', corpusName: 'e2e text', text: TEXT, model: MODEL, train: TRAIN, runName: 'Base' }));
      await trainToEnd(page);
      const baseBits = await bits(page);

      // Characters the base has never seen are named, and nothing starts.
      const refused = await request(page, { kind: 'startLora', corpusName: 'zed', text: TARGET + 'Zoo', lora: LORA, train: TRAIN });
      expect(refused.kind).toBe('invalid');
      if (refused.kind === 'invalid') {
        console.log(`[e2e lora] ${refused.problems.join(' ')}`);
        expect(refused.problems.join(' ')).toMatch(/"Z"/);
      }

      const train = { ...TRAIN, maxSteps: 30, learningRate: 1e-2 };
      const ft = loaded(await request(page, { kind: 'startLora', corpusName: 'target', text: TARGET, lora: LORA, train }));
      const info = ft.fineTune!;
      expect(info).toMatchObject({ kind: 'lora', baseRunName: 'Base', baseStep: 30, lora: LORA });
      expect(ft.vocab).toEqual(base.vocab);
      expect(ft.loraStrength).toBe(1);
      // PEFT's count: r (in + out) per adapted Linear.
      const C = MODEL.nEmbd;
      const trainable = LORA.r * ((C + 3 * C) + (C + C) + (C + 4 * C) + (4 * C + C)) * MODEL.nLayer;
      expect(info.trainable).toBe(trainable);
      expect(info.peftLine).toBe(
        `trainable params: ${trainable.toLocaleString('en-US')} || all params: ${(base.paramCount + trainable).toLocaleString('en-US')} || trainable%: ${((100 * trainable) / (base.paramCount + trainable)).toFixed(4)}`,
      );
      expect(info.gpuBytes).toBeLessThan(info.fullGpuBytes);
      console.log(`[e2e lora] ${info.peftLine}; GPU ${info.gpuBytes} B vs ${info.fullGpuBytes} B full`);
      // Adapters start at B = 0: the fine-tune begins as the base.
      expect(maxDiff(await bits(page), baseBits)).toBe(0);

      // Its step-0 evaluation (taken when it opened) is the base model's loss on the target.
      expect(ft.evalHistory!.map((e) => e.step)).toEqual([0]);
      const start = ft.evalHistory![0].valLoss;
      const evals = await trainToEnd(page);
      const end = evals.at(-1)!;
      console.log(`[e2e lora] validation loss on the target: base ${start.toFixed(4)} -> ${end.valLoss.toFixed(4)} after ${end.step} LoRA steps`);
      expect(end.step).toBe(30);
      expect(end.valLoss).toBeLessThan(start - 0.1);

      const tuned = await bits(page);
      expect(maxDiff(tuned, baseBits)).toBeGreaterThan(1e-2);
      expect(await request(page, { kind: 'setLoraStrength', strength: 0 })).toEqual({ kind: 'ok' });
      expect(maxDiff(await bits(page), baseBits)).toBe(0);
      expect(await request(page, { kind: 'setLoraStrength', strength: 0.5 })).toEqual({ kind: 'ok' });
      const half = await bits(page);
      expect(maxDiff(half, baseBits)).toBeGreaterThan(1e-3);
      expect(maxDiff(half, tuned)).toBeGreaterThan(1e-3);
      expect(await request(page, { kind: 'setLoraStrength', strength: 1 })).toEqual({ kind: 'ok' });
      expect(maxDiff(await bits(page), tuned)).toBe(0);

      // The adapter file: PEFT's folder zipped, adapter_config.json (LoraConfig) beside adapter_model.safetensors (PEFT's names and shapes).
      const file = await page.evaluate(async () => {
        const reply = await window.__engine!.request({ kind: 'exportAdapter' });
        if (reply.kind !== 'exported') return { kind: reply.kind, fileName: JSON.stringify(reply), bytes: [] as number[] };
        window.__bytes = reply.bytes.slice(0);
        return { kind: 'file', fileName: reply.fileName, bytes: Array.from(new Uint8Array(reply.bytes)) };
      });
      if (file.kind !== 'file') throw new Error(file.fileName);
      expect(file.fileName).toMatch(/-step30\.adapter\.zip$/);
      const folder = unzipSync(Uint8Array.from(file.bytes));
      expect(Object.keys(folder).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
      const adapterConfig = JSON.parse(new TextDecoder().decode(folder['adapter_config.json']));
      expect(adapterConfig).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 8, bias: 'none', base_model_name_or_path: 'Base' });
      expect(adapterConfig.target_modules).toEqual(['c_attn', 'c_proj', 'c_fc']);
      const tensors = readSafetensors(folder['adapter_model.safetensors']!).tensors;
      expect(tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight')!.shape).toEqual([4, C]);
      expect(tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_B.weight')!.shape).toEqual([3 * C, 4]);
      expect(tensors.get('base_model.model.transformer.h.0.mlp.c_proj.lora_A.weight')!.shape).toEqual([4, 4 * C]);
      expect(tensors.get('base_model.model.transformer.h.0.mlp.c_proj.lora_B.weight')!.shape).toEqual([C, 4]);
      expect(tensors.size).toBe(8);

      // Merged into a new full run: the same predictions, up to float rounding.
      const merged = loaded(await request(page, { kind: 'mergeLora' }));
      expect(merged.fineTune).toBeUndefined();
      const mergedBits = await bits(page);
      console.log(`[e2e lora] merged vs adapted: max |bits diff| ${maxDiff(mergedBits, tuned).toExponential(2)}`);
      expect(maxDiff(mergedBits, tuned)).toBeLessThan(1e-4);

      // The file back onto the base: the same predictions as the fine-tune.
      const runs = await request(page, { kind: 'listRuns' });
      if (runs.kind !== 'runs') throw new Error(JSON.stringify(runs));
      const baseId = runs.runs.find((r) => r.name === 'Base')!.id;
      const loraId = runs.runs.find((r) => r.fineTune?.kind === 'lora')!.id;
      loaded(await request(page, { kind: 'resume', id: baseId, text: TEXT }));
      expect(maxDiff(await bits(page), baseBits)).toBe(0);
      const importAdapter = (bytes: Uint8Array, fileName: string, configJson?: string) =>
        page.evaluate(
          ({ bytes, fileName, configJson }) => window.__engine!.request({ kind: 'importAdapter', bytes: Uint8Array.from(bytes).buffer, fileName, ...(configJson ? { configJson } : {}) }),
          { bytes: Array.from(bytes), fileName, configJson },
        );
      // The zip as exported.
      const reimported = loaded(await page.evaluate(() => window.__engine!.request({ kind: 'importAdapter', bytes: window.__bytes!.slice(0), fileName: 'adapter.zip' })));
      expect(reimported.fineTune?.kind).toBe('lora');
      expect(maxDiff(await bits(page), tuned)).toBe(0);
      loaded(await request(page, { kind: 'resume', id: baseId, text: TEXT }));
      // The folder's two files picked together (lora_alpha from adapter_config.json), and the safetensors file alone.
      for (const configJson of [new TextDecoder().decode(folder['adapter_config.json']), undefined]) {
        loaded(await importAdapter(folder['adapter_model.safetensors']!, 'adapter_model.safetensors', configJson));
        expect(maxDiff(await bits(page), tuned)).toBe(0);
        loaded(await request(page, { kind: 'resume', id: baseId, text: TEXT }));
      }
      // A zip without adapter_config.json, and a truncated file, are refused with a sentence.
      const noConfig = await importAdapter(zipSync({ 'adapter_model.safetensors': folder['adapter_model.safetensors']! }), 'no-config.zip');
      expect(noConfig).toEqual({ kind: 'error', message: "The zip holds no adapter_config.json: PEFT's adapter folder keeps the adapter's LoraConfig (r, lora_alpha, target_modules) there." });
      const cut = await importAdapter(Uint8Array.from(file.bytes.slice(0, 100)), 'cut.zip');
      expect(cut.kind).toBe('error');
      expect(maxDiff(await bits(page), baseBits)).toBe(0);

      // After a reload the fine-tune reopens with its adapters and its record.
      await openEngine(page, s.url);
      const reopened = loaded(await request(page, { kind: 'resume', id: loraId, text: TARGET }));
      expect(reopened).toMatchObject({ step: 30, fineTune: { kind: 'lora', baseRunName: 'Base' } });
      expect(reopened.corpusText).toBe(TARGET);
      expect(maxDiff(await bits(page), tuned)).toBe(0);

      // A lost device: the fine-tune goes on on a new one with its adapters (the last checkpoint's).
      expect(await request(page, { kind: 'debug', action: 'loseDevice' })).toEqual({ kind: 'ok' });
      await page.waitForFunction(() => window.__events!.some((e) => e.kind === 'deviceLost'), null, { timeout: 60_000, polling: 100 });
      expect(maxDiff(await bits(page), tuned)).toBe(0);
      // Its checkpoint export is the adapted model (adapters merged), for nanoGPT-style tools.
      const exported = await request(page, { kind: 'exportCheckpoint', withOptimizer: true });
      expect(exported.kind).toBe('exported');
      expect(s.pageErrors).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('DPO: from ln 2 at step 0, accuracy and margin rise, on all weights and on LoRA adapters', async () => {
    const s = await launch();
    const { page } = s;
    try {
      await openEngine(page, s.url);
      loaded(await request(page, { kind: 'load', corpusName: 'e2e text', text: TEXT, model: MODEL, train: { ...TRAIN, maxSteps: 20 }, runName: 'Base' }));
      await trainToEnd(page);
      const pairs: PreferencePair[] = [
        { prompt: 'All:\n', chosen: 'Speak, speak.', rejected: 'We know\'t.' },
        { prompt: 'First ', chosen: 'Citizen:', rejected: 'you know' },
        { prompt: 'You are ', chosen: 'all resolved', rejected: 'the people' },
      ];
      for (const target of ['all', 'lora'] as const) {
        await events(page);
        const steps = 12;
        const reply = loaded(await request(page, { kind: 'startDpo', pairs, beta: 0.1, learningRate: target === 'all' ? 3e-3 : 1e-2, steps, target, lora: LORA, judge: '' }));
        expect(reply.fineTune).toMatchObject({ kind: 'dpo', dpo: { target, beta: 0.1, pairsPerStep: 2 } });
        // Training waits while DPO runs.
        expect((await request(page, { kind: 'train', action: 'start' })).kind).toBe('error');
        await page.waitForFunction(() => window.__events!.some((e) => e.kind === 'dpoDone'), null, { timeout: 300_000, polling: 100 });
        const evs = await events(page);
        const done = evs.find((e) => e.kind === 'dpoDone');
        if (done?.kind !== 'dpoDone') throw new Error('no dpoDone');
        expect(done.message).toBeUndefined();
        const hist: DpoStats[] = done.history;
        expect(hist.map((h) => h.step)).toEqual(Array.from({ length: steps + 1 }, (_, i) => i));
        expect(evs.filter((e) => e.kind === 'dpoStep')).toHaveLength(steps + 1);
        const [first, last] = [hist[0], hist.at(-1)!];
        console.log(
          `[e2e dpo ${target}] loss ${first.loss.toFixed(4)} -> ${last.loss.toFixed(4)}, margin ${first.margin.toFixed(4)} -> ${last.margin.toFixed(4)}, ` +
            `accuracy ${first.accuracy} -> ${last.accuracy}, rewards ${last.rewardChosen.toFixed(4)} / ${last.rewardRejected.toFixed(4)}`,
        );
        expect(Math.abs(first.loss - Math.LN2)).toBeLessThan(1e-5);
        expect(first.margin).toBe(0);
        expect(first.accuracy).toBe(0);
        expect(last.margin).toBeGreaterThan(first.margin);
        expect(last.accuracy).toBeGreaterThan(first.accuracy);
        expect(last.loss).toBeLessThan(first.loss);
        expect(Math.abs(last.margin - (last.rewardChosen - last.rewardRejected))).toBeLessThan(1e-4);
        // The DPO run is stored with its statistics.
        const runs = await request(page, { kind: 'listRuns' });
        if (runs.kind !== 'runs') throw new Error(JSON.stringify(runs));
        expect(runs.runs.filter((r) => r.fineTune?.kind === 'dpo').length).toBeGreaterThanOrEqual(1);
        // Back to the base for the next target.
        const baseId = runs.runs.find((r) => r.name === 'Base')!.id;
        loaded(await request(page, { kind: 'resume', id: baseId, text: TEXT }));
      }

      // Stop: the run ends after the step in flight, saved with the steps it took.
      await events(page);
      loaded(await request(page, { kind: 'startDpo', pairs, beta: 0.1, learningRate: 1e-3, steps: 500, target: 'all' }));
      await page.waitForFunction(() => window.__events!.filter((e) => e.kind === 'dpoStep').length >= 2, null, { timeout: 120_000, polling: 50 });
      expect(await request(page, { kind: 'stopDpo' })).toEqual({ kind: 'ok' });
      await page.waitForFunction(() => window.__events!.some((e) => e.kind === 'dpoDone'), null, { timeout: 120_000, polling: 100 });
      const stopped = (await events(page)).find((e) => e.kind === 'dpoDone');
      if (stopped?.kind !== 'dpoDone') throw new Error('no dpoDone after stop');
      expect(stopped.stopped).toBe(true);
      expect(stopped.history.length).toBeGreaterThanOrEqual(2);
      expect(stopped.history.length).toBeLessThan(20);
      const after = await request(page, { kind: 'listRuns' });
      if (after.kind !== 'runs') throw new Error(JSON.stringify(after));
      expect(after.runs[0]).toMatchObject({ fineTune: { kind: 'dpo' } });
      // Training works again once DPO has stopped.
      expect(await request(page, { kind: 'train', action: 'step', steps: 1 })).toEqual({ kind: 'ok' });
      expect(s.pageErrors).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
