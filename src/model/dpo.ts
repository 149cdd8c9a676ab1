// Preference data for DPO: pairs of (prompt, chosen, rejected) as TRL reads
// them (JSONL, one {"prompt", "chosen", "rejected"} object per line), a
// rule-based judge for demos and tests, and the batch one DPO step trains on.
//
// A step's batch holds S = 2P sequences of T positions: chosen 0..P-1, then
// rejected 0..P-1. Each sequence is prompt + response; position t reads
// seq[t] and predicts seq[t + 1], and mask[t] = 1 where seq[t + 1] belongs to
// the response (the PyTorch fixture dpo-relu uses the same convention).

import type { SequenceBatch } from './gpt';

export interface PreferencePair {
  prompt: string;
  chosen: string;
  rejected: string;
}

/** One JSON object per line, TRL's preference format. */
export function pairsToJsonl(pairs: PreferencePair[]): string {
  return pairs.map((p) => JSON.stringify({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected })).join('\n') + (pairs.length ? '\n' : '');
}

/** Parse JSONL preference pairs; a bad line is refused with a sentence that names it. Blank lines are skipped. */
export function pairsFromJsonl(text: string): PreferencePair[] {
  const pairs: PreferencePair[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      throw new Error(`Line ${i + 1} is not valid JSON.`);
    }
    const o = obj as Record<string, unknown>;
    for (const key of ['prompt', 'chosen', 'rejected']) {
      if (typeof o?.[key] !== 'string') throw new Error(`Line ${i + 1} needs a text "${key}" field (the format is {"prompt", "chosen", "rejected"}).`);
    }
    pairs.push({ prompt: o.prompt as string, chosen: o.chosen as string, rejected: o.rejected as string });
  });
  return pairs;
}

/** Characters of `text` outside the vocabulary, each once, in order of appearance. */
export function outOfVocabulary(text: string, vocab: readonly string[]): string[] {
  const known = new Set(vocab);
  const out: string[] = [];
  for (const ch of text) if (!known.has(ch) && !out.includes(ch)) out.push(ch);
  return out;
}

const show = (ch: string) => (ch === '\n' ? '\\n' : ch === '\t' ? '\\t' : ch === ' ' ? 'space' : ch);

/** A sentence naming the characters of `text` the model cannot read, or null when there are none. */
export function vocabularyProblem(text: string, vocab: readonly string[], what = 'The text'): string | null {
  const bad = outOfVocabulary(text, vocab);
  if (!bad.length) return null;
  const listed = bad.slice(0, 10).map((c) => `"${show(c)}"`).join(', ');
  return `${what} has ${bad.length} character${bad.length > 1 ? 's' : ''} the base model has never seen (${listed}${bad.length > 10 ? ', ...' : ''}); remove or replace ${bad.length > 1 ? 'them' : 'it'}.`;
}

/** A rule that labels a pair of continuations automatically. */
export type JudgeRule =
  | { kind: 'contains'; word: string }
  | { kind: 'shorter' }
  | { kind: 'avoids'; char: string };

/** Which continuation the rule prefers: 'a', 'b', or null when it cannot tell them apart (skip the pair). */
export function judge(rule: JudgeRule, a: string, b: string): 'a' | 'b' | null {
  const pick = (sa: number, sb: number) => (sa > sb ? 'a' : sb > sa ? 'b' : null);
  switch (rule.kind) {
    case 'contains': return rule.word ? pick(Number(a.includes(rule.word)), Number(b.includes(rule.word))) : null;
    case 'shorter': return pick(-a.length, -b.length);
    case 'avoids': return rule.char ? pick(Number(!a.includes(rule.char)), Number(!b.includes(rule.char))) : null;
  }
}

/** A human-readable description of a rule (for the pair list and the run's record). */
export function describeRule(rule: JudgeRule): string {
  switch (rule.kind) {
    case 'contains': return `prefers the continuation that contains "${rule.word}"`;
    case 'shorter': return 'prefers the shorter continuation';
    case 'avoids': return `prefers the continuation without "${show(rule.char)}"`;
  }
}

/**
 * The batch of one DPO step: P pairs as S = 2P sequences of T positions
 * (chosen, then rejected). A sequence longer than T + 1 tokens loses prompt
 * tokens from the left (at least one stays), then response tokens from the
 * right; shorter ones are padded with token 0 and masked out.
 */
export function pairBatch(pairs: PreferencePair[], encode: (text: string) => number[], T: number): SequenceBatch {
  const P = pairs.length;
  const S = 2 * P;
  const x = new Int32Array(S * T);
  const y = new Int32Array(S * T);
  const mask = new Float32Array(S * T);
  for (let s = 0; s < S; s++) {
    const pair = pairs[s % P];
    let prompt = encode(pair.prompt);
    let response = encode(s < P ? pair.chosen : pair.rejected);
    if (prompt.length === 0) throw new Error('A preference pair needs a prompt of at least one character.');
    const room = T + 1;
    if (prompt.length + response.length > room) {
      prompt = prompt.slice(Math.max(0, prompt.length - Math.max(1, room - response.length)));
      response = response.slice(0, room - prompt.length);
    }
    const seq = [...prompt, ...response];
    for (let t = 0; t < T; t++) {
      x[s * T + t] = seq[t] ?? 0;
      y[s * T + t] = seq[t + 1] ?? 0;
      mask[s * T + t] = t + 1 >= prompt.length && t + 1 < seq.length ? 1 : 0;
    }
  }
  return { x, y, mask };
}
