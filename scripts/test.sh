#!/usr/bin/env bash
# Runs every test: unit (Node), GPU kernels (Node + Dawn on SwiftShader or a
# real Vulkan driver), and the built app in headless Chromium with WebGPU.
# Installs what is missing first, so it passes on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 ' || need_apt+=(libvulkan1)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing ${need_apt[*]} from apt (software WebGPU for the tests)..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "The tests need: ${need_apt[*]}. Install them, e.g. 'sudo apt-get install ${need_apt[*]}', and run again." >&2
    exit 1
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# The Vulkan loader finds SwiftShader through this manifest (Debian's Chromium ships it).
export VK_ICD_FILENAMES="${VK_ICD_FILENAMES:-/usr/lib/chromium/vk_swiftshader_icd.json}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

npx tsc --noEmit -p .
npx vite build --logLevel warn
npx vitest run "$@"
