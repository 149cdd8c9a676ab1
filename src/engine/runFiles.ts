// Runs to and from files: the open run exported as safetensors (a nanoGPT
// checkpoint, or ours with the AdamW moments; a LoRA run's adapters alone in
// PEFT's layout), and files imported as new runs (a checkpoint on the page's
// corpus, or an adapter onto the open base run).
import { exportSafetensors, nanoGptComputes } from '../model/files';
import { hfZip, readModelFile } from './modelFiles';
import { exportAdapter as adapterFile, importAdapter as readAdapterFile } from '../model/adapterFiles';
import { mergeAdapters } from '../model/lora';
import { RunTokenizer } from '../model/runTokenizer';
import { NOT_LOADED, type Engine } from './engine';
import { recover } from './jobs/device';
import { baseState, fineTuneInfo } from './jobs/fineTune';
import type { EngineReply, EngineRequest } from './protocol';
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
  const bytes = exportSafetensors(r.layout, params, r.tokenizer.vocab, adam, r.tokenizer.spec());
  const kind = request.withOptimizer ? 'checkpoint' : 'nanogpt';
  return { kind: 'exported', bytes: ownBuffer(bytes), step, fileName: `${fileStem(r.trainer.setup.run.name)}-step${step}.${kind}.safetensors` };
}

/** A safetensors checkpoint as a new run on the page's corpus (its characters must match the file's vocabulary). */
export async function importCheckpoint(engine: Engine, request: Request<'importCheckpoint'>): Promise<EngineReply> {
  const busy = engine.dpoBusy();
  if (busy) return busy;
  let imported;
  try {
    imported = readModelFile(new Uint8Array(request.bytes), request.configJson);
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
  const stem = request.fileName.replace(/\.(safetensors|zip)$/i, '');
  const identity = await newIdentity(engine, `Imported ${stem}`, '');
  const corpus = corpusIdentity(request.corpusName, request.text, request.builtIn);
  const built = await buildRun(engine, identity, corpus, request.text, shapeOf(imported.layout.config), request.train, opts);
  if ('problems' in built) return { kind: 'invalid', problems: built.problems };
  const run = (engine.run = built.run);
  const t = run.trainer;
  const n = imported.params.length;
  const step = imported.adam?.step ?? 0;
  await engine.serial.run(() =>
    t.restore({
      step,
      params: imported.params,
      m: imported.adam?.m ?? new Float32Array(n),
      v: imported.adam?.v ?? new Float32Array(n),
      samplerState: t.samplerState,
      lossHistory: [],
      evalHistory: [],
    }),
  );
  t.emitHistory();
  // A first point on the curve, and the run stored at once: an import survives a reload.
  await t.evaluate();
  await t.checkpoint();
  engine.emit({ kind: 'trainState', state: t.state, step, maxSteps: t.setup.train.maxSteps });
  return { ...loadedReply(run, built.trainTokens, built.valTokens), imported: { fileName: request.fileName, step } };
}

/** The open LoRA run's adapters alone (PEFT's adapter_model.safetensors layout). */
export async function exportAdapter(engine: Engine): Promise<EngineReply> {
  const r = engine.run;
  if (!r?.lora) return { kind: 'error', message: 'The open run has no LoRA adapters to export.' };
  await recover(engine);
  const state = await engine.serial.run(() => r.trainer.model.readState());
  const bytes = adapterFile(r.lora, state.lora!.adapters, r.tokenizer.vocab);
  const step = r.trainer.step;
  return { kind: 'exported', bytes: ownBuffer(bytes), step, fileName: `${fileStem(r.trainer.setup.run.name)}-step${step}.adapter.safetensors` };
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
    imported = readAdapterFile(request.bytes, base.config);
  } catch (e) {
    return { kind: 'error', message: (e as Error).message };
  }
  const state = await baseState(engine, base);
  const info = fineTuneInfo('lora', base, imported.layout, base.trainer.setup.train.batchSize);
  const stem = request.fileName.replace(/\.safetensors$/i, '');
  const lora = { layout: imported.layout, adapters: imported.flat };
  return forkRun(engine, base, `${stem} on ${base.trainer.setup.run.name}`, 'lora', { params: state.params, lora, fineTune: info }, true);
}
