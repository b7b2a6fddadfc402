#!/usr/bin/env bash
# test.sh: sets up a fresh machine and runs every test: the C tests natively (AddressSanitizer +
# UBSan), the same C tests as wasm under Node (SIMD + threads), the JS tests (node --test), then
# the browser tests (the package and the demo page in Debian's headless Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
JOBS=$(nproc)
# Debian's emcc runs on the machine's Node, which does not see Debian's node modules by default.
export NODE_PATH=/usr/share/nodejs

echo "== C tests, native, ASan+UBSan =="
cmake -S . -B build/native-asan -DWT_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWT_BUILD_BENCH=OFF >/dev/null
cmake --build build/native-asan -j"$JOBS"
ctest --test-dir build/native-asan --output-on-failure -j"$JOBS"

echo "== C tests, wasm (SIMD + threads) under Node =="
bash scripts/build.sh
cmake --build build/wasm -j"$JOBS"
ctest --test-dir build/wasm --output-on-failure

echo "== JS tests (Node) =="
node --expose-gc --test --test-concurrency=1 tests/js/

echo "== Browser tests (headless Chromium) =="
node --test --test-concurrency=1 tests/browser/
