import type { GpuFailure } from '../gpu/device';

const TITLES: Record<GpuFailure, string> = {
  'no-webgpu': 'This browser has no WebGPU',
  'no-adapter': 'No GPU is available to WebGPU',
  'device-failed': 'The GPU could not be started',
};

/** Shown instead of the playground when WebGPU cannot be used: what is wrong and what to do. */
export function NoWebGpu({ reason, message }: { reason: GpuFailure; message: string }) {
  return (
    <main className="no-webgpu" data-testid="no-webgpu" data-reason={reason}>
      <div role="alert">
        <h1>{TITLES[reason]}</h1>
        <p>{message}</p>
      </div>
      <p>
        The playground trains a small GPT on your own graphics card with WebGPU compute shaders, so it cannot run
        without one. Your text never leaves this page either way.
      </p>
      <ul>
        <li>Chrome or Edge 113 or later on Windows, macOS or ChromeOS: WebGPU is on by default.</li>
        <li>Chrome on Linux or Android: enable chrome://flags/#enable-unsafe-webgpu, then restart the browser.</li>
        <li>Firefox 141+ (Windows) and Safari 26+ also ship WebGPU; other versions do not.</li>
      </ul>
    </main>
  );
}
