/// <reference lib="webworker" />
// The engine worker: owns the WebGPU device and answers the page's requests.
import { acquireGpu, GpuUnavailableError } from '../gpu/device';
import { Gpu } from '../gpu/runtime';
import { runSelfCheck } from './selfCheck';
import type { EngineEvent, EngineReply, EngineRequest, FromWorker, ToWorker } from './protocol';

declare const self: DedicatedWorkerGlobalScope;

let gpu: Gpu | null = null;

function emit(event: EngineEvent): void {
  self.postMessage({ id: null, event } satisfies FromWorker);
}

async function handle(request: EngineRequest): Promise<EngineReply> {
  switch (request.kind) {
    case 'init': {
      try {
        const handle = await acquireGpu(self.navigator.gpu, {
          onLost: (message) => {
            gpu = null;
            emit({ kind: 'deviceLost', message });
          },
          onError: (message) => emit({ kind: 'gpuError', message }),
        });
        gpu = new Gpu(handle.device);
        return { kind: 'ready', info: handle.info };
      } catch (e) {
        if (e instanceof GpuUnavailableError) return { kind: 'gpuUnavailable', reason: e.reason, message: e.message };
        throw e;
      }
    }
    case 'selfCheck': {
      if (!gpu) return { kind: 'error', message: 'The GPU is not ready yet.' };
      return { kind: 'selfCheck', result: await runSelfCheck(gpu, request.M, request.N, request.K, request.seed) };
    }
    default:
      return { kind: 'error', message: `The engine cannot handle '${request.kind}' yet.` };
  }
}

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const { id, request } = e.data;
  let reply: EngineReply;
  try {
    reply = await handle(request);
  } catch (err) {
    reply = { kind: 'error', message: (err as Error).message ?? String(err) };
  }
  self.postMessage({ id, reply } satisfies FromWorker);
};
