// worker-browser.js: the module Web Worker that owns the wasm module in browsers. The first
// message ({ op: 'boot' }) says which variant to load and where the files are.
//
// Emscripten 3.1.6's MODULARIZE output is a classic script and module workers have no
// importScripts, so its text is fetched and evaluated with new Function (it then sees this worker
// as ENVIRONMENT_IS_WORKER and never looks for its own URL: the .wasm bytes are handed over and
// locateFile answers every file name). The threaded build's pthreads are classic workers started by
// the glue with `new Worker(locateFile('webtune-mt.worker.js'))`; each one importScripts() the
// glue (`mainScriptUrlOrBlob`). Both are given as Blobs of the text fetched here, not as the
// files' URLs: a Worker URL must be same-origin (the package may be on a CDN), and bundlers inline
// small files as data: URLs (Vite does so with the 3 KB pthread worker script), whose workers get
// an opaque origin and cannot share the module's memory. A blob: URL has this worker's origin.
import { wrapModule } from './core.js';
import { Engine } from './engine.js';
import { createHandler } from './worker-protocol.js';

let bootResolve;
let bootReject;
const enginePromise = new Promise((resolve, reject) => { bootResolve = resolve; bootReject = reject; });
enginePromise.catch(() => {});

async function fetchBytes(url) {
  const res = await fetch(url);
  if (!res.ok) throw Object.assign(new Error(`webtune: fetching ${url} failed: HTTP ${res.status}`), { code: res.status === 404 ? 'WT_ERR_NOT_FOUND' : 'WT_ERR_IO' });
  return new Uint8Array(await res.arrayBuffer());
}

async function fetchText(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`fetching ${url} failed: HTTP ${res.status}`);
  return res.text();
}

const jsBlob = (text) => new Blob([text], { type: 'text/javascript' });

async function boot({ variant, threads, assets, base }) {
  const glueUrl = assets[`webtune-${variant}.js`];
  const [glue, wasmBinary, pthreadMain] = await Promise.all([
    fetchText(glueUrl),
    fetchBytes(assets[`webtune-${variant}.wasm`]),
    variant === 'mt' ? fetchText(assets['webtune-mt.worker.js']) : null,
  ]);
  // eslint-disable-next-line no-new-func
  const factory = new Function(`${glue}\n;return createWebtune;`)();
  // kept for the worker's lifetime: the glue starts a new pthread worker if one ever exits
  const pthreadMainUrl = pthreadMain ? URL.createObjectURL(jsBlob(pthreadMain)) : null;
  const module = await factory({
    wasmBinary,
    mainScriptUrlOrBlob: jsBlob(glue),
    locateFile: (file) => (file === 'webtune-mt.worker.js' && pthreadMainUrl) || assets[file] || new URL(file, glueUrl).href,
  });
  const core = wrapModule(module, variant);
  const models = assets.models ?? {};
  const indexUrl = models['index.json'];
  const modelUrl = (file) => models[file] ?? new URL(file, indexUrl).href;
  let index = null;
  const listBackbones = async () => {
    index ??= JSON.parse(new TextDecoder().decode(await fetchBytes(indexUrl)));
    return index;
  };
  const readBackbone = async (name) => {
    const { backbones } = await listBackbones();
    const entry = backbones.find((b) => b.name === name);
    if (!entry) throw Object.assign(new Error(`webtune: no backbone named "${name}" (available: ${backbones.map((b) => b.name).join(', ')}; or pass a URL or bytes)`), { code: 'WT_ERR_NOT_FOUND' });
    return fetchBytes(modelUrl(entry.file));
  };
  // URLs the caller passes (backbone: 'models/x.webtune') are relative to the page, not this worker
  return new Engine(core, { threads, readBackbone, listBackbones, fetchBytes: (url) => fetchBytes(new URL(url, base ?? self.location.href).href) });
}

// A zero-delay yield that browsers do not clamp (setTimeout is clamped to 4 ms when nested).
const channel = new MessageChannel();
const waiting = [];
channel.port1.onmessage = () => waiting.shift()?.();
const yieldNow = () => new Promise((resolve) => { waiting.push(resolve); channel.port2.postMessage(0); });

// Ending the worker: the page gets no event when a worker closes itself, so it is told first.
const exit = () => { self.postMessage({ exit: 'the worker ended after a fatal error' }); self.close(); };
const handle = createHandler(enginePromise, (msg, transfer) => self.postMessage(msg, transfer), yieldNow, exit);
self.addEventListener('message', (e) => {
  if (e.data?.op === 'boot') {
    boot(e.data.args).then(bootResolve, (err) => bootReject(Object.assign(new Error(`webtune: could not start the ${e.data.args.variant} wasm module: ${err.message}`), { code: 'WT_ERR_INIT' })));
    return;
  }
  handle(e.data);
});
