// Sentences belong to the run they were said about: when another run is
// opened, the LoRA and DPO notes and errors of the one before leave with it
// (the new run's own notes are set after it is opened, and stay).
import { useFineTune } from './finetune';
import { useRuns } from './runs';
import { useTraining } from './training';

useTraining.subscribe((t, prev) => {
  if (!prev.loaded || !t.loaded || t.loaded.runId === prev.loaded.runId) return;
  useFineTune.setState({ loraError: null, loraNote: null, dpoError: null });
  useRuns.setState({ error: null });
});
