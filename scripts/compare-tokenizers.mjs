#!/usr/bin/env node
// Characters against BPE tokens, measured in the built app as a person would:
// the Tiny preset's model (2 layers, 2 heads, 48 wide, context 32, batch 8) on
// Tiny Shakespeare, trained on characters, then on a 512-token and a 2,048-token
// BPE trained in the page (Tokenizer tab) on the corpus's training split and
// picked in the Dataset tab; same steps, batch, seed and learning rate. Prints
// a table (tokenizer, vocabulary, parameters, characters per token, validation
// bits per character, wall time), screenshots the Runs tab's comparison chart
// in bits per character by step (docs/char-vs-bpe.png) and writes everything
// to bench-results/tokenizers-<date>.json.
//
//   npm run bench:tokenizers                        400 steps, evaluation over 16 batches
//   npm run bench:tokenizers -- --steps 200         fewer steps
//   npm run bench:tokenizers -- --small 512 --large 2048 --eval-iters 16
//   npm run bench:tokenizers -- --build --headed --chrome PATH
//
// Wall time is from pressing Start to the run's last step (evaluations and
// checkpoints included), with the load average around it: on SwiftShader it
// measures the CPU, and other work on the machine slows it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ROOT, attr, cpuModel, fmt, gotoApp, load, openApp, openRunId, parseArgs, renameRun, runTiming, storedRuns, trainToEnd, until } from './app-measure.mjs';

const opts = parseArgs(process.argv.slice(2), { steps: 400, evalIters: 16, small: 512, large: 2048 }, 'Use --steps N, --eval-iters N, --small N, --large N, --build, --headed, --chrome PATH.');
const CHART = resolve(ROOT, 'docs/char-vs-bpe.png');

/** The open run's validation split: its tokens and characters, as the Train tab states them. */
async function valSplit(page) {
  const tokens = Number(await attr(page, 'loaded-model', 'data-val-tokens'));
  const chars = Number(await attr(page, 'loaded-model', 'data-val-chars'));
  return { valTokens: tokens, valChars: chars, charsPerToken: chars / tokens };
}

/** Train a BPE of `size` tokens in the Tokenizer tab; returns the page's summary sentence. */
async function trainBpe(page, size) {
  await page.getByTestId('tab-tokenizer').click();
  await page.getByTestId('bpe-vocab').fill(String(size));
  const t0 = Date.now();
  await page.getByTestId('bpe-train').click();
  await until(`the ${size}-token BPE`, async () => (await attr(page, 'bpe-summary', 'data-tokens')) === String(size), 300_000, 100);
  const summary = await page.getByTestId('bpe-summary').textContent();
  console.log(`  ${summary} (${((Date.now() - t0) / 1000).toFixed(1)} s from the click)`);
  return summary;
}

/** Choose the trained BPE for the next run in the Dataset tab and read what the page says it means. */
async function chooseBpe(page, size) {
  await page.getByTestId('tab-data').click();
  await page.getByTestId('run-tokenizer-bpe').check();
  const usage = page.getByTestId('run-tokenizer-usage');
  await until(`the corpus counted with the ${size}-token BPE`, async () => (await usage.getAttribute('data-vocab')) === String(size), 300_000);
  const text = await usage.textContent();
  console.log(`  ${text}`);
  return { used: Number(await usage.getAttribute('data-used')) };
}

async function main() {
  const date = new Date().toISOString();
  const app = await openApp(opts);
  const rows = [];
  let runs;
  try {
    const { page } = app;
    console.log(`Tiny preset on Tiny Shakespeare: characters, BPE ${opts.small}, BPE ${opts.large}; ${opts.steps} steps, in Chromium ${app.version} (${cpuModel()}), load ${load().join(' ')}`);
    await gotoApp(app, `?preset=tiny&corpus=tiny-shakespeare&maxSteps=${opts.steps}&evalIters=${opts.evalIters}`);
    await until('Tiny Shakespeare', async () => (await page.getByTestId('corpus-name').textContent()) === 'Tiny Shakespeare', 120_000);

    const charVocab = Number(await attr(page, 'corpus-vocab', 'data-vocab'));
    const chars = await trainToEnd(app, 'characters');
    rows.push({ tokenizer: 'characters', vocab: charVocab, ...(await valSplit(page)), runId: await openRunId(page), ...chars });

    for (const size of [opts.small, opts.large]) {
      const summary = await trainBpe(page, size);
      const usage = await chooseBpe(page, size);
      const run = await trainToEnd(app, `BPE ${size}`);
      const loaded = page.getByTestId('loaded-tokenizer');
      if ((await loaded.getAttribute('data-kind')) !== 'bpe' || (await loaded.getAttribute('data-vocab')) !== String(size)) {
        throw new Error(`the run did not read with the ${size}-token BPE`);
      }
      rows.push({ tokenizer: `BPE ${size.toLocaleString('en-US')}`, vocab: size, ...usage, ...(await valSplit(page)), bpeSummary: summary, runId: await openRunId(page), ...run });
    }
    for (const r of rows) await renameRun(page, r.runId, `${r.tokenizer} (Tiny, ${opts.steps} steps)`);

    // The comparison: all three, bits per character by step.
    await page.getByTestId('tab-runs').click();
    for (const r of rows) {
      const box = page.locator(`[data-testid="run-row"][data-run-id="${r.runId}"]`).getByTestId('run-select');
      if (!(await box.isChecked())) await box.check();
    }
    await page.getByTestId('compare-metric').selectOption('bpc');
    await page.getByTestId('compare-axis-steps').check();
    const chart = page.getByTestId('compare-chart');
    await until('three curves in the comparison', async () => (await chart.getAttribute('data-series')) === String(rows.length) && (await chart.getAttribute('data-metric')) === 'bpc', 180_000).catch(async (e) => {
      const table = await page.getByTestId('run-row').evaluateAll((els) => els.map((el) => `${el.getAttribute('data-run-id')} ${el.getAttribute('data-name')} ${el.querySelector('input[type=checkbox]')?.checked}`));
      throw new Error(`${e.message} Runs: ${table.join('; ')}; ours: ${rows.map((r) => r.runId).join(', ')}; chart: ${await chart.getAttribute('data-series')} ${await chart.getAttribute('data-metric')}`);
    });
    mkdirSync(resolve(ROOT, 'docs'), { recursive: true });
    await chart.screenshot({ path: CHART });
    runs = await storedRuns(app);
  } finally {
    await app.close();
  }
  // The training time the app records for each run, and its time per step once the kernels are compiled.
  for (const r of rows) Object.assign(r, runTiming(runs.find((x) => x.id === r.runId)));

  const table = [
    '| tokenizer | model vocabulary | parameters | characters per token (validation) | steps | val loss (nats/token) | val bits/char | wall time (Start to done) | ms/step after step 20 | load average (1 min) before → after |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|---|',
    ...rows.map(
      (r) =>
        `| ${r.tokenizer} | ${r.vocab.toLocaleString('en-US')} | ${r.params.toLocaleString('en-US')} | ${fmt(r.charsPerToken, 2)} | ${r.step} | ${fmt(r.valLoss, 4)} | ${fmt(r.valBpc, 4)} | ${fmt(r.wallS, 0)} s | ${fmt(r.msPerStep, 0)} | ${r.loadBefore[0]} → ${r.loadAfter[0]} |`,
    ),
  ].join('\n');
  console.log(`\n${table}\n\nchart: ${CHART}`);
  if (app.problems.pageErrors.length) console.log(`page errors: ${app.problems.pageErrors.join(' | ')}`);
  if (app.problems.foreignRequests.length) console.log(`WARNING: requests left the origin: ${app.problems.foreignRequests.join(', ')}`);

  const result = {
    date,
    command: `node scripts/compare-tokenizers.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    cpu: cpuModel(),
    browser: `Chromium ${app.version}`,
    steps: opts.steps,
    evalIters: opts.evalIters,
    rows,
    runs: runs.map((r) => ({ id: r.id, name: r.name, model: r.model, train: r.train, tokenizer: r.tokenizer, step: r.step, wallMs: r.wallMs, evalHistory: r.evalHistory, lossHistory: r.lossHistory })),
    chart: 'docs/char-vs-bpe.png',
    ...app.problems,
  };
  mkdirSync(resolve(ROOT, 'bench-results'), { recursive: true });
  const file = resolve(ROOT, 'bench-results', `tokenizers-${date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
