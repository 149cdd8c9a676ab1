// Shared by the measurement scripts (compare-blocks.mjs, compare-tokenizers.mjs):
// serve the built app (dist/) with Vite's preview server on 127.0.0.1, open it
// in Chromium (WebGPU; SwiftShader where there is no GPU), train runs by
// clicking the Train tab, and read back what the Runs tab and the engine store.
import { execSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { preview } from 'vite';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** --build (rebuild dist/ first), --headed, --chrome PATH, --steps N, plus the script's own numeric options. */
export function parseArgs(argv, defaults, usage) {
  const opts = { build: false, headed: false, chrome: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const key = a.replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (a === '--build') opts.build = true;
    else if (a === '--headed') opts.headed = true;
    else if (a === '--chrome') opts.chrome = argv[++i];
    else if (a.startsWith('--') && typeof defaults[key] === 'number') {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v <= 0) {
        console.error(`${a} takes a positive whole number.`);
        process.exit(2);
      }
      opts[key] = v;
    } else {
      console.error(`Unknown option ${a}. ${usage}`);
      process.exit(2);
    }
  }
  return opts;
}

export function cpuModel() {
  const m = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m);
  return `${m ? m[1].trim() : (cpus()[0]?.model ?? 'unknown CPU')} (${cpus().length} cores)`;
}

/** The 1, 5 and 15 minute load averages, as `uptime` prints them. */
export const load = () => loadavg().map((x) => Number(x.toFixed(2)));

/** The Chromium flags the end-to-end tests use (one list, kept in tests/e2e/harness.ts). */
export function chromiumArgs() {
  const src = readFileSync(resolve(ROOT, 'tests/e2e/harness.ts'), 'utf8');
  const m = src.match(/CHROMIUM_ARGS\s*=\s*\[([\s\S]*?)\]/);
  const args = m ? [...m[1].matchAll(/'([^']+)'/g)].map((x) => x[1]) : [];
  if (!args.includes('--enable-unsafe-webgpu')) throw new Error('Could not read CHROMIUM_ARGS from tests/e2e/harness.ts.');
  return args;
}

/** Serve dist/ (built first when asked or missing) and open a page on it; everything that would spoil a run is recorded. */
export async function openApp(opts) {
  if (opts.build || !existsSync(resolve(ROOT, 'dist/index.html'))) execSync('npx vite build --logLevel warn', { cwd: ROOT, stdio: 'inherit' });
  // The Vulkan loader finds SwiftShader through this manifest (Debian's Chromium ships it).
  const icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
  if (!process.env.VK_ICD_FILENAMES && existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const server = await preview({ root: ROOT, logLevel: 'warn', preview: { host: '127.0.0.1', port: 0, open: false } });
  const address = server.httpServer.address();
  const url = `http://127.0.0.1:${address.port}/`;
  const browser = await chromium.launch({ executablePath: opts.chrome, headless: !opts.headed, args: chromiumArgs() });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = { pageErrors: [], consoleErrors: [], foreignRequests: [] };
  page.on('pageerror', (e) => problems.pageErrors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && problems.consoleErrors.push(m.text()));
  context.on('request', (req) => {
    const u = req.url();
    if (!u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== new URL(url).origin) problems.foreignRequests.push(u);
  });
  return {
    url,
    page,
    context,
    browser,
    problems,
    version: browser.version(),
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}

export const attr = (page, testId, name) => page.getByTestId(testId).getAttribute(name);

/** Resolves when fn() returns a truthy value (polled), or throws what it was waiting for. */
export async function until(what, fn, timeoutMs = 600_000, everyMs = 500) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs / 1000} s waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Open the link and wait for the GPU check and the corpus. */
export async function gotoApp(app, query) {
  await app.page.goto(app.url + query);
  await app.page.getByTestId('kernel-check').waitFor({ timeout: 300_000 });
  await app.page.getByTestId('corpus-vocab').waitFor({ timeout: 300_000 });
}

/**
 * Press Start on the Train tab and wait for the run's last step. Returns the
 * wall time from the click to "done" (training, evaluations and checkpoints),
 * the load average around it, and what the Train tab shows at the end.
 */
export async function trainToEnd(app, label) {
  const { page } = app;
  await page.getByTestId('tab-train').click();
  const loadBefore = load();
  const t0 = Date.now();
  await page.getByTestId('train-toggle').click();
  await until(`${label} to start`, async () => (await attr(page, 'training-panel', 'data-state')) === 'running', 120_000, 50);
  let last = -1;
  await until(`${label} to finish`, async () => {
    const state = await attr(page, 'training-panel', 'data-state');
    const step = await attr(page, 'training-panel', 'data-step');
    if (Math.floor(Number(step) / 100) !== last) {
      last = Math.floor(Number(step) / 100);
      console.log(`  ${label}: step ${step} at ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
    if (state === 'paused' || state === 'error') throw new Error(`${label} stopped at step ${step} (${state}).`);
    return state === 'done';
  }, 1_800_000);
  const wallS = (Date.now() - t0) / 1000;
  // "Loaded: 66,144 parameters, ..." for the model that trained.
  const loaded = (await page.getByTestId('loaded-model').textContent()) ?? '';
  return {
    params: Number(loaded.match(/Loaded: ([\d,]+) parameters/)?.[1].replace(/,/g, '')),
    step: Number(await attr(page, 'training-panel', 'data-step')),
    valLoss: Number(await attr(page, 'val-loss', 'data-value')),
    valBpc: Number(await attr(page, 'val-bpc', 'data-value')),
    wallS,
    loadBefore,
    loadAfter: load(),
  };
}

/**
 * The runs the engine stores, read through its protocol from a second page of
 * the same origin (`?test` exposes the engine client), after the app's page
 * has closed: names, configs, and every evaluation point.
 */
export async function storedRuns(app) {
  await app.page.close();
  const page = await app.context.newPage();
  await page.goto(`${app.url}?test`);
  await page.waitForFunction(() => !!window.__EngineClient, null, { timeout: 120_000 });
  const reply = await page.evaluate(async () => {
    const engine = new window.__EngineClient();
    const ready = await engine.request({ kind: 'init' });
    if (ready.kind !== 'ready') return ready;
    return engine.request({ kind: 'listRuns' });
  });
  if (reply.kind !== 'runs') throw new Error(`listing the runs failed: ${JSON.stringify(reply).slice(0, 300)}`);
  return reply.runs;
}

export const fmt = (x, d) => (x === null || x === undefined || Number.isNaN(x) ? '–' : Number(x).toFixed(d));

/** Rename a run on the Runs tab (the row found by its id), as a person would, so the chart's legend says what it is. */
export async function renameRun(page, runId, name) {
  await page.getByTestId('tab-runs').click();
  const row = page.locator(`[data-testid="run-row"][data-run-id="${runId}"]`);
  await row.getByTestId('run-rename').click();
  await page.getByTestId('run-rename-input').fill(name);
  await page.getByTestId('run-rename-save').click();
  await page.locator(`[data-testid="run-row"][data-name="${name}"]`).waitFor({ timeout: 30_000 });
}

/** The id of the run open on the Runs tab. */
export async function openRunId(page) {
  await page.getByTestId('tab-runs').click();
  const open = page.locator('[data-testid="run-row"][data-open="true"]');
  await open.waitFor({ timeout: 60_000 });
  return open.getAttribute('data-run-id');
}

/**
 * A stored run's timing: the training time the app records (steps only, not
 * evaluations or checkpoints) and the milliseconds per step after step 20,
 * when the kernels are compiled (the first run in a page compiles them).
 */
export function runTiming(run) {
  const pts = (run?.lossHistory ?? []).filter((p) => typeof p.time === 'number');
  const last = pts.at(-1);
  const from = last && pts.find((p) => p.step >= Math.min(20, last.step - 1));
  return {
    appWallS: run ? run.wallMs / 1000 : NaN,
    msPerStep: from && last.step > from.step ? ((last.time - from.time) * 1000) / (last.step - from.step) : NaN,
  };
}
