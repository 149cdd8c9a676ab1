// Runs on tokens through the engine worker in headless Chromium: a tiny model
// on a BPE trained on its corpus, its checkpoint out and back in (the file
// carries the tokenizer: same predictions, same validation loss), a LoRA
// fine-tune on another text read with the run's BPE (its validation loss falls;
// reopened from storage it reads with the same BPE),
// DPO on preference pairs encoded with it (the loss falls below ln 2), and, on a
// cl100k_base run whose vocabulary is only its corpus's tokens, a LoRA text and
// a preference pair with a piece it cannot encode refused with a sentence.
import { afterAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { DpoStats, PreferencePair } from '../../src/engine/protocol';
import type { ModelShape, TrainConfig } from '../../src/model/config';
import { DEFAULT_TRAIN } from '../../src/model/config';
import { trainBpe } from '../../src/tokenizer/trainer';
import { events, loaded, openEngine, request, trainToEnd } from './engine';
import { launch, stopServer } from './harness';

afterAll(stopServer);

const LINES =
  'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n' +
  'First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n' +
  'First Citizen:\nFirst, you know Caius Marcius is chief enemy to the people.\n\nAll:\nWe know\'t, we know\'t.\n\n' +
  'First Citizen:\nLet us kill him, and we\'ll have corn at our own price.\nIs\'t a verdict?\n';
const TEXT = LINES + LINES;
const TARGET = 'All:\nSpeak, speak.\n\n'.repeat(24);
const PROBE = 'All:\nSpeak, speak.\nFirst Citizen:\n';

const MODEL: ModelShape = { nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16, dropout: 0, bias: true, tieWeights: false, activation: 'gelu' };
const TRAIN: TrainConfig = { ...DEFAULT_TRAIN, batchSize: 4, maxSteps: 30, learningRate: 1e-2, warmupSteps: 0, evalInterval: 10, evalIters: 2, checkpointInterval: 0, seed: 7 };
const LORA = { r: 4, alpha: 8, modules: ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as ('attn.c_attn' | 'attn.c_proj' | 'mlp.c_fc' | 'mlp.c_proj')[] };

/** Bits of each next token of PROBE under the open model, and its pieces. */
async function bits(page: Page): Promise<{ bits: number[]; tokens: string[] }> {
  const r = await page.evaluate(async (text) => {
    const reply = await window.__engine!.request({ kind: 'insights', text });
    return reply.kind === 'insights' ? { bits: Array.from(reply.insights.bits), tokens: reply.insights.tokens } : reply;
  }, PROBE);
  if (!('bits' in r)) throw new Error(JSON.stringify(r));
  return r;
}

const maxDiff = (a: number[], b: number[]) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

async function baseId(page: Page): Promise<string> {
  const runs = await request(page, { kind: 'listRuns' });
  if (runs.kind !== 'runs') throw new Error(JSON.stringify(runs));
  return runs.runs.find((r) => r.name === 'Base')!.id;
}

describe('fine-tuning runs on tokens', () => {
  it('a BPE run: checkpoint round trip, LoRA and DPO with its tokens; a cl100k_base run refuses pieces it cannot encode', async () => {
    const bpe = trainBpe(TEXT, 300);
    if (!bpe.ok) throw new Error(bpe.message);
    const model = { pattern: bpe.model.pattern, merges: bpe.model.merges, tokens: bpe.model.tokens.map((t) => Array.from(t)) };
    const s = await launch();
    const { page } = s;
    try {
      await openEngine(page, s.url);
      const base = loaded(
        await page.evaluate(
          ({ text, model, shape, train }) =>
            window.__engine!.request({
              kind: 'load', corpusName: 'e2e text', text, model: shape, train, runName: 'Base',
              tokenizer: { kind: 'bpe', name: 'e2e', model: { ...model, tokens: model.tokens.map((t) => Uint8Array.from(t)) } },
            }),
          { text: TEXT, model, shape: MODEL, train: TRAIN },
        ),
      );
      expect(base.tokenizer).toMatchObject({ kind: 'bpe', size: 300 });
      const baseEvals = await trainToEnd(page);
      const baseVal = baseEvals.at(-1)!.valLoss;
      const baseOut = await bits(page);
      console.log(`[e2e tokens-ft] BPE-300 base: ${baseOut.tokens.length} tokens in the probe ${JSON.stringify(baseOut.tokens)}, val loss ${baseVal.toFixed(4)} after 30 steps`);
      expect(baseOut.tokens.join('')).toBe(PROBE);
      expect(baseOut.tokens.length).toBeLessThan(PROBE.length);

      // The checkpoint carries the tokenizer: imported back, the run reads with the same BPE.
      const exported = await page.evaluate(async () => {
        const reply = await window.__engine!.request({ kind: 'exportCheckpoint', withOptimizer: true });
        if (reply.kind !== 'exported') return reply;
        window.__bytes = reply.bytes.slice(0);
        const n = Number(new DataView(reply.bytes).getBigUint64(0, true));
        const meta = JSON.parse(new TextDecoder().decode(new Uint8Array(reply.bytes, 8, n))).__metadata__ as Record<string, string>;
        return { kind: 'file', tokenizer: JSON.parse(meta.tokenizer) as { kind: string; pattern: string; tiktoken: string } };
      });
      if (exported.kind !== 'file') throw new Error(JSON.stringify(exported));
      const spec = (exported as unknown as { tokenizer: { kind: string; pattern: string; tiktoken: string } }).tokenizer;
      expect(spec.kind).toBe('bpe');
      expect(spec.pattern).toBe(bpe.model.pattern);
      expect(spec.tiktoken.trim().split('\n')).toHaveLength(300);
      await events(page);
      const imported = loaded(
        await page.evaluate(
          ({ text, train }) => window.__engine!.request({ kind: 'importCheckpoint', bytes: window.__bytes!.slice(0), fileName: 'base.checkpoint.safetensors', corpusName: 'e2e text', text, train }),
          { text: TEXT, train: TRAIN },
        ),
      );
      expect(imported.tokenizer).toMatchObject({ kind: 'bpe', size: 300 });
      expect(imported.vocab).toEqual(base.vocab);
      expect(imported.step).toBe(30);
      // Its evaluation on the corpus (read with the file's BPE) follows the import in the background.
      await page.waitForFunction(() => window.__events!.some((e) => e.kind === 'importProgress' && e.fraction === 1), null, { timeout: 120_000, polling: 100 });
      const evals = (await events(page)).flatMap((e) => (e.kind === 'eval' ? [e.stats] : []));
      expect(evals.map((e) => e.step)).toEqual([30]);
      const importedVal = evals[0].valLoss;
      const importedOut = await bits(page);
      console.log(`[e2e tokens-ft] imported checkpoint: val loss ${importedVal.toFixed(6)} (base ${baseVal.toFixed(6)}), max |bits diff| ${maxDiff(importedOut.bits, baseOut.bits)}`);
      expect(importedOut.tokens).toEqual(baseOut.tokens);
      expect(maxDiff(importedOut.bits, baseOut.bits)).toBe(0);
      expect(Math.abs(importedVal - baseVal)).toBeLessThan(1e-6);

      // LoRA on a second text, read with the base's BPE.
      loaded(await request(page, { kind: 'resume', id: await baseId(page), text: TEXT }));
      const ft = loaded(await request(page, { kind: 'startLora', corpusName: 'target', text: TARGET, lora: LORA, train: TRAIN }));
      expect(ft.tokenizer).toMatchObject({ kind: 'bpe', size: 300 });
      expect(ft.vocab).toEqual(base.vocab);
      // Fewer tokens than characters: the target is read as BPE tokens, not characters.
      expect(ft.trainTokens + ft.valTokens).toBeLessThan(TARGET.length / 2);
      const start = ft.evalHistory![0].valLoss;
      const end = (await trainToEnd(page)).at(-1)!;
      console.log(`[e2e tokens-ft] LoRA on the target (${ft.trainTokens}+${ft.valTokens} tokens for ${TARGET.length} characters): val loss ${start.toFixed(4)} -> ${end.valLoss.toFixed(4)} after ${end.step} steps`);
      expect(end.step).toBe(30);
      expect(end.valLoss).toBeLessThan(start - 0.1);
      // Reopened from storage, the fine-tune reads its text with the same BPE and predicts the same.
      const tuned = await bits(page);
      const stored = await request(page, { kind: 'listRuns' });
      if (stored.kind !== 'runs') throw new Error(JSON.stringify(stored));
      loaded(await request(page, { kind: 'resume', id: await baseId(page), text: TEXT }));
      const reopened = loaded(await request(page, { kind: 'resume', id: stored.runs.find((r) => r.fineTune?.kind === 'lora')!.id, text: TARGET }));
      expect(reopened).toMatchObject({ step: 30, tokenizer: { kind: 'bpe', size: 300 }, trainTokens: ft.trainTokens, valTokens: ft.valTokens });
      expect(maxDiff((await bits(page)).bits, tuned.bits)).toBe(0);

      // DPO on pairs encoded with the BPE.
      loaded(await request(page, { kind: 'resume', id: await baseId(page), text: TEXT }));
      const pairs: PreferencePair[] = [
        { prompt: 'All:\n', chosen: 'Speak, speak.', rejected: 'We know\'t.' },
        { prompt: 'First ', chosen: 'Citizen:', rejected: 'you know' },
        { prompt: 'You are ', chosen: 'all resolved', rejected: 'the people' },
      ];
      await events(page);
      const steps = 12;
      const dpo = loaded(await request(page, { kind: 'startDpo', pairs, beta: 0.1, learningRate: 3e-3, steps, target: 'all', judge: '' }));
      expect(dpo.tokenizer).toMatchObject({ kind: 'bpe' });
      await page.waitForFunction(() => window.__events!.some((e) => e.kind === 'dpoDone'), null, { timeout: 300_000, polling: 100 });
      const done = (await events(page)).find((e) => e.kind === 'dpoDone');
      if (done?.kind !== 'dpoDone') throw new Error('no dpoDone');
      expect(done.message).toBeUndefined();
      const hist: DpoStats[] = done.history;
      const [first, last] = [hist[0], hist.at(-1)!];
      console.log(`[e2e tokens-ft] DPO on BPE tokens: loss ${first.loss.toFixed(4)} -> ${last.loss.toFixed(4)}, margin ${first.margin.toFixed(4)} -> ${last.margin.toFixed(4)}, accuracy ${first.accuracy} -> ${last.accuracy}`);
      expect(hist).toHaveLength(steps + 1);
      expect(Math.abs(first.loss - Math.LN2)).toBeLessThan(1e-5);
      expect(last.loss).toBeLessThan(Math.LN2);
      expect(last.margin).toBeGreaterThan(0);

      // cl100k_base keeps only the corpus's tokens: a piece outside them is named, and nothing starts.
      loaded(await request(page, { kind: 'load', corpusName: 'e2e text', text: TEXT, model: MODEL, train: TRAIN, runName: 'cl100k', tokenizer: { kind: 'cl100k_base' } }));
      const lora = await request(page, { kind: 'startLora', corpusName: 'zed', text: TARGET + 'Speak, Zoo.\n', lora: LORA, train: TRAIN });
      expect(lora.kind).toBe('invalid');
      const loraSentence = lora.kind === 'invalid' ? lora.problems.join(' ') : '';
      console.log(`[e2e tokens-ft] cl100k_base LoRA refused: ${loraSentence}`);
      expect(loraSentence).toContain('The target text has a piece this run\'s vocabulary cannot encode: " Zoo".');
      const bad = await request(page, {
        kind: 'startDpo', beta: 0.1, learningRate: 3e-3, steps: 2, target: 'all', judge: '',
        pairs: [pairs[0], { prompt: 'All:\n', chosen: 'Speak, speak.', rejected: 'Zebra' }],
      });
      expect(bad.kind).toBe('invalid');
      const dpoSentence = bad.kind === 'invalid' ? bad.problems.join(' ') : '';
      console.log(`[e2e tokens-ft] cl100k_base DPO refused: ${dpoSentence}`);
      expect(dpoSentence).toMatch(/^Pair 2 has a piece this run's vocabulary cannot encode: "Z[^"]*"\./);
      // Pairs whose parts (each encoded on its own) are in its vocabulary start.
      const inVocab: PreferencePair[] = [pairs[0], { prompt: 'First Citizen:\n', chosen: 'Before we proceed', rejected: 'You are all resolved' }];
      const ok = loaded(await request(page, { kind: 'startDpo', pairs: inVocab, beta: 0.1, learningRate: 3e-3, steps: 1, target: 'all', judge: '' }));
      expect(ok.tokenizer).toMatchObject({ kind: 'cl100k_base' });
      await page.waitForFunction(() => window.__events!.some((e) => e.kind === 'dpoDone'), null, { timeout: 120_000, polling: 100 });
      expect(s.pageErrors).toEqual([]);
    } finally {
      await s.close();
    }
  }, 600_000);
});
