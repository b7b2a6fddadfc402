// worker-node.js: the Node.js worker thread that owns the wasm module (so training never blocks the
// caller's event loop). Started by node.js with workerData { variant, threads, wasmDir, modelsDir }.
import { parentPort, workerData } from 'node:worker_threads';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadCoreNode } from './core-node.js';
import { Engine } from './engine.js';
import { createHandler } from './worker-protocol.js';
import { defaultModelsDir } from './paths-node.js';

const modelsDir = workerData.modelsDir ?? defaultModelsDir;

async function fetchBytes(url) {
  if (/^https?:/i.test(url)) {
    const res = await fetch(url);
    if (!res.ok) throw Object.assign(new Error(`webtune: fetching ${url} failed: HTTP ${res.status}`), { code: 'WT_ERR_IO' });
    return new Uint8Array(await res.arrayBuffer());
  }
  const file = url.startsWith('file:') ? new URL(url) : url;
  try {
    return new Uint8Array(await readFile(file));
  } catch (e) {
    throw Object.assign(new Error(`webtune: cannot read ${url}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`), { code: e.code === 'ENOENT' ? 'WT_ERR_NOT_FOUND' : 'WT_ERR_IO' });
  }
}

let index = null;
async function listBackbones() {
  index ??= JSON.parse(await readFile(path.join(modelsDir, 'index.json'), 'utf8'));
  return index;
}

async function readBackbone(name) {
  const { backbones } = await listBackbones();
  const entry = backbones.find((b) => b.name === name);
  if (!entry) {
    throw Object.assign(new Error(`webtune: no backbone named "${name}" (available: ${backbones.map((b) => b.name).join(', ')}; or pass a path, URL or bytes)`), { code: 'WT_ERR_NOT_FOUND' });
  }
  return fetchBytes(path.join(modelsDir, entry.file));
}

const enginePromise = (async () => {
  const core = await loadCoreNode(workerData.variant, { wasmDir: workerData.wasmDir });
  return new Engine(core, { threads: workerData.threads, readBackbone, listBackbones, fetchBytes });
})();
enginePromise.catch(() => {}); // reported per request

const post = (msg, transfer) => parentPort.postMessage(msg, transfer);
parentPort.on('message', createHandler(enginePromise, post, () => new Promise((r) => setImmediate(r)), () => process.exit(70)));
