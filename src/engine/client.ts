// The page's handle on the engine worker: typed requests that return promises,
// and a subscription for the worker's events.
import type { EngineEvent, EngineReply, EngineRequest, FromWorker, ToWorker } from './protocol';

type Listener = (event: EngineEvent) => void;

export class EngineClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, (reply: EngineReply) => void>();
  private readonly listeners = new Set<Listener>();

  constructor() {
    this.worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'engine' });
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => {
      const msg = e.data;
      if (msg.id === null) {
        for (const l of this.listeners) l(msg.event);
        return;
      }
      const resolve = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      resolve?.(msg.reply);
    };
    this.worker.onerror = (e) => {
      const event: EngineEvent = { kind: 'gpuError', message: `The engine stopped: ${e.message}` };
      for (const l of this.listeners) l(event);
    };
  }

  request(request: EngineRequest, transfer: Transferable[] = []): Promise<EngineReply> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.worker.postMessage({ id, request } satisfies ToWorker, transfer);
    });
  }

  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  terminate(): void {
    this.worker.terminate();
  }
}

// End-to-end tests drive a fresh engine of their own from the page (?test in the URL).
if (typeof window !== 'undefined' && new URLSearchParams(window.location.search).has('test')) {
  (window as unknown as { __EngineClient?: typeof EngineClient }).__EngineClient = EngineClient;
}
