/// <reference lib="webworker" />
// Reads a corpus file in chunks off the main thread, so a file of tens of
// megabytes never freezes the page, and reports progress as it goes.
import { checkCorpusSize, CorpusScanner, type CorpusCheck } from './corpus';

declare const self: DedicatedWorkerGlobalScope;

export interface CorpusJob {
  name: string;
  blob: Blob;
  minChars: number;
}

export type CorpusWorkerMessage =
  | { kind: 'progress'; done: number; total: number }
  | { kind: 'result'; result: CorpusCheck };

function post(message: CorpusWorkerMessage): void {
  self.postMessage(message);
}

async function read({ name, blob, minChars }: CorpusJob): Promise<CorpusCheck> {
  const early = checkCorpusSize(name, blob.size);
  if (early) return { ok: false, message: early };
  const scanner = new CorpusScanner(name);
  const reader = blob.stream().getReader();
  let done = 0;
  let lastReport = 0;
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    const problem = scanner.push(value);
    if (problem) {
      await reader.cancel();
      return { ok: false, message: problem };
    }
    done += value.length;
    if (done - lastReport >= 1 << 20) {
      lastReport = done;
      post({ kind: 'progress', done, total: blob.size });
    }
  }
  post({ kind: 'progress', done: blob.size, total: blob.size });
  return scanner.finish(minChars);
}

self.onmessage = async (e: MessageEvent<CorpusJob>) => {
  let result: CorpusCheck;
  try {
    result = await read(e.data);
  } catch (err) {
    result = { ok: false, message: `${e.data.name} could not be read: ${(err as Error).message}` };
  }
  post({ kind: 'result', result });
};
