#!/usr/bin/env node
// GPT-2's block against LLaMA's at (nearly) the same parameter count, measured
// in the built app as a person would: the Tiny preset (GPT-2 block, Moby Dick,
// 400 steps) trained on the Train tab, then the Runs tab's "Compare with the
// other block" makes the LLaMA-block run of the same layers, heads, context,
// corpus, seed, batch, learning rate and steps (src/model/otherBlock.ts), which
// is trained the same way. Prints a table (block, parameters, steps, validation
// loss and bits per character, wall time), screenshots the Runs tab's
// comparison chart and writes everything to bench-results/blocks-<date>.json.
//
//   npm run bench:blocks                          Tiny preset, evaluation over 16 batches
//   npm run bench:blocks -- --steps 200           fewer steps
//   npm run bench:blocks -- --eval-iters 4        the preset's own evaluation (noisier)
//   npm run bench:blocks -- --build --headed --chrome PATH
//
// Wall time is from pressing Start to the run's last step (evaluations and
// checkpoints included), with the load average around it: on SwiftShader it
// measures the CPU, and other work on the machine slows it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ROOT, cpuModel, fmt, gotoApp, load, openApp, openRunId, parseArgs, renameRun, runTiming, storedRuns, trainToEnd, until } from './app-measure.mjs';

const opts = parseArgs(process.argv.slice(2), { steps: 400, evalIters: 16 }, 'Use --steps N, --eval-iters N, --build, --headed, --chrome PATH.');
const CHART = resolve(ROOT, 'docs/compare-blocks.png');

async function main() {
  const date = new Date().toISOString();
  const app = await openApp(opts);
  const rows = [];
  let runs;
  try {
    const { page } = app;
    console.log(`Tiny preset, GPT-2 block then its other-block match, ${opts.steps} steps, in Chromium ${app.version} (${cpuModel()}), load ${load().join(' ')}`);
    await gotoApp(app, `?preset=tiny&maxSteps=${opts.steps}&evalIters=${opts.evalIters}`);
    const gpt2 = await trainToEnd(app, 'GPT-2 block');
    const gpt2Id = await openRunId(page);
    rows.push({ block: 'GPT-2', runId: gpt2Id, ...gpt2 });

    // The Runs tab's button makes the matching LLaMA-block run and opens it.
    await page.locator(`[data-testid="run-row"][data-run-id="${gpt2Id}"]`).getByTestId('run-compare-block').click();
    const note = await until('the other-block run', async () => {
      const t = await page.getByTestId('runs-note').textContent().catch(() => null);
      return t && /A LLaMA-block run like/.test(t) ? t : null;
    }, 180_000);
    console.log(`  ${note}`);
    await page.getByTestId('tab-train').click();
    const block = await page.getByTestId('field-block').inputValue();
    if (block !== 'llama') throw new Error(`the matching run has block ${block}, not llama`);
    const llama = await trainToEnd(app, 'LLaMA block');
    const llamaId = await openRunId(page);
    rows.push({ block: 'LLaMA', runId: llamaId, ...llama });
    await renameRun(page, gpt2Id, 'GPT-2 block');
    await renameRun(page, llamaId, 'LLaMA block');

    // The comparison overlays both (selected by the button), in bits per character by step.
    await page.getByTestId('tab-runs').click();
    await page.getByTestId('compare-metric').selectOption('bpc');
    await page.getByTestId('compare-axis-steps').check();
    const chart = page.getByTestId('compare-chart');
    await until('both curves in the comparison', async () => (await chart.getAttribute('data-series')) === '2', 180_000);
    mkdirSync(resolve(ROOT, 'docs'), { recursive: true });
    await chart.screenshot({ path: CHART });
    runs = await storedRuns(app);
  } finally {
    await app.close();
  }
  // The training time the app records for each run, and its time per step once the kernels are compiled.
  for (const r of rows) Object.assign(r, runTiming(runs.find((x) => x.id === r.runId)));

  const table = [
    '| block | parameters | steps | val loss (nats/char) | val bits/char | wall time (Start to done) | ms/step after step 20 | load average (1 min) before → after |',
    '|---|--:|--:|--:|--:|--:|--:|---|',
    ...rows.map(
      (r) =>
        `| ${r.block} | ${r.params.toLocaleString('en-US')} | ${r.step} | ${fmt(r.valLoss, 4)} | ${fmt(r.valBpc, 4)} | ${fmt(r.wallS, 0)} s | ${fmt(r.msPerStep, 0)} | ${r.loadBefore[0]} → ${r.loadAfter[0]} |`,
    ),
  ].join('\n');
  console.log(`\n${table}\n\nchart: ${CHART}`);
  if (app.problems.pageErrors.length) console.log(`page errors: ${app.problems.pageErrors.join(' | ')}`);
  if (app.problems.foreignRequests.length) console.log(`WARNING: requests left the origin: ${app.problems.foreignRequests.join(', ')}`);

  const result = {
    date,
    command: `node scripts/compare-blocks.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    cpu: cpuModel(),
    browser: `Chromium ${app.version}`,
    steps: opts.steps,
    evalIters: opts.evalIters,
    rows,
    runs: runs.map((r) => ({ id: r.id, name: r.name, model: r.model, train: r.train, step: r.step, wallMs: r.wallMs, evalHistory: r.evalHistory, lossHistory: r.lossHistory })),
    chart: 'docs/compare-blocks.png',
    ...app.problems,
  };
  mkdirSync(resolve(ROOT, 'bench-results'), { recursive: true });
  const file = resolve(ROOT, 'bench-results', `blocks-${date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
