// Runs shared by the tabs of one browser: training waits for the run to be
// this tab's to write (ownership.ts), and a run another tab has can be copied
// into a new run this tab owns ("Duplicate to train here").
import type { Engine } from '../engine';
import { runKey } from '../insights';
import { OWNED_ELSEWHERE } from '../ownership';
import type { EngineReply, EngineRequest } from '../protocol';
import { newIdentity, resume } from '../runs';

type Request<K extends EngineRequest['kind']> = Extract<EngineRequest, { kind: K }>;

/**
 * Null when this tab may train the open run: it owns it, or the tab that had it
 * let it go (then the run first catches up with what that tab stored last).
 * Otherwise the refusal, as a sentence.
 */
export async function ensureWriter(engine: Engine): Promise<EngineReply | null> {
  const run = engine.run;
  if (!run) return null;
  const t = run.trainer;
  const id = t.setup.run.id;
  if (engine.owners.owns(id)) return null;
  if (!(await engine.owners.claim(id))) return { kind: 'error', message: OWNED_ELSEWHERE };
  const stored = await engine.store.load(id);
  if (stored && (stored.revision ?? 0) !== engine.owners.revisionOf(id)) {
    t.setup = { ...t.setup, run: stored.run ?? t.setup.run, train: stored.train };
    await engine.serial.run(() => t.restore(stored));
    engine.owners.setRevision(id, stored.revision ?? 0);
    engine.emit({ kind: 'trainState', state: t.state, step: t.step, maxSteps: t.setup.train.maxSteps });
    t.emitHistory();
  }
  return null;
}

/** Copy a stored run (as last saved, by whichever tab) to a new run, and open the copy here. */
export async function duplicateRun(engine: Engine, request: Request<'duplicateRun'>): Promise<EngineReply> {
  const saved = await engine.store.load(request.id);
  if (!saved?.run) return { kind: 'error', message: 'That run is not stored in this browser (any more), so it cannot be duplicated.' };
  const identity = await newIdentity(engine, `${saved.run.name} (copy)`, saved.run.preset);
  const copy = { ...saved, run: { ...identity, notes: saved.run.notes }, revision: undefined, savedAt: Date.now() };
  const written = await engine.store.save(copy);
  if (!written.saved) return { kind: 'error', message: written.message };
  await engine.timelineStore.save(identity.id, await engine.timelineStore.load(runKey(saved)));
  return resume(engine, { kind: 'resume', id: identity.id, text: request.text });
}
