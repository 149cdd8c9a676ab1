#!/usr/bin/env node
// How long a newcomer waits between pressing Start and the first training step,
// in the built app (dist/) in headless Chromium (SwiftShader where there is no GPU).
//
//   npm run bench:first-step                     the default preset, as a first visit opens it
//   ... -- --preset tiny                         a preset from the link instead
//   ... -- --read 5                              seconds the person reads the page before Start (default 0)
//   ... -- --read warm                           read until the engine has compiled ahead (its warmUp reply)
//   ... -- --dist DIR                            another build of the app (e.g. an older commit's) to compare
//   ... -- --warm 2                              how many warm Starts (reset, Start again) to time (default 2)
//   ... -- --headed [--chrome P]                 a visible browser, e.g. Chrome on a machine with a real GPU
//
// Cold: the first Start after the page loaded in a fresh browser profile, clicked
// as soon as the Start button is enabled (plus --read seconds). Reload: the same
// browser, page reloaded, Start again. Warm: reset the run in the same page and
// Start again. Each time is from the click to the first step event reaching the
// page; the engine messages in between are listed so the time can be placed.
// It prints a markdown table and writes bench-results/first-step-<date>.json.
// It measures; it asserts nothing.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { preview } from 'vite';
import { chromiumArgs, cpuModel } from './app-measure.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const opts = { preset: '', read: 0, warm: 2, dist: '', headed: false, chrome: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--preset') opts.preset = argv[++i] ?? '';
    else if (a === '--read') opts.read = argv[i + 1] === 'warm' ? (i++, 'warm') : Number(argv[++i]);
    else if (a === '--dist') opts.dist = resolve(argv[++i] ?? '');
    else if (a === '--warm') opts.warm = Number(argv[++i]);
    else if (a === '--headed') opts.headed = true;
    else if (a === '--chrome') opts.chrome = argv[++i];
    else if (a === '--help' || a === '-h') {
      console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 9).join('\n').replace(/^\/\/ ?/gm, ''));
      process.exit(0);
    } else {
      console.error(`Unknown option ${a}. Use --preset ID, --read SECONDS|warm, --warm N, --dist DIR, --headed, --chrome PATH.`);
      process.exit(2);
    }
  }
  if ((opts.read !== 'warm' && (!Number.isFinite(opts.read) || opts.read < 0)) || !Number.isInteger(opts.warm) || opts.warm < 0) {
    console.error('--read takes seconds (0 or more) and --warm a whole number.');
    process.exit(2);
  }
  return opts;
}

// Before any page script: timestamp every message to and from the engine worker.
const INIT = `(() => {
  const log = (window.__firstStepLog = []);
  window.__warmUps = [];
  const Native = window.Worker;
  window.Worker = class extends Native {
    constructor(url, options) {
      super(url, options);
      if (!options || options.name !== 'engine') return;
      this.addEventListener('message', (e) => {
        const m = e.data, at = performance.now();
        if (!m) return;
        if (m.id === null && m.event) {
          const ev = m.event;
          if (ev.kind === 'step') log.push({ at, what: 'step ' + ev.stats.step });
          else if (ev.kind === 'eval') log.push({ at, what: 'eval at step ' + ev.stats.step });
          else if (ev.kind === 'trainState') log.push({ at, what: 'state ' + ev.state });
        } else if (m.reply && m.reply.kind === 'warmedUp') window.__warmUps.push({ ...m.reply, at }), log.push({ at, what: 'reply warmedUp (' + Math.round(m.reply.ms) + ' ms, ' + m.reply.pipelines + ' pipelines' + (m.reply.stopped ? ', stopped' : '') + ')' });
        else if (m.reply) log.push({ at, what: 'reply ' + m.reply.kind });
      });
    }
    postMessage(msg, transfer) {
      if (msg && msg.request) log.push({ at: performance.now(), what: 'request ' + msg.request.kind + (msg.request.action ? ' ' + msg.request.action : '') });
      return super.postMessage(msg, transfer);
    }
  };
})();`;

/** The Start a newcomer sees: the landing view's if there is one, else the Train tab's. */
async function startButton(page) {
  const landing = page.getByTestId('quick-start');
  if ((await landing.count()) > 0) return landing;
  await page.getByTestId('tab-train').click();
  return page.getByTestId('train-toggle');
}

/** Click Start; milliseconds to the first step event, and the engine messages in between. */
async function timeStart(page, button) {
  await page.waitForFunction((el) => !el.disabled, await button.elementHandle(), { timeout: 600_000, polling: 50 });
  const clickAt = await button.evaluate((el) => {
    window.__firstStepLog.length = 0;
    const at = performance.now();
    el.click();
    return at;
  });
  const handle = await page.waitForFunction(() => window.__firstStepLog.find((e) => e.what.startsWith('step ')), null, { timeout: 600_000, polling: 10 });
  const first = await handle.jsonValue();
  const log = await page.evaluate(() => window.__firstStepLog.slice());
  const trail = log.filter((e) => e.at <= first.at).map((e) => ({ at: Math.round(e.at - clickAt), what: e.what }));
  return { ms: first.at - clickAt, trail };
}

/** Pause a running run and reset it, so the next Start is a warm first step. */
async function pauseAndReset(page) {
  await page.evaluate(() => (document.activeElement)?.blur());
  const state = () => page.evaluate(() => document.querySelector('[data-testid="training-panel"]')?.getAttribute('data-state') ?? null);
  const hasPanel = (await state()) !== null;
  if (!hasPanel) await page.getByTestId('tab-train').click();
  if ((await state()) === 'running') await page.getByTestId('train-toggle').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="training-panel"]')?.getAttribute('data-state') !== 'running', null, { timeout: 120_000 });
  const reset = page.getByTestId('train-reset');
  await page.waitForFunction((el) => !el.disabled, await reset.elementHandle(), { timeout: 120_000 });
  await reset.click();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="training-panel"]')?.getAttribute('data-step')) === 0, null, { timeout: 120_000 });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!opts.dist && !existsSync(resolve(ROOT, 'dist/index.html'))) execSync('npx vite build --logLevel warn', { cwd: ROOT, stdio: 'inherit' });
  const server = await preview({ root: ROOT, logLevel: 'warn', ...(opts.dist ? { build: { outDir: opts.dist } } : {}), preview: { host: '127.0.0.1', port: 0, open: false } });
  const address = server.httpServer.address();
  const url = `http://127.0.0.1:${address.port}/${opts.preset ? `?preset=${encodeURIComponent(opts.preset)}` : ''}`;
  const browser = await chromium.launch({ executablePath: opts.chrome, headless: !opts.headed, args: chromiumArgs() });
  const rows = [];
  let adapter = '';
  let preset = '';
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addInitScript(INIT);
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const open = async (how) => {
      const t0 = Date.now();
      if (how === 'goto') await page.goto(url);
      else await page.reload();
      await page.waitForSelector('[data-testid="gpu-status"][data-phase="ready"]', { timeout: 300_000 });
      const button = await startButton(page);
      await page.waitForFunction((el) => !el.disabled, await button.elementHandle(), { timeout: 300_000, polling: 50 });
      const readyMs = Date.now() - t0;
      const readyAt = await page.evaluate(() => performance.now());
      let warmUp;
      if (opts.read === 'warm') {
        // Until the engine answered the page's warmUp (a build without compiling ahead never does: 10 minutes at most).
        const answered = await page
          .waitForFunction(() => window.__warmUps.find((r) => !r.stopped && (r.ms > 0 || r.pipelines > 0)), null, { timeout: 600_000, polling: 100 })
          .then((h) => h.jsonValue())
          .catch(() => undefined);
        // When the compiling ahead finished, counted from the Start button being enabled, and what it compiled.
        if (answered) warmUp = { readyToWarmMs: Math.max(0, answered.at - readyAt), compileMs: answered.ms, pipelines: answered.pipelines };
      } else if (opts.read > 0) await page.waitForTimeout(opts.read * 1000);
      return { button, readyMs, warmUp };
    };

    const cold = await open('goto');
    adapter = (await page.getByTestId('adapter-name').textContent().catch(() => '')) ?? '';
    preset = await page.evaluate(() => new URLSearchParams(location.search).get('preset') ?? '');
    rows.push({ kind: 'cold', pageReadyMs: cold.readyMs, warmUp: cold.warmUp, ...(await timeStart(page, cold.button)) });
    for (let i = 0; i < opts.warm; i++) {
      await pauseAndReset(page);
      rows.push({ kind: 'warm', ...(await timeStart(page, await startButton(page))) });
    }
    await pauseAndReset(page);
    const again = await open('reload');
    rows.push({ kind: 'reload', pageReadyMs: again.readyMs, warmUp: again.warmUp, ...(await timeStart(page, again.button)) });
    if (pageErrors.length) console.error(`Page errors: ${pageErrors.join(' | ')}`);
  } finally {
    await browser.close();
    await server.close();
  }

  const result = {
    date: new Date().toISOString(),
    machine: cpuModel(),
    adapter: adapter.trim(),
    preset,
    read: opts.read,
    dist: opts.dist || 'dist',
    rows,
  };
  console.log(`\nStart → first step, ${result.preset || 'default'} preset, ${result.adapter || 'unknown adapter'}, ${result.machine}, read ${opts.read === 'warm' ? 'until compiled ahead' : `${opts.read} s`}, ${result.dist}\n`);
  console.log('| Start | page ready (s) | compiled ahead (s after ready; compile s, pipelines) | Start → step 1 (s) | where the time went |');
  console.log('|---|---:|---|---:|---|');
  for (const r of rows) {
    const trail = r.trail.map((e) => `${e.what} @${(e.at / 1000).toFixed(2)}`).join(', ');
    const w = r.warmUp ? `${(r.warmUp.readyToWarmMs / 1000).toFixed(1)} (${(r.warmUp.compileMs / 1000).toFixed(1)} s, ${r.warmUp.pipelines})` : '–';
    console.log(`| ${r.kind} | ${r.pageReadyMs !== undefined ? (r.pageReadyMs / 1000).toFixed(1) : '–'} | ${w} | ${(r.ms / 1000).toFixed(2)} | ${trail} |`);
  }
  mkdirSync(resolve(ROOT, 'bench-results'), { recursive: true });
  const file = resolve(ROOT, 'bench-results', `first-step-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nWrote ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
