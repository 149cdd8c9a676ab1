#!/usr/bin/env node
// The induction experiment, through the page: the Induction preset (repeat
// task, 2 layers) trained in headless Chromium (WebGPU; SwiftShader where there
// is no GPU) by clicking Start, read at every evaluation: the held-out
// second-half accuracy (greedy, per character and exact), the validation loss,
// every head's prefix-matching score and the in-context-learning score. Then
// the Insights tab's ablation grid of the trained model, the logit attribution
// and patching of a repeated string. Prints the numbers, writes them to
// bench-results/induction-<date>.json and the pictures to
// docs/induction-timeline.png and docs/circuits-induction.png.
//
//   npm run induction -- [--steps N] [--every K] [--lr X] [--warmup N] [--length N] [--alphabet N]
//                        [--examples N] [--context N] [--batch N] [--llama] [--vary] [--no-build] [--headed] [--docs]
//
// --lr, --warmup (warm-up steps), --context (the model's context) and --batch
// override the preset's training setup, and --length, --alphabet and
// --examples its toy task (for trying settings); --llama builds the model from
// the LLaMA-style block (RMSNorm, rotary positions, SwiGLU, no biases); --vary ticks "Vary the length" (by default 6
// to 12 of 26 letters, 20,000 examples, 25 warm-up steps: copies a varying
// distance apart, so only an induction head copies them; with --length N each
// string is ceil(N/2) to N long); the pictures go to bench-results/ beside the
// JSON, and with --docs also to docs/.
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { preview } from 'vite';
import { chromiumArgs } from './app-measure.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const THRESHOLD = 0.4;
// Nine letters written twice, the second copy cut before its last letter: an induction head predicts "w".
const CLEAN = 'qzkbxmfuwqzkbxmfu';
const CORRUPTED = 'qzkbxmfurqzkbxmfu';
const CHANGED = 8;
/** The Induction preset's toy task (src/model/config.ts); --vary draws each string's length (6 to 12 of 26 letters, 20,000 examples). */
const TOY = { 'toy-length': 12, 'toy-alphabet': 16, 'toy-examples': 4000, 'toy-seed': 1 };
const VARIED = { 'toy-length': 12, 'toy-alphabet': 26, 'toy-examples': 20000, 'toy-seed': 1 };

function parseArgs(argv) {
  const opts = { steps: null, every: 50, lr: null, warmup: null, length: null, alphabet: null, examples: null, context: null, batch: null, llama: false, vary: false, build: true, headed: false, docs: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v <= 0) throw new Error(`${a} needs a positive whole number`);
      return v;
    };
    if (a === '--steps') opts.steps = num();
    else if (a === '--every') opts.every = num();
    else if (a === '--no-build') opts.build = false;
    else if (a === '--headed') opts.headed = true;
    else if (a === '--lr') {
      opts.lr = Number(argv[++i]);
      if (!(opts.lr > 0)) throw new Error('--lr needs a positive number');
    } else if (a === '--length') opts.length = num();
    else if (a === '--warmup') {
      opts.warmup = Number(argv[++i]);
      if (!Number.isInteger(opts.warmup) || opts.warmup < 0) throw new Error('--warmup needs a whole number of steps');
    } else if (a === '--alphabet') opts.alphabet = num();
    else if (a === '--examples') opts.examples = num();
    else if (a === '--context') opts.context = num();
    else if (a === '--batch') opts.batch = num();
    else if (a === '--llama') opts.llama = true;
    else if (a === '--docs') opts.docs = true;
    else if (a === '--vary') opts.vary = true;
    else throw new Error(`Unknown option ${a}. Options: --steps N --every K --lr X --warmup N --length N --alphabet N --examples N --context N --batch N --llama --vary --no-build --headed --docs`);
  }
  opts.steps ??= opts.vary ? 600 : 400;
  return opts;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const f3 = (x) => (x === null || x === undefined ? 'n/a' : x.toFixed(3));

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.build) execSync('npx vite build --logLevel warn', { cwd: ROOT, stdio: 'inherit' });
  const server = await preview({ root: ROOT, logLevel: 'warn', preview: { host: '127.0.0.1', port: 0, open: false } });
  const address = server.httpServer.address();
  const url = `http://127.0.0.1:${address.port}/`;
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: !opts.headed, args: chromiumArgs() });
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const tid = (id) => page.getByTestId(id);
  const attr = async (id, name) => tid(id).getAttribute(name);
  const circuits = async (job) => {
    const reply = await page.evaluate((j) => window.__circuits(j), job);
    if (reply.kind !== 'circuits') throw new Error(`engine: ${JSON.stringify(reply)}`);
    return reply.result;
  };
  try {
    const query = new URLSearchParams({ test: '', preset: 'induction', checkpointInterval: '0' });
    query.set('maxSteps', String(opts.steps));
    query.set('evalInterval', String(opts.every));
    if (opts.lr) query.set('learningRate', String(opts.lr));
    // The measured varying-length run (README) warmed up for 25 steps.
    if (opts.warmup !== null) query.set('warmupSteps', String(opts.warmup));
    else if (opts.vary) query.set('warmupSteps', '25');
    if (opts.context) query.set('blockSize', String(opts.context));
    if (opts.batch) query.set('batchSize', String(opts.batch));
    if (opts.llama) {
      query.set('block', 'llama');
      query.set('bias', '0');
    }
    const toy = opts.vary ? { ...VARIED } : { ...TOY };
    if (opts.length) toy['toy-length'] = opts.length;
    if (opts.alphabet) toy['toy-alphabet'] = opts.alphabet;
    if (opts.examples) toy['toy-examples'] = opts.examples;
    await page.goto(`${url}?${query}`);
    await tid('kernel-check').waitFor({ timeout: 180_000 });
    const adapter = (await tid('kernel-check').textContent())?.trim() ?? '';
    // The preset's toy task (src/model/config.ts), made through the Dataset tab's form.
    await tid('tab-data').click();
    await tid('toy-kind').selectOption('repeat');
    for (const [id, v] of Object.entries(toy)) await tid(id).fill(String(v));
    if (opts.vary) await tid('toy-vary').check();
    await tid('toy-use').click();
    await page.waitForFunction(() => !!document.querySelector('[data-testid="corpus-name"]')?.textContent?.startsWith('Toy task'), null, { timeout: 180_000 });
    const corpus = await tid('corpus-name').textContent();
    console.log(`${corpus}; ${opts.steps} steps, evaluations every ${opts.every}, learning rate ${opts.lr ?? 'preset'}, warm-up ${query.get('warmupSteps') ?? 'preset'}, context ${opts.context ?? 'preset'}, batch ${opts.batch ?? 'preset'}${opts.llama ? ', LLaMA-style block' : ''}`);

    await tid('tab-train').click();
    const t0 = Date.now();
    await tid('train-toggle').click();
    const acc = tid('toy-accuracy');
    await acc.waitFor({ timeout: 600_000 });
    const evals = new Map();
    let state = '';
    while (true) {
      const step = Number(await attr('toy-accuracy', 'data-step'));
      if (!evals.has(step)) {
        const e = { step, perChar: Number(await attr('toy-accuracy', 'data-per-char')), exact: Number(await attr('toy-accuracy', 'data-exact')), valLoss: Number(await attr('val-loss', 'data-value')), seconds: (Date.now() - t0) / 1000 };
        evals.set(step, e);
        console.log(`  step ${step}: second-half accuracy per character ${f3(e.perChar)}, exact ${f3(e.exact)}, validation loss ${f3(e.valLoss)} (${e.seconds.toFixed(0)} s)`);
      }
      state = await attr('training-panel', 'data-state');
      if (state === 'done' && step === opts.steps) break;
      if (state === 'error') throw new Error('training stopped with an error');
      await sleep(2000);
    }
    const trainSeconds = (Date.now() - t0) / 1000;

    await tid('tab-insights').click();
    const chart = tid('head-chart');
    await page.waitForFunction((n) => JSON.parse(document.querySelector('[data-testid="head-chart"]')?.getAttribute('data-steps') ?? '[]').at(-1) === n, opts.steps, { timeout: 120_000 });
    const steps = JSON.parse(await chart.getAttribute('data-steps'));
    const prefix = JSON.parse(await chart.getAttribute('data-values'));
    const icl = JSON.parse(await attr('icl-chart', 'data-values'));
    const best = steps.map((_, i) => Math.max(...Object.values(prefix).map((v) => v[i] ?? 0)));
    const bestHead = steps.map((_, i) => Object.entries(prefix).reduce((a, [k, v]) => ((v[i] ?? 0) > (prefix[a]?.[i] ?? -1) ? k : a), Object.keys(prefix)[0]));
    const crossedAt = steps.find((_, i) => best[i] >= THRESHOLD) ?? null;
    const sorted = [...evals.values()].sort((a, b) => a.step - b.step);
    // The accuracy jump: the evaluation interval with the largest rise in per-character accuracy.
    let jump = null;
    for (let i = 1; i < sorted.length; i++) {
      const rise = sorted[i].perChar - sorted[i - 1].perChar;
      if (!jump || rise > jump.rise) jump = { from: sorted[i - 1].step, to: sorted[i].step, rise, before: sorted[i - 1].perChar, after: sorted[i].perChar };
    }
    console.log(`timeline steps ${steps.join(' ')}`);
    console.log(`highest prefix-matching score ${best.map(f3).join(' ')} (heads ${bestHead.join(' ')})`);
    console.log(`in-context-learning score ${icl.map(f3).join(' ')}`);
    console.log(`some head's prefix-matching score first >= ${THRESHOLD} at step ${crossedAt ?? 'none'}`);
    if (jump) console.log(`largest rise of the second-half accuracy: ${f3(jump.before)} at step ${jump.from} -> ${f3(jump.after)} at step ${jump.to}`);
    console.log(`training and evaluations: ${trainSeconds.toFixed(0)} s`);
    mkdirSync(resolve(ROOT, 'bench-results'), { recursive: true });
    const stamp = `induction-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}`;
    const pictures = (name) => [resolve(ROOT, `bench-results/${stamp}-${name}`), ...(opts.docs ? [resolve(ROOT, `docs/${name}`)] : [])];
    await chart.scrollIntoViewIfNeeded();
    const b1 = await chart.boundingBox();
    const b2 = await tid('icl-chart').boundingBox();
    for (const path of pictures('induction-timeline.png')) {
      await page.screenshot({ path, fullPage: true, clip: { x: b1.x, y: b1.y, width: b1.width, height: b2.y + b2.height - b1.y } });
    }

    // The ablation grid of the trained model, as the page shows it.
    await tid('grid-run').click();
    await tid('ablation-grid').waitFor({ timeout: 300_000 });
    const grid = await circuits({ what: 'grid', mode: 'zero' });
    const top = { layer: Number(await attr('grid-summary', 'data-top-layer')), head: Number(await attr('grid-summary', 'data-top-head')), delta: Number(await attr('grid-summary', 'data-top-delta')) };
    console.log(`zero-ablation grid (clean loss ${f3(grid.clean)}):`);
    for (let l = 0; l < grid.L; l++) console.log(`  layer ${l}: ${Array.from(grid.deltas).slice(l * grid.H, (l + 1) * grid.H).map((v) => (v >= 0 ? '+' : '') + v.toFixed(3)).join(' ')}`);
    console.log(`singled out: L${top.layer}.H${top.head} (+${top.delta.toFixed(3)})`);

    const target = CLEAN[CHANGED];
    await tid('dla-text').fill(CLEAN);
    await tid('dla-target').fill(target);
    await tid('dla-run').click();
    await tid('dla').waitFor({ timeout: 120_000 });
    const dla = await circuits({ what: 'attribution', text: CLEAN, pos: CLEAN.length - 1, target });
    const largest = dla.names.map((n, i) => [n, dla.contributions[i]]).sort((a, b) => b[1] - a[1]).slice(0, 4);
    console.log(`attribution of "${target}" after ${CLEAN}: logit ${f3(dla.logit)}, sum ${f3(dla.sum)}; largest ${largest.map(([n, v]) => `${n} ${v.toFixed(2)}`).join(', ')}`);

    const other = CORRUPTED[CHANGED];
    await tid('patch-clean').fill(CLEAN);
    await tid('patch-corrupted').fill(CORRUPTED);
    await tid('patch-target').fill(target);
    await tid('patch-other').fill(other);
    await tid('patch-run').click();
    await tid('patching').waitFor({ timeout: 300_000 });
    const p = await circuits({ what: 'patching', clean: CLEAN, corrupted: CORRUPTED, target, other });
    const T = CLEAN.length;
    const headsLast = [];
    for (let l = 0; l < p.L; l++) for (let h = 0; h < p.H; h++) headsLast.push([`L${l}.H${h}`, p.heads[((T - 1) * p.L + l) * p.H + h]]);
    console.log(`patching ${CLEAN} -> ${CORRUPTED} ("${target}" minus "${other}"): clean ${f3(p.clean)}, corrupted ${f3(p.corrupted)}; head outputs at the last position restore ${headsLast.map(([n, v]) => `${n} ${v.toFixed(2)}`).join(', ')}`);
    for (const path of pictures('circuits-induction.png')) await tid('circuits').screenshot({ path });

    const result = {
      date: new Date().toISOString(),
      adapter,
      corpus,
      steps: opts.steps,
      evalInterval: opts.every,
      learningRate: opts.lr,
      warmupSteps: opts.warmup,
      context: opts.context,
      batch: opts.batch,
      block: opts.llama ? 'llama' : 'gpt2',
      trainSeconds,
      accuracy: sorted,
      timeline: { steps, prefixMatching: prefix, highest: best, highestHead: bestHead, icl },
      threshold: THRESHOLD,
      prefixMatchingCrossedAt: crossedAt,
      accuracyJump: jump,
      grid: { clean: grid.clean, L: grid.L, H: grid.H, deltas: Array.from(grid.deltas), top },
      attribution: { text: CLEAN, target, logit: dla.logit, sum: dla.sum, names: dla.names, contributions: Array.from(dla.contributions) },
      patching: { clean: CLEAN, corrupted: CORRUPTED, target, other, metricClean: p.clean, metricCorrupted: p.corrupted, headsAtLast: Object.fromEntries(headsLast) },
      pageErrors: errors,
    };
    const out = resolve(ROOT, `bench-results/${stamp}.json`);
    writeFileSync(out, JSON.stringify(result, null, 2));
    console.log(`wrote ${out}`);
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  } finally {
    await browser.close();
    await server.close();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
