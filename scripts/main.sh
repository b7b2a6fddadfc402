#!/usr/bin/env bash
# main.sh: sets up a fresh machine, builds what is missing or out of date (the wasm modules and the
# backbones in js/dist), then serves the demo page in the foreground and prints its URL.
#   bash scripts/main.sh [--port 8080] [--host 127.0.0.1] [--no-isolation]
# (options go to demo/server.mjs; --host 0.0.0.0 serves other machines too: browsers only allow the
# camera on https or localhost). The kernel benchmark: npm run bench:kernels.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# js/dist is built from these; rebuild when an output is missing or older than any of them
outputs=(js/dist/wasm/webtune-mt.js js/dist/wasm/webtune-mt.wasm js/dist/wasm/webtune-mt.worker.js
         js/dist/wasm/webtune-st.js js/dist/wasm/webtune-st.wasm js/dist/models/index.json)
sources=(src include web CMakeLists.txt scripts/build.sh scripts/build-wasm.sh scripts/build-models.mjs
         js/src/convert.js js/src/tfjs-files-node.js)
stale=""
oldest=""
for f in "${outputs[@]}"; do
  if [ ! -f "$f" ]; then stale="$f is missing"; break; fi
  if [ -z "$oldest" ] || [ "$f" -ot "$oldest" ]; then oldest=$f; fi
done
if [ -z "$stale" ]; then
  newer=$(find "${sources[@]}" -type f -newer "$oldest" -print -quit 2>/dev/null || true)
  [ -n "$newer" ] && stale="$newer changed since the last build"
fi
if [ -n "$stale" ]; then
  echo "main: building js/dist ($stale)"
  bash scripts/build.sh
else
  echo "main: js/dist is up to date"
fi

exec node demo/server.mjs "$@"
