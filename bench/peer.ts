// TensorFlow.js, the peer we measure against, on its WebGPU and WASM backends.
// Everything is served from our own origin: the WASM binaries come from
// node_modules through the bench server, never from a CDN.

import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export { tf };

export type PeerBackend = 'webgpu' | 'wasm';

/** The parts of tfjs's WebGPU backend we need to know when its work is done. */
interface WebGpuBackendLike {
  device: GPUDevice;
  submitQueue?: () => void;
  endComputePassEncoder?: () => void;
  commandEncoder?: GPUCommandEncoder | null;
}

let wasmPathsSet = false;

/** Switch tfjs to `backend`; returns false (with the reason) where it cannot start. */
export async function usePeer(backend: PeerBackend): Promise<{ ok: boolean; detail: string }> {
  if (backend === 'wasm' && !wasmPathsSet) {
    setWasmPaths(new URL('/node_modules/@tensorflow/tfjs-backend-wasm/dist/', location.origin).href);
    // The threaded build stalls in headless Chromium here; single-threaded SIMD is the reliable baseline.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    wasmPathsSet = true;
  }
  try {
    const ok = await tf.setBackend(backend);
    await tf.ready();
    if (!ok || tf.getBackend() !== backend) return { ok: false, detail: `tf.setBackend('${backend}') failed` };
  } catch (e) {
    return { ok: false, detail: (e as Error).message };
  }
  let detail = `tfjs ${tf.version.tfjs} ${backend}`;
  if (backend === 'wasm') {
    detail += ` (${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD'}, one thread)`;
  }
  return { ok: true, detail };
}

/** Wait until tfjs has finished every GPU command it recorded (webgpu), or do nothing (wasm is synchronous). */
export async function peerFinish(): Promise<void> {
  const backend = tf.backend() as unknown as WebGpuBackendLike;
  if (!backend.device) return;
  // tfjs keeps one compute pass open across ops: close it, then submit what it recorded.
  if (backend.commandEncoder && backend.submitQueue) {
    backend.endComputePassEncoder?.();
    backend.submitQueue();
  }
  await backend.device.queue.onSubmittedWorkDone();
}
