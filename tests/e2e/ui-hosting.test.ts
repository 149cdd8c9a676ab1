// dist/ is hostable anywhere: served as plain static files under a sub-path
// (as a project page is), the app starts its engine worker, fetches the
// built-in corpus, loads the tokenizer's rank tables, and keeps its
// Content-Security-Policy, with no request outside that path.
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import { afterAll, describe, expect, it } from 'vitest';
import { launch, ROOT, serveApp, stopServer } from './harness';

const PREFIX = '/projects/gpt-playground/';
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.txt': 'text/plain', '.map': 'application/json' };

let server: Server | null = null;
afterAll(async () => {
  await new Promise((r) => (server ? server.close(r) : r(null)));
  await stopServer();
});

/** A static file server that knows nothing of the app: dist/ under PREFIX, 404 elsewhere, no special headers. */
async function serveDistUnder(prefix: string): Promise<string> {
  await serveApp(); // builds dist/ when it is missing
  const dist = resolve(ROOT, 'dist');
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (!path.startsWith(prefix)) {
      res.writeHead(404).end();
      return;
    }
    let file = normalize(join(dist, path.slice(prefix.length)));
    if (!file.startsWith(dist)) {
      res.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}${prefix}`;
}

describe('the built app served from a sub-path', () => {
  it('starts the engine, loads the corpus and the tokenizer, with no request outside its path', async () => {
    const url = await serveDistUnder(PREFIX);
    const s = await launch();
    const requests: string[] = [];
    s.context.on('request', (r) => requests.push(r.url()));
    try {
      await s.page.goto(url + '?preset=tiny');
      await s.page.getByTestId('kernel-check').waitFor({ timeout: 180_000 });
      expect(await s.page.getByTestId('kernel-check').getAttribute('data-ok')).toBe('true');
      await s.page.getByTestId('corpus-vocab').waitFor({ timeout: 120_000 });
      expect(await s.page.getByTestId('corpus-name').textContent()).toMatch(/Moby Dick/);
      await s.page.getByTestId('tab-tokenizer').click();
      await s.page.getByTestId('tokenizer-input').fill('Call me Ishmael.');
      await expect.poll(() => s.page.getByTestId('token-count-cl100k_base').getAttribute('data-count'), { timeout: 120_000 }).toBe(String(new Tiktoken(cl100k).encode('Call me Ishmael.').length));
      const csp = await s.page.evaluate(() => document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.getAttribute('content') ?? '');
      expect(csp).toMatch(/connect-src 'self'/);
      const outside = requests.filter((r) => !r.startsWith(url) && !r.startsWith('blob:') && !r.startsWith('data:'));
      console.log(`[e2e] ${requests.length} requests under ${PREFIX}; outside: ${outside.length}`);
      expect(outside).toEqual([]);
      expect(requests.some((r) => /\/assets\/worker-[^/]+\.js$/.test(r))).toBe(true);
      expect(s.consoleErrors).toEqual([]);
      expect(s.pageErrors).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
