// DPO (direct preference optimisation) of the open run: a new run whose
// policy starts as the open model (all its weights, or LoRA adapters on it)
// and trains on preference pairs against a frozen reference, the policy
// before any update. A loop of its own beside the trainer: one DPO job at a
// time, stoppable after the step in flight.
import type { TrainConfig } from '../../model/config';
import { pairBatch, vocabularyProblem, type PreferencePair } from '../../model/dpo';
import { initLora, loraLayout, mergeAdapters, validateLoraConfig, type LoraLayout } from '../../model/lora';
import { stepHyper } from '../../model/schedule';
import { NOT_LOADED, type DpoJob, type Engine } from '../engine';
import { canDpo, type SequenceBatch } from '../model';
import type { DpoStats, EngineReply, EngineRequest, FineTuneInfo } from '../protocol';
import { forkRun, type Run } from '../runs';
import { baseState, fineTuneInfo } from './fineTune';

type Request<K extends EngineRequest['kind']> = Extract<EngineRequest, { kind: K }>;

/**
 * DPO's step settings as a training config: the run's AdamW betas and eps at
 * DPO's own constant learning rate, no weight decay, gradients clipped at norm 1.
 */
function dpoTrainConfig(train: TrainConfig, learningRate: number): TrainConfig {
  return { ...train, learningRate, lrDecay: false, weightDecay: 0, gradClip: 1 };
}

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
    const bad = vocabularyProblem(p.prompt + p.chosen + p.rejected, base.tokenizer.vocab, `Pair ${i + 1}`);
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
  const reply = await forkRun(engine, base, name, 'dpo', { params, ...(lora ? { lora } : {}), fineTune: info }, false);
  if (reply.kind !== 'loaded') return reply;
  const job: DpoJob = { stop: false };
  engine.dpoJob = job;
  void runDpo(engine, engine.run!, info, request.steps, job).finally(() => {
    if (engine.dpoJob === job) engine.dpoJob = null;
  });
  return reply;
}

export function stopDpo(engine: Engine): EngineReply {
  if (engine.dpoJob) engine.dpoJob.stop = true;
  return { kind: 'ok' };
}

/** The batch of DPO step k: pairs k*P .. k*P+P-1 of the list, cycled. */
function dpoBatch(r: Run, pairs: PreferencePair[], k: number, P: number): { batch: SequenceBatch; index: number[] } {
  const index = Array.from({ length: P }, (_, i) => (k * P + i) % pairs.length);
  const encode = (text: string) => Array.from(r.tokenizer.encode(text).ids);
  return { batch: pairBatch(index.map((i) => pairs[i]), encode, r.config.blockSize), index };
}

/**
 * DPO against a frozen reference: the reference's log-probabilities of every
 * pair are taken once, before any update (the policy is the reference then);
 * step 0 measures the statistics without an update; steps 1..N train.
 */
async function runDpo(engine: Engine, r: Run, info: FineTuneInfo, steps: number, job: DpoJob): Promise<void> {
  const { serial } = engine;
  const dpo = info.dpo!;
  const { pairs, pairsPerStep: P, beta } = dpo;
  const train = dpoTrainConfig(r.trainer.setup.train, dpo.learningRate);
  let message: string | undefined;
  try {
    const model = r.trainer.model;
    if (!canDpo(model)) throw new Error('This model cannot be trained with DPO.');
    const refChosen = new Float32Array(pairs.length);
    const refRejected = new Float32Array(pairs.length);
    for (let k = 0; k * P < pairs.length; k++) {
      const { batch, index } = dpoBatch(r, pairs, k, P);
      const logp = await serial.run(() => model.sequenceLogProbs(batch, 1));
      index.forEach((i, j) => {
        refChosen[i] = logp[j];
        refRejected[i] = logp[P + j];
      });
    }
    const reference = (index: number[]) => Float32Array.from([...index.map((i) => refChosen[i]), ...index.map((i) => refRejected[i])]);
    for (let step = 0; step <= steps && !job.stop && engine.run === r; step++) {
      const { batch, index } = dpoBatch(r, pairs, Math.max(0, step - 1), P);
      // DPO step `step` is AdamW step t = step (step 0 updates nothing); DPO runs without dropout.
      const hyper = stepHyper(train, step - 1);
      const res = await serial.run(() => model.dpoStep(batch, reference(index), hyper, beta, { update: step > 0 }));
      if (![res.loss, res.margin, res.rewardChosen, res.rewardRejected].every(Number.isFinite) || (step > 0 && !Number.isFinite(res.gradNorm))) {
        const snap = r.trainer.lastGood;
        if (snap) await serial.run(() => model.writeState(snap.state));
        message = `DPO step ${step} gave a non-finite loss or gradient; the weights were put back as they were at the last saved DPO step. Lower the learning rate or beta and start again.`;
        break;
      }
      const stats: DpoStats = {
        step, loss: res.loss, rewardChosen: res.rewardChosen, rewardRejected: res.rewardRejected,
        margin: res.margin, accuracy: res.accuracy, gradNorm: step > 0 ? res.gradNorm : 0,
      };
      dpo.history.push(stats);
      engine.emit({ kind: 'dpoStep', stats, steps });
    }
    if (engine.run === r) await r.trainer.checkpoint();
  } catch (e) {
    message = `DPO stopped: ${(e as Error).message}`;
  }
  engine.emit({ kind: 'dpoDone', history: dpo.history.slice(), stopped: job.stop, ...(message ? { message } : {}) });
}
