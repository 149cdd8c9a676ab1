// Which handler answers each request of the protocol (protocol.ts). Every
// request kind has exactly one entry (the type below makes a missing one a
// compile error); a handler receives the engine's state and its request.
import type { Engine } from './engine';
import { benchmark } from './jobs/benchmark';
import { debug, init, selfCheck, stats } from './jobs/device';
import { continueRun, evaluate, train } from './jobs/training';
import { insights } from './jobs/insights';
import { circuits, setAblations } from './jobs/circuits';
import { mergeLora, setLoraStrength, startLora } from './jobs/lora';
import { startDpo, stopDpo } from './jobs/dpo';
import { duplicateRun } from './jobs/tabs';
import { warmUp } from './jobs/warmUp';
import { attention, generate, setSampling, stopGenerate } from './jobs/views';
import type { EngineReply, EngineRequest } from './protocol';
import { exportAdapter, exportCheckpoint, importAdapter, importCheckpoint } from './runFiles';
import { discardSavedRun, listRuns, load, renameRun, resume, runCorpus, savedRun } from './runs';

type Kind = EngineRequest['kind'];
type Handler<K extends Kind> = (engine: Engine, request: Extract<EngineRequest, { kind: K }>) => EngineReply | Promise<EngineReply>;

const handlers: { [K in Kind]: Handler<K> } = {
  // the device
  init,
  selfCheck,
  stats,
  debug,
  warmUp,
  // runs: open, store, files
  load,
  savedRun,
  listRuns,
  runCorpus,
  renameRun,
  resume,
  discardSavedRun,
  duplicateRun,
  exportCheckpoint,
  importCheckpoint,
  // training and the views on the current weights
  train,
  continueRun,
  evaluate,
  benchmark,
  attention,
  generate,
  setSampling,
  stopGenerate,
  insights,
  circuits,
  setAblations,
  // fine-tuning
  startLora,
  setLoraStrength,
  mergeLora,
  exportAdapter,
  importAdapter,
  startDpo,
  stopDpo,
};

/**
 * Requests served while background work (an import's evaluation) runs: views
 * on the current weights and reads. Every other request waits for it, so
 * training never starts under an evaluation and no result is lost.
 */
const SERVED_MEANWHILE = new Set<Kind>(['init', 'selfCheck', 'stats', 'debug', 'savedRun', 'listRuns', 'runCorpus', 'attention', 'generate', 'setSampling', 'stopGenerate', 'insights', 'exportCheckpoint', 'exportAdapter', 'stopDpo']);

/** The engine's answer to one request. */
export async function route(engine: Engine, request: EngineRequest): Promise<EngineReply> {
  const handler = handlers[request.kind] as Handler<Kind> | undefined;
  if (!handler) return { kind: 'error', message: `The engine cannot handle '${(request as { kind: string }).kind}'.` };
  if (!SERVED_MEANWHILE.has(request.kind)) await engine.settled();
  return handler(engine, request);
}
