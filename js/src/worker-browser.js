// worker-browser.js: the module Web Worker that owns the wasm module in browsers. The first
// message ({ op: 'boot' }) says which variant to load and where the files are.
//
// Emscripten 3.1.6's MODULARIZE output is a classic script, and module workers have no
// importScripts, so its text is fetched and evaluated; `mainScriptUrlOrBlob` tells the threaded
// build's pthread workers where to load the same script from.
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

async function boot({ variant, threads, assets }) {
  const glueUrl = assets[`webtune-${variant}.js`];
  const res = await fetch(glueUrl);
  if (!res.ok) throw new Error(`fetching ${glueUrl} failed: HTTP ${res.status}`);
  const text = await res.text();
  // eslint-disable-next-line no-new-func
  const factory = new Function(`${text}\n;return createWebtune;`)();
  const wasmBinary = await fetchBytes(assets[`webtune-${variant}.wasm`]);
  const module = await factory({
    wasmBinary,
    mainScriptUrlOrBlob: glueUrl,
    locateFile: (file) => assets[file] ?? new URL(file, glueUrl).href,
  });
  const core = wrapModule(module, variant);
  let index = null;
  const listBackbones = async () => {
    index ??= JSON.parse(new TextDecoder().decode(await fetchBytes(new URL('index.json', assets.models).href)));
    return index;
  };
  const readBackbone = async (name) => {
    const { backbones } = await listBackbones();
    const entry = backbones.find((b) => b.name === name);
    if (!entry) throw Object.assign(new Error(`webtune: no backbone named "${name}" (available: ${backbones.map((b) => b.name).join(', ')})`), { code: 'WT_ERR_NOT_FOUND' });
    return fetchBytes(new URL(entry.file, assets.models).href);
  };
  return new Engine(core, { threads, readBackbone, listBackbones, fetchBytes: (url) => fetchBytes(new URL(url, assets.models).href) });
}

// A zero-delay yield that browsers do not clamp (setTimeout is clamped to 4 ms when nested).
const channel = new MessageChannel();
const waiting = [];
channel.port1.onmessage = () => waiting.shift()?.();
const yieldNow = () => new Promise((resolve) => { waiting.push(resolve); channel.port2.postMessage(0); });

const handle = createHandler(enginePromise, (msg, transfer) => self.postMessage(msg, transfer), yieldNow);
self.addEventListener('message', (e) => {
  if (e.data?.op === 'boot') {
    boot(e.data.args).then(bootResolve, (err) => bootReject(Object.assign(new Error(`webtune: could not start the ${e.data.args.variant} wasm module: ${err.message}`), { code: 'WT_ERR_INIT' })));
    return;
  }
  handle(e.data);
});
