// Interventions on the open run (../../model/interventions.ts, patching.ts,
// attribution.ts): the ablation grid on a fixed validation batch, direct
// logit attribution and activation patching on texts the page gives, and live
// head ablations in sampling and the attention views. Live ablations belong to
// the run (Run.ablations): recover() re-applies them when its model is rebuilt
// on a new device, and a newly opened run starts with none.
import { BatchSampler } from '../../model/data';
import { directLogitAttribution } from '../../model/attribution';
import { ablationGrid, ablationHooks, ablationProblem } from '../../model/interventions';
import { activationPatching } from '../../model/patching';
import { NOT_LOADED, type Engine } from '../engine';
import { canIntervene } from '../model';
import type { CircuitsJob, CircuitsResult, EngineReply, EngineRequest } from '../protocol';
import type { Run } from '../runs';
import { recover } from './device';

type Request<K extends EngineRequest['kind']> = Extract<EngineRequest, { kind: K }>;

/** The seed of the ablation grid's validation batch: the same batch at every request. */
const GRID_SEED = 0x9a1d;

/** A text as token ids, or the sentence that says which characters the model has never seen. */
function encodeAll(r: Run, text: string, what: string): Int32Array | string {
  const { ids, unknown } = r.tokenizer.encode(text);
  if (unknown.length) return `${what} has characters this model has never seen: ${unknown.map((c) => JSON.stringify(c)).join(', ')}.`;
  if (!ids.length) return `${what} is empty.`;
  return ids;
}

/** One token given as text, or the sentence that says why it is not one. */
function oneToken(r: Run, text: string, what: string): number | string {
  const { ids, unknown } = r.tokenizer.encode(text);
  if (unknown.length || ids.length !== 1) {
    return `The ${what} token ${JSON.stringify(text)} is outside the vocabulary: it must be exactly one of the model's ${r.tokenizer.vocab.length} tokens.`;
  }
  return ids[0];
}

async function compute(engine: Engine, r: Run, job: CircuitsJob): Promise<CircuitsResult | string> {
  const model = r.trainer.model;
  const gpu = engine.device.gpu;
  if (!canIntervene(model) || !gpu) return 'This model cannot run interventions.';
  const step = r.trainer.step;
  const show = (ids: ArrayLike<number>) => Array.from(ids, (id) => r.tokenizer.vocab[id] ?? '?');
  if (job.what === 'grid') {
    const sampler = new BatchSampler(r.trainer.setup.valTokens, model.batchSize, r.config.blockSize, GRID_SEED);
    const grid = await engine.serial.run(() => ablationGrid(gpu, model, sampler.next(), job.mode));
    return { what: 'grid', step, mode: grid.mode, clean: grid.clean, deltas: grid.deltas, L: grid.L, H: grid.H };
  }
  if (job.what === 'attribution') {
    const ids = encodeAll(r, job.text, 'The prompt');
    if (typeof ids === 'string') return ids;
    if (ids.length > r.config.blockSize) return `The prompt holds ${ids.length} tokens but the context is ${r.config.blockSize}; shorten it.`;
    // Positions count tokens (on a run on tokens a prompt has fewer than it has characters); none given: the last.
    const pos = job.pos ?? ids.length - 1;
    if (!(Number.isInteger(pos) && pos >= 0 && pos < ids.length)) return `Position ${pos} is beyond the prompt: it has positions 0 to ${ids.length - 1}.`;
    const target = oneToken(r, job.target, 'target');
    if (typeof target === 'string') return target;
    const other = job.other === undefined || job.other === '' ? undefined : oneToken(r, job.other, 'other');
    if (typeof other === 'string') return other;
    const a = await engine.serial.run(() => directLogitAttribution(gpu, model, { ids, pos, target, other }));
    return { what: 'attribution', step, tokens: show(ids), pos, names: a.names, contributions: Array.from(a.contributions), sum: a.sum, logit: a.logit, difference: a.difference, normBias: a.normBias };
  }
  const clean = encodeAll(r, job.clean, 'The clean prompt');
  if (typeof clean === 'string') return clean;
  const corrupted = encodeAll(r, job.corrupted, 'The corrupted prompt');
  if (typeof corrupted === 'string') return corrupted;
  const target = oneToken(r, job.target, 'target');
  if (typeof target === 'string') return target;
  const other = oneToken(r, job.other, 'other');
  if (typeof other === 'string') return other;
  const p = await engine.serial.run(() => activationPatching(gpu, model, { clean, corrupted, target, other }));
  return { what: 'patching', step, tokens: show(clean), corruptedTokens: show(corrupted), ...p };
}

export async function circuits(engine: Engine, request: Request<'circuits'>): Promise<EngineReply> {
  if (!engine.run) return NOT_LOADED;
  await recover(engine);
  try {
    const result = await compute(engine, engine.run, request.job);
    return typeof result === 'string' ? { kind: 'error', message: result } : { kind: 'circuits', result };
  } catch (e) {
    // The model's own checks (lengths, vocabulary, nothing to restore) speak in sentences.
    return { kind: 'error', message: e instanceof Error ? e.message : String(e) };
  }
}

export async function setAblations(engine: Engine, request: Request<'setAblations'>): Promise<EngineReply> {
  if (!engine.run) return NOT_LOADED;
  await recover(engine);
  const r = engine.run;
  if (!canIntervene(r.trainer.model)) return { kind: 'error', message: 'This model cannot run interventions.' };
  if (request.ablations.some((a) => a.kind !== 'head' || a.mode !== 'zero')) {
    return { kind: 'error', message: 'Live ablations zero-ablate single heads; whole sublayers and mean ablations are for the grid.' };
  }
  const problem = ablationProblem(r.config, request.ablations);
  if (problem) return { kind: 'error', message: problem };
  const model = r.trainer.model;
  r.ablations = request.ablations.slice();
  model.viewHooks = r.ablations.length ? ablationHooks(engine.device.gpu!, r.config, r.ablations, model.hooked().scratch) : null;
  return { kind: 'ok' };
}
