import { useState } from 'react';
import { DEFAULT_TOY_SPEC, TOY_HELD_OUT, TOY_LIMITS, TOY_TASKS, toyTaskInfo, toyTaskProblem, type ToyTaskKind, type ToyTaskSpec } from '../data/toyTasks';
import { NumberInput } from './NumberInput';
import { useData } from './stores/data';
import { useSetup } from './stores/setup';

/** Toy tasks where circuits form: a corpus generated from a seed, with a held-out set the engine scores at every evaluation. */
export function ToyTaskForm() {
  const corpus = useData((s) => s.corpus);
  const loading = useData((s) => s.loading);
  const loadToy = useData((s) => s.actions.loadToy);
  const blockSize = useSetup((s) => s.model.blockSize);
  const [spec, setSpec] = useState<ToyTaskSpec>(() => corpus?.toy?.spec ?? DEFAULT_TOY_SPEC);
  const info = toyTaskInfo(spec.kind);
  const problem = toyTaskProblem(spec, blockSize);
  const set = (patch: Partial<ToyTaskSpec>) => setSpec((s) => ({ ...s, ...patch }));
  const active = corpus?.toy ? corpus.toy.spec : null;

  return (
    <div className="toy-tasks" data-testid="toy-tasks">
      <h3>Toy tasks</h3>
      <p className="tag">
        Small algorithmic tasks, generated here from a seed: one example per line, prompt then answer. {TOY_HELD_OUT} held-out examples from
        another seed (never in the training text) are completed greedily at every evaluation; their accuracy is plotted with the loss.
      </p>
      <div className="fields">
        <div className="field">
          <label htmlFor="toy-kind">Task</label>
          <select id="toy-kind" value={spec.kind} onChange={(e) => set({ kind: e.target.value as ToyTaskKind })} data-testid="toy-kind">
            {TOY_TASKS.map((t) => (
              <option key={t.kind} value={t.kind}>
                {t.label}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="toy-length">{spec.kind === 'add' ? 'Digits (at most)' : spec.kind === 'brackets' ? 'Length (at most)' : 'Length'}</label>
          <NumberInput id="toy-length" testId="toy-length" value={spec.length} min={info.minLength} max={info.maxLength} onValue={(v) => set({ length: v })} />
        </div>
        {info.usesAlphabet && (
          <div className="field">
            <label htmlFor="toy-alphabet">Alphabet (letters)</label>
            <NumberInput id="toy-alphabet" testId="toy-alphabet" value={spec.alphabet} min={TOY_LIMITS.minAlphabet} max={TOY_LIMITS.maxAlphabet} onValue={(v) => set({ alphabet: v })} />
          </div>
        )}
        <div className="field">
          <label htmlFor="toy-examples">Training examples</label>
          <NumberInput id="toy-examples" testId="toy-examples" value={spec.examples} min={TOY_LIMITS.minExamples} max={TOY_LIMITS.maxExamples} onValue={(v) => set({ examples: v })} />
        </div>
        <div className="field">
          <label htmlFor="toy-seed">Seed</label>
          <NumberInput id="toy-seed" testId="toy-seed" value={spec.seed} min={0} onValue={(v) => set({ seed: v })} />
        </div>
        {spec.kind === 'repeat' && (
          <div className="field check">
            <input id="toy-vary" type="checkbox" checked={!!spec.varyLength} onChange={(e) => set({ varyLength: e.target.checked })} data-testid="toy-vary" />
            <label htmlFor="toy-vary">Vary the length (half to all of it: only an induction head can copy)</label>
          </div>
        )}
        {info.usesReversedDigits && (
          <div className="field check">
            <input id="toy-reversed" type="checkbox" checked={spec.reversedDigits} onChange={(e) => set({ reversedDigits: e.target.checked })} data-testid="toy-reversed" />
            <label htmlFor="toy-reversed">Digits reversed (least significant first)</label>
          </div>
        )}
      </div>
      <p className="tag">{info.description}</p>
      {problem && (
        <p className="bad" role="status" data-testid="toy-problem">
          {problem}
        </p>
      )}
      <button onClick={() => void loadToy(spec)} disabled={!!loading || problem !== null} data-testid="toy-use">
        Use this task
      </button>
      {active && (
        <p className="tag" data-testid="toy-active" data-kind={active.kind}>
          Training on {toyTaskInfo(active.kind).label.toLowerCase()}; held out, e.g. <code>{corpus!.toy!.heldOut[0].prompt}</code> →{' '}
          <code>{corpus!.toy!.heldOut[0].answer}</code>
        </p>
      )}
    </div>
  );
}
