// Driving the engine worker from a test page through its typed protocol:
// `?test` exposes EngineClient; the page keeps one engine and its events.
import { expect } from 'vitest';
import type { Page } from 'playwright-core';
import type { EngineEvent, EngineReply, EngineRequest } from '../../src/engine/protocol';

declare global {
  interface Window {
    __EngineClient?: new () => { request(r: EngineRequest, t?: Transferable[]): Promise<EngineReply>; on(l: (e: EngineEvent) => void): () => void };
    __engine?: InstanceType<NonNullable<Window['__EngineClient']>>;
    __events?: EngineEvent[];
    /** Bytes a test keeps in the page between requests (an exported file). */
    __bytes?: ArrayBuffer;
  }
}

/** Load the app's test page and start a fresh engine on it, ready. */
export async function openEngine(page: Page, url: string): Promise<void> {
  await page.goto(`${url}?test`);
  await page.waitForFunction(() => !!window.__EngineClient, null, { timeout: 60_000 });
  await page.evaluate(() => {
    const engine = new window.__EngineClient!();
    window.__engine = engine;
    window.__events = [];
    engine.on((e) => window.__events!.push(e));
  });
  expect((await request(page, { kind: 'init' })).kind).toBe('ready');
}

export function request(page: Page, r: EngineRequest): Promise<EngineReply> {
  return page.evaluate((req) => window.__engine!.request(req), r);
}

/** The events since the last call (taken out of the page's list). */
export async function events(page: Page): Promise<EngineEvent[]> {
  return page.evaluate(() => window.__events!.splice(0));
}

/** The reply to a request that opens a run, or the test fails with what came back instead. */
export function loaded(reply: EngineReply): Extract<EngineReply, { kind: 'loaded' }> {
  if (reply.kind !== 'loaded') throw new Error(JSON.stringify(reply));
  return reply;
}

/** Train the open run to its last step; its evaluations on the way. */
export async function trainToEnd(page: Page): Promise<{ step: number; valLoss: number }[]> {
  await events(page);
  expect(await request(page, { kind: 'train', action: 'start' })).toEqual({ kind: 'ok' });
  await page.waitForFunction(() => window.__events!.some((e) => e.kind === 'trainState' && e.state === 'done'), null, { timeout: 300_000, polling: 100 });
  return (await events(page)).flatMap((e) => (e.kind === 'eval' ? [{ step: e.stats.step, valLoss: e.stats.valLoss }] : []));
}
