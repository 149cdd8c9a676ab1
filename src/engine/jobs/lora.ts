// The LoRA lifecycle: a LoRA fine-tune of the open run on a target text (the
// base frozen, adapters trained), the adapters' strength in the views, and
// merging them into the base as a new run. Adapter files: runFiles.ts.
import { initLora, loraLayout, mergeAdapters, validateLoraConfig, type LoraConfig } from '../../model/lora';
import { NOT_LOADED, type Engine } from '../engine';
import type { EngineReply, EngineRequest } from '../protocol';
import { buildRun, corpusIdentity, forkRun, newIdentity, openNewRun, shapeOf, type Run } from '../runs';
import { baseState, fineTuneInfo } from './fineTune';

type Request<K extends EngineRequest['kind']> = Extract<EngineRequest, { kind: K }>;

function loraProblems(base: Run, lora: LoraConfig): string[] {
  const problems = validateLoraConfig(lora, base.config);
  if (base.lora) problems.push('The open run is a LoRA fine-tune already: merge its adapters into a new run, then fine-tune that.');
  return problems;
}

/** A new run: the open run's weights frozen, fresh adapters to train on the target text. */
export async function startLora(engine: Engine, request: Request<'startLora'>): Promise<EngineReply> {
  if (!engine.run) return NOT_LOADED;
  const busy = engine.dpoBusy();
  if (busy) return busy;
  const base = engine.run;
  const problems = loraProblems(base, request.lora);
  const unknown = base.tokenizer.encodeProblem(request.text, 'The target text');
  if (unknown) problems.push(unknown);
  if (problems.length) return { kind: 'invalid', problems };
  const state = await baseState(engine, base);
  const layout = loraLayout(base.config, request.lora);
  const info = fineTuneInfo('lora', base, layout, request.train.batchSize);
  const identity = await newIdentity(engine, request.runName || `LoRA of ${base.trainer.setup.run.name} on ${request.corpusName}`, 'lora');
  const corpus = corpusIdentity(request.corpusName, request.text, request.builtIn);
  const built = await buildRun(engine, identity, corpus, request.text, shapeOf(base.config), request.train, {
    // The target text is read with the base's tokenizer (characters, or its tokens).
    ...(base.tokenizer.kind === 'char' ? { vocab: base.tokenizer.vocab } : { tokenizer: base.tokenizer }),
    params: state.params,
    lora: { layout, adapters: initLora(layout, request.train.seed) },
    fineTune: info,
  });
  if ('problems' in built) return { kind: 'invalid', problems: built.problems };
  // Step 0's evaluation is the base model on the target text (B starts at zero).
  return openNewRun(engine, built, { evaluate: true });
}

export function setLoraStrength(engine: Engine, request: Request<'setLoraStrength'>): EngineReply {
  const run = engine.run;
  if (!run?.lora) return { kind: 'error', message: 'The open run has no LoRA adapters.' };
  // Whole hundredths: each strength is a cached uniform of its own.
  const strength = Math.round(Math.min(1, Math.max(0, request.strength)) * 100) / 100;
  if (!Number.isFinite(strength)) return { kind: 'error', message: 'The adapter strength must be a number from 0 to 1.' };
  run.strength = strength;
  run.trainer.model.loraStrength = strength;
  return { kind: 'ok' };
}

/** A new run of the base with the adapters merged into its weights. */
export async function mergeLora(engine: Engine): Promise<EngineReply> {
  const r = engine.run;
  if (!r?.lora) return { kind: 'error', message: 'The open run has no LoRA adapters to merge.' };
  const busy = engine.dpoBusy();
  if (busy) return busy;
  const state = await baseState(engine, r);
  const merged = mergeAdapters(r.layout, state.params, r.lora, state.lora!.adapters, 1);
  // The same function as the LoRA run at its step: the merged run carries its step and curves (no new evaluation).
  const t = r.trainer;
  const carry = { step: t.step, samplerState: t.samplerState, lossHistory: t.lossHistory.slice(), evalHistory: t.evalHistory.slice(), wallMs: t.wallMs, tokensPerSec: t.tokensPerSec };
  return forkRun(engine, r, `Merged ${t.setup.run.name}`, 'merged', { params: merged, carry }, false);
}
