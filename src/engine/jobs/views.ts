// Views on the open run's current weights, served between training steps:
// attention maps of a prompt, and sampling (one generation at a time, its
// settings adjustable and stoppable while it runs).
import { NOT_LOADED, type Engine } from '../engine';
import { Generation } from '../generator';
import type { EngineReply, EngineRequest } from '../protocol';
import { unknownSentence } from '../../model/runTokenizer';
import { recover } from './device';

type Request<K extends EngineRequest['kind']> = Extract<EngineRequest, { kind: K }>;

/** Attention probabilities of the prompt's last blockSize tokens. */
export async function attention(engine: Engine, request: Request<'attention'>): Promise<EngineReply> {
  if (!engine.run) return NOT_LOADED;
  await recover(engine);
  const r = engine.run;
  const { ids, unknown } = r.tokenizer.encode(request.prompt);
  // A run on tokens refuses what it cannot read (dropping a piece would change the tokens around it).
  if (unknown.length && r.tokenizer.kind !== 'char') return { kind: 'error', message: unknownSentence(unknown) };
  if (!ids.length) return { kind: 'error', message: 'Type a prompt with characters from the corpus to see its attention.' };
  const T = Math.min(ids.length, r.config.blockSize);
  const cropped = ids.length - T;
  const window = ids.subarray(cropped);
  const probs = await engine.serial.run(() => r.trainer.model.attention(window));
  return {
    kind: 'attention',
    step: r.trainer.step,
    tokens: Array.from(window, (id) => r.tokenizer.vocab[id]),
    nLayer: r.config.nLayer,
    nHead: r.config.nHead,
    T,
    probs,
    unknown,
    cropped,
  };
}

/** Sample a continuation of the prompt (a generation in progress is stopped first); tokens stream as events. */
export async function generate(engine: Engine, request: Request<'generate'>): Promise<EngineReply> {
  if (!engine.run) return NOT_LOADED;
  await recover(engine);
  engine.generation?.stop();
  const tokenizer = engine.run.tokenizer;
  const unknown = tokenizer.kind === 'char' ? [] : tokenizer.encode(request.prompt).unknown;
  if (unknown.length) return { kind: 'error', message: unknownSentence(unknown) };
  const g = new Generation(engine.run.trainer.model, engine.run.tokenizer, engine.serial, engine.emit, request.sampling);
  engine.generation = g;
  try {
    const result = await g.run(request.requestId, request.prompt, Math.max(0, Math.floor(request.maxNewTokens)));
    return { kind: 'generated', requestId: request.requestId, text: result.text, stopped: result.stopped, unknown: result.unknown };
  } finally {
    if (engine.generation === g) engine.generation = null;
  }
}

export function setSampling(engine: Engine, request: Request<'setSampling'>): EngineReply {
  engine.generation?.setSettings(request.sampling);
  return { kind: 'ok' };
}

export function stopGenerate(engine: Engine): EngineReply {
  engine.generation?.stop();
  return { kind: 'ok' };
}
