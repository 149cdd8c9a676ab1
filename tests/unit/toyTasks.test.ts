import { describe, expect, it } from 'vitest';
import { balanced, DEFAULT_TOY_SPEC, longestToyLine, repeatMinLength, TOY_HELD_OUT, TOY_TASKS, toyTask, toyTaskProblem, type ToyTaskData, type ToyTaskSpec } from '../../src/data/toyTasks';

const make = (spec: Partial<ToyTaskSpec>, blockSize?: number): ToyTaskData => {
  const r = toyTask({ ...DEFAULT_TOY_SPEC, examples: 500, ...spec }, blockSize);
  if ('problem' in r) throw new Error(r.problem);
  return r;
};

/** Each task's answer computed independently of the module, from the prompt alone. */
function expected(kind: string, prompt: string, reversedDigits = false): string {
  const body = prompt.slice(0, -1);
  if (kind === 'repeat') return prompt;
  if (kind === 'copy') return body;
  if (kind === 'reverse') return body.split('').reverse().join('');
  if (kind === 'sort') return body.split('').sort().join('');
  if (kind === 'add') {
    const rev = (s: string) => s.split('').reverse().join('');
    const [a, b] = body.split('+').map((s) => Number(reversedDigits ? rev(s) : s));
    return reversedDigits ? rev(String(a + b)) : String(a + b);
  }
  // brackets: a running depth that never dips below 0 and ends at 0
  let d = 0;
  let ok = true;
  for (const c of body) {
    d += c === '(' ? 1 : -1;
    if (d < 0) ok = false;
  }
  return ok && d === 0 ? 'T' : 'F';
}

const SHAPE: Record<string, RegExp> = {
  repeat: /^[a-p]{12}$/,
  copy: /^[a-p]{12}\|$/,
  reverse: /^[a-p]{12}\|$/,
  sort: /^[a-p]{12}\|$/,
  add: /^\d{1,4}\+\d{1,4}=$/,
  brackets: /^[()]{2,12}\|$/,
};

describe('toy tasks', () => {
  it('the same seed gives the same corpus and held-out set; another seed another', () => {
    for (const { kind } of TOY_TASKS) {
      const spec = { kind, length: kind === 'add' ? 4 : 12 };
      const a = make(spec);
      const b = make(spec);
      expect(b.text).toBe(a.text);
      expect(b.heldOut).toEqual(a.heldOut);
      const c = make({ ...spec, seed: 2 });
      expect(c.text).not.toBe(a.text);
    }
  });

  it('every example is well formed: the answer is the task of the prompt, for the text and the held-out set', () => {
    for (const { kind } of TOY_TASKS) {
      for (const reversedDigits of kind === 'add' ? [false, true] : [false]) {
        const d = make({ kind, length: kind === 'add' ? 4 : 12, reversedDigits });
        const lines = d.text.split('\n');
        expect(lines.pop()).toBe(''); // the text ends with a newline
        expect(lines.length).toBe(500);
        const cut = (line: string) => (kind === 'repeat' ? line.length / 2 : line.indexOf(kind === 'add' ? '=' : '|') + 1);
        for (const line of lines) {
          const prompt = line.slice(0, cut(line));
          expect(prompt).toMatch(SHAPE[kind]);
          expect(line.slice(prompt.length)).toBe(expected(kind, prompt, reversedDigits));
        }
        expect(d.heldOut.length).toBe(TOY_HELD_OUT);
        for (const ex of d.heldOut) {
          expect(ex.prompt).toMatch(SHAPE[kind]);
          expect(ex.answer).toBe(expected(kind, ex.prompt, reversedDigits));
          expect(ex.prompt.length + ex.answer.length).toBeLessThanOrEqual(longestToyLine(d.spec));
        }
      }
    }
  });

  it('brackets are balanced about half the time, and the balanced check is right', () => {
    const d = make({ kind: 'brackets', length: 10, examples: 2000 });
    const answers = d.text.split('\n').filter(Boolean).map((l) => l.at(-1));
    const t = answers.filter((a) => a === 'T').length / answers.length;
    expect(t).toBeGreaterThan(0.4);
    expect(t).toBeLessThan(0.6);
    expect([balanced('(())()'), balanced('())('), balanced('(('), balanced('')]).toEqual([true, false, false, true]);
  });

  it('repeat strings with varying lengths run from half the length to the length, so the copies are a varying distance apart', () => {
    const d = make({ kind: 'repeat', length: 12, examples: 2000, varyLength: true });
    const counts = new Map<number, number>();
    for (const line of d.text.split('\n').filter(Boolean)) counts.set(line.length / 2, (counts.get(line.length / 2) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([6, 7, 8, 9, 10, 11, 12]);
    // Uniform: each of the 7 lengths about 2000 / 7 = 286 times.
    for (const c of counts.values()) expect(Math.abs(c - 2000 / 7)).toBeLessThan(60);
    expect(d.name).toBe('Toy task: Repeat (length 6 to 12, alphabet 16, 2000 examples, seed 1)');
    expect(repeatMinLength({ kind: 'repeat', length: 1, varyLength: true })).toBe(1);
    expect(repeatMinLength({ kind: 'repeat', length: 7, varyLength: true })).toBe(4);
    expect(make({ kind: 'repeat', length: 7, varyLength: true }).name).toMatch(/^Toy task: Repeat \(length 4 to 7,/);
    // Without it every string has the length.
    const fixed = make({ kind: 'repeat', length: 7 });
    expect(new Set(fixed.text.split('\n').filter(Boolean).map((l) => l.length))).toEqual(new Set([14]));
    expect(fixed.name).toMatch(/^Toy task: Repeat \(length 7,/);
  });

  it('reversed digits write every number least significant digit first', () => {
    const d = make({ kind: 'add', length: 3, reversedDigits: true });
    const ex = d.heldOut.find((e) => /^\d{3}\+\d{3}=$/.test(e.prompt) && e.prompt[2] !== '0')!;
    const [a, b] = ex.prompt.slice(0, -1).split('+');
    const sum = Number([...a].reverse().join('')) + Number([...b].reverse().join(''));
    expect(ex.answer).toBe([...String(sum)].reverse().join(''));
  });

  it('no held-out example is a line of the training text, and none repeats', () => {
    for (const { kind } of TOY_TASKS) {
      // Small spaces, so collisions would happen if they were not removed.
      const d = make({ kind, length: kind === 'add' ? 2 : kind === 'brackets' ? 12 : 7, alphabet: 3, examples: 1000 });
      const train = new Set(d.text.split('\n'));
      const held = d.heldOut.map((e) => e.prompt + e.answer);
      for (const line of held) expect(train.has(line)).toBe(false);
      expect(new Set(held).size).toBe(held.length);
    }
  });

  it('a task too small for a held-out set says so', () => {
    const r = toyTask({ ...DEFAULT_TOY_SPEC, kind: 'add', length: 1, examples: 5000 });
    expect('problem' in r && r.problem).toMatch(/too few distinct examples: only \d+ of the 256 held-out .*Raise the number of digits/);
  });

  it('parameters out of range get a sentence', () => {
    const p = (s: Partial<ToyTaskSpec>) => toyTaskProblem({ ...DEFAULT_TOY_SPEC, ...s });
    expect(p({ length: 0 })).toBe('The length of the Repeat task must be a whole number from 1 to 64; it is 0.');
    expect(p({ kind: 'add', length: 12 })).toBe('The number of digits of the Add task must be a whole number from 1 to 9; it is 12.');
    expect(p({ kind: 'brackets', length: 1 })).toMatch(/from 2 to 64; it is 1\./);
    expect(p({ alphabet: 1 })).toBe('The alphabet must have from 2 to 26 letters; it has 1.');
    expect(p({ alphabet: 27 })).toMatch(/it has 27/);
    expect(p({ kind: 'add', length: 4, alphabet: 1 })).toBeNull(); // add has no alphabet
    expect(p({ examples: 10 })).toMatch(/training examples must be a whole number from 100 to 100,000; it is 10\./);
    expect(p({ seed: -1 })).toMatch(/seed must be a whole number/);
    expect(p({ length: 2.5 })).toMatch(/whole number/);
    expect(p({ kind: 'nope' as never })).toMatch(/Unknown toy task "nope"/);
  });

  it('an example longer than the context is refused with the length that would fit', () => {
    expect(toyTaskProblem({ ...DEFAULT_TOY_SPEC, kind: 'repeat', length: 12 }, 24)).toBeNull();
    expect(toyTaskProblem({ ...DEFAULT_TOY_SPEC, kind: 'repeat', length: 12 }, 20)).toBe(
      "A repeat example of length 12 is up to 24 characters, longer than the model's context of 20: use a length of at most 10 or a context of at least 24.",
    );
    expect(toyTaskProblem({ ...DEFAULT_TOY_SPEC, kind: 'copy', length: 8 }, 16)).toMatch(/up to 17 characters.*at most 7 or a context of at least 17/);
    expect(toyTaskProblem({ ...DEFAULT_TOY_SPEC, kind: 'add', length: 4 }, 12)).toMatch(/example of 4 digits is up to 15 characters.*use at most 3 digits or a context of at least 15/);
    expect(toyTaskProblem({ ...DEFAULT_TOY_SPEC, kind: 'add', length: 2 }, 4)).toBe(
      "An add example of 2 digits is up to 9 characters, longer than the model's context of 4: a context of at least 9.",
    );
    const r = toyTask({ ...DEFAULT_TOY_SPEC, length: 40 }, 32);
    expect('problem' in r && r.problem).toMatch(/at most 16/);
  });
});
