// Training the open run: the page's train actions (start, pause, step, stop,
// reset), more steps on a finished run, and an evaluation on demand. The loop
// itself is the Trainer (../trainer.ts).
import { NOT_LOADED, type Engine } from '../engine';
import type { EngineReply, EngineRequest } from '../protocol';
import { newIdentity } from '../runs';
import { recover } from './device';
import { ensureWriter } from './tabs';

type Request<K extends EngineRequest['kind']> = Extract<EngineRequest, { kind: K }>;

export async function train(engine: Engine, request: Request<'train'>): Promise<EngineReply> {
  if (!engine.run) return NOT_LOADED;
  const busy = request.action !== 'pause' && request.action !== 'stop' ? engine.dpoBusy() : null;
  if (busy) return busy;
  const refused = request.action !== 'pause' && request.action !== 'stop' && request.action !== 'reset' ? await ensureWriter(engine) : null;
  if (refused) return refused;
  await recover(engine);
  const run = engine.run;
  if (request.action === 'reset') {
    // The run trained so far stays stored as it is: a reset run is a new run with the same setup.
    const t = run.trainer;
    await t.reset(run.initialParams, run.initialAdapters);
    if (t.savedStepOf() >= 0) t.setup = { ...t.setup, run: await newIdentity(engine, t.setup.run.name.replace(/ \d+$/, ''), t.setup.run.preset) };
    engine.clearTimeline();
    return { kind: 'ok' };
  }
  const problem = await run.trainer.action(request.action, request.steps);
  return problem ? { kind: 'error', message: problem } : { kind: 'ok' };
}

/** Train `steps` more steps on, past the run's end. */
export async function continueRun(engine: Engine, request: Request<'continueRun'>): Promise<EngineReply> {
  if (!engine.run) return NOT_LOADED;
  const busy = engine.dpoBusy();
  if (busy) return busy;
  const refused = await ensureWriter(engine);
  if (refused) return refused;
  await recover(engine);
  const problem = await engine.run.trainer.extend(request.steps);
  return problem ? { kind: 'error', message: problem } : { kind: 'ok' };
}

export async function evaluate(engine: Engine): Promise<EngineReply> {
  if (!engine.run) return NOT_LOADED;
  await recover(engine);
  const stats = await engine.run.trainer.evaluate();
  return stats ? { kind: 'evaluated', stats } : { kind: 'error', message: 'The evaluation gave a non-finite loss; the weights were rolled back.' };
}
