#!/usr/bin/env node
// The BPE tokenizer's speed: Tiny Shakespeare trained to a vocabulary (4,096 by
// default) and then encoded whole, in Node and in headless Chromium.
//
//   npm run bench:bpe                      vocabulary 4,096, Node then Chromium
//   npm run bench:bpe -- --vocab 8192      another size
//   npm run bench:bpe -- --chrome PATH     another Chromium
//
// Node loads bench/bpe.ts through Vite's SSR loader; Chromium opens bench/bpe.html
// from the same Vite dev server on 127.0.0.1 (the corpus comes from public/).
// Prints both timings and writes them to bench-results/bpe-<date>.json.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer } from 'vite';
import { cpuModel } from './app-measure.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const opts = { vocab: 4096, chrome: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--vocab') opts.vocab = Number(argv[++i]);
    else if (argv[i] === '--chrome') opts.chrome = argv[++i];
    else {
      console.error(`Unknown option ${argv[i]}. Use --vocab N or --chrome PATH.`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(opts.vocab) || opts.vocab < 257 || opts.vocab > 65536) {
    console.error('--vocab takes a whole number from 257 to 65536.');
    process.exit(2);
  }
  return opts;
}

const row = (where, t) =>
  `| ${where} | ${t.vocabSize} | ${t.tokens} | ${(t.trainMs / 1000).toFixed(2)} s | ${(t.encodeMs / 1000).toFixed(2)} s | ${t.encodeWarmMs.toFixed(0)} ms | ${t.encodedTokens} | ${t.charsPerToken.toFixed(3)} |`;

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const server = await createServer({
    configFile: false,
    root: ROOT,
    logLevel: 'warn',
    clearScreen: false,
    server: { host: '127.0.0.1', port: 0, hmr: false, watch: null },
    optimizeDeps: { noDiscovery: true, entries: [] },
  });
  await server.listen();
  const address = server.httpServer.address();
  const origin = `http://127.0.0.1:${address.port}`;
  const results = { date: new Date().toISOString(), cpu: cpuModel(), corpus: 'public/data/tinyshakespeare.txt', vocabSize: opts.vocab };
  try {
    const { timeBpe } = await server.ssrLoadModule('/bench/bpe.ts');
    const text = readFileSync(resolve(ROOT, 'public/data/tinyshakespeare.txt'), 'utf8');
    results.node = { version: process.version, ...timeBpe(text, opts.vocab) };

    const browser = await chromium.launch({ executablePath: opts.chrome, headless: true, args: ['--no-sandbox', '--disable-background-networking', '--no-first-run'] });
    try {
      const page = await browser.newPage();
      await page.goto(`${origin}/bench/bpe.html`);
      await page.waitForFunction(() => typeof window.bpeBench === 'function', null, { timeout: 60_000 });
      results.chromium = { version: browser.version(), ...(await page.evaluate((v) => window.bpeBench(v), opts.vocab)) };
    } finally {
      await browser.close();
    }
  } finally {
    await server.close();
  }
  console.log(`BPE on Tiny Shakespeare (${results.node.chars.toLocaleString('en-US')} characters), ${results.cpu}\n`);
  console.log('| where | vocabulary asked | tokens | train | encode (cold) | encode (warm cache) | encoded tokens | characters per token |');
  console.log('|---|--:|--:|--:|--:|--:|--:|--:|');
  console.log(row(`Node ${results.node.version}`, results.node));
  console.log(row(`Chromium ${results.chromium.version}`, results.chromium));
  mkdirSync(resolve(ROOT, 'bench-results'), { recursive: true });
  const file = resolve(ROOT, 'bench-results', `bpe-${results.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
