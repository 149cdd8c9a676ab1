#!/usr/bin/env node
// Long-run soak: nothing may grow without bound while a tab trains for an hour.
//
// Builds the app, serves dist/ on 127.0.0.1 with Vite's preview server, opens
// it in Chromium (WebGPU; SwiftShader where there is no GPU) with the tiny
// preset and drives the real UI: Start on the Train tab, and at every reading
// an attention refresh and a sampled generation, served between training
// steps, while evaluation and checkpoints run at the preset's intervals. Each
// reading takes, after a forced garbage collection:
//   - the engine's live GPU storage buffers, their bytes and cached bind groups
//     (the engine's `stats` request, sent to the UI's own worker),
//   - the JS heap of the page and of the engine worker, ArrayBuffers included
//     (CDP Runtime.getHeapUsage: usedSize + backingStorageSize),
//   - the loss points the UI's chart store holds (the chart's data-points),
//   - the latest training loss.
// At the end the first reading after warm-up is compared with the last, a
// verdict is printed per quantity, the readings go to
// bench-results/soak-<date>.json, and the exit status is 1 if the loss went
// non-finite or a quantity grew beyond its bound.
//
//   npm run soak -- [--steps 5000] [--every 250] [--headed] [--no-build]
//                   [--warmup S] [--max-points 2000] [--heap-slack-mib 8]
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { preview } from 'vite';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const opts = { steps: 5000, every: 250, headed: false, build: true, maxPoints: 2000, heapSlackMiB: 8, warmup: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a === '--steps') opts.steps = Math.floor(num());
    else if (a === '--every') opts.every = Math.floor(num());
    else if (a === '--headed') opts.headed = true;
    else if (a === '--no-build') opts.build = false;
    else if (a === '--max-points') opts.maxPoints = Math.floor(num());
    else if (a === '--heap-slack-mib') opts.heapSlackMiB = num();
    else if (a === '--warmup') opts.warmup = Math.floor(num());
    else throw new Error(`Unknown option ${a}. Options: --steps N --every K --warmup S --headed --no-build --max-points N --heap-slack-mib X`);
  }
  if (opts.every > opts.steps) opts.every = opts.steps;
  // The loss chart draws up to 1000 points, so what it renders grows until then.
  if (opts.warmup === null) opts.warmup = Math.min(1000, Math.floor(opts.steps / 2));
  return opts;
}

// Chromium flags from tests/e2e/harness.ts, plus precise heap numbers and gc().
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--enable-precise-memory-info',
  '--js-flags=--expose-gc',
];

// Runs in the page before the app: keeps a handle on the engine worker the UI
// creates, so the soak can ask it for `stats` (ids far above the client's own,
// whose onmessage ignores replies it did not ask for), and tallies what the
// engine reports.
const PAGE_HOOK = `(() => {
  const Native = window.Worker;
  const soak = { worker: null, pending: new Map(), nextId: 1e9, replies: {}, nonFinite: [], lastLoss: null, lastStep: 0, evals: 0, errors: [] };
  window.__soak = soak;
  window.Worker = class extends Native {
    constructor(url, options) {
      super(url, options);
      if (!options || options.name !== 'engine') return;
      soak.worker = this;
      this.addEventListener('message', (e) => {
        const m = e.data;
        if (!m) return;
        if (m.id === null) {
          const ev = m.event;
          if (ev.kind === 'step') { soak.lastLoss = ev.stats.loss; soak.lastStep = ev.stats.step; }
          else if (ev.kind === 'eval') soak.evals++;
          else if (ev.kind === 'nonFinite') soak.nonFinite.push(ev.message);
          else if (ev.kind === 'gpuError' || ev.kind === 'deviceLost') soak.errors.push(ev.kind + ': ' + ev.message);
          return;
        }
        const kind = m.reply && m.reply.kind;
        if (kind) soak.replies[kind] = (soak.replies[kind] || 0) + 1;
        const resolve = soak.pending.get(m.id);
        if (resolve) { soak.pending.delete(m.id); resolve(m.reply); }
      });
    }
  };
  window.__soakRequest = (request) => new Promise((resolve) => {
    const id = soak.nextId++;
    soak.pending.set(id, resolve);
    soak.worker.postMessage({ id, request });
  });
})();`;

const MiB = 1024 * 1024;

/** JS heap in use plus ArrayBuffer backing stores (weights, snapshots and readbacks live there). */
function heapBytes(usage) {
  return usage.usedSize + (usage.backingStorageSize ?? 0);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The engine worker's heap through a second CDP client on its target (playwright exposes none for workers). */
async function workerHeapProbe(browser) {
  const cdp = await browser.newBrowserCDPSession();
  const { targetInfos } = await cdp.send('Target.getTargets');
  const target = targetInfos.find((t) => t.type === 'worker' && /\/worker-[^/]*\.js/.test(t.url));
  if (!target) return null;
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: target.targetId, flatten: false });
  let nextId = 1;
  const waiting = new Map();
  cdp.on('Target.receivedMessageFromTarget', (e) => {
    if (e.sessionId !== sessionId) return;
    const msg = JSON.parse(e.message);
    const done = msg.id !== undefined ? waiting.get(msg.id) : undefined;
    if (done) {
      waiting.delete(msg.id);
      done(msg);
    }
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`${method} timed out`));
      }, 60_000);
      waiting.set(id, (msg) => {
        clearTimeout(timer);
        if (msg.error) reject(new Error(msg.error.message));
        else resolve(msg.result);
      });
      void cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) });
    });
  return async () => {
    await send('HeapProfiler.collectGarbage');
    return heapBytes(await send('Runtime.getHeapUsage'));
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.build) execSync('npx vite build --logLevel warn', { cwd: ROOT, stdio: 'inherit' });
  const server = await preview({ root: ROOT, logLevel: 'warn', preview: { host: '127.0.0.1', port: 0, open: false } });
  const address = server.httpServer.address();
  const url = `http://127.0.0.1:${address.port}/`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: !opts.headed,
    args: CHROMIUM_ARGS,
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(PAGE_HOOK);
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
  });
  const pageCdp = await context.newCDPSession(page);
  const readings = [];
  let exitCode = 0;
  const t0 = Date.now();
  try {
    await page.goto(`${url}?test&preset=tiny&maxSteps=${opts.steps}`);
    await page.getByTestId('corpus-vocab').waitFor({ timeout: 120_000 });
    await page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
    const workerHeap = await workerHeapProbe(browser);
    const panel = page.getByTestId('training-panel');
    const points = page.getByTestId('chart-points');

    const pageHeap = async () => {
      await pageCdp.send('HeapProfiler.collectGarbage');
      return heapBytes(await pageCdp.send('Runtime.getHeapUsage'));
    };
    const replies = (kind) => page.evaluate((k) => window.__soak.replies[k] ?? 0, kind);
    const waitReplies = async (kind, above, timeout) => {
      const end = Date.now() + timeout;
      while ((await replies(kind)) <= above) {
        if (Date.now() > end) throw new Error(`no '${kind}' reply within ${timeout / 1000} s`);
        await sleep(250);
      }
    };

    // What a person does in between: look at attention, sample some text.
    let prepared = false;
    const activities = async () => {
      await page.getByTestId('tab-attention').click();
      if (!prepared) await page.getByTestId('attention-prompt').fill('Call me Ishmael.');
      const att = await replies('attention');
      await page.getByTestId('attention-refresh').click();
      await waitReplies('attention', att, 300_000);
      await page.getByTestId('tab-sample').click();
      if (!prepared) {
        await page.getByTestId('sample-prompt').fill('The whale');
        // Past the context (32) so both the key/value cache and the sliding full forward run.
        await page.getByTestId('sample-max').fill('32');
        prepared = true;
      }
      const gen = await replies('generated');
      await page.getByTestId('sample-generate').click();
      await waitReplies('generated', gen, 600_000);
      await page.getByTestId('tab-train').click();
      await points.waitFor({ timeout: 30_000 });
      await sleep(600); // the chart redraws every 250 ms
    };

    const read = async (label) => {
      const stats = await page.evaluate(() => window.__soakRequest({ kind: 'stats' }));
      if (stats.kind !== 'stats') throw new Error(`stats request failed: ${JSON.stringify(stats)}`);
      const soak = await page.evaluate(() => ({ lastLoss: window.__soak.lastLoss, nonFinite: window.__soak.nonFinite.slice(), errors: window.__soak.errors.slice(), evals: window.__soak.evals }));
      const r = {
        label,
        step: stats.step,
        seconds: Math.round((Date.now() - t0) / 1000),
        liveBuffers: stats.liveBuffers,
        liveBytes: stats.liveBytes,
        bindGroups: stats.bindGroups,
        pageHeap: await pageHeap(),
        workerHeap: workerHeap ? await workerHeap() : null,
        chartPoints: Number(await points.getAttribute('data-points')),
        loss: soak.lastLoss,
        evals: soak.evals,
      };
      readings.push(r);
      printRow(r);
      return soak;
    };

    await page.getByTestId('tab-train').click();
    printHeader();
    await read('start');
    await page.getByTestId('train-toggle').click();
    let nextAt = opts.every;
    for (;;) {
      const state = await panel.getAttribute('data-state');
      const step = Number(await panel.getAttribute('data-step'));
      const finished = state === 'done' || step >= opts.steps;
      if (step >= nextAt || finished) {
        if (!finished) await activities();
        const soak = await read(finished ? 'end' : `#${readings.length}`);
        if (soak.nonFinite.length) throw new Error(`training hit a non-finite value: ${soak.nonFinite[0]}`);
        if (soak.errors.length) throw new Error(soak.errors[0]);
        if (finished) break;
        const at = Math.max(step, readings[readings.length - 1].step, nextAt);
        nextAt = (Math.floor(at / opts.every) + 1) * opts.every;
        continue;
      }
      if (state === 'paused' || state === 'error') {
        const message = await page.getByTestId('train-message').textContent().catch(() => null);
        throw new Error(`training stopped at step ${step} (${state})${message ? `: ${message}` : ''}`);
      }
      await sleep(1000);
    }
    // After training: one more round of attention and sampling, then the last reading.
    await activities();
    await read('after');
  } catch (e) {
    console.error(`soak: ${e.message}`);
    exitCode = 1;
  } finally {
    await context.close().catch(() => undefined);
    await browser.close().catch(() => undefined);
    await server.close();
  }

  const verdicts = judge(readings, opts);
  for (const v of verdicts) console.log(`${v.ok ? 'ok  ' : 'FAIL'} ${v.quantity.padEnd(13)} ${v.verdict}`);
  if (pageErrors.length) console.log(`page errors (${pageErrors.length}): ${pageErrors.slice(0, 3).join(' | ')}`);
  if (verdicts.some((v) => !v.ok)) exitCode = 1;

  mkdirSync(resolve(ROOT, 'bench-results'), { recursive: true });
  const date = new Date().toISOString().replace(/[:.]/g, '-');
  const file = resolve(ROOT, `bench-results/soak-${date}.json`);
  const command = `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim();
  writeFileSync(file, JSON.stringify({ command, options: opts, date: new Date().toISOString(), seconds: Math.round((Date.now() - t0) / 1000), readings, verdicts, pageErrors, ok: exitCode === 0 }, null, 2));
  console.log(`wrote ${file}`);
  process.exit(exitCode);
}

const COLUMNS = [
  ['reading', 8, (r) => r.label],
  ['step', 6, (r) => r.step],
  ['s', 6, (r) => r.seconds],
  ['buffers', 8, (r) => r.liveBuffers],
  ['MiB', 8, (r) => (r.liveBytes / MiB).toFixed(3)],
  ['bindGrps', 9, (r) => r.bindGroups],
  ['pageHeap', 9, (r) => (r.pageHeap / MiB).toFixed(2)],
  ['wrkHeap', 9, (r) => (r.workerHeap === null ? '–' : (r.workerHeap / MiB).toFixed(2))],
  ['points', 7, (r) => r.chartPoints],
  ['loss', 8, (r) => (r.loss === null ? '–' : r.loss.toFixed(4))],
];

function printHeader() {
  console.log(COLUMNS.map(([h, w]) => String(h).padStart(w)).join(' ') + '   (heaps in MiB after GC)');
}

function printRow(r) {
  console.log(COLUMNS.map(([, w, f]) => String(f(r)).padStart(w)).join(' '));
}

/**
 * First reading after warm-up (at or past step opts.warmup, and after at
 * least one full round of training, evaluation, checkpoint, attention and
 * sampling) against the last.
 * Bounds: GPU buffers, bytes and bind groups must not grow at all; each heap
 * may grow by at most heapSlackMiB (allocator noise, compiled code); the
 * chart's points must stay within maxPoints (the engine thins its own history
 * to 2000); the loss must stay finite.
 */
function judge(readings, opts) {
  const all = readings.filter((r) => r.label !== 'start');
  const from = all.findIndex((r) => r.step >= opts.warmup);
  const trained = from >= 0 ? all.slice(from) : [];
  if (trained.length < 2) return [{ quantity: 'readings', ok: false, verdict: `only ${trained.length} reading(s) after warm-up (step ${opts.warmup}): nothing to compare` }];
  const first = trained[0];
  const last = trained[trained.length - 1];
  const out = [];
  const exact = (quantity, key, fmt = (x) => String(x)) => {
    const d = last[key] - first[key];
    const peak = Math.max(...trained.map((r) => r[key]));
    out.push({
      quantity,
      ok: d <= 0,
      first: first[key],
      last: last[key],
      verdict: d === 0 ? `flat at ${fmt(first[key])}${peak > first[key] ? ` (peak ${fmt(peak)} between)` : ''}` : d < 0 ? `fell by ${fmt(-d)} to ${fmt(last[key])}` : `grew by ${fmt(d)} (${fmt(first[key])} -> ${fmt(last[key])}), bound 0`,
    });
  };
  exact('GPU buffers', 'liveBuffers');
  exact('GPU bytes', 'liveBytes', (x) => `${x} B`);
  exact('bind groups', 'bindGroups');
  const heap = (quantity, key) => {
    if (first[key] === null || last[key] === null) {
      out.push({ quantity, ok: true, verdict: 'not measured' });
      return;
    }
    const d = (last[key] - first[key]) / MiB;
    out.push({
      quantity,
      ok: d <= opts.heapSlackMiB,
      first: first[key],
      last: last[key],
      verdict: `${Math.abs(d) < 0.5 ? 'flat' : d < 0 ? 'fell' : 'grew'}, ${d >= 0 ? '+' : ''}${d.toFixed(2)} MiB (${(first[key] / MiB).toFixed(2)} -> ${(last[key] / MiB).toFixed(2)} MiB), bound +${opts.heapSlackMiB} MiB`,
    });
  };
  heap('page heap', 'pageHeap');
  heap('worker heap', 'workerHeap');
  const p = last.chartPoints - first.chartPoints;
  out.push({
    quantity: 'chart points',
    ok: last.chartPoints <= opts.maxPoints,
    first: first.chartPoints,
    last: last.chartPoints,
    verdict: `${p === 0 ? 'flat' : `grew by ${p}`} (${first.chartPoints} -> ${last.chartPoints} over steps ${first.step} -> ${last.step}), bound ${opts.maxPoints} held`,
  });
  const bad = readings.find((r) => r.loss !== null && !Number.isFinite(r.loss));
  const lastLoss = [...readings].reverse().find((r) => r.loss !== null)?.loss ?? null;
  out.push({
    quantity: 'loss',
    ok: !bad && lastLoss !== null,
    verdict: bad ? `non-finite at step ${bad.step}` : lastLoss === null ? 'no loss reported' : `finite throughout, ${first.loss?.toFixed(4)} -> ${lastLoss.toFixed(4)}`,
  });
  return out;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
