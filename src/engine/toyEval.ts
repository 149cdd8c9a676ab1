// Exact-match accuracy of greedy completions on a toy task's held-out
// examples, taken at every evaluation of a run that trains on one.
//
// Each example is fed as '\n' + prompt (every training example follows a
// newline), then the answer's length of tokens is decoded greedily (argmax,
// each chosen token fed back), on the model's key/value-cache decoder when it
// has one, else by full forwards. An example counts as exact when every
// decoded character equals the answer's; the per-character accuracy is the
// fraction of answer positions decoded right (for the repeat task: the
// second-half accuracy of greedy decoding).
import type { CharTokenizer } from '../model/tokenizer';
import type { Decoder, EngineModel } from './model';
import type { ToyAccuracy, ToyExample } from './protocol';
import type { Serial } from './serial';

/** Held-out examples scored at each evaluation (the first this many of the set, the same every time). */
export const TOY_EVAL_EXAMPLES = 32;

function argmax(logits: Float32Array): number {
  let best = 0;
  for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
  return best;
}

/** The greedy completion of `prompt` ids, `n` tokens long (one turn on the GPU queue). */
async function greedy(model: EngineModel, prompt: number[], n: number): Promise<number[]> {
  const out: number[] = [];
  let decoder: Decoder | null = null;
  try {
    let logits: Float32Array;
    if (model.decoder) {
      // An evaluation: the trained model, without the views' live ablations.
      decoder = model.decoder({ interventions: false });
      // Pushes are submitted in order at once; only the last one's logits are needed.
      const pending = prompt.map((id) => decoder!.push(id));
      logits = (await Promise.all(pending))[pending.length - 1];
    } else {
      logits = await model.logits(Int32Array.from(prompt), { interventions: false });
    }
    for (let i = 0; i < n; i++) {
      const id = argmax(logits);
      out.push(id);
      if (i + 1 === n) break;
      logits = decoder ? await decoder.push(id) : await model.logits(Int32Array.from([...prompt, ...out]), { interventions: false });
    }
  } finally {
    decoder?.dispose();
  }
  return out;
}

/**
 * Greedy completions of the first `count` examples that fit the context and
 * whose characters the model knows; null when none does.
 */
export async function toyAccuracy(
  model: EngineModel,
  serial: Serial,
  tokenizer: Pick<CharTokenizer, 'id' | 'encode'>,
  examples: ToyExample[],
  count = TOY_EVAL_EXAMPLES,
): Promise<ToyAccuracy | null> {
  const T = model.config.blockSize;
  const newline = tokenizer.id('\n');
  let exact = 0;
  let right = 0;
  let chars = 0;
  let n = 0;
  for (const ex of examples) {
    if (n >= count) break;
    const prompt = tokenizer.encode(ex.prompt);
    const answer = tokenizer.encode(ex.answer);
    if (prompt.unknown.length || answer.unknown.length || answer.ids.length === 0) continue;
    const ids = [...(newline >= 0 ? [newline] : []), ...prompt.ids];
    // The last answer token is predicted, never fed: prompt + answer - 1 positions.
    if (ids.length + answer.ids.length - 1 > T) continue;
    const got = await serial.run(() => greedy(model, ids, answer.ids.length));
    let ok = 0;
    for (let i = 0; i < answer.ids.length; i++) if (got[i] === answer.ids[i]) ok++;
    right += ok;
    chars += answer.ids.length;
    if (ok === answer.ids.length) exact++;
    n++;
  }
  if (n === 0) return null;
  return { exact: exact / n, perChar: right / chars, examples: n };
}
