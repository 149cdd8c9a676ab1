// The inspection timeline and inspection requests: after each evaluation the
// open run is inspected on the start of its validation split (a snapshot for
// the timeline, ../insights.ts), and the page may inspect it on any text.
import { NOT_LOADED, type Engine } from '../engine';
import { inContextLearning, inspectModel, PROBE_CHARS } from '../insights';
import { canProbe } from '../model';
import type { EngineReply, EngineRequest } from '../protocol';
import type { Run } from '../runs';
import { unknownSentence } from '../../model/runTokenizer';
import { recover } from './device';

/** The timeline's probe: the start of the validation split, as long as the context allows. */
function probeIds(r: Run): Int32Array {
  return r.trainer.setup.valTokens.slice(0, Math.min(r.config.blockSize, PROBE_CHARS));
}

/** Each token's share of the text, as the run's tokenizer decodes it. */
const texts = (r: Run) => (ids: number[]) => r.tokenizer.tokenTexts(ids);

/** A timeline snapshot of the open run at `step` (called after each evaluation, weights at that step). */
export async function snapshotAt(engine: Engine, step: number): Promise<void> {
  const r = engine.run;
  if (!r) return;
  const model = r.trainer.model;
  if (!canProbe(model)) return;
  const insights = await inspectModel(model, engine.serial, r.tokenizer.vocab, probeIds(r), { step, source: 'eval', cropped: 0, unknown: [] }, texts(r));
  const icl = await inContextLearning(model, engine.serial, r.trainer.setup.valTokens);
  if (icl) insights.icl = icl;
  engine.timeline.add(insights);
  engine.emit({ kind: 'snapshot', insights });
}

/** Inspect the open run on a text (default: the timeline's probe), cropped to its context. */
export async function insights(engine: Engine, request: Extract<EngineRequest, { kind: 'insights' }>): Promise<EngineReply> {
  if (!engine.run) return NOT_LOADED;
  await recover(engine);
  const r = engine.run;
  const model = r.trainer.model;
  if (!canProbe(model)) return { kind: 'error', message: 'This model cannot be inspected.' };
  let ids: Int32Array;
  let unknown: string[] = [];
  if (request.text === undefined) ids = probeIds(r);
  else {
    const enc = r.tokenizer.encode(request.text);
    ids = enc.ids;
    unknown = enc.unknown;
    if (unknown.length && r.tokenizer.kind !== 'char') return { kind: 'error', message: unknownSentence(unknown, 'The text') };
  }
  if (!ids.length) return { kind: 'error', message: 'Type a text with characters from the corpus to inspect it.' };
  const T = Math.min(ids.length, r.config.blockSize);
  const insights = await inspectModel(model, engine.serial, r.tokenizer.vocab, ids.slice(0, T), {
    step: r.trainer.step,
    source: 'request',
    cropped: ids.length - T,
    unknown,
  }, texts(r));
  return { kind: 'insights', insights };
}
