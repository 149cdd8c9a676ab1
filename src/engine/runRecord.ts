// A run's story inside its model file, so an import tells the same story as
// the run it came from: our checkpoint export writes the run's step, step
// budget, curves, wall time and throughput as JSON under the safetensors
// metadata key `playground_run`; a nanoGPT checkpoint converted by
// nanogpt/ckpt_to_playground.py carries nanoGPT's `iter_num` (and `max_iters`).
import type { EvalStats, LossPoint } from './protocol';
import type { Trainer } from './trainer';

export const RUN_KEY = 'playground_run';

/** What a model file says about the run it was exported from. */
export interface FileRun {
  /** Steps the weights have taken. */
  step: number;
  /** The run's step budget (its maxSteps), when the file knows it. */
  maxSteps: number | null;
  name: string | null;
  lossHistory: LossPoint[];
  evalHistory: EvalStats[];
  wallMs: number;
  tokensPerSec: number;
}

/** The `playground_run` metadata of a run at `step` (its curves up to there). */
export function runMetadata(t: Trainer, step: number): Record<string, string> {
  const record = {
    name: t.setup.run.name,
    step,
    maxSteps: t.setup.train.maxSteps,
    wallMs: t.wallMs,
    tokensPerSec: t.tokensPerSec,
    lossHistory: t.lossHistory.filter((p) => p.step <= step),
    evalHistory: t.evalHistory.filter((p) => p.step <= step),
  };
  return { [RUN_KEY]: JSON.stringify(record) };
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function lossPoints(x: unknown): LossPoint[] | null {
  if (!Array.isArray(x)) return null;
  const ok = x.every((p) => p && isCount(p.step) && finite(p.loss) && (p.time === undefined || finite(p.time)));
  return ok ? (x as LossPoint[]) : null;
}

function evalPoints(x: unknown): EvalStats[] | null {
  if (!Array.isArray(x)) return null;
  const ok = x.every((p) => p && isCount(p.step) && finite(p.trainLoss) && finite(p.valLoss));
  return ok ? (x as EvalStats[]) : null;
}

/**
 * The run a model file describes, from our `playground_run` record or
 * nanoGPT's `iter_num`; null when the file says nothing of it. Throws a
 * sentence when the record is there but malformed.
 */
export function readFileRun(metadata: Record<string, string> | undefined): FileRun | null {
  if (!metadata) return null;
  const raw = metadata[RUN_KEY];
  if (raw !== undefined) {
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      throw new Error(`The file's "${RUN_KEY}" metadata is not valid JSON.`);
    }
    const lossHistory = lossPoints(r?.lossHistory);
    const evalHistory = evalPoints(r?.evalHistory);
    if (!r || typeof r !== 'object' || !isCount(r.step) || !lossHistory || !evalHistory) {
      throw new Error(`The file's "${RUN_KEY}" metadata needs a whole-number step and its loss curves (lists of finite points).`);
    }
    return {
      step: r.step,
      maxSteps: isCount(r.maxSteps) && r.maxSteps > 0 ? r.maxSteps : null,
      name: typeof r.name === 'string' ? r.name : null,
      lossHistory: lossHistory.filter((p) => p.step <= (r.step as number)),
      evalHistory: evalHistory.filter((p) => p.step <= (r.step as number)),
      wallMs: finite(r.wallMs) && r.wallMs >= 0 ? r.wallMs : 0,
      tokensPerSec: finite(r.tokensPerSec) && r.tokensPerSec >= 0 ? r.tokensPerSec : 0,
    };
  }
  if (metadata.iter_num !== undefined) {
    const step = Number(metadata.iter_num);
    if (!isCount(step)) throw new Error(`The file's "iter_num" metadata (${metadata.iter_num}) is not a whole number of steps.`);
    const max = Number(metadata.max_iters);
    return { step, maxSteps: isCount(max) && max > 0 ? max : null, name: null, lossHistory: [], evalHistory: [], wallMs: 0, tokensPerSec: 0 };
  }
  return null;
}
