// Trains a BPE tokenizer off the page's thread. Cancel = the page terminates
// this worker; nothing it made is kept.
import { trainBpe } from '../../tokenizer/trainer';
import type { BpeModel } from '../../tokenizer/model';

declare const self: DedicatedWorkerGlobalScope;

export interface TrainJob {
  text: string;
  vocabSize: number;
}

export type TrainWorkerMessage =
  | { kind: 'progress'; tokens: number; target: number }
  | { kind: 'done'; model: BpeModel; note: string | null; ms: number }
  | { kind: 'error'; message: string };

/** Progress messages at most this often (ms). */
const PROGRESS_EVERY = 100;

self.onmessage = (e: MessageEvent<TrainJob>) => {
  const { text, vocabSize } = e.data;
  const t0 = performance.now();
  let last = 0;
  const post = (m: TrainWorkerMessage) => self.postMessage(m);
  try {
    const r = trainBpe(text, vocabSize, {
      onProgress: (tokens, target) => {
        const now = performance.now();
        if (now - last < PROGRESS_EVERY) return;
        last = now;
        post({ kind: 'progress', tokens, target });
      },
    });
    post(r.ok ? { kind: 'done', model: r.model, note: r.note, ms: performance.now() - t0 } : { kind: 'error', message: r.message });
  } catch (err) {
    post({ kind: 'error', message: `Training failed: ${(err as Error).message}` });
  }
};
