import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, DEFAULT_TRAIN, type TrainConfig } from '../../src/model/config';
import { CharTokenizer } from '../../src/model/tokenizer';
import { splitCorpus } from '../../src/model/data';
import type { RunCheckpoint } from '../../src/engine/checkpointStore';
import type { EngineEvent, StepStats } from '../../src/engine/protocol';
import { Serial } from '../../src/engine/serial';
import { Trainer } from '../../src/engine/trainer';
import { BigramModel } from './engine-fakeModel';

const TEXT = 'the cat sat on the mat. the dog sat on the log. '.repeat(12);

function setup(over: Partial<TrainConfig> = {}) {
  const tok = CharTokenizer.fromText(TEXT);
  const { train, val } = splitCorpus(tok.encode(TEXT).ids, 8);
  const config = { ...DEFAULT_MODEL, nLayer: 1, nHead: 1, nEmbd: 4, blockSize: 8, vocabSize: tok.size };
  const trainCfg: TrainConfig = {
    ...DEFAULT_TRAIN,
    batchSize: 4,
    maxSteps: 40,
    learningRate: 0.05,
    weightDecay: 0,
    evalInterval: 10,
    evalIters: 2,
    checkpointInterval: 10,
    ...over,
  };
  const model = new BigramModel(config, trainCfg.batchSize);
  const events: EngineEvent[] = [];
  const saved: RunCheckpoint[] = [];
  const serial = new Serial();
  const trainer = new Trainer(
    model,
    { run: { id: 'run-test', name: 'test', preset: '', createdAt: 0, notes: '' }, corpus: { name: 'test', builtIn: false, text: TEXT }, vocab: tok.vocab, train: trainCfg, trainTokens: train, valTokens: val },
    serial,
    {
      emit: (e) => events.push(e),
      save: async (r) => {
        saved.push(r);
        return { saved: true };
      },
    },
  );
  return { model, trainer, events, saved, serial, config, trainCfg };
}

const steps = (events: EngineEvent[]): StepStats[] => events.flatMap((e) => (e.kind === 'step' ? [e.stats] : []));

function allNumbersFinite(events: EngineEvent[]): boolean {
  const walk = (x: unknown): boolean =>
    typeof x === 'number' ? Number.isFinite(x) : typeof x === 'object' && x !== null ? Object.values(x).every(walk) : true;
  return events.filter((e) => e.kind === 'step' || e.kind === 'eval').every(walk);
}

describe('the training loop', () => {
  it('trains to the last step with one step in flight, finite and decreasing loss, evals and checkpoints', async () => {
    const { model, trainer, events, saved } = setup();
    await trainer.snapshot();
    expect(await trainer.action('start')).toBeNull();
    await trainer.settle();
    const s = steps(events);
    expect(s.map((x) => x.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(allNumbersFinite(events)).toBe(true);
    const first = s.slice(0, 5).reduce((a, x) => a + x.loss, 0) / 5;
    const last = s.slice(-5).reduce((a, x) => a + x.loss, 0) / 5;
    expect(last).toBeLessThan(first * 0.8);
    for (const x of s) {
      expect(x.ms).toBeGreaterThan(0);
      expect(x.tokensPerSec).toBeGreaterThan(0);
      expect(x.lr).toBe(0.05);
    }
    // One step submitted behind the one being read back, never more.
    expect(model.maxPending).toBe(2);
    expect(model.stepsRun).toBe(40);
    const evals = events.flatMap((e) => (e.kind === 'eval' ? [e.stats.step] : []));
    // The untrained model is evaluated first (nanoGPT's iter 0), then at every interval.
    expect(evals).toEqual([0, 10, 20, 30, 40]);
    // A character run: one token per character, so bits per character = loss / ln 2.
    for (const e of events) if (e.kind === 'eval') expect(e.stats.valBpc).toBeCloseTo(e.stats.valLoss / Math.LN2, 10);
    expect(saved.map((r) => r.step)).toEqual([10, 20, 30, 40]);
    expect(trainer.state).toBe('done');
    expect(events.at(-1)).toMatchObject({ kind: 'trainState', state: 'done', step: 40 });
    // The saved weights are the weights after exactly that many steps.
    expect(saved.at(-1)!.params).toEqual(model.params);
  });

  it('pauses with a checkpoint and resumes bit-identically to an uninterrupted run', async () => {
    const straight = setup({ checkpointInterval: 0, evalInterval: 1000 });
    await straight.trainer.action('step', 12);
    const want = steps(straight.events).map((x) => x.loss);
    expect(want).toHaveLength(12);

    const first = setup({ checkpointInterval: 0, evalInterval: 1000 });
    await first.trainer.action('step', 5);
    expect(first.trainer.state).toBe('paused');
    const ckpt = first.saved.at(-1)!;
    expect(ckpt.step).toBe(5);

    const second = setup({ checkpointInterval: 0, evalInterval: 1000 });
    second.trainer.restore(ckpt);
    expect(second.trainer.step).toBe(5);
    expect(second.model.params).toEqual(first.model.params);
    await second.trainer.action('step', 7);
    const got = [...steps(first.events), ...steps(second.events)].map((x) => x.loss);
    expect(got).toEqual(want);
    expect(steps(second.events)[0].step).toBe(6);
  });

  it('"train N more steps" on a finished run continues exactly: steps, learning rates, sampler and curves', async () => {
    const cosine = { lrDecay: true, warmupSteps: 3, minLr: 0.005, checkpointInterval: 0, evalInterval: 1000 };
    // Uninterrupted: 18 steps whose cosine ends at step 12, as a continued 12-step run keeps it.
    const straight = setup({ ...cosine, maxSteps: 18, lrDecaySteps: 12 });
    await straight.trainer.action('start');
    await straight.trainer.settle();
    const want = steps(straight.events);

    const run = setup({ ...cosine, maxSteps: 12 });
    await run.trainer.action('start');
    await run.trainer.settle();
    expect(run.trainer.state).toBe('done');
    expect(await run.trainer.action('start')).toMatch(/Training is done/);
    expect(await run.trainer.extend(6)).toBeNull();
    await run.trainer.settle();
    expect(run.trainer.state).toBe('done');
    expect(run.trainer.setup.train).toMatchObject({ maxSteps: 18, lrDecaySteps: 12 });
    const got = steps(run.events);
    expect(got.map((x) => x.step)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    expect(got.map((x) => [x.loss, x.lr])).toEqual(want.map((x) => [x.loss, x.lr]));
    expect(got.slice(12).every((x) => x.lr === 0.005)).toBe(true);
    // One unbroken curve, and the checkpoint records the new end.
    expect(run.trainer.lossHistory.map((p) => p.step)).toEqual(got.map((x) => x.step));
    expect(run.saved.at(-1)).toMatchObject({ step: 18, train: { maxSteps: 18, lrDecaySteps: 12 } });
  });

  it('pause stops a running loop at a consistent step', async () => {
    const { trainer, events, saved, model } = setup({ maxSteps: 1000, checkpointInterval: 0, evalInterval: 1000 });
    trainer.action('start');
    while (steps(events).length < 6) await new Promise((r) => setTimeout(r, 2));
    await trainer.action('pause');
    expect(trainer.state).toBe('paused');
    expect(saved.at(-1)!.step).toBe(trainer.step);
    expect(saved.at(-1)!.params).toEqual(model.params);
    expect(model.pending).toBe(0);
    expect(steps(events).at(-1)!.step).toBe(trainer.step);
  });

  it('a learning rate that blows up pauses, says what to do, and rolls back to the last finite checkpoint', async () => {
    const { trainer, events, model } = setup({ learningRate: 1e6, weightDecay: 0.1, maxSteps: 200, checkpointInterval: 0, evalInterval: 1000 });
    await trainer.snapshot();
    const initial = model.params.slice();
    await trainer.action('start');
    await trainer.settle();
    const nf = events.find((e) => e.kind === 'nonFinite');
    expect(nf).toBeDefined();
    if (nf?.kind === 'nonFinite') {
      expect(nf.message).toMatch(/Lower the learning rate/);
      expect(nf.rolledBackTo).toBe(0);
    }
    expect(trainer.state).toBe('paused');
    expect(trainer.step).toBe(0);
    expect(model.params).toEqual(initial);
    expect(allNumbersFinite(events)).toBe(true);
    expect(events.some((e) => e.kind === 'history')).toBe(true);
  });

  it('serves other GPU work between training steps', async () => {
    const { trainer, events, serial, model } = setup({ maxSteps: 1000, checkpointInterval: 0, evalInterval: 1000 });
    trainer.action('start');
    while (steps(events).length < 3) await new Promise((r) => setTimeout(r, 2));
    const before = trainer.step;
    const logits = await serial.run(() => model.logits(Int32Array.of(1)));
    expect(logits.length).toBe(model.config.vocabSize);
    expect(trainer.running).toBe(true);
    while (steps(events).length < before + 3) await new Promise((r) => setTimeout(r, 2));
    await trainer.action('pause');
    expect(trainer.step).toBeGreaterThan(before);
  });

  it('after the model is lost, continues on a new one from the last snapshot', async () => {
    const { trainer, events, config, trainCfg } = setup({ maxSteps: 1000, checkpointInterval: 5, evalInterval: 1000 });
    await trainer.snapshot();
    trainer.action('start');
    while (steps(events).length < 12) await new Promise((r) => setTimeout(r, 2));
    trainer.model.destroy();
    trainer.abort();
    await trainer.settle();
    const snapStep = trainer.lastGood!.step;
    expect(snapStep).toBeGreaterThanOrEqual(10);
    const fresh = new BigramModel(config, trainCfg.batchSize, 99);
    trainer.adoptModel(fresh);
    expect(trainer.step).toBe(snapStep);
    expect(fresh.params).toEqual(trainer.lastGood!.state.params);
    expect(trainer.lossHistory.at(-1)!.step).toBe(snapStep);
    await trainer.action('step', 3);
    expect(steps(events).at(-1)!.step).toBe(snapStep + 3);
  });
});
