// DPO (direct preference optimisation) of the open run: a new run whose
// policy starts as the open model (all its weights, or LoRA adapters on it)
// and trains on preference pairs against a frozen reference, the policy
// before any update. Its Trainer runs it with a DpoHead (../stepHeads.ts):
// one DPO job at a time, stoppable after the step in flight.
import { initLora, loraLayout, mergeAdapters, validateLoraConfig, type LoraLayout } from '../../model/lora';
import { NOT_LOADED, type DpoJob, type Engine } from '../engine';
import type { DpoStats, EngineReply, EngineRequest, FineTuneInfo } from '../protocol';
import { forkRun, type Run } from '../runs';
import { dpoTrainConfig } from '../stepHeads';
import { baseState, fineTuneInfo } from './fineTune';

type Request<K extends EngineRequest['kind']> = Extract<EngineRequest, { kind: K }>;

function dpoProblems(request: Request<'startDpo'>, base: Run, pairsPerStep: number): string[] {
  const problems: string[] = [];
  const pairs = request.pairs;
  if (!pairs.length) problems.push('Collect at least one preference pair first.');
  if (pairsPerStep < 1) problems.push('DPO needs a batch of at least 2 sequences (a chosen and a rejected one): raise the batch size.');
  if (!(request.beta > 0) || !Number.isFinite(request.beta)) problems.push('beta must be a positive number (DPO papers use 0.1).');
  if (!(request.learningRate > 0) || !Number.isFinite(request.learningRate)) problems.push('The learning rate must be a positive number.');
  if (!Number.isInteger(request.steps) || request.steps < 1) problems.push('Train at least one DPO step.');
  pairs.forEach((p, i) => {
    if (!p.prompt) problems.push(`Pair ${i + 1} has no prompt.`);
    // Each part is encoded on its own (prompt, then each response), as the DPO batch reads them.
    const bad = base.tokenizer.encodeProblem([p.prompt, p.chosen, p.rejected], `Pair ${i + 1}`);
    if (bad) problems.push(bad);
  });
  if (request.target === 'lora') {
    if (!request.lora && !base.lora) problems.push('Choose the LoRA adapters (rank, alpha, modules) to train.');
    else if (request.lora && !base.lora) problems.push(...validateLoraConfig(request.lora, base.config));
  }
  return problems;
}

/** Open the DPO run (a fork of the open one) and start its loop; the reply comes once it is open. */
export async function startDpo(engine: Engine, request: Request<'startDpo'>): Promise<EngineReply> {
  if (!engine.run) return NOT_LOADED;
  const busy = engine.dpoBusy();
  if (busy) return busy;
  const base = engine.run;
  const S = base.trainer.setup.train.batchSize;
  const P = Math.floor(S / 2);
  const problems = dpoProblems(request, base, P);
  if (problems.length) return { kind: 'invalid', problems };

  const state = await baseState(engine, base);
  // The policy starts as the open model; 'all' on a LoRA run trains its merged weights.
  let params = state.params;
  let lora: { layout: LoraLayout; adapters: Float32Array } | undefined;
  if (request.target === 'lora') {
    lora = base.lora ? { layout: base.lora, adapters: state.lora!.adapters } : undefined;
    if (!lora) {
      const layout = loraLayout(base.config, request.lora!);
      lora = { layout, adapters: initLora(layout, base.trainer.setup.train.seed) };
    }
  } else if (base.lora) {
    params = mergeAdapters(base.layout, state.params, base.lora, state.lora!.adapters, 1);
  }
  const pairs = request.pairs.slice();
  const dpo = { beta: request.beta, learningRate: request.learningRate, target: request.target, pairs, pairsPerStep: P, history: [] as DpoStats[], judge: request.judge ?? '' };
  const info: FineTuneInfo = { ...fineTuneInfo('dpo', base, lora?.layout ?? null, S), dpo };
  const name = request.runName || `DPO of ${base.trainer.setup.run.name}`;
  const train = dpoTrainConfig(base.trainer.setup.train, request.learningRate, request.steps);
  const reply = await forkRun(engine, base, name, 'dpo', { params, ...(lora ? { lora } : {}), fineTune: info }, false, train);
  if (reply.kind !== 'loaded') return reply;
  const job: DpoJob = { stop: false };
  engine.dpoJob = job;
  void runDpo(engine, engine.run!, job).finally(() => {
    if (engine.dpoJob === job) engine.dpoJob = null;
  });
  return reply;
}

export function stopDpo(engine: Engine): EngineReply {
  if (engine.dpoJob && engine.run) {
    engine.dpoJob.stop = true;
    // The loop ends after the step in flight, saves, and runDpo reports.
    void engine.run.trainer.action('stop');
  }
  return { kind: 'ok' };
}

/**
 * The DPO run trains through its Trainer (a DpoHead on its steps) to its last
 * step or until stopped; then the page hears `dpoDone` with the statistics.
 */
async function runDpo(engine: Engine, r: Run, job: DpoJob): Promise<void> {
  const t = r.trainer;
  const record = t.setup.fineTune!.dpo!;
  let message: string | undefined;
  const problem = await t.action('start');
  if (problem) message = problem;
  await t.settle();
  if (t.state === 'error') message = (t.stateMessage ?? 'DPO stopped.').replace(/^Training stopped/, 'DPO stopped');
  else if (!message && !job.stop && t.step < t.setup.train.maxSteps) {
    message = `DPO step ${t.step + 1} gave a non-finite loss or gradient; the weights were put back as they were at the last saved DPO step. Lower the learning rate or beta and start again.`;
  }
  engine.emit({ kind: 'dpoDone', history: record.history.slice(), stopped: job.stop, ...(message ? { message } : {}) });
}
