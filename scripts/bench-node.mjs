#!/usr/bin/env node
// Benchmarks and the step plan in Node on Dawn, without a browser.
//
//   npm run bench:plan                      the plans (recorded, not run) of the reference training steps of both
//                                           blocks, a LoRA step, a DPO step and one decoded token, with a calibrated range
//   npm run bench:node [-- --full]          kernels and a training step with per-kernel GPU time, on the
//                                           Vulkan driver VK_ICD_FILENAMES names (or the system's)
//   npm run bench:tune [-- --full]          LoRA, full fine-tune and a DPO step: ms/step and GPU memory
//   npm run bench:node -- --bundle DIR      a self-contained folder for a machine without npm:
//                                           DIR/bench-node.mjs, DIR/dist/<platform>/dawn.node, DIR/README.md
//
// bench/node/main.ts is bundled with Vite (Rolldown) into one .mjs; the
// shaders are inlined. Options after the command go to the bundle
// (--out DIR, --full, --only REGEX, --markdown FILE).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** bench/node/main.ts exits with this when no adapter was offered. */
const NO_ADAPTER = 3;
/** Debian's Chromium ships SwiftShader's Vulkan driver; the tests use it (vitest.config.ts). */
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Bundle bench/node/main.ts into outDir/bench-node.mjs; `webgpu` stays an import unless selfContained. */
async function bundle(outDir, selfContained) {
  await build({
    root: ROOT,
    configFile: false,
    logLevel: 'warn',
    publicDir: false,
    ssr: selfContained ? { noExternal: true, target: 'node' } : { external: ['webgpu'], target: 'node' },
    build: {
      ssr: resolve(ROOT, 'bench/node/main.ts'),
      outDir,
      emptyOutDir: true,
      target: 'node20',
      minify: false,
      sourcemap: false,
      rollupOptions: { output: { entryFileNames: 'bench-node.mjs', format: 'es' } },
    },
  });
  return join(outDir, 'bench-node.mjs');
}

function folderBytes(dir) {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    total += s.isDirectory() ? folderBytes(p) : s.size;
  }
  return total;
}

async function writeBundle(dir) {
  const out = resolve(dir);
  await bundle(out, true);
  const platform = `${process.platform}-${process.platform === 'darwin' ? 'universal' : process.arch}`;
  const from = join(ROOT, 'node_modules/webgpu/dist', platform);
  if (!existsSync(join(from, 'dawn.node'))) throw new Error(`No dawn.node for ${platform} in node_modules/webgpu/dist.`);
  mkdirSync(join(out, 'dist', platform), { recursive: true });
  // dawn.node and, on Windows, the DLLs beside it
  for (const name of readdirSync(from)) copyFileSync(join(from, name), join(out, 'dist', platform, name));
  writeFileSync(
    join(out, 'README.md'),
    [
      '# GPT Playground benchmarks in Node (no browser, no npm)',
      '',
      `Built for ${platform} with Node ${process.version}. Run it with any Node 20 or later (a given binary works: \`/path/to/node bench-node.mjs ...\`):`,
      '',
      '    node bench-node.mjs bench            # kernels and a training step (quick), per-kernel GPU time where timestamp queries exist',
      '    node bench-node.mjs bench --full     # the reference shapes (B*T = 4096, 6 layers, 192 wide)',
      '    node bench-node.mjs plan             # the plans of both blocks\' training steps, LoRA, DPO and a decoded token (recorded, not run)',
      '',
      'It prints the adapter first and writes its figures to bench-results/ (change with --out DIR).',
      'Dawn uses the system Vulkan driver on Linux (VK_ICD_FILENAMES picks one), Metal on macOS and D3D12 on Windows.',
      '',
    ].join('\n'),
  );
  const bytes = folderBytes(out);
  console.log(`bundle: ${out} (${(bytes / 2 ** 20).toFixed(1)} MiB)`);
  if (bytes > 60 * 2 ** 20) throw new Error(`The bundle is ${(bytes / 2 ** 20).toFixed(1)} MiB, over the 60 MiB it must fit in.`);
}

async function main() {
  const args = process.argv.slice(2);
  const at = args.indexOf('--bundle');
  if (at >= 0) {
    if (!args[at + 1]) throw new Error('--bundle needs a folder, e.g. --bundle /tmp/gpt-bench');
    await writeBundle(args[at + 1]);
    return 0;
  }
  // Inside node_modules so that `webgpu` resolves from the bundle.
  const outDir = join(ROOT, 'node_modules/.cache/bench-node');
  const file = await bundle(outDir, false);
  let run = spawnSync(process.execPath, [file, ...args], { cwd: ROOT, stdio: 'inherit' });
  // No adapter from the system's Vulkan driver (none, or one Dawn rejects, such as Mesa's lavapipe):
  // run on SwiftShader, the driver the tests use, when no driver was named.
  if (run.status === NO_ADAPTER && !process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) {
    console.log(`Trying SwiftShader (${SWIFTSHADER_ICD}), the Vulkan driver the tests use.`);
    run = spawnSync(process.execPath, [file, ...args], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER_ICD } });
  }
  rmSync(outDir, { recursive: true, force: true });
  return run.status ?? 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
