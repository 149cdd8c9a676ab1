#!/usr/bin/env node
// Node driver for bench/kernelTimes.ts (Vite loads the TypeScript and the ?raw shaders).
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json node bench/kernelTimes.mjs [tiny|ref] [REGEX] [REPS]
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [shapeName = 'tiny', only = '.', reps = '5'] = process.argv.slice(2);

const server = await createServer({ root: ROOT, logLevel: 'error', server: { middlewareMode: true, hmr: false } });
try {
  const { kernelTimes, SHAPES } = await server.ssrLoadModule('/bench/kernelTimes.ts');
  const { acquireGpu, adapterName } = await server.ssrLoadModule('/src/gpu/device.ts');
  const { Gpu } = await server.ssrLoadModule('/src/gpu/runtime.ts');
  const instance = create([]);
  const handle = await acquireGpu(instance, { onError: (m) => console.error(`GPU error: ${m}`) });
  console.log(`adapter: ${adapterName(handle.info)}`);
  const shape = SHAPES[shapeName];
  if (!shape) throw new Error(`Unknown shape ${shapeName}; use tiny or ref.`);
  await kernelTimes(new Gpu(handle.device), shape, new RegExp(only), Number(reps), (l) => console.log(l));
  handle.device.destroy();
  void instance;
} finally {
  await server.close();
}
process.exit(0);
