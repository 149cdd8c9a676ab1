// The benchmark page. scripts/bench.mjs opens it in Chromium and calls
// window.bench.run(options); progress goes to window.benchLog (exposed by the
// script) and the page's <pre>, results come back as the promise's value.

import { acquireGpu, adapterName } from '../src/gpu/device';
import { GpuProfiler } from '../src/gpu/profiler';
import { Gpu } from '../src/gpu/runtime';
import type { BenchOptions, BenchResult } from './common';
import { benchMatmuls, trainingMatmuls } from './matmulBench';
import { benchOtherKernels } from './kernelBench';
import { benchTraining } from './trainBench';
import { usePeer } from './peer';
import type { TimingPlan } from './timing';
import { profileTable } from './profileStep';

declare global {
  interface Window {
    bench: { run: (options: BenchOptions) => Promise<BenchResult> };
    benchLog?: (line: string) => void;
  }
}

const pre = document.getElementById('log')!;
function log(line: string): void {
  pre.textContent += `\n${line}`;
  if (window.benchLog) void window.benchLog(line);
  else console.log(line);
}

async function run(options: BenchOptions): Promise<BenchResult> {
  const errors: string[] = [];
  const handle = await acquireGpu(navigator.gpu, { onError: (m) => errors.push(m), onLost: (m) => errors.push(m) });
  const profiler = new GpuProfiler(handle.device);
  const gpu = new Gpu(profiler.device);
  const info = handle.adapter.info;
  const result: BenchResult = {
    adapter: adapterName(handle.info),
    adapterInfo: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description },
    userAgent: navigator.userAgent,
    mode: options.mode,
    kernels: [],
    train: [],
    extra: {},
    notes: [],
  };
  log(`adapter: ${result.adapter}`);
  const full = options.mode === 'full';

  if (options.kernels) {
    const peer = await usePeer('webgpu');
    log(`peer: ${peer.detail}`);
    if (!peer.ok) result.notes.push(`tfjs webgpu unavailable: ${peer.detail}`);
    const R = full ? 4096 : 1024;
    const plan: TimingPlan = full ? { reps: 5, targetMs: 200, maxInner: 50 } : { reps: 3, targetMs: 100, maxInner: 20 };
    const only = new RegExp(options.only || '.', 'i');
    const cases = trainingMatmuls(R, 192, 65).filter((c) => only.test(`matmul ${c.label}`));
    result.kernels.push(...(await benchMatmuls(gpu, cases, plan, log)));
    result.kernels.push(...(await benchOtherKernels(gpu, { full, plan, only, log })));
  }
  if (options.train) {
    const train = await benchTraining(gpu, handle.device, { full, text: options.text, log, profiler });
    result.train.push(...train.rows);
    Object.assign(result.extra, train.extra);
    if (train.profile) {
      result.profile = train.profile;
      result.profileTable = profileTable(train.profile);
    }
    result.notes.push(...train.notes);
  }
  if (errors.length) result.notes.push(...errors.map((e) => `GPU error: ${e}`));
  return result;
}

window.bench = { run };
pre.textContent = 'Benchmarks ready.';
document.title = 'bench ready';
