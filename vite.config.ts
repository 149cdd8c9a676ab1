import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

// The page is served with a strict Content-Security-Policy: scripts and
// connections only from our own origin, so user text can never leave the tab.
const csp = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

// The built page carries the same policy in a <meta> tag, so it holds wherever dist/ is hosted.
const cspMeta: Plugin = {
  name: 'csp-meta',
  apply: 'build',
  transformIndexHtml: (html) =>
    html.replace('<head>', `<head>\n    <meta http-equiv="Content-Security-Policy" content="${csp}" />`),
};

export default defineConfig({
  // Relative URLs: dist/ works from any path (a project page, a subfolder), served as is.
  base: './',
  plugins: [react(), cspMeta],
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true, chunkSizeWarningLimit: 4096 },
  preview: { headers: { 'Content-Security-Policy': csp } },
  server: { headers: { 'Content-Security-Policy': csp } },
});
