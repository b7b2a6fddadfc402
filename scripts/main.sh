#!/usr/bin/env bash
# main.sh: sets up a fresh machine, builds the wasm modules and runs the kernel benchmark in wasm
# under Node (GFLOP/s per MobileNet layer shape beside the measured wasm SIMD peak).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
bash tests/bench/run.sh "$@"
