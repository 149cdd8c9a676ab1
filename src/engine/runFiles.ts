// Runs to and from files: the open run exported as safetensors (a nanoGPT
// checkpoint, or ours with the AdamW moments; a LoRA run's adapters alone in
// PEFT's adapter folder, zipped), and files imported as new runs (a checkpoint on the page's
// corpus, or an adapter onto the open base run).
import { exportSafetensors, nanoGptComputes } from '../model/files';
import { adapterZip, hfZip, readAdapterInput, readModelFile } from './modelFiles';
import { importAdapter as readAdapterFile } from '../model/adapterFiles';
import { mergeAdapters } from '../model/lora';
import { RunTokenizer } from '../model/runTokenizer';
import { NOT_LOADED, type Engine } from './engine';
import { recover } from './jobs/device';
import { baseState, fineTuneInfo } from './jobs/fineTune';
import type { EngineReply, EngineRequest } from './protocol';
import { readFileRun, runMetadata } from './runRecord';
import { buildRun, type BuildOptions, corpusIdentity, fileStem, forkRun, loadedReply, newIdentity, sameVocab, shapeOf } from './runs';

type Request<K extends EngineRequest['kind']> = Extract<EngineRequest, { kind: K }>;

const NANOGPT_LLAMA = "nanoGPT's model.py has no LLaMA block (RMSNorm, rotary positions, SwiGLU): export this run for Hugging Face instead.";
const HF_LLAMA_ONLY = 'The Hugging Face export writes LLaMA models (LlamaForCausalLM); this run uses the GPT-2 block: export it for nanoGPT instead.';

const NANOGPT_ONLY =
  "nanoGPT's model.py always uses GELU and ties lm_head to the token embedding, so it would compute a different function with this model. Choose GELU and tied embeddings to export for nanoGPT.";

/** The bytes of a view, as a transferable buffer of their own. */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

export async function exportCheckpoint(engine: Engine, request: Request<'exportCheckpoint'>): Promise<EngineReply> {
  const r = engine.run;
  if (!r) return NOT_LOADED;
  if (request.huggingFace && r.config.block !== 'llama') return { kind: 'error', message: HF_LLAMA_ONLY };
  if (!request.withOptimizer && !request.huggingFace && !nanoGptComputes(r.config)) {
    return { kind: 'error', message: r.config.block === 'llama' ? NANOGPT_LLAMA : NANOGPT_ONLY };
  }
  await recover(engine);
  const state = await engine.serial.run(() => r.trainer.model.readState());
  // While training runs, the weights may be one step ahead of the last reported step.
  const step = state.step ?? r.trainer.step;
  // A LoRA run exports its adapted model: the adapters merged into the base (which has no moments).
  const params = r.lora && state.lora ? mergeAdapters(r.layout, state.params, r.lora, state.lora.adapters, 1) : state.params;
  if (request.huggingFace) {
    const zip = hfZip(r.layout, params, r.tokenizer.vocab, r.tokenizer.spec());
    return { kind: 'exported', bytes: ownBuffer(zip), step, fileName: `${fileStem(r.trainer.setup.run.name)}-step${step}.hf.zip` };
  }
  const adam = request.withOptimizer && !r.lora ? { m: state.m, v: state.v, step } : undefined;
  // The run's step, budget and curves travel in the metadata, so an import tells the same story.
  const bytes = exportSafetensors(r.layout, params, r.tokenizer.vocab, adam, r.tokenizer.spec(), runMetadata(r.trainer, step));
  const kind = request.withOptimizer ? 'checkpoint' : 'nanogpt';
  return { kind: 'exported', bytes: ownBuffer(bytes), step, fileName: `${fileStem(r.trainer.setup.run.name)}-step${step}.${kind}.safetensors` };
}

/**
 * A model file as a new run on the page's corpus (its characters must match
 * the file's vocabulary), at the step the file records, with its step budget
 * and curves when the file carries them. `importProgress` events say how far.
 */
export async function importCheckpoint(engine: Engine, request: Request<'importCheckpoint'>): Promise<EngineReply> {
  const busy = engine.dpoBusy();
  if (busy) return busy;
  const progress = (fraction: number, stage: string) => engine.emit({ kind: 'importProgress', fraction, stage });
  progress(0, 'reading the file');
  let imported;
  let fileRun;
  try {
    imported = readModelFile(new Uint8Array(request.bytes), request.configJson);
    fileRun = readFileRun(imported.metadata);
  } catch (e) {
    return { kind: 'error', message: (e as Error).message };
  }
  let opts: BuildOptions = {};
  if (imported.tokenizer && imported.tokenizer.kind !== 'char') {
    // A run on tokens: the corpus is read with the file's own tokenizer.
    try {
      const tokenizer = await RunTokenizer.fromSpec(imported.tokenizer);
      if (!sameVocab(tokenizer.vocab, imported.vocab)) throw new Error("The file's tokenizer does not match its vocabulary.");
      opts = { tokenizer, splits: tokenizer.splitCorpus(request.text) };
    } catch (e) {
      return { kind: 'error', message: `${(e as Error).message} Load the text the file was trained on first.` };
    }
  }
  const tokenizer = RunTokenizer.charsOf(request.text);
  if (!opts.tokenizer && !sameVocab(imported.vocab, tokenizer.vocab)) {
    return {
      kind: 'error',
      message: `This file was trained on a text with different characters (${imported.vocab.length}) from ${request.corpusName} (${tokenizer.size}), so its token ids would not match. Load the text it was trained on first.`,
    };
  }
  progress(0.2, 'building the model');
  const step = imported.adam?.step ?? fileRun?.step ?? 0;
  // The step budget is the file's; a file that does not know it ends where it is, or at the page's budget if that is further.
  const maxSteps = fileRun?.maxSteps ?? Math.max(request.train.maxSteps, step);
  const train = { ...request.train, maxSteps: Math.max(maxSteps, step) };
  const stem = request.fileName.replace(/\.(safetensors|zip)$/i, '');
  const identity = await newIdentity(engine, `Imported ${stem}`, '');
  const corpus = corpusIdentity(request.corpusName, request.text, request.builtIn);
  const built = await buildRun(engine, identity, corpus, request.text, shapeOf(imported.layout.config), train, opts);
  if ('problems' in built) return { kind: 'invalid', problems: built.problems };
  const run = (engine.run = built.run);
  const t = run.trainer;
  const n = imported.params.length;
  progress(0.4, 'writing the weights');
  await engine.serial.run(() =>
    t.restore({
      step,
      params: imported.params,
      m: imported.adam?.m ?? new Float32Array(n),
      v: imported.adam?.v ?? new Float32Array(n),
      samplerState: t.samplerState,
      lossHistory: fileRun?.lossHistory ?? [],
      evalHistory: fileRun?.evalHistory ?? [],
      wallMs: fileRun?.wallMs ?? 0,
      tokensPerSec: fileRun?.tokensPerSec ?? 0,
    }),
  );
  engine.clearTimeline();
  t.emitHistory();
  engine.emit({ kind: 'trainState', state: t.state, step, maxSteps: t.setup.train.maxSteps });
  progress(0.5, 'weights ready; evaluating on the corpus in the background');
  // The weights are usable now (sampling, attention, export). An evaluation at
  // the file's step on this corpus (a point on the curve) and the run stored
  // follow in the background; training and other runs wait for them.
  engine.inBackground(async () => {
    try {
      await t.evaluate((done, total) => progress(0.5 + (0.4 * done) / total, 'evaluating on the corpus in the background'));
      progress(0.9, 'saving the run');
      await t.checkpoint();
      progress(1, 'done');
    } catch (e) {
      progress(1, `the evaluation after the import failed: ${(e as Error).message}`);
    }
  });
  return { ...loadedReply(run, built.trainTokens, built.valTokens), imported: { fileName: request.fileName, step } };
}

/** The open LoRA run's adapters alone, as PEFT's adapter folder zipped (adapter_config.json, adapter_model.safetensors). */
export async function exportAdapter(engine: Engine): Promise<EngineReply> {
  const r = engine.run;
  if (!r?.lora) return { kind: 'error', message: 'The open run has no LoRA adapters to export.' };
  await recover(engine);
  const state = await engine.serial.run(() => r.trainer.model.readState());
  const setup = r.trainer.setup;
  const bytes = adapterZip(r.lora, state.lora!.adapters, r.tokenizer.vocab, setup.fineTune?.baseRunName ?? setup.run.name);
  const step = r.trainer.step;
  return { kind: 'exported', bytes: ownBuffer(bytes), step, fileName: `${fileStem(setup.run.name)}-step${step}.adapter.zip` };
}

/** An adapter file onto the open base run, as a new LoRA run. */
export async function importAdapter(engine: Engine, request: Request<'importAdapter'>): Promise<EngineReply> {
  const base = engine.run;
  if (!base) return NOT_LOADED;
  const busy = engine.dpoBusy();
  if (busy) return busy;
  if (base.lora) return { kind: 'error', message: 'The open run has adapters of its own: open the base run (one without adapters) to import an adapter onto it.' };
  let imported;
  try {
    const input = readAdapterInput(new Uint8Array(request.bytes), request.configJson);
    imported = readAdapterFile(input.safetensors, base.config, input.configJson);
  } catch (e) {
    return { kind: 'error', message: (e as Error).message };
  }
  const state = await baseState(engine, base);
  const info = fineTuneInfo('lora', base, imported.layout, base.trainer.setup.train.batchSize);
  const stem = request.fileName.replace(/\.(safetensors|zip)$/i, '');
  const lora = { layout: imported.layout, adapters: imported.flat };
  return forkRun(engine, base, `${stem} on ${base.trainer.setup.run.name}`, 'lora', { params: state.params, lora, fineTune: info }, true);
}
