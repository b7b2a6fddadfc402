#!/bin/sh
# Builds (if needed) and runs the kernel benchmark.
#   tests/bench/run.sh [--native] [bench_kernels options: --batch N --ms T --runs R --only pw,dw,conv,bn --quick]
# Default: the wasm build (Emscripten, -O3 -msimd128 -pthread) under Node in build/bench-wasm.
# --native: a native Release build (SIMDe) in build/bench-native, for convenience; wasm is the
# number that counts. Set WT_BENCH_BUILD_DIR to use another build directory.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
JOBS=${JOBS:-2}
MODE=wasm
if [ "${1:-}" = "--native" ]; then MODE=native; shift; fi

if [ "$MODE" = native ]; then
  BUILD=${WT_BENCH_BUILD_DIR:-$ROOT/build/bench-native}
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DWT_SANITIZE=OFF >/dev/null
  fi
  cmake --build "$BUILD" -j"$JOBS" --target bench_kernels >/dev/null
  exec "$BUILD/tests/bench/bench_kernels" "$@"
fi

# Debian's emcc needs Node to see Debian's node modules (acorn etc.).
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
BUILD=${WT_BENCH_BUILD_DIR:-$ROOT/build/bench-wasm}
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  emcmake cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" -j"$JOBS" --target bench_kernels >/dev/null
# Emscripten 3.1.6's loader predates Node's global fetch: run without it.
exec node --no-experimental-fetch "$BUILD/tests/bench/bench_kernels.js" "$@"
