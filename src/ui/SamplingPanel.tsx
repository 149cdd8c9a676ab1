import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useData } from './stores/data';
import { useInspect } from './stores/inspect';
import { useSetup } from './stores/setup';
import { useTraining } from './stores/training';
import { showWhitespace } from './tokenizer/spans';
import { formatEta } from './TrainingPanel';
import { LoraStrength } from './finetune/LoraStrength';
import { useReducedMotion } from './chartStyle';

/** Background for a generated character: red at 1% or less, green at certainty (log scale). */
function probColour(p: number): string {
  const t = (Math.log10(Math.max(p, 1e-6)) + 2) / 2;
  const hue = Math.round(120 * Math.max(0, Math.min(1, t)));
  return `hsla(${hue}, 70%, 50%, 0.35)`;
}

/** Characters (or tokens) so far out of those asked for, with an ETA from the rate so far. */
function GenerationProgress({ done, max, startedAt, unit }: { done: number; max: number; startedAt: number; unit: string }) {
  const elapsed = performance.now() - startedAt;
  const eta = done > 0 ? ((max - done) * elapsed) / done / 1000 : NaN;
  return (
    <div className="progress-line" data-testid="sample-progress">
      <progress max={max || 1} value={done} aria-label="Generation progress" />
      <span className="tag">
        {done} / {max} {unit}s · ETA {formatEta(eta)}
      </span>
    </div>
  );
}

/** Prompt, sampling settings, streamed text and the next-token distribution. */
export function SamplingPanel() {
  const sampling = useSetup((s) => s.sampling);
  const { setSampling } = useSetup((s) => s.actions);
  const vocab = useTraining((s) => s.loaded?.vocab ?? null);
  const unit = useTraining((s) => (s.loaded?.tokenizer && s.loaded.tokenizer.kind !== 'char' ? 'token' : 'character'));
  const corpusVocab = useData((s) => s.corpus?.stats.vocab.length ?? 0);
  const generation = useInspect(useShallow((s) => s.generation));
  const { generate, stopGenerate } = useInspect((s) => s.actions);
  const [prompt, setPrompt] = useState('');
  const output = useRef<HTMLPreElement>(null);
  // Follow the stream unless the person has scrolled up to read, or asks for reduced motion
  // (then the box stays where it is and the person scrolls).
  const following = useRef(true);
  const still = useReducedMotion();
  useLayoutEffect(() => {
    const el = output.current;
    if (el && following.current && !still) el.scrollTop = el.scrollHeight;
  }, [generation.chars.length, still]);
  useEffect(() => {
    if (generation.chars.length === 0) following.current = true;
  }, [generation.chars.length]);
  const [maxNew, setMaxNew] = useState(200);
  const V = vocab?.length ?? corpusVocab;
  const dist = generation.dist;
  const tokenText = (id: number) => (vocab ? showWhitespace(vocab[id] ?? '?').replace('\n', '') : String(id));
  const maxProb = dist ? Math.max(...dist.probs, 1e-9) : 1;

  return (
    <section className="panel" aria-label="Sampling" data-testid="sampling-panel">
      <h2>Sampling</h2>
      <LoraStrength />
      <div className="sampling-grid">
        <div>
          <label className="field">
            <span>Prompt</span>
            <textarea
              rows={2}
              value={prompt}
              onChange={(e) => setPrompt(e.target.value)}
              placeholder="Empty: generation starts after a newline, like a fresh line of the corpus."
              data-testid="sample-prompt"
            />
          </label>
          <div className="fields">
            <label className="field">
              <span>Max new tokens</span>
              <input type="number" min={1} max={2000} value={maxNew} onChange={(e) => setMaxNew(Math.max(1, Math.min(2000, Math.floor(Number(e.target.value) || 1))))} data-testid="sample-max" />
            </label>
            <label className="field">
              <span>Temperature {sampling.temperature.toFixed(2)}</span>
              <input type="range" min={0} max={2} step={0.05} value={sampling.temperature} disabled={sampling.greedy} onChange={(e) => setSampling({ temperature: Number(e.target.value) })} data-testid="sample-temperature" />
            </label>
            <label className="field">
              <span>Top-k {sampling.topK === 0 ? '(off)' : sampling.topK}</span>
              <input type="range" min={0} max={Math.max(1, V)} step={1} value={Math.min(sampling.topK, Math.max(1, V))} disabled={sampling.greedy} onChange={(e) => setSampling({ topK: Number(e.target.value) })} data-testid="sample-topk" />
            </label>
            <label className="field">
              <span>Top-p {sampling.topP >= 1 ? '(off)' : sampling.topP.toFixed(2)}</span>
              <input type="range" min={0.05} max={1} step={0.05} value={sampling.topP} disabled={sampling.greedy} onChange={(e) => setSampling({ topP: Number(e.target.value) })} data-testid="sample-topp" />
            </label>
            <label className="field check">
              <input type="checkbox" checked={sampling.greedy} onChange={(e) => setSampling({ greedy: e.target.checked })} data-testid="sample-greedy" /> Greedy (always the likeliest)
            </label>
            <label className="field">
              <span>Seed</span>
              <input type="number" min={0} value={sampling.seed} onChange={(e) => setSampling({ seed: Math.max(0, Math.min(0xffffffff, Math.floor(Number(e.target.value) || 0))) })} data-testid="sample-seed" />
            </label>
          </div>
          <div className="row buttons">
            {generation.running ? (
              <button onClick={stopGenerate} data-testid="sample-stop">
                Stop <kbd>Esc</kbd>
              </button>
            ) : (
              <button className="primary" onClick={() => void generate(prompt, maxNew)} disabled={!vocab} data-testid="sample-generate">
                Generate
              </button>
            )}
            {!vocab && <span className="tag">Train (or step) a model first.</span>}
          </div>
          {generation.running && <GenerationProgress done={generation.chars.length} max={generation.max} startedAt={generation.startedAt} unit={unit} />}
          {generation.error && <p className="bad" role="alert">{generation.error}</p>}
          <pre
            ref={output}
            className="generated"
            tabIndex={0}
            role="region"
            aria-label="Generated text"
            onScroll={(e) => {
              const el = e.currentTarget;
              following.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
            }}
            data-testid="sample-output"
            data-chars={generation.chars.length}
            data-running={generation.running}
            data-following={following.current && !still}
          >
            <span className="prompt-text">{generation.prompt}</span>
            {generation.chars.map((c, i) => (
              <span key={i} style={{ background: probColour(c.prob) }} title={`p = ${c.prob.toFixed(3)}`}>
                {c.char}
              </span>
            ))}
          </pre>
        </div>
        <div>
          <h3>Next-token distribution</h3>
          {dist ? (
            <>
              <ol className="bars" data-testid="sample-dist" data-removed-mass={dist.removedMass} data-dist={JSON.stringify({ ids: dist.ids, probs: dist.probs })}>
                {dist.ids.map((id, i) => (
                  <li key={id} className={`${dist.kept[i] ? '' : 'removed'}${id === generation.lastId ? ' sampled' : ''}`}>
                    <span className="bar-label">{tokenText(id)}</span>
                    <span className="bar" style={{ width: `${(100 * dist.probs[i]) / maxProb}%` }} />
                    <span className="bar-value">{(100 * dist.probs[i]).toFixed(1)}%</span>
                  </li>
                ))}
              </ol>
              <p className="tag">
                Removed by top-k / top-p: {(100 * dist.removedMass).toFixed(1)}% of the probability. Grey bars were removed; the outlined bar was sampled.
              </p>
            </>
          ) : (
            <p className="tag">Generate to see, for each new {unit}, the 20 likeliest candidates after temperature.</p>
          )}
        </div>
      </div>
    </section>
  );
}
