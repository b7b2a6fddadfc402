// core-node.js: loads a webtune wasm module in Node.js and wraps its C API.
// Emscripten 3.1.6's loader would try fetch() on Node 20, so the wasm bytes are read here and
// handed over; its ES6 output is unusable from an ES module, so the MODULARIZE factory is loaded
// through require (see docs/architecture.md).
import { createRequire } from 'node:module';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { wrapModule } from './core.js';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

/** Directory holding webtune-{mt,st}.{js,wasm}: js/dist/wasm by default. */
export const defaultWasmDir = path.resolve(here, '..', 'dist', 'wasm');

/**
 * Loads the 'mt' (SIMD + threads) or 'st' (SIMD, single thread) module.
 * @param {'mt'|'st'} variant
 * @param {{ wasmDir?: string }} [options]
 */
export async function loadCoreNode(variant, options = {}) {
  if (variant !== 'mt' && variant !== 'st') throw new TypeError(`variant must be 'mt' or 'st', not ${variant}`);
  const dir = options.wasmDir ?? defaultWasmDir;
  const jsPath = path.join(dir, `webtune-${variant}.js`);
  const wasmPath = path.join(dir, `webtune-${variant}.wasm`);
  if (!existsSync(jsPath) || !existsSync(wasmPath)) {
    throw new Error(`webtune: ${jsPath} or its .wasm is missing; build it with "npm run build:wasm"`);
  }
  const factory = require(jsPath);
  const module = await factory({ wasmBinary: readFileSync(wasmPath) });
  // Let Node exit when the caller is done: pool workers must not hold the event loop open.
  module.wtUnrefWorkers?.();
  return wrapModule(module, variant);
}
