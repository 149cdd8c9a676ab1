import { NumberInput } from './NumberInput';
import { DEFAULT_ROPE_THETA, PRESETS, type ModelShape, type TrainConfig } from '../model/config';
import { intermediateSize } from '../model/description';
import { memoryEstimate, paramCount, validateConfig, type ConfigProblem } from '../model/validate';
import { useGpu } from './gpuStore';
import { choosePreset } from './stores/data';
import { useModelVocabSize } from './stores/runTokenizer';
import { useSetup } from './stores/setup';
import { isPreset } from './runPreset';
import { useShallow } from 'zustand/react/shallow';

type NumberKey<T> = { [K in keyof T]-?: T[K] extends number ? K : never }[keyof T];

interface NumberField<T> {
  key: NumberKey<T>;
  label: string;
  step?: number;
  hint?: string;
}

const MODEL_NUMBERS: NumberField<ModelShape>[] = [
  { key: 'nLayer', label: 'Layers' },
  { key: 'nHead', label: 'Heads' },
  { key: 'nEmbd', label: 'Width (n_embd)' },
  { key: 'blockSize', label: 'Context (block size)' },
  { key: 'dropout', label: 'Dropout', step: 0.05 },
];

const TRAIN_NUMBERS: NumberField<TrainConfig>[] = [
  { key: 'batchSize', label: 'Batch size' },
  { key: 'maxSteps', label: 'Steps' },
  { key: 'learningRate', label: 'Learning rate', step: 1e-4 },
  { key: 'warmupSteps', label: 'Warmup steps' },
  { key: 'minLr', label: 'Minimum learning rate', step: 1e-5 },
  { key: 'beta1', label: 'Adam β1', step: 0.01 },
  { key: 'beta2', label: 'Adam β2', step: 0.001 },
  { key: 'eps', label: 'Adam ε', step: 1e-9 },
  { key: 'weightDecay', label: 'Weight decay', step: 0.01 },
  { key: 'gradClip', label: 'Gradient clip (0 = off)', step: 0.1 },
  { key: 'evalInterval', label: 'Evaluate every' },
  { key: 'evalIters', label: 'Evaluation batches' },
  { key: 'seed', label: 'Seed' },
  { key: 'checkpointInterval', label: 'Checkpoint every (0 = off)' },
];

/** Fields that only the cosine schedule reads. */
const SCHEDULE_ONLY: NumberKey<TrainConfig>[] = ['warmupSteps', 'minLr'];

function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

export function formatMiB(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

function Problems({ problems, field }: { problems: ConfigProblem[]; field: string }) {
  const mine = problems.filter((p) => p.field === field);
  if (mine.length === 0) return null;
  return (
    <span className="field-problem" data-testid={`problem-${field}`}>
      {mine.map((p) => p.message).join(' ')}
    </span>
  );
}

/** Preset, every config field with its problem beside it, and what the config costs. */
export function ModelConfigPanel() {
  const { preset, model, train } = useSetup(useShallow((s) => ({ preset: s.preset, model: s.model, train: s.train })));
  const { setModel, setTrain } = useSetup((s) => s.actions);
  const vocabSize = useModelVocabSize();
  const limits = useGpu((s) => s.info?.limits);
  const problems = validateConfig(vocabSize ? { ...model, vocabSize } : model, train, {
    maxStorageBufferBindingSize: limits?.maxStorageBufferBindingSize,
    maxBufferSize: limits?.maxBufferSize,
  });
  const shapeOk = !problems.some((p) => ['nLayer', 'nHead', 'nEmbd', 'blockSize', 'vocabSize', 'batchSize', 'block', 'nKvHead', 'ffnHidden'].includes(p.field));
  const config = { ...model, vocabSize: vocabSize ?? 256 };
  const params = shapeOk ? paramCount(config) : null;
  const memory = shapeOk ? memoryEstimate(config, train.batchSize) : null;
  const general = problems.filter((p) => p.field === 'memory' || p.field === 'vocabSize');
  const named = PRESETS.find((p) => p.id === preset);
  // The picker and the description say what the fields are: a preset's settings, or custom ones.
  const current = named && isPreset(named, model, train) ? named : null;
  const llama = model.block === 'llama';
  const gpt2Only = llama ? 'GPT-2 block only: the LLaMA-style block uses SwiGLU and has no biases.' : null;
  const defaultFfn = intermediateSize({ nEmbd: model.nEmbd });

  return (
    <section className="panel" aria-label="Model configuration" data-testid="config-panel">
      <h2>Model</h2>
      <label className="field">
        <span>Preset</span>
        <select value={current ? preset : 'custom'} onChange={(e) => void choosePreset(e.target.value as typeof preset)} data-testid="preset">
          {!current && (
            <option value="custom" disabled>
              Custom{named ? ` (from ${named.label})` : ''}
            </option>
          )}
          {PRESETS.map((p) => (
            <option key={p.id} value={p.id}>
              {p.label}
            </option>
          ))}
        </select>
      </label>
      {current ? (
        <p className="tag" data-testid="preset-description" data-custom="false">
          {current.description}
          {current.publishedOn && ` ${current.publishedOn} is not built in: drop it on the Dataset tab to reproduce the published losses.`}
        </p>
      ) : (
        <p className="tag" data-testid="preset-description" data-custom="true">
          Custom: these settings match no preset
          {named ? ` (they started from ${named.label}; the link names it and what differs)` : ''}. Pick a preset to start from its settings.
        </p>
      )}
      <p className="cost" data-testid="model-cost" data-params={params ?? undefined} data-bytes={memory?.totalBytes}>
        {params !== null && memory ? (
          <>
            <strong>{formatCount(params)}</strong> parameters ({params.toLocaleString('en-US')}), about <strong>{formatMiB(memory.totalBytes)}</strong> of GPU
            memory for training{vocabSize === null && ' (assuming 256 characters until a corpus is loaded)'}.
          </>
        ) : (
          'Fix the fields below to see the size.'
        )}
      </p>
      {general.map((p, i) => (
        <p key={i} className="bad" data-testid="config-problem">
          {p.message}
        </p>
      ))}
      <div className="fields">
        <div className="field">
          <label htmlFor="block">Block</label>
          <select
            id="block"
            value={model.block ?? 'gpt2'}
            data-testid="field-block"
            onChange={(e) => setModel(e.target.value === 'llama' ? { block: 'llama', dropout: 0 } : { block: 'gpt2' })}
          >
            <option value="gpt2">GPT-2 (LayerNorm, learned positions, MLP)</option>
            <option value="llama">LLaMA (RMSNorm, rotary, SwiGLU, grouped-query attention)</option>
          </select>
          <Problems problems={problems} field="block" />
        </div>
        {llama && (
          <>
            <div className="field">
              <label htmlFor="nKvHead">Key/value heads</label>
              <NumberInput
                id="nKvHead"
                testId="field-nKvHead"
                value={model.nKvHead ?? model.nHead}
                invalid={problems.some((p) => p.field === 'nKvHead')}
                onValue={(v) => setModel({ nKvHead: v })}
              />
              <span className="tag">Query heads share them in groups (grouped-query attention); equal to the heads for plain multi-head attention.</span>
              <Problems problems={problems} field="nKvHead" />
            </div>
            <div className="field">
              <label htmlFor="ffnHidden">MLP intermediate size</label>
              <NumberInput
                id="ffnHidden"
                testId="field-ffnHidden"
                value={model.ffnHidden ?? defaultFfn}
                invalid={problems.some((p) => p.field === 'ffnHidden')}
                onValue={(v) => setModel({ ffnHidden: v })}
              />
              <span className="tag" data-testid="ffn-default">
                Default {defaultFfn}: 8 × width / 3 rounded up to a multiple of 8.
                {model.ffnHidden !== undefined && model.ffnHidden !== defaultFfn && (
                  <>
                    {' '}
                    <button type="button" onClick={() => setModel({ ffnHidden: undefined })} data-testid="ffn-reset">
                      Use the default
                    </button>
                  </>
                )}
              </span>
              <Problems problems={problems} field="ffnHidden" />
            </div>
            <div className="field">
              <label htmlFor="ropeTheta">Rotary base (rope θ)</label>
              <NumberInput
                id="ropeTheta"
                testId="field-ropeTheta"
                value={model.ropeTheta ?? DEFAULT_ROPE_THETA}
                step="any"
                invalid={problems.some((p) => p.field === 'ropeTheta')}
                onValue={(v) => setModel({ ropeTheta: v })}
              />
              <Problems problems={problems} field="ropeTheta" />
            </div>
          </>
        )}
        {MODEL_NUMBERS.map((f) => (
          <div className="field" key={f.key}>
            <label htmlFor={f.key}>{f.label}</label>
            <NumberInput id={f.key} testId={`field-${f.key}`} value={model[f.key]} step={f.step ?? 1} invalid={problems.some((p) => p.field === f.key)} onValue={(v) => setModel({ [f.key]: v })} />
            <Problems problems={problems} field={f.key} />
          </div>
        ))}
        <div className="field">
          <label htmlFor="activation">Activation</label>
          <select
            id="activation"
            value={model.activation}
            disabled={llama}
            aria-describedby={llama ? 'gpt2-only' : undefined}
            onChange={(e) => setModel({ activation: e.target.value as 'relu' | 'gelu' })}
            data-testid="field-activation"
          >
            <option value="relu">ReLU</option>
            <option value="gelu">GELU</option>
          </select>
          {gpt2Only && (
            <span className="tag" id="gpt2-only" data-testid="gpt2-only">
              {gpt2Only}
            </span>
          )}
        </div>
        <label className="field check">
          <input type="checkbox" checked={llama ? false : model.bias} disabled={llama} onChange={(e) => setModel({ bias: e.target.checked })} data-testid="field-bias" /> Bias in
          linear layers and LayerNorm
        </label>
        <label className="field check">
          <input type="checkbox" checked={model.tieWeights} onChange={(e) => setModel({ tieWeights: e.target.checked })} /> Tie input and output embeddings
        </label>
      </div>
      <details>
        <summary>Training settings</summary>
        <div className="fields">
          <label className="field check">
            <input type="checkbox" checked={train.lrDecay} onChange={(e) => setTrain({ lrDecay: e.target.checked })} data-testid="field-lrDecay" /> Cosine
            learning-rate schedule
          </label>
          <p className="tag" data-testid="schedule-semantics">
            {train.lrDecay
              ? `The rate rises linearly over the first ${train.warmupSteps} steps to ${train.learningRate}, then follows a cosine down to ${train.minLr} at step ${train.maxSteps} (nanoGPT's get_lr).`
              : `The rate is constant at ${train.learningRate}: warmup and the minimum rate belong to the cosine schedule and are off with it.`}
          </p>
          {TRAIN_NUMBERS.map((f) => {
            const scheduleOnly = SCHEDULE_ONLY.includes(f.key) && !train.lrDecay;
            return (
              <div className="field" key={f.key}>
                <label htmlFor={f.key}>{f.label}</label>
                <NumberInput
                  id={f.key}
                  testId={`field-${f.key}`}
                  value={train[f.key]}
                  step={f.step ?? 1}
                  invalid={problems.some((p) => p.field === f.key)}
                  disabled={scheduleOnly}
                  onValue={(v) => setTrain({ [f.key]: v })}
                />
                {scheduleOnly && <span className="tag">Used by the cosine schedule only: tick it to use this.</span>}
                <Problems problems={problems} field={f.key} />
              </div>
            );
          })}
        </div>
      </details>
    </section>
  );
}

/** True when the current setup can be loaded: used to enable Start. */
export function useConfigOk(): boolean {
  const { model, train } = useSetup(useShallow((s) => ({ model: s.model, train: s.train })));
  const vocabSize = useModelVocabSize();
  return validateConfig(vocabSize ? { ...model, vocabSize } : model, train).length === 0;
}
