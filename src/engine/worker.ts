/// <reference lib="webworker" />
// The engine worker: owns the WebGPU device and the run (model, trainer,
// generation), and answers the page's requests (protocol.ts) through the
// router (router.ts); events go to the page as they happen. GPU work from
// every request takes turns on one queue (Serial), so generation, attention
// maps and exports are served between training steps on the current weights.
import { Engine } from './engine';
import type { EngineReply, FromWorker, ToWorker } from './protocol';
import { route } from './router';

declare const self: DedicatedWorkerGlobalScope;

const engine = new Engine((event) => self.postMessage({ id: null, event } satisfies FromWorker), {
  gpu: self.navigator.gpu,
  indexedDB: self.indexedDB ?? null,
});

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const { id, request } = e.data;
  let reply: EngineReply;
  try {
    reply = await route(engine, request);
  } catch (err) {
    const message = (err as Error)?.message ?? String(err);
    reply = { kind: 'error', message: engine.device.lost ? `The GPU was lost while working (${message}). Try again to continue on a new device.` : message };
  }
  const transfer: Transferable[] = [];
  if (reply.kind === 'exported') transfer.push(reply.bytes);
  if (reply.kind === 'attention') transfer.push(reply.probs.buffer);
  self.postMessage({ id, reply } satisfies FromWorker, transfer);
};
