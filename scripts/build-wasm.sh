#!/usr/bin/env bash
# build-wasm.sh: builds the two wasm modules (SIMD+threads, SIMD single-thread) with Emscripten
# and copies them into js/dist/wasm, where the JS package loads them from.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's emcc runs on the machine's Node, which does not see Debian's node modules by default.
export NODE_PATH=/usr/share/nodejs
BUILD=${WT_WASM_BUILD_DIR:-build/wasm}
emcmake cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target webtune-mt webtune-st
mkdir -p js/dist/wasm
cp "$BUILD"/web/webtune-mt.js "$BUILD"/web/webtune-mt.wasm "$BUILD"/web/webtune-mt.worker.js \
   "$BUILD"/web/webtune-st.js "$BUILD"/web/webtune-st.wasm js/dist/wasm/
# Emscripten's glue and pthread worker are CommonJS scripts; the package is "type": "module".
echo '{ "type": "commonjs" }' > js/dist/wasm/package.json
echo "build-wasm: js/dist/wasm is up to date"
