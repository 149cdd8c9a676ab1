#!/usr/bin/env bash
# Installs, builds and serves the app on http://127.0.0.1:5173 (open it in Chrome or Edge).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npx tsc --noEmit -p .
npx vite build --logLevel warn
PORT="${PORT:-5173}"
echo
echo "  Open http://127.0.0.1:${PORT}/ in Chrome or Edge (WebGPU required)."
echo
exec npx vite preview --host 127.0.0.1 --port "$PORT" --strictPort
