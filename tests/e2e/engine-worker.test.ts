// The engine worker in headless Chromium, driven directly through its typed
// protocol from the page (?test exposes EngineClient): a tiny model trains,
// checkpoints to IndexedDB, resumes after a reload with the same weights,
// exports and imports safetensors, survives a blown-up learning rate and a
// lost GPU device.
import { afterAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { EngineEvent, EngineReply } from '../../src/engine/protocol';
import type { ModelShape, TrainConfig } from '../../src/model/config';
import { DEFAULT_TRAIN } from '../../src/model/config';
import { events, openEngine, request } from './engine';
import { launch, stopServer } from './harness';

afterAll(stopServer);

const TEXT =
  'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n' +
  'First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n' +
  'First Citizen:\nFirst, you know Caius Marcius is chief enemy to the people.\n\nAll:\nWe know\'t, we know\'t.\n\n' +
  'First Citizen:\nLet us kill him, and we\'ll have corn at our own price.\nIs\'t a verdict?\n';

const MODEL: ModelShape = { nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 8, dropout: 0, bias: true, tieWeights: false, activation: 'gelu' };
const TRAIN: TrainConfig = {
  ...DEFAULT_TRAIN,
  batchSize: 4,
  maxSteps: 500,
  learningRate: 1e-2,
  warmupSteps: 0,
  weightDecay: 0.1,
  gradClip: 1,
  evalInterval: 10,
  evalIters: 2,
  checkpointInterval: 10,
  seed: 1234,
};


async function waitForEvent(page: Page, kind: EngineEvent['kind'], timeout = 300_000): Promise<void> {
  await page.waitForFunction((k) => window.__events!.some((e) => e.kind === k), kind, { timeout, polling: 100 });
}

/** Export the current weights in the page and return a SHA-256 of the safetensors bytes (keeps them as window.__bytes). */
async function weightsHash(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const reply = await window.__engine!.request({ kind: 'exportCheckpoint', withOptimizer: true });
    if (reply.kind !== 'exported') throw new Error(JSON.stringify(reply));
    window.__bytes = reply.bytes.slice(0);
    // The tensors, the step and the config: the file without the run's story (name, curves, wall time) in "playground_run".
    const n = Number(new DataView(reply.bytes).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(reply.bytes, 8, n))) as { __metadata__?: Record<string, string> };
    delete header.__metadata__?.playground_run;
    const head = new TextEncoder().encode(JSON.stringify(header));
    const all = new Uint8Array(head.length + reply.bytes.byteLength - 8 - n);
    all.set(head);
    all.set(new Uint8Array(reply.bytes, 8 + n), head.length);
    const digest = await crypto.subtle.digest('SHA-256', all);
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  });
}

function stepsOf(evs: EngineEvent[]) {
  return evs.flatMap((e) => (e.kind === 'step' ? [e.stats] : []));
}

function finiteNumbers(evs: EngineEvent[]): boolean {
  const walk = (x: unknown): boolean =>
    typeof x === 'number' ? Number.isFinite(x) : typeof x === 'object' && x !== null ? Object.values(x).every(walk) : true;
  return evs.filter((e) => e.kind === 'step' || e.kind === 'eval').every(walk);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('the engine worker in headless Chromium', () => {
  it('trains, checkpoints, resumes after a reload, exports and imports, and refuses a truncated file', async () => {
    const s = await launch();
    const { page } = s;
    try {
      await openEngine(page, s.url);
      await request(page, { kind: 'discardSavedRun' });
      const loaded = await request(page, { kind: 'load', corpusName: 'e2e text', text: TEXT, model: MODEL, train: TRAIN });
      expect(loaded.kind).toBe('loaded');
      if (loaded.kind !== 'loaded') return;
      console.log(`[e2e] loaded: ${loaded.paramCount} parameters, vocab ${loaded.vocab.length}, ${loaded.trainTokens}/${loaded.valTokens} tokens`);
      await events(page);

      const t0 = Date.now();
      expect(await request(page, { kind: 'train', action: 'step', steps: 20 })).toEqual({ kind: 'ok' });
      const evs = await events(page);
      const st = stepsOf(evs);
      console.log(`[e2e] 20 steps in ${Date.now() - t0} ms; loss ${st[0]?.loss.toFixed(3)} -> ${st.at(-1)?.loss.toFixed(3)}; ${st.at(-1)?.ms.toFixed(1)} ms/step`);
      expect(st.map((x) => x.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(finiteNumbers(evs)).toBe(true);
      expect(mean(st.slice(-5).map((x) => x.loss))).toBeLessThan(mean(st.slice(0, 5).map((x) => x.loss)));
      expect(evs.filter((e) => e.kind === 'eval').map((e) => (e.kind === 'eval' ? e.stats.step : -1))).toEqual([0, 10, 20]);
      const ckpts = evs.flatMap((e) => (e.kind === 'checkpoint' ? [e] : []));
      expect(ckpts.length).toBeGreaterThanOrEqual(2);
      expect(ckpts.every((c) => c.saved)).toBe(true);
      expect(ckpts.at(-1)!.step).toBe(20);
      expect(evs.filter((e) => e.kind === 'trainState').at(-1)).toMatchObject({ state: 'paused', step: 20 });
      const before = await weightsHash(page);

      // Reload: the run is offered and resumes at the same step with the same weights.
      await openEngine(page, s.url);
      const saved = await request(page, { kind: 'savedRun' });
      expect(saved.kind).toBe('savedRun');
      if (saved.kind !== 'savedRun' || !saved.run) throw new Error('no saved run offered after reload');
      expect(saved.run.step).toBe(20);
      expect(saved.run.corpusName).toBe('e2e text');
      expect(saved.run.lossHistory.map((p) => p.step)).toEqual(st.map((x) => x.step));
      const resumed = await request(page, { kind: 'resume' });
      expect(resumed).toMatchObject({ kind: 'loaded', step: 20 });
      expect(await weightsHash(page)).toBe(before);

      // Export -> import (a new run) gives identical weights (and optimizer state).
      const imported = await page.evaluate(
        async ({ text, train }) =>
          window.__engine!.request({ kind: 'importCheckpoint', bytes: window.__bytes!.slice(0), fileName: 'e2e.safetensors', corpusName: 'e2e text', text, train }),
        { text: TEXT, train: TRAIN },
      );
      expect(imported).toMatchObject({ kind: 'loaded', step: 20, imported: { step: 20 } });
      expect(await weightsHash(page)).toBe(before);

      // A truncated file is refused with a sentence, and the model stays as it was.
      const truncated = await page.evaluate(async () =>
        window.__engine!.request({
          kind: 'importCheckpoint',
          bytes: window.__bytes!.slice(0, Math.floor(window.__bytes!.byteLength / 2)),
          fileName: 'cut.safetensors',
          corpusName: 'e2e text',
          text: '',
          train: {} as never,
        }),
      );
      expect(truncated.kind).toBe('error');
      if (truncated.kind === 'error') {
        console.log(`[e2e] truncated import: ${truncated.message}`);
        expect(truncated.message.length).toBeGreaterThan(20);
      }
      expect(await weightsHash(page)).toBe(before);

      // Training goes on from step 21.
      await events(page);
      expect(await request(page, { kind: 'train', action: 'step', steps: 3 })).toEqual({ kind: 'ok' });
      expect(stepsOf(await events(page)).map((x) => x.step)).toEqual([21, 22, 23]);
      expect(s.pageErrors).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('serves attention maps, generation (paused and between training steps), evaluation and a benchmark', async () => {
    const s = await launch();
    const { page } = s;
    try {
      await openEngine(page, s.url);
      const train: TrainConfig = { ...TRAIN, checkpointInterval: 0, evalInterval: 1000 };
      expect((await request(page, { kind: 'load', corpusName: 'e2e text', text: TEXT, model: MODEL, train })).kind).toBe('loaded');
      // With storage blocked, training goes on and the checkpoint event says so.
      expect(await request(page, { kind: 'debug', action: 'blockStorage' })).toEqual({ kind: 'ok' });
      await events(page);
      expect(await request(page, { kind: 'train', action: 'step', steps: 3 })).toEqual({ kind: 'ok' });
      const blocked = await events(page);
      expect(stepsOf(blocked).map((x) => x.step)).toEqual([1, 2, 3]);
      const notSaved = blocked.find((e) => e.kind === 'checkpoint');
      if (notSaved?.kind !== 'checkpoint') throw new Error('no checkpoint event');
      expect(notSaved.saved).toBe(false);
      expect(notSaved.message).toMatch(/not being saved/);
      console.log(`[e2e] ${notSaved.message}`);

      // Attention: cropped to the context, unknown characters reported, causal rows summing to 1.
      const att = await page.evaluate(async () => {
        const r = await window.__engine!.request({ kind: 'attention', prompt: 'First Citizen~' });
        return r.kind === 'attention' ? { ...r, probs: Array.from(r.probs) } : r;
      });
      if (att.kind !== 'attention') throw new Error(JSON.stringify(att));
      expect(att.T).toBe(8);
      expect(att.tokens.join('')).toBe(' Citizen');
      expect(att.unknown).toEqual(['~']);
      expect(att.cropped).toBe('First Citizen'.length - 8);
      expect(att.probs).toHaveLength(1 * 2 * 8 * 8);
      for (let h = 0; h < 2; h++) {
        for (let q = 0; q < 8; q++) {
          const row = att.probs.slice((h * 8 + q) * 8, (h * 8 + q + 1) * 8);
          expect(row.slice(0, q + 1).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
          expect(row.slice(q + 1).every((p) => p === 0)).toBe(true);
        }
      }

      // Generation while paused: the same seed gives the same text.
      const sampling = { temperature: 1, topK: 0, topP: 1, greedy: false, seed: 42 };
      await events(page);
      const g1 = await request(page, { kind: 'generate', requestId: 1, prompt: 'First', maxNewTokens: 12, sampling });
      const g2 = await request(page, { kind: 'generate', requestId: 2, prompt: 'First', maxNewTokens: 12, sampling });
      expect(g1).toMatchObject({ kind: 'generated', requestId: 1, stopped: false });
      if (g1.kind !== 'generated' || g2.kind !== 'generated') throw new Error('no generation');
      expect([...g1.text]).toHaveLength(12);
      expect(g2.text).toBe(g1.text);
      const toks = (await events(page)).flatMap((e) => (e.kind === 'token' && e.requestId === 1 ? [e] : []));
      expect(toks.map((t) => t.char).join('')).toBe(g1.text);
      console.log(`[e2e] generated while paused: ${JSON.stringify(g1.text)}`);

      // Generation while training runs: tokens are served between steps; new settings apply, stop ends it.
      expect(await request(page, { kind: 'train', action: 'start' })).toEqual({ kind: 'ok' });
      await waitForEvent(page, 'step');
      await page.evaluate((smp) => {
        (window as unknown as { __gen: Promise<EngineReply> }).__gen = window.__engine!.request({ kind: 'generate', requestId: 3, prompt: 'All', maxNewTokens: 400, sampling: smp });
      }, sampling);
      await page.waitForFunction(() => window.__events!.filter((e) => e.kind === 'token').length >= 3, null, { timeout: 120_000, polling: 50 });
      await request(page, { kind: 'setSampling', sampling: { ...sampling, greedy: true } });
      const afterSetting = await page.evaluate(() => window.__events!.filter((e) => e.kind === 'token').length);
      await page.waitForFunction((n) => window.__events!.filter((e) => e.kind === 'token').length >= n + 3, afterSetting, { timeout: 120_000, polling: 50 });
      await request(page, { kind: 'stopGenerate' });
      const g3 = await page.evaluate(() => (window as unknown as { __gen: Promise<EngineReply> }).__gen);
      expect(g3).toMatchObject({ kind: 'generated', requestId: 3, stopped: true });
      expect(await request(page, { kind: 'train', action: 'pause' })).toEqual({ kind: 'ok' });
      const mixed = await events(page);
      const tokenIdx = mixed.flatMap((e, i) => (e.kind === 'token' ? [i] : []));
      const stepsBetween = mixed.slice(tokenIdx[0], tokenIdx.at(-1)).filter((e) => e.kind === 'step').length;
      console.log(`[e2e] ${tokenIdx.length} tokens generated while training, ${stepsBetween} steps ran between the first and last`);
      expect(stepsBetween).toBeGreaterThan(0);
      const tokens = mixed.flatMap((e) => (e.kind === 'token' ? [e] : []));
      for (const t of tokens.slice(afterSetting + 1)) expect(t.dist.kept.filter(Boolean)).toHaveLength(1);

      // Evaluation and a benchmark that leaves the weights as they were.
      const ev = await request(page, { kind: 'evaluate' });
      expect(ev.kind).toBe('evaluated');
      if (ev.kind === 'evaluated') expect(Number.isFinite(ev.stats.valLoss)).toBe(true);
      const before = await weightsHash(page);
      const bench = await request(page, { kind: 'benchmark', steps: 3 });
      if (bench.kind !== 'benchmark') throw new Error(JSON.stringify(bench));
      console.log(`[e2e] benchmark: ${bench.msPerStep.toFixed(1)} ms/step, ${bench.tokensPerSec.toFixed(0)} tokens/s`);
      expect(bench.msPerStep).toBeGreaterThan(0);
      expect(await weightsHash(page)).toBe(before);
      expect(s.pageErrors).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('a learning rate that blows up pauses with a sentence and rolls the weights back', async () => {
    const s = await launch();
    const { page } = s;
    try {
      await openEngine(page, s.url);
      // Unusable configs and texts are refused with sentences before anything is allocated.
      const bad = await request(page, { kind: 'load', corpusName: 'e2e text', text: TEXT, model: { ...MODEL, nEmbd: 15 }, train: TRAIN });
      expect(bad.kind).toBe('invalid');
      if (bad.kind === 'invalid') expect(bad.problems.join(' ')).toMatch(/divisible by the number of heads/);
      const short = await request(page, { kind: 'load', corpusName: 'tiny', text: 'abcdefghij', model: MODEL, train: TRAIN });
      expect(short.kind).toBe('invalid');
      if (short.kind === 'invalid') expect(short.problems.join(' ')).toMatch(/too short/);
      expect(await request(page, { kind: 'train', action: 'start' })).toMatchObject({ kind: 'error' });

      const wild: TrainConfig = { ...TRAIN, learningRate: 1, weightDecay: 10, gradClip: 0, checkpointInterval: 0, evalInterval: 1000 };
      expect((await request(page, { kind: 'load', corpusName: 'e2e text', text: TEXT, model: MODEL, train: wild })).kind).toBe('loaded');
      expect(await request(page, { kind: 'train', action: 'step', steps: 2 })).toEqual({ kind: 'ok' });
      const atCheckpoint = await weightsHash(page);
      await events(page);
      expect(await request(page, { kind: 'train', action: 'start' })).toEqual({ kind: 'ok' });
      await waitForEvent(page, 'nonFinite');
      await page.waitForFunction(() => window.__events!.some((e) => e.kind === 'trainState' && e.state === 'paused'), null, { timeout: 60_000 });
      const evs = await events(page);
      const nf = evs.find((e) => e.kind === 'nonFinite');
      if (nf?.kind !== 'nonFinite') throw new Error('no nonFinite event');
      console.log(`[e2e] ${nf.message}`);
      expect(nf.message).toMatch(/learning rate/);
      expect(nf.rolledBackTo).toBe(2);
      expect(finiteNumbers(evs)).toBe(true);
      expect(await weightsHash(page)).toBe(atCheckpoint);
      expect(s.pageErrors).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('after the GPU device is lost, training continues on a new device from the last checkpoint', async () => {
    const s = await launch();
    const { page } = s;
    try {
      await openEngine(page, s.url);
      const train: TrainConfig = { ...TRAIN, checkpointInterval: 4, evalInterval: 1000 };
      expect((await request(page, { kind: 'load', corpusName: 'e2e text', text: TEXT, model: MODEL, train })).kind).toBe('loaded');
      expect(await request(page, { kind: 'train', action: 'start' })).toEqual({ kind: 'ok' });
      await page.waitForFunction(() => window.__events!.filter((e) => e.kind === 'step').length >= 6, null, { timeout: 300_000, polling: 100 });
      expect(await request(page, { kind: 'debug', action: 'loseDevice' })).toEqual({ kind: 'ok' });
      await waitForEvent(page, 'deviceLost', 60_000);
      await page.waitForFunction(() => window.__events!.some((e) => e.kind === 'trainState' && e.state === 'error'), null, { timeout: 60_000 });
      const before = await events(page);
      const lostAt = before.find((e) => e.kind === 'trainState' && e.state === 'error');
      console.log(`[e2e] after loss: ${lostAt?.kind === 'trainState' ? lostAt.message : ''}`);
      const checkpointed = Math.max(...before.flatMap((e) => (e.kind === 'checkpoint' && e.saved ? [e.step] : [0])));

      expect(await request(page, { kind: 'train', action: 'resume' })).toEqual({ kind: 'ok' });
      await page.waitForFunction(() => window.__events!.filter((e) => e.kind === 'step').length >= 3, null, { timeout: 300_000, polling: 100 });
      expect(await request(page, { kind: 'train', action: 'pause' })).toEqual({ kind: 'ok' });
      const after = await events(page);
      const history = after.find((e) => e.kind === 'history');
      if (history?.kind !== 'history') throw new Error('no history event after the restore');
      const restoredAt = history.lossHistory.at(-1)?.step ?? 0;
      expect(restoredAt).toBe(checkpointed);
      const st = stepsOf(after);
      expect(st[0].step).toBe(restoredAt + 1);
      for (let i = 1; i < st.length; i++) expect(st[i].step).toBe(st[i - 1].step + 1);
      expect(finiteNumbers(after)).toBe(true);
      expect(s.pageErrors).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
