// End-to-end harness: serve the built app (dist/) with Vite's preview server on
// 127.0.0.1, drive Debian's Chromium headless with WebGPU on (SwiftShader
// where there is no GPU), and record everything that would make a session bad:
// console errors, page errors, and any request to another origin.
import { existsSync, mkdirSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';
import { expect } from 'vitest';

export const ROOT = resolve(__dirname, '../..');
export const ARTIFACTS = resolve(ROOT, 'artifacts');

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
];

export interface Session {
  url: string;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  consoleErrors: string[];
  pageErrors: string[];
  foreignRequests: string[];
  close: () => Promise<void>;
}

let server: PreviewServer | null = null;

export async function serveApp(): Promise<string> {
  if (!existsSync(resolve(ROOT, 'dist/index.html'))) {
    execSync('npx vite build --logLevel warn', { cwd: ROOT, stdio: 'inherit' });
  }
  if (!server) {
    server = await preview({ root: ROOT, logLevel: 'warn', preview: { host: '127.0.0.1', port: 0, open: false } });
  }
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('preview server has no port');
  return `http://127.0.0.1:${address.port}/`;
}

export async function stopServer(): Promise<void> {
  if (server) await server.close();
  server = null;
}

export async function launch(options: { args?: string[]; initScript?: string; viewport?: { width: number; height: number } } = {}): Promise<Session> {
  const url = await serveApp();
  const origin = new URL(url).origin;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: options.args ?? CHROMIUM_ARGS,
  });
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 } });
  if (options.initScript) await context.addInitScript(options.initScript);
  const page = await context.newPage();
  const session: Session = {
    url,
    browser,
    context,
    page,
    consoleErrors: [],
    pageErrors: [],
    foreignRequests: [],
    close: async () => {
      await context.close();
      await browser.close();
    },
  };
  page.on('console', (msg) => {
    if (msg.type() === 'error') session.consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => session.pageErrors.push(err.message));
  context.on('request', (req) => {
    const u = req.url();
    if (u.startsWith('data:') || u.startsWith('blob:')) return;
    if (new URL(u).origin !== origin) session.foreignRequests.push(u);
  });
  // Workers' console errors reach the page's console listener in Chromium; their requests reach the context's.
  return session;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = resolve(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** An element's attribute, found by its test id. */
export const attr = (page: Page, testId: string, name: string) => page.getByTestId(testId).getAttribute(name);
/** An element's attribute as a number. */
export const num = async (page: Page, testId: string, name: string) => Number(await attr(page, testId, name));

/** Waits until the training panel reports `state` (idle, running, paused, done...). */
export async function waitState(page: Page, state: string, timeout = 180_000): Promise<void> {
  await expect.poll(() => attr(page, 'training-panel', 'data-state'), { timeout }).toBe(state);
}
