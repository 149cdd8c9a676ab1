// The benchmark: N training steps of the open run's config timed after one
// warm-up step, then one more step with each dispatch timed by timestamp
// queries; the weights are put back afterwards.
import { BatchSampler } from '../../model/data';
import { groupTimes, NO_TIMESTAMPS } from '../../gpu/profiler';
import { NOT_LOADED, type Engine } from '../engine';
import type { EngineReply, EngineRequest } from '../protocol';
import type { Run } from '../runs';
import { recover } from './device';

export async function benchmark(engine: Engine, request: Extract<EngineRequest, { kind: 'benchmark' }>): Promise<EngineReply> {
  if (!engine.run) return NOT_LOADED;
  await recover(engine);
  if (engine.run.trainer.running) return { kind: 'error', message: 'Pause training before running the benchmark.' };
  return timeSteps(engine, engine.run, Math.max(1, Math.floor(request.steps)));
}

/** Time N training steps of the current config (after one warm-up step), then put the weights back. */
async function timeSteps(engine: Engine, r: Run, steps: number): Promise<EngineReply> {
  const { serial, device } = engine;
  const model = r.trainer.model;
  const train = r.trainer.setup.train;
  const saved = await serial.run(() => model.readState());
  const sampler = new BatchSampler(r.trainer.setup.trainTokens, train.batchSize, r.config.blockSize, train.seed ^ 0xbe4c);
  // The run's own step settings at a constant learning rate; AdamW's count t from 1.
  const hyper = (t: number) => ({
    lr: train.learningRate,
    beta1: train.beta1,
    beta2: train.beta2,
    eps: train.eps,
    weightDecay: train.weightDecay,
    gradClip: train.gradClip,
    t,
    dropoutSeed: t,
  });
  try {
    return await serial.run(async () => {
      await model.step(sampler.next(), hyper(1));
      await model.finish();
      const t0 = performance.now();
      let last: Promise<unknown> = Promise.resolve();
      for (let i = 0; i < steps; i++) last = model.step(sampler.next(), hyper(i + 2));
      await last;
      await model.finish();
      const ms = (performance.now() - t0) / steps;
      // One more step, each dispatch timed in a pass of its own.
      const { gpu, profiler } = device;
      const timed = gpu && profiler ? await profiler.profile(gpu, () => model.step(sampler.next(), hyper(steps + 2))) : null;
      return {
        kind: 'benchmark',
        steps,
        msPerStep: ms,
        tokensPerSec: (train.batchSize * r.config.blockSize * 1000) / ms,
        kernels: timed ? groupTimes(timed) : null,
        kernelNote: timed
          ? `GPU time of each of one step's ${timed.length} dispatches (timestamp queries, one compute pass per dispatch while profiling), summed by group.`
          : NO_TIMESTAMPS,
      } satisfies EngineReply;
    });
  } finally {
    await serial.run(() => model.writeState(saved));
  }
}
