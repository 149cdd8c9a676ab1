// The run's checkpoints: whether they are being saved, and the weights as a
// .safetensors file to download or load back.
import { useRef, useState } from 'react';
import { useGpu } from './gpuStore';
import { useCheckpoints } from './stores/checkpoints';
import { useData } from './stores/data';
import { useTraining } from './stores/training';
import { useSetup } from './stores/setup';
import { nanoGptComputes } from '../model/files';

function clock(at: number): string {
  return new Date(at).toLocaleTimeString('en-GB');
}

export function CheckpointControls() {
  const last = useCheckpoints((s) => s.last);
  const transfer = useCheckpoints((s) => s.transfer);
  const progress = useCheckpoints((s) => s.importProgress);
  const note = useCheckpoints((s) => s.transferNote);
  const hash = useCheckpoints((s) => s.transferHash);
  const error = useCheckpoints((s) => s.transferError);
  const { exportWeights, importWeights, exportCluster } = useCheckpoints((s) => s.actions);
  const [confirmCluster, setConfirmCluster] = useState(false);
  const corpusName = useData((s) => s.corpus?.name);
  const loaded = useTraining((s) => s.loaded !== null);
  const ready = useGpu((s) => s.phase === 'ready');
  const hasCorpus = useData((s) => s.corpus !== null);
  const busy = useTraining((s) => s.busy);
  const picker = useRef<HTMLInputElement>(null);
  const canTransfer = ready && hasCorpus && !busy && transfer === null;
  // What nanoGPT's model.py computes: GELU and lm_head tied to the token embedding, always.
  const loadedModel = useTraining((s) => s.loaded?.config);
  const setupModel = useSetup((s) => s.model);
  const model = loadedModel ?? setupModel;
  const forNanoGpt = nanoGptComputes(model);
  const llama = model.block === 'llama';
  const whyNot = forNanoGpt
    ? null
    : llama
      ? "nanoGPT's model.py has no LLaMA block (RMSNorm, rotary positions, SwiGLU, grouped-query attention), so it cannot load this model: export it for Hugging Face instead."
      : `nanoGPT's model.py always uses GELU and ties lm_head to the token embedding; this model uses ${model.activation === 'gelu' ? 'GELU' : 'ReLU'} and ${model.tieWeights ? 'tied' : 'separate'} embeddings, so nanoGPT would compute a different function. Choose GELU and tied embeddings to export for nanoGPT.`;

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
        <button
          onClick={() => void exportWeights()}
          disabled={!canTransfer}
          data-testid="export-weights"
          title="<run>-step<N>.checkpoint.safetensors: weights, AdamW moments and step; importing it continues training exactly"
        >
          {transfer === 'export' ? 'Exporting…' : 'Export checkpoint'}
        </button>
        <button
          onClick={() => void exportWeights(false)}
          disabled={!canTransfer || !forNanoGpt}
          data-testid="export-nanogpt"
          data-reason={whyNot ?? undefined}
          title={whyNot ?? "<run>-step<N>.nanogpt.safetensors: the weights under nanoGPT's names, for GPT(GPTConfig(**config)).load_state_dict(strict=True)"}
        >
          Export for nanoGPT (weights only)
        </button>
        <button
          onClick={() => setConfirmCluster(true)}
          disabled={!canTransfer || !forNanoGpt || !loaded}
          data-testid="export-cluster"
          title={whyNot ?? "A zip that nanoGPT's train.py runs unchanged, on one GPU or many, continuing this run"}
        >
          Continue on GPUs with nanoGPT…
        </button>
        {llama && (
          <button
            onClick={() => void exportWeights(false, true)}
            disabled={!canTransfer}
            data-testid="export-hf"
            title="<run>-step<N>.hf.zip: model.safetensors (LlamaForCausalLM's names, this vocabulary in its metadata) and config.json, for LlamaForCausalLM.from_pretrained"
          >
            Export for Hugging Face
          </button>
        )}
        <button onClick={() => picker.current?.click()} disabled={!canTransfer} data-testid="import-weights">
          {transfer === 'import' ? `Importing… ${Math.round(100 * (progress?.fraction ?? 0))}%` : 'Import model file…'}
        </button>
        {progress && (
          <span className="tag" data-testid="import-progress" data-fraction={progress.fraction}>
            <progress max={1} value={progress.fraction} aria-label="Import progress" /> {Math.round(100 * progress.fraction)}%: {progress.stage}
          </span>
        )}
        <input
          ref={picker}
          type="file"
          multiple
          accept=".safetensors,.zip,.json,application/octet-stream,application/zip,application/json"
          hidden
          data-testid="import-file"
          onChange={(e) => {
            const files = [...(e.target.files ?? [])];
            e.target.value = '';
            if (files.length) void importWeights(files);
          }}
        />
      </div>
      {confirmCluster && (
        <div className="banner offer" role="alert" data-testid="cluster-confirm">
          <p>
            The zip holds your corpus {corpusName ? `“${corpusName}”` : ''} as data/&lt;run&gt;/input.txt, with the run's checkpoint, nanoGPT's
            preparation and training config and converters both ways. The text leaves this tab only as that file, in the zip you download.
          </p>
          <div className="row">
            <button
              className="primary"
              onClick={() => {
                setConfirmCluster(false);
                void exportCluster();
              }}
              data-testid="cluster-download"
            >
              Download the zip
            </button>
            <button onClick={() => setConfirmCluster(false)} data-testid="cluster-cancel">
              Cancel
            </button>
          </div>
        </div>
      )}
      {whyNot && (
        <p className="tag" data-testid="export-nanogpt-reason">
          {whyNot}
        </p>
      )}
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
