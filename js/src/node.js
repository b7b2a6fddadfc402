// node.js: the package's Node.js entry ("webtune" under Node). The wasm module runs in a worker
// thread; the threaded variant is always available in Node (worker_threads + SharedArrayBuffer).
import { Worker } from 'node:worker_threads';
import { readFile, readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApi, WebtuneError } from './client.js';
import { defaultWasmDir, defaultModelsDir } from './paths-node.js';

const asPath = (p) => (p instanceof URL ? fileURLToPath(p) : String(p));

function choose(options = {}) {
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  if (options.threads === false || options.threads === 1) {
    return { variant: 'st', threads: 1, reason: `threads off: init({ threads: ${options.threads} }) asked for one thread` };
  }
  if (typeof SharedArrayBuffer === 'undefined') {
    return { variant: 'st', threads: 1, reason: 'threads off: this Node.js has no SharedArrayBuffer' };
  }
  // the threaded module pre-starts 4 pool workers: up to 5 threads with the caller
  const threads = typeof options.threads === 'number' ? Math.max(1, Math.min(5, Math.floor(options.threads))) : Math.min(cores, 4);
  return { variant: 'mt', threads, reason: `threads on: Node.js worker threads, ${threads > cores ? `${threads} threads on ${cores} cores (more than the cores, as init({ threads }) asked)` : `${threads} of ${cores} cores`}` };
}

function spawn(choice, options = {}) {
  const wasmDir = options.wasmPaths ? asPath(options.wasmPaths) : defaultWasmDir;
  const modelsDir = options.modelsPath ? asPath(options.modelsPath) : defaultModelsDir;
  const worker = new Worker(new URL('./worker-node.js', import.meta.url), {
    workerData: { variant: choice.variant, threads: choice.threads, wasmDir, modelsDir },
  });
  worker.unref(); // a script that is done may exit; pending calls ref it again (idle(false))
  let exitHandler = () => {};
  worker.on('error', (e) => exitHandler(`error: ${e.message}`));
  worker.on('exit', (code) => exitHandler(`exit code ${code}`));
  return {
    post: (msg, transfer) => worker.postMessage(msg, transfer),
    onMessage: (fn) => worker.on('message', fn),
    onExit: (fn) => { exitHandler = fn; },
    idle: (idle) => (idle ? worker.unref() : worker.ref()),
    terminate: () => worker.terminate(),
  };
}

/** Copies bytes so the caller's buffer is never detached by a transfer. */
function ownBytes(x) {
  if (x instanceof ArrayBuffer) return new Uint8Array(x.slice(0));
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  throw new WebtuneError('WT_ERR_INVALID_ARGUMENT', 'webtune: expected bytes (Uint8Array, Buffer or ArrayBuffer)');
}

async function toImage(image) {
  if (typeof image === 'string' || image instanceof URL) {
    const file = asPath(image);
    let bytes;
    try {
      bytes = new Uint8Array(await readFile(file));
    } catch (e) {
      throw new WebtuneError(e.code === 'ENOENT' ? 'WT_ERR_NOT_FOUND' : 'WT_ERR_IO', `webtune: cannot read image ${file}: ${e.message}`);
    }
    return { payload: { kind: 'encoded', bytes, name: file }, transfer: [bytes.buffer] };
  }
  if (image instanceof ArrayBuffer || ArrayBuffer.isView(image)) {
    const bytes = ownBytes(image);
    return { payload: { kind: 'encoded', bytes }, transfer: [bytes.buffer] };
  }
  if (image && typeof image === 'object' && image.data && image.width && image.height) {
    const data = ownBytes(image.data);
    const kind = data.length === image.width * image.height * 3 ? 'rgb' : 'rgba';
    return { payload: { kind, data, width: image.width, height: image.height, name: image.name }, transfer: [data.buffer] };
  }
  throw new WebtuneError('WT_ERR_INVALID_ARGUMENT', 'webtune: an image must be a file path, encoded JPEG/PNG bytes, or { data, width, height } RGBA pixels');
}

async function bytesOf(x) {
  if (typeof x === 'string' || x instanceof URL) {
    const file = asPath(x);
    try {
      return new Uint8Array(await readFile(file));
    } catch (e) {
      throw new WebtuneError(e.code === 'ENOENT' ? 'WT_ERR_NOT_FOUND' : 'WT_ERR_IO', `webtune: cannot read ${file}: ${e.message}`);
    }
  }
  return ownBytes(x);
}

async function backboneArgs(b) {
  if (b.bytes) return { ...b, bytes: await bytesOf(b.bytes) };
  return b;
}

const api = createApi({ environment: 'node', choose, spawn, toImage, bytesOf, backboneArgs });

export const { init, capabilities, createClassifier, loadClassifier, listBackbones, memory, terminate, crashForTesting } = api;
export { WebtuneError };

const IMAGE_EXT = /\.(jpe?g|png)$/i;

/**
 * Reads a folder with one sub-folder of images per class: { labels, files: { label: [path...] } }.
 * Hidden entries are skipped; files that are not .jpg/.jpeg/.png are listed in `skipped`.
 */
export async function readImageFolder(dir) {
  const root = asPath(dir);
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (e) {
    throw new WebtuneError('WT_ERR_NOT_FOUND', `webtune: cannot read folder ${root}: ${e.message}`);
  }
  const labels = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  const files = {};
  const skipped = [];
  for (const label of labels) {
    const names = (await readdir(path.join(root, label))).filter((n) => !n.startsWith('.')).sort();
    files[label] = [];
    for (const n of names) {
      const p = path.join(root, label, n);
      if (IMAGE_EXT.test(n) && (await stat(p)).isFile()) files[label].push(p);
      else skipped.push(p);
    }
  }
  return { labels, files, skipped };
}
