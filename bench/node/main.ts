// Benchmarks in Node on Dawn (the `webgpu` package), against whatever Vulkan
// (or Metal / D3D12) driver is installed: no browser. Built into one .mjs by
// scripts/bench-node.mjs; run as
//
//   node bench-node.mjs plan  [--out DIR]          the plans of the reference training steps (both blocks), LoRA, DPO, a decoded token
//   node bench-node.mjs bench [--full] [--out DIR] kernels and a training step, with per-kernel GPU time
//   node bench-node.mjs tune  [--full] [--out DIR] full fine-tune vs LoRA (and a DPO step): ms/step and GPU memory
//   ... tune --steps N                              timed steps per mode after the warm-up (default 3)
//   ... tune --profile                              then one step of each mode with per-kernel GPU time
//   ... bench|tune --variant gpu|cpu                force the kernel shapes (default: chosen from the adapter)
//
// The adapter is printed first. Results go to DIR/<name>-<date>.json (default bench-results).

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { create, globals } from 'webgpu';
import { acquireGpu, adapterName, GpuUnavailableError, kernelVariantFor, type GpuHandle } from '../../src/gpu/device';
import { fullPlan } from './plan';
import { nodeBench } from './bench';
import { tuneBench } from './tune';

Object.assign(globalThis, globals);

interface Options {
  command: 'plan' | 'bench' | 'tune';
  out: string;
  full: boolean;
  only: string;
  markdown: string;
  variant: string;
  steps: number | undefined;
  profile: boolean;
}

function parse(argv: string[]): Options {
  const o: Options = { command: 'bench', out: 'bench-results', full: false, only: '', markdown: '', variant: '', steps: undefined, profile: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === 'plan' || a === 'bench' || a === 'tune') o.command = a;
    else if (a === '--out') o.out = argv[++i]!;
    else if (a === '--full') o.full = true;
    else if (a === '--quick') o.full = false;
    else if (a === '--only') o.only = argv[++i]!;
    else if (a === '--markdown') o.markdown = argv[++i]!;
    else if (a === '--variant') o.variant = argv[++i]!;
    else if (a === '--profile') o.profile = true;
    else if (a === '--steps') {
      o.steps = Number(argv[++i]);
      if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error('--steps needs a whole number of steps, 1 or more.');
    } else throw new Error(`Unknown option ${a}. Use plan, bench or tune, --out DIR, --full, --quick, --only REGEX, --markdown FILE, --variant gpu|cpu, --steps N, --profile.`);
  }
  return o;
}

/** Keep the GPU instance reachable: if it is garbage-collected, Dawn tears down under the device. */
let instance: GPU | null = null;

/** Exit status when no adapter was offered: scripts/bench-node.mjs then retries on SwiftShader. */
const NO_ADAPTER = 3;

/** Whether the dynamic linker knows the Vulkan loader (Linux); Dawn finds no Vulkan adapter without it. */
function vulkanLoader(): boolean {
  try {
    return execFileSync('ldconfig', ['-p'], { encoding: 'utf8' }).includes('libvulkan.so.1 ');
  } catch {
    return true; // no ldconfig to ask: say nothing
  }
}

async function device(errors: string[]): Promise<GpuHandle> {
  instance = create([]) as unknown as GPU;
  try {
    return await acquireGpu(instance, { onError: (m) => errors.push(m), onLost: (m) => errors.push(m) });
  } catch (e) {
    if (e instanceof GpuUnavailableError && e.reason === 'no-adapter') {
      console.error(`No GPU adapter on the Vulkan driver ${process.env.VK_ICD_FILENAMES ? `VK_ICD_FILENAMES names (${process.env.VK_ICD_FILENAMES})` : 'the system offers'}.`);
      if (process.platform === 'linux' && !vulkanLoader()) {
        console.error('The Vulkan loader (libvulkan.so.1) is not installed: `apt-get install libvulkan1` (npm test installs it when run as root).');
      }
      process.exit(NO_ADAPTER);
    }
    throw e;
  }
}

const stamp = () => new Date().toISOString().replace(/[:.]/g, '-');

function write(dir: string, name: string, data: unknown): string {
  mkdirSync(dir, { recursive: true });
  const file = resolve(dir, `${name}-${stamp()}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const errors: string[] = [];
  const handle = await device(errors);
  const log = (line: string) => console.log(line);
  log(`adapter: ${adapterName(handle.info)}${handle.info.software ? ' (a software implementation: figures say nothing about a GPU)' : ''}`);
  log(`Vulkan driver: ${process.env.VK_ICD_FILENAMES ?? "the system's (VK_ICD_FILENAMES unset)"}`);
  log(`features: ${[...handle.adapter.features].sort().join(', ') || 'none'}`);
  if (o.command === 'plan') {
    const { json, markdown } = await fullPlan(handle, log);
    if (o.markdown) writeFileSync(o.markdown, `${markdown}\n`);
    log(`\nwrote ${write(o.out, 'plan', json)}`);
  } else if (o.command === 'tune') {
    const result = await tuneBench(handle, { full: o.full, kernels: kernelVariantFor(handle.info, o.variant), steps: o.steps, profile: o.profile, log });
    log(`\nwrote ${write(o.out, 'tune', { adapter: adapterName(handle.info), mode: o.full ? 'full' : 'quick', ...result })}`);
  } else {
    const kernels = kernelVariantFor(handle.info, o.variant);
    log(`kernels: ${kernels}`);
    const result = await nodeBench(handle, { full: o.full, only: new RegExp(o.only || '.', 'i'), log, kernels });
    result.adapter = adapterName(handle.info);
    log(`\nwrote ${write(o.out, 'node', result)}`);
  }
  await handle.device.queue.onSubmittedWorkDone();
  if (errors.length) throw new Error(`GPU errors: ${errors.join('; ')}`);
  handle.device.destroy();
  void instance;
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
