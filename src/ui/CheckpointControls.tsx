// The run's checkpoints: whether they are being saved, and the weights as a
// .safetensors file to download or load back.
import { useRef } from 'react';
import { useGpu } from './gpuStore';
import { useCheckpoints } from './stores/checkpoints';
import { useData } from './stores/data';
import { useTraining } from './stores/training';

function clock(at: number): string {
  return new Date(at).toLocaleTimeString('en-GB');
}

export function CheckpointControls() {
  const last = useCheckpoints((s) => s.last);
  const transfer = useCheckpoints((s) => s.transfer);
  const note = useCheckpoints((s) => s.transferNote);
  const hash = useCheckpoints((s) => s.transferHash);
  const error = useCheckpoints((s) => s.transferError);
  const { exportWeights, importWeights } = useCheckpoints((s) => s.actions);
  const loaded = useTraining((s) => s.loaded !== null);
  const ready = useGpu((s) => s.phase === 'ready');
  const hasCorpus = useData((s) => s.corpus !== null);
  const busy = useTraining((s) => s.busy);
  const picker = useRef<HTMLInputElement>(null);
  const canTransfer = ready && hasCorpus && !busy && transfer === null;

  let status: string;
  if (!last) status = loaded ? 'No checkpoint yet: one is saved at each checkpoint interval and when training pauses.' : 'Checkpoints are saved in this browser while training.';
  else if (last.saved) status = `Last checkpoint: step ${last.step}, saved in this browser at ${clock(last.at)}.`;
  else status = last.message ?? `The checkpoint at step ${last.step} was not saved.`;

  return (
    <section className="panel" aria-label="Checkpoints" data-testid="checkpoint-panel">
      <h2>Checkpoints</h2>
      <p
        className={last && !last.saved ? 'bad' : 'tag'}
        role="status"
        data-testid="checkpoint-status"
        data-saved={last ? String(last.saved) : undefined}
        data-step={last?.step}
      >
        {status}
      </p>
      <div className="row">
        <button onClick={() => void exportWeights()} disabled={!canTransfer} data-testid="export-weights" title="Weights, AdamW moments and step as .safetensors">
          {transfer === 'export' ? 'Exporting…' : 'Export .safetensors'}
        </button>
        <button
          onClick={() => void exportWeights(false)}
          disabled={!canTransfer}
          data-testid="export-nanogpt"
          title="Only the model's weights under nanoGPT's names: loads into nanoGPT's model.py with load_state_dict(strict=True)"
        >
          Export for nanoGPT (weights only)
        </button>
        <button onClick={() => picker.current?.click()} disabled={!canTransfer} data-testid="import-weights">
          {transfer === 'import' ? 'Importing…' : 'Import .safetensors…'}
        </button>
        <input
          ref={picker}
          type="file"
          accept=".safetensors,application/octet-stream"
          hidden
          data-testid="import-file"
          onChange={(e) => {
            const file = e.target.files?.[0];
            e.target.value = '';
            if (file) void importWeights(file);
          }}
        />
      </div>
      {note && (
        <p className="tag" data-testid="transfer-note" data-sha256={hash ?? undefined}>
          {note}
        </p>
      )}
      {error && (
        <p role="alert" className="bad" data-testid="transfer-error">
          {error}
        </p>
      )}
    </section>
  );
}
