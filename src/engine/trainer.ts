// The training loop. One step stays in flight: step n is submitted, then the
// loss of step n-1 is read back while the GPU works on n, so the CPU never
// blocks the queue. The loop drains (waits for the in-flight step) only at
// boundaries where the weights must match the step count: evaluation,
// checkpoints, pause, and the end.
//
// What a step computes is its head's (stepHeads.ts): cross-entropy on the
// corpus for pretraining and LoRA, DPO on preference pairs; every step's
// settings come from stepHyper, and the benchmark steps through here too.
//
// Anything non-finite (loss, gradient norm, eval loss) pauses training and
// rolls the weights back to the last finite snapshot kept in memory; no
// non-finite number is ever sent to the page or written to storage.
import { BatchSampler } from '../model/data';
import { bitsPerChar } from '../model/runTokenizer';
import { appendThinned, CHECKPOINT_VERSION, firstNonFinite, type RunCheckpoint } from './checkpointStore';
import type { Batch, EngineModel, OptimizerState } from './model';
import { HEALTH_INTERVAL, type EvalStats, type LossPoint, type TrainAction, type TrainState } from './protocol';
import { mixSeed, stepHyper } from '../model/schedule';
import { SeededRng } from '../model/sampling';
import type { Serial } from './serial';
import { CorpusHead, type StepHead } from './stepHeads';

import type { InFlight, Snapshot, TrainerHooks, TrainerSetup } from './trainerTypes';

export type { Snapshot, TrainerHooks, TrainerSetup } from './trainerTypes';

/** Raised inside the loop when the model is gone (device lost). */
class Aborted extends Error {}

export class Trainer {
  state: TrainState = 'ready';
  /** The sentence that came with the last state change (why it stopped), or null. */
  stateMessage: string | null = null;
  /** Steps completed and accepted (finite). */
  step = 0;
  lossHistory: LossPoint[] = [];
  evalHistory: EvalStats[] = [];
  lastGood: Snapshot | null = null;
  /** Training wall time (ms, summed over accepted steps) and the recent tokens per second. */
  wallMs = 0;
  tokensPerSec = 0;

  private readonly sampler: BatchSampler;
  readonly head: StepHead;
  private readonly tokensPerStep: number;
  private wanted: 'run' | 'pause' | 'stop' = 'pause';
  private loop: Promise<void> | null = null;
  private prevDoneAt = 0;
  private aborted = false;
  private abortSignal!: Promise<never>;
  private abortNow!: (e: Error) => void;
  private stepsLeft = Infinity;
  /** Step of the last checkpoint taken, so a pause right after one does not repeat it. */
  private savedStep = -1;

  constructor(
    public model: EngineModel,
    public setup: TrainerSetup,
    private readonly serial: Serial,
    private readonly hooks: TrainerHooks,
  ) {
    const { train } = setup;
    this.sampler = new BatchSampler(setup.trainTokens, train.batchSize, model.config.blockSize, train.seed);
    this.tokensPerStep = train.batchSize * model.config.blockSize;
    this.head = setup.head ?? new CorpusHead(this.sampler);
    this.resetAbort();
  }

  private resetAbort(): void {
    this.aborted = false;
    this.abortSignal = new Promise<never>((_, reject) => (this.abortNow = reject));
    this.abortSignal.catch(() => undefined);
  }

  get running(): boolean {
    return this.loop !== null;
  }

  get samplerState(): number {
    return this.sampler.state;
  }

  private setState(state: TrainState, message?: string): void {
    this.state = state;
    this.stateMessage = message ?? null;
    this.hooks.emit({ kind: 'trainState', state, step: this.step, maxSteps: this.setup.train.maxSteps, ...(message ? { message } : {}) });
  }

  emitHistory(): void {
    this.hooks.emit({ kind: 'history', lossHistory: this.lossHistory.slice(), evalHistory: this.evalHistory.slice() });
  }

  /** Continue a saved run: weights, moments, step, sampler and curves. */
  restore(run: Pick<RunCheckpoint, 'step' | 'params' | 'm' | 'v' | 'samplerState' | 'lossHistory' | 'evalHistory' | 'wallMs' | 'tokensPerSec' | 'fineTune'>): void {
    const lora = run.fineTune?.lora;
    const state: OptimizerState = { params: run.params, m: run.m, v: run.v, step: run.step, ...(lora ? { lora } : {}) };
    this.wallMs = run.wallMs ?? 0;
    this.tokensPerSec = run.tokensPerSec ?? 0;
    this.model.writeState(state);
    this.step = run.step;
    this.sampler.state = run.samplerState;
    this.lossHistory = run.lossHistory.filter((p) => p.step <= run.step);
    this.evalHistory = run.evalHistory.filter((p) => p.step <= run.step);
    this.lastGood = { step: run.step, state, samplerState: run.samplerState };
    this.state = run.step >= this.setup.train.maxSteps ? 'done' : run.step > 0 ? 'paused' : 'ready';
  }

  /** Keep the current (finite) state as the rollback point; returns it, or null if it was not finite. */
  async snapshot(): Promise<Snapshot | null> {
    const state = { ...(await this.serial.run(() => this.model.readState())), step: this.step };
    const arrays = [state.params, state.m, state.v, ...(state.lora ? [state.lora.adapters, state.lora.m, state.lora.v] : [])];
    if (arrays.some((a) => firstNonFinite(a) >= 0)) return null;
    const snap = { step: this.step, state, samplerState: this.sampler.state };
    this.lastGood = snap;
    return snap;
  }

  checkpointRecord(snap: Snapshot): RunCheckpoint {
    return {
      version: CHECKPOINT_VERSION,
      run: this.setup.run,
      wallMs: this.wallMs,
      tokensPerSec: this.tokensPerSec,
      savedAt: Date.now(),
      corpus: this.setup.corpus,
      model: this.model.config,
      train: this.setup.train,
      vocab: this.setup.vocab,
      ...(this.setup.tokenizer ? { tokenizer: this.setup.tokenizer } : {}),
      step: snap.step,
      params: snap.state.params,
      m: snap.state.m,
      v: snap.state.v,
      samplerState: snap.samplerState,
      lossHistory: this.lossHistory.filter((p) => p.step <= snap.step),
      evalHistory: this.evalHistory.filter((p) => p.step <= snap.step),
      ...(this.setup.fineTune ? { fineTune: { info: this.setup.fineTune, ...(snap.state.lora ? { lora: snap.state.lora } : {}) } } : {}),
    };
  }

  /** Snapshot the weights in memory and save them to storage. */
  async checkpoint(): Promise<void> {
    const snap = await this.snapshot();
    if (!snap) {
      this.hooks.emit({ kind: 'checkpoint', step: this.step, saved: false, message: 'Checkpoint skipped: the weights are not finite.' });
      return;
    }
    this.savedStep = snap.step;
    const result = await this.hooks.save(this.checkpointRecord(snap));
    this.hooks.emit({ kind: 'checkpoint', step: snap.step, saved: result.saved, ...(result.saved ? {} : { message: result.message }) });
  }

  /** Apply a train action from the page. Returns an error sentence, or null. */
  async action(action: TrainAction, steps?: number): Promise<string | null> {
    const max = this.setup.train.maxSteps;
    switch (action) {
      case 'start':
      case 'resume':
        if (this.step >= max) return `Training is done: all ${max} steps have run. Raise the number of steps or reset.`;
        this.stepsLeft = Infinity;
        this.wanted = 'run';
        this.startLoop();
        return null;
      case 'step': {
        if (this.step >= max) return `Training is done: all ${max} steps have run.`;
        if (this.loop) return 'Training is running; pause it before stepping.';
        this.stepsLeft = Math.max(1, Math.floor(steps ?? 1));
        this.wanted = 'run';
        this.startLoop();
        await this.loop;
        return null;
      }
      case 'pause':
      case 'stop':
        this.wanted = action;
        if (this.loop) await this.loop;
        else if (action === 'stop' && this.state !== 'done') this.setState('done');
        return null;
      case 'reset':
        return 'Reset is handled by reset().';
    }
  }

  /**
   * Train `steps` more steps on: the step counter, the sampler and the curves
   * carry on, and the learning-rate schedule keeps its original end.
   */
  async extend(steps: number): Promise<string | null> {
    if (this.loop) return 'Training is running; pause it before adding steps.';
    const n = Math.floor(steps);
    if (!(n >= 1)) return 'Add at least one step.';
    const train = this.setup.train;
    this.setup = { ...this.setup, train: { ...train, maxSteps: this.step + n, lrDecaySteps: train.lrDecaySteps ?? train.maxSteps } };
    return this.action('start');
  }

  /** Back to step 0 with these initial weights (and adapters, under LoRA) and zero moments; the curves are cleared. */
  async reset(initialParams: Float32Array, initialAdapters?: Float32Array | null): Promise<void> {
    this.wanted = 'pause';
    await this.settle();
    const n = initialAdapters ? 0 : initialParams.length;
    const state: OptimizerState = { params: initialParams.slice(), m: new Float32Array(n), v: new Float32Array(n), step: 0 };
    if (initialAdapters) {
      const k = initialAdapters.length;
      state.lora = { adapters: initialAdapters.slice(), m: new Float32Array(k), v: new Float32Array(k) };
    }
    await this.serial.run(() => this.model.writeState(state));
    this.step = 0;
    this.wallMs = 0;
    this.tokensPerSec = 0;
    this.sampler.state = new SeededRng(this.setup.train.seed).state;
    this.lossHistory = [];
    this.evalHistory = [];
    this.lastGood = { step: 0, state, samplerState: this.sampler.state };
    this.savedStep = -1;
    this.setState('ready');
    this.emitHistory();
  }

  /** The step of the last checkpoint taken, -1 before any. */
  savedStepOf(): number {
    return this.savedStep;
  }

  /** Wait for the loop to stop (after pause/stop or an abort). */
  async settle(): Promise<void> {
    if (this.loop) await this.loop;
  }

  /** The model is gone (device lost): stop the loop at once, without touching the GPU. */
  abort(): void {
    this.aborted = true;
    this.wanted = 'pause';
    this.abortNow(new Aborted('The GPU device was lost.'));
  }

  /** Continue on a fresh model (a new device) from the last finite snapshot. */
  adoptModel(model: EngineModel): void {
    this.model = model;
    this.resetAbort();
    const snap = this.lastGood;
    if (snap) {
      model.writeState(snap.state);
      this.rollbackTo(snap);
    }
    this.setState(this.step >= this.setup.train.maxSteps ? 'done' : this.step > 0 ? 'paused' : 'ready');
    this.emitHistory();
  }

  private rollbackTo(snap: Snapshot): void {
    this.step = snap.step;
    this.sampler.state = snap.samplerState;
    this.lossHistory = this.lossHistory.filter((p) => p.step <= snap.step);
    this.evalHistory = this.evalHistory.filter((p) => p.step <= snap.step);
    this.head.rolledBack?.(snap.step);
  }

  private startLoop(): void {
    if (this.loop) return;
    this.loop = this.runLoop()
      .catch(async (e) => {
        if (e instanceof Aborted) return;
        // A failed readback is often the first sign of a lost device; its own report follows shortly.
        await new Promise((r) => setTimeout(r, 250));
        if (this.aborted) return;
        this.setState('error', `Training stopped: ${(e as Error).message}`);
      })
      .finally(() => {
        this.loop = null;
      });
  }

  private guard<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.abortSignal]);
  }

  private isBoundary(step: number): boolean {
    const { evalInterval, checkpointInterval } = this.setup.train;
    return (evalInterval > 0 && step % evalInterval === 0) || (checkpointInterval > 0 && step % checkpointInterval === 0);
  }

  private async runLoop(): Promise<void> {
    const train = this.setup.train;
    this.setState('running');
    this.prevDoneAt = 0;
    // nanoGPT evaluates the untrained model first: the curve's first validation point is step 0.
    if (this.step === 0 && !this.evalHistory.some((p) => p.step === 0) && !(await this.evaluate())) return;
    if (this.head.begin) await this.guard(this.head.begin(this.model, this.serial, stepHyper(train, this.step - 1)));
    let inflight: InFlight | null = null;
    let submitted = 0;
    let boundaryDone = this.step; // the boundary at the current step was handled before (load / resume)
    for (;;) {
      if (this.aborted) throw new Aborted();
      const more = this.wanted === 'run' && submitted < this.stepsLeft && this.step + (inflight ? 1 : 0) < train.maxSteps;
      if (!more) break;
      const index = this.step + (inflight ? 1 : 0);
      if (index > 0 && index !== boundaryDone && this.isBoundary(index)) {
        if (inflight) {
          const ok = await this.accept(inflight);
          inflight = null;
          if (!ok) return;
          continue;
        }
        boundaryDone = index;
        if (!(await this.boundary(index))) return;
        continue;
      }
      const hyper = { ...stepHyper(train, index), health: (index + 1) % HEALTH_INTERVAL === 0 || index === 0 };
      const lr = hyper.lr;
      const submitAt = performance.now();
      const { done } = await this.guard(this.serial.run(() => this.head.submit(this.model, index, hyper)));
      done.catch(() => undefined);
      submitted++;
      const next: InFlight = { index, lr, submitAt, done };
      if (inflight) {
        const ok = await this.accept(inflight, next);
        if (!ok) return;
      }
      inflight = next;
    }
    if (inflight && !(await this.accept(inflight))) return;
    // Drained: the weights match this.step. A boundary reached by the last step is handled now.
    const atEnd = this.step >= train.maxSteps;
    if (this.step > 0 && boundaryDone !== this.step && (atEnd || this.isBoundary(this.step))) {
      if (!(await this.boundary(this.step, atEnd))) return;
    }
    if (atEnd) {
      this.setState('done');
      return;
    }
    if (this.savedStep !== this.step) await this.checkpoint();
    this.setState(this.wanted === 'stop' ? 'done' : 'paused');
  }

  /** Evaluation and checkpoint due at `step` (weights drained). False when training must stop. */
  private async boundary(step: number, final = false): Promise<boolean> {
    const { evalInterval, checkpointInterval } = this.setup.train;
    if (final || step % evalInterval === 0) {
      const stats = await this.evaluate();
      if (!stats) return false;
    }
    if (final || (checkpointInterval > 0 && step % checkpointInterval === 0)) await this.checkpoint();
    return true;
  }

  /**
   * Read back a finished step. `after` is the step submitted behind it, which
   * must be waited for before a rollback. False when training stopped.
   */
  private async accept(f: InFlight, after?: InFlight): Promise<boolean> {
    const r = await this.guard(f.done);
    const step = f.index + 1;
    if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm)) {
      if (after) await this.guard(after.done).catch((e) => (e instanceof Aborted ? Promise.reject(e) : undefined));
      const what = !Number.isFinite(r.loss) ? `a non-finite loss (${r.loss})` : `a non-finite gradient norm (${r.gradNorm})`;
      await this.nonFinite(step, `Step ${step} produced ${what} at learning rate ${f.lr.toPrecision(3)}.`);
      return false;
    }
    const start = Math.max(this.prevDoneAt, f.submitAt);
    const ms = Math.max(1e-3, r.doneAt - start);
    this.prevDoneAt = r.doneAt;
    this.step = step;
    this.wallMs += ms;
    const rate = (this.tokensPerStep * 1000) / ms;
    this.tokensPerSec = this.tokensPerSec > 0 ? 0.9 * this.tokensPerSec + 0.1 * rate : rate;
    this.lossHistory = appendThinned(this.lossHistory, { step, loss: r.loss, time: this.wallMs / 1000 });
    this.hooks.emit({
      kind: 'step',
      stats: { step, loss: r.loss, lr: f.lr, gradNorm: r.gradNorm, ms, tokensPerSec: (this.tokensPerStep * 1000) / ms },
    });
    if (r.health) this.emitHealth(step, r.health);
    this.head.accepted?.(step);
    return true;
  }

  /**
   * The benchmark's steps, outside the run's count: one warm-up step, then
   * `steps` steps back to back (ms per step), then `last` wraps one more (a
   * profiler). Batches of their own; the run's settings at a constant learning
   * rate. Call inside the queue's turn, training paused; the caller puts the
   * weights back.
   */
  async timeSteps<T>(steps: number, last: (step: () => Promise<unknown>) => Promise<T>): Promise<{ msPerStep: number; last: T }> {
    const train = this.setup.train;
    const head = new CorpusHead(new BatchSampler(this.setup.trainTokens, train.batchSize, this.model.config.blockSize, train.seed ^ 0xbe4c));
    const constant = { ...train, lrDecay: false };
    // Submitted back to back: the GPU queue stays full, as in training.
    const step = (i: number) => head.submit(this.model, i, stepHyper(constant, i)).done;
    await step(0);
    await this.model.finish();
    const t0 = performance.now();
    let done: Promise<unknown> = Promise.resolve();
    for (let i = 1; i <= steps; i++) done = step(i);
    await done;
    await this.model.finish();
    const msPerStep = (performance.now() - t0) / steps;
    return { msPerStep, last: await last(() => step(steps + 1)) };
  }

  /** Per-tensor gradient norms and update-to-weight ratios of a step, from the model's (tensors, 4) sums of squares. */
  private emitHealth(step: number, sums: Float32Array): void {
    const tensors = this.model.tensors();
    const gradNorm: number[] = [];
    const updateRatio: number[] = [];
    tensors.forEach((_, t) => {
      gradNorm.push(Math.sqrt(sums[4 * t]));
      // A tensor of zeros (a bias at initialisation) has no ratio.
      updateRatio.push(sums[4 * t + 1] > 0 ? Math.sqrt(sums[4 * t + 2] / sums[4 * t + 1]) : Number.NaN);
    });
    if (!gradNorm.every(Number.isFinite) || updateRatio.some((r) => r === Infinity)) return;
    this.hooks.emit({ kind: 'health', stats: { step, names: tensors.map((t) => t.name), gradNorm, updateRatio } });
  }

  private async nonFinite(step: number, what: string): Promise<void> {
    const snap = this.lastGood;
    let rolled = '';
    if (snap) {
      await this.serial.run(() => this.model.writeState(snap.state));
      this.rollbackTo(snap);
      rolled = ` Training is paused and the weights were rolled back to step ${snap.step}, the last finite checkpoint.`;
    }
    const message =
      `${what}${rolled} Lower the learning rate (try ${(this.setup.train.learningRate / 10).toPrecision(2)}), ` +
      'turn on gradient clipping, or add warmup steps, then resume.';
    this.hooks.emit({ kind: 'nonFinite', step, message, ...(snap ? { rolledBackTo: snap.step } : {}) });
    this.emitHistory();
    this.wanted = 'pause';
    this.setState('paused', message);
  }

  /** Mean loss over evalIters batches of each split (nanoGPT's estimate_loss). Null if it was not finite. `onBatch` hears each batch done. */
  async evaluate(onBatch?: (done: number, total: number) => void): Promise<EvalStats | null> {
    const { evalIters, seed, batchSize } = this.setup.train;
    const T = this.model.config.blockSize;
    const rng = new SeededRng(mixSeed(seed ^ 0x5eed, this.step));
    let done = 0;
    const mean = async (tokens: Int32Array): Promise<number> => {
      const sampler = new BatchSampler(tokens, batchSize, T, rng.next() * 2 ** 32);
      let sum = 0;
      for (let i = 0; i < evalIters; i++) {
        const batch: Batch = sampler.next();
        sum += await this.guard(this.serial.run(() => this.model.evalLoss(batch)));
        onBatch?.(++done, 2 * evalIters);
      }
      return sum / evalIters;
    };
    const trainLoss = await mean(this.setup.trainTokens);
    const valLoss = await mean(this.setup.valTokens);
    if (!Number.isFinite(trainLoss) || !Number.isFinite(valLoss)) {
      await this.nonFinite(this.step, `The evaluation at step ${this.step} gave a non-finite loss.`);
      return null;
    }
    const toy = this.hooks.toyAccuracy ? await this.guard(this.hooks.toyAccuracy()) : null;
    const { trainTokens, valTokens, trainChars, valChars } = this.setup;
    const stats: EvalStats = {
      step: this.step,
      trainLoss,
      valLoss,
      trainBpc: bitsPerChar(trainLoss, trainTokens.length, trainChars ?? trainTokens.length),
      valBpc: bitsPerChar(valLoss, valTokens.length, valChars ?? valTokens.length),
      ...(toy ? { toy } : {}),
    };
    this.evalHistory = appendThinned(this.evalHistory.filter((p) => p.step !== this.step), stats);
    this.hooks.emit({ kind: 'eval', stats });
    if (this.hooks.afterEval) await this.guard(this.hooks.afterEval(stats));
    return stats;
  }
}
