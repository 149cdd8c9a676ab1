// Toy tasks where circuits form: small algorithmic corpora generated from a
// seed (nothing is downloaded), each with a held-out evaluation set.
//
// One example is one line, `prompt + answer`; the corpus text is many examples,
// one per line ('\n' ends each, so every example in training follows a newline,
// and evaluation feeds '\n' + prompt). The held-out set comes from another seed
// stream and leaves out every line that is in the training text.
//
//   repeat    abcdabcd       prompt: the first copy          answer: the second copy (with varyLength, each
//                                                            string's length is drawn from ceil(n/2)..n, so the
//                                                            distance between the copies varies and only an
//                                                            induction head, not a fixed offset back, copies it)
//   copy      abcd|abcd      prompt: the string and '|'      answer: the string
//   reverse   abcd|dcba      prompt: the string and '|'      answer: the string reversed
//   sort      dbca|abcd      prompt: the string and '|'      answer: its characters sorted
//   add       123+45=168     prompt: up to '='               answer: the sum (with reversedDigits every number is
//                                                            written least significant digit first: 321+54=861)
//   brackets  (()())|T       prompt: up to '|'               answer: T when balanced, F when not
import { SeededRng } from '../model/sampling';

import type { ToyTaskKind, ToyTaskSpec } from '../model/config';

export type { ToyTaskKind, ToyTaskSpec };

export interface ToyExample {
  prompt: string;
  answer: string;
}

export interface ToyTaskInfo {
  kind: ToyTaskKind;
  label: string;
  /** One line that says what the task is, with an example. */
  description: string;
  /** Which fields of the spec the task reads. */
  usesAlphabet: boolean;
  usesReversedDigits: boolean;
  /** Allowed range of `length`. */
  minLength: number;
  maxLength: number;
}

export const TOY_TASKS: ToyTaskInfo[] = [
  { kind: 'repeat', label: 'Repeat', description: 'A random string written twice: abcdabcd. Scored on the second copy. With varying lengths the copies are a varying distance apart, so only an induction head can copy it.', usesAlphabet: true, usesReversedDigits: false, minLength: 1, maxLength: 64 },
  { kind: 'copy', label: 'Copy', description: 'abcd|abcd: copy the string after the bar.', usesAlphabet: true, usesReversedDigits: false, minLength: 1, maxLength: 64 },
  { kind: 'reverse', label: 'Reverse', description: 'abcd|dcba: write the string backwards.', usesAlphabet: true, usesReversedDigits: false, minLength: 1, maxLength: 64 },
  { kind: 'sort', label: 'Sort', description: 'dbca|abcd: sort the characters.', usesAlphabet: true, usesReversedDigits: false, minLength: 1, maxLength: 64 },
  { kind: 'add', label: 'Add', description: '123+45=168: add two numbers (optionally with every number written backwards: 321+54=861).', usesAlphabet: false, usesReversedDigits: true, minLength: 1, maxLength: 9 },
  { kind: 'brackets', label: 'Brackets', description: '(()())|T: T when the brackets balance, F when not.', usesAlphabet: false, usesReversedDigits: false, minLength: 2, maxLength: 64 },
];

export const TOY_LIMITS = { minAlphabet: 2, maxAlphabet: 26, minExamples: 100, maxExamples: 100_000, maxSeed: 2 ** 32 - 1 } as const;

/** Held-out examples made by toyTask (the engine scores a fixed number of them at every evaluation). */
export const TOY_HELD_OUT = 256;

export const DEFAULT_TOY_SPEC: ToyTaskSpec = { kind: 'repeat', length: 12, alphabet: 16, reversedDigits: false, examples: 4000, seed: 1 };

/** The shortest string of a repeat task (with varying lengths, each example's length is uniform from this to its length). */
export function repeatMinLength(spec: Pick<ToyTaskSpec, 'kind' | 'length' | 'varyLength'>): number {
  return spec.kind === 'repeat' && spec.varyLength ? Math.max(1, Math.ceil(spec.length / 2)) : spec.length;
}

export function toyTaskInfo(kind: ToyTaskKind): ToyTaskInfo {
  return TOY_TASKS.find((t) => t.kind === kind) ?? TOY_TASKS[0];
}

/** The corpus name a task's text goes by (it names every parameter, so two specs never share a name). */
export function toyCorpusName(spec: ToyTaskSpec): string {
  const info = toyTaskInfo(spec.kind);
  const lo = repeatMinLength(spec);
  const parts = [spec.kind === 'add' ? `${spec.length} digits` : spec.kind === 'repeat' && lo < spec.length ? `length ${lo} to ${spec.length}` : `length ${spec.length}`];
  if (info.usesAlphabet) parts.push(`alphabet ${spec.alphabet}`);
  if (info.usesReversedDigits && spec.reversedDigits) parts.push('reversed digits');
  parts.push(`${spec.examples} examples`, `seed ${spec.seed}`);
  return `Toy task: ${info.label} (${parts.join(', ')})`;
}

/** Characters of the longest line (prompt + answer) a spec can make. */
export function longestToyLine(spec: ToyTaskSpec): number {
  const n = spec.length;
  switch (spec.kind) {
    case 'repeat':
      return 2 * n;
    case 'copy':
    case 'reverse':
    case 'sort':
      return 2 * n + 1;
    case 'add':
      return 3 * n + 3; // n + '+' + n + '=' + (n + 1)
    case 'brackets':
      return n + 2;
  }
}

/** The largest `length` whose lines fit a context of blockSize (0 when none does). */
function largestFittingLength(kind: ToyTaskKind, blockSize: number): number {
  const info = toyTaskInfo(kind);
  let best = 0;
  for (let n = info.minLength; n <= info.maxLength; n++) if (longestToyLine({ ...DEFAULT_TOY_SPEC, kind, length: n }) <= blockSize) best = n;
  return best;
}

/** A sentence for each parameter out of range, and for an example that would not fit the context; null when the spec is usable. */
export function toyTaskProblem(spec: ToyTaskSpec, blockSize?: number): string | null {
  const info = TOY_TASKS.find((t) => t.kind === spec.kind);
  if (!info) return `Unknown toy task "${String(spec.kind)}". Choose one of ${TOY_TASKS.map((t) => t.label).join(', ')}.`;
  const what = spec.kind === 'add' ? 'The number of digits' : 'The length';
  if (!Number.isInteger(spec.length) || spec.length < info.minLength || spec.length > info.maxLength) {
    return `${what} of the ${info.label} task must be a whole number from ${info.minLength} to ${info.maxLength}; it is ${spec.length}.`;
  }
  if (info.usesAlphabet && (!Number.isInteger(spec.alphabet) || spec.alphabet < TOY_LIMITS.minAlphabet || spec.alphabet > TOY_LIMITS.maxAlphabet)) {
    return `The alphabet must have from ${TOY_LIMITS.minAlphabet} to ${TOY_LIMITS.maxAlphabet} letters; it has ${spec.alphabet}.`;
  }
  if (!Number.isInteger(spec.examples) || spec.examples < TOY_LIMITS.minExamples || spec.examples > TOY_LIMITS.maxExamples) {
    return `The number of training examples must be a whole number from ${TOY_LIMITS.minExamples} to ${TOY_LIMITS.maxExamples.toLocaleString('en-US')}; it is ${spec.examples}.`;
  }
  if (!Number.isInteger(spec.seed) || spec.seed < 0 || spec.seed > TOY_LIMITS.maxSeed) {
    return `The seed must be a whole number from 0 to ${TOY_LIMITS.maxSeed}; it is ${spec.seed}.`;
  }
  if (blockSize !== undefined) {
    const line = longestToyLine(spec);
    if (line > blockSize) {
      const fits = largestFittingLength(spec.kind, blockSize);
      const shorter = fits > 0 ? `use ${spec.kind === 'add' ? `at most ${fits} digits` : `a length of at most ${fits}`} or ` : '';
      const task = info.label.toLowerCase();
      return `${/^[aeiou]/.test(task) ? 'An' : 'A'} ${task} example of ${spec.kind === 'add' ? `${spec.length} digits` : `length ${spec.length}`} is up to ${line} characters, longer than the model's context of ${blockSize}: ${shorter}a context of at least ${line}.`;
    }
  }
  return null;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

function randomString(rng: SeededRng, n: number, alphabet: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += LETTERS[Math.floor(rng.next() * alphabet)];
  return s;
}

function randomInt(rng: SeededRng, lo: number, hi: number): number {
  return lo + Math.floor(rng.next() * (hi - lo + 1));
}

/** True when every bracket closes one opened before it and none stays open. */
export function balanced(s: string): boolean {
  let depth = 0;
  for (const c of s) {
    depth += c === '(' ? 1 : -1;
    if (depth < 0) return false;
  }
  return depth === 0;
}

const reverseString = (s: string) => Array.from(s).reverse().join('');

/** The correct answer to a prompt of the task (the function every example of the task computes). */
export function toyAnswer(spec: Pick<ToyTaskSpec, 'kind' | 'reversedDigits'>, prompt: string): string {
  switch (spec.kind) {
    case 'repeat':
      return prompt;
    case 'copy':
      return prompt.slice(0, -1);
    case 'reverse':
      return reverseString(prompt.slice(0, -1));
    case 'sort':
      return Array.from(prompt.slice(0, -1)).sort().join('');
    case 'add': {
      const [a, b] = prompt.slice(0, -1).split('+');
      const read = (s: string) => BigInt(spec.reversedDigits ? reverseString(s) : s);
      const sum = (read(a) + read(b)).toString();
      return spec.reversedDigits ? reverseString(sum) : sum;
    }
    case 'brackets':
      return balanced(prompt.slice(0, -1)) ? 'T' : 'F';
  }
}

/** One random example of the task. */
function toyExample(spec: ToyTaskSpec, rng: SeededRng): ToyExample {
  const n = spec.length;
  let prompt: string;
  switch (spec.kind) {
    case 'repeat':
      prompt = randomString(rng, spec.varyLength ? randomInt(rng, repeatMinLength(spec), n) : n, spec.alphabet);
      break;
    case 'copy':
    case 'reverse':
    case 'sort':
      prompt = randomString(rng, n, spec.alphabet) + '|';
      break;
    case 'add': {
      // Uniform digit counts, then uniform numbers of that many digits (no leading zeros).
      const number = () => {
        const digits = randomInt(rng, 1, n);
        const lo = digits === 1 ? 0 : 10 ** (digits - 1);
        const s = String(randomInt(rng, lo, 10 ** digits - 1));
        return spec.reversedDigits ? reverseString(s) : s;
      };
      prompt = `${number()}+${number()}=`;
      break;
    }
    case 'brackets': {
      const len = 2 * randomInt(rng, 1, Math.floor(n / 2));
      let s = '';
      if (rng.next() < 0.5) {
        // A random balanced string: open while there is room, close when something is open.
        let open = 0;
        for (let i = 0; i < len; i++) {
          const left = len - i;
          const mustClose = open === left;
          const mayClose = open > 0;
          if (mustClose || (mayClose && rng.next() < 0.5)) {
            s += ')';
            open--;
          } else {
            s += '(';
            open++;
          }
        }
      } else {
        do {
          s = '';
          for (let i = 0; i < len; i++) s += rng.next() < 0.5 ? '(' : ')';
        } while (balanced(s));
      }
      prompt = s + '|';
      break;
    }
  }
  return { prompt, answer: toyAnswer(spec, prompt) };
}

export interface ToyTaskData {
  spec: ToyTaskSpec;
  name: string;
  /** The corpus: `examples` lines, each prompt + answer + '\n'. */
  text: string;
  /** TOY_HELD_OUT examples from another seed stream, none of them a line of the text. */
  heldOut: ToyExample[];
}

/** Stream of training examples, and the other one the held-out set is drawn from. */
const TRAIN_STREAM = 0x7a11;
const HELD_OUT_STREAM = 0x4e1d;

function streamSeed(seed: number, stream: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(stream + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The corpus and held-out set of a task, or the sentence that says why it
 * cannot be made (a parameter out of range, lines longer than the context, or
 * a task with too few distinct examples for a held-out set).
 */
export function toyTask(spec: ToyTaskSpec, blockSize?: number): ToyTaskData | { problem: string } {
  const problem = toyTaskProblem(spec, blockSize);
  if (problem) return { problem };
  const train = new SeededRng(streamSeed(spec.seed, TRAIN_STREAM));
  const lines: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < spec.examples; i++) {
    const ex = toyExample(spec, train);
    const line = ex.prompt + ex.answer;
    lines.push(line);
    seen.add(line);
  }
  const held = new SeededRng(streamSeed(spec.seed, HELD_OUT_STREAM));
  const heldOut: ToyExample[] = [];
  const attempts = 50 * TOY_HELD_OUT;
  for (let i = 0; i < attempts && heldOut.length < TOY_HELD_OUT; i++) {
    const ex = toyExample(spec, held);
    const line = ex.prompt + ex.answer;
    if (seen.has(line)) continue;
    seen.add(line);
    heldOut.push(ex);
  }
  if (heldOut.length < TOY_HELD_OUT) {
    const info = toyTaskInfo(spec.kind);
    return {
      problem:
        `The ${info.label.toLowerCase()} task with these settings has too few distinct examples: only ${heldOut.length} of the ${TOY_HELD_OUT} held-out ` +
        `examples could be found outside the training text. Raise the ${spec.kind === 'add' ? 'number of digits' : info.usesAlphabet ? 'length or the alphabet' : 'length'}, or use fewer training examples.`,
    };
  }
  return { spec, name: toyCorpusName(spec), text: lines.join('\n') + '\n', heldOut };
}
