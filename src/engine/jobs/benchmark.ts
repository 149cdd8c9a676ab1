// The benchmark: N training steps of the open run's config timed after one
// warm-up step, then one more step with each dispatch timed by timestamp
// queries; the weights are put back afterwards. The steps go through the
// run's Trainer (Trainer.timeSteps), with the run's settings from stepHyper.
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
  const t = r.trainer;
  const model = t.model;
  const train = t.setup.train;
  const saved = await serial.run(() => model.readState());
  try {
    return await serial.run(async () => {
      // One more step, each dispatch timed in a pass of its own.
      const { gpu, profiler } = device;
      const { msPerStep: ms, last: timed } = await t.timeSteps(steps, (step) => (gpu && profiler ? profiler.profile(gpu, step) : Promise.resolve(null)));
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
