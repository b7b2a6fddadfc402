#!/usr/bin/env bash
# setup.sh: installs what building and testing webtune needs, on a fresh Debian 12 machine (as
# root, or with sudo). Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cmake >/dev/null || need_apt+=(cmake)
command -v gcc >/dev/null || need_apt+=(build-essential)
command -v clang >/dev/null || need_apt+=(clang)
command -v emcc >/dev/null || need_apt+=(emscripten)
[ -f /usr/include/stb/stb_image.h ] || need_apt+=(libstb-dev)
[ -f /usr/include/simde/wasm/simd128.h ] || need_apt+=(libsimde-dev)
command -v node >/dev/null || need_apt+=(nodejs npm)
# browser tests (the demo page, the Vite-bundled package): Debian's Chromium, ffmpeg for the fake webcam
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
