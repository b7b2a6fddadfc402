#!/usr/bin/env bash
# build.sh: builds everything the npm package ships into js/dist (git-ignored): the two wasm
# modules and the pretrained backbones converted from ../shared/backbones.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-wasm.sh
node scripts/build-models.mjs
