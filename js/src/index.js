// index.js: the package's browser entry ("webtune" in a bundler or a <script type="module">).
// The wasm module runs in a dedicated module Worker (worker-browser.js): SIMD + threads when the page
// is cross-origin isolated, SIMD single-thread otherwise, and `capabilities().reason` says which and why.
import { createApi, WebtuneError } from './client.js';

// Where the built files live relative to this module. Bundlers (Vite, webpack 5, Parcel) find
// `new URL('<literal>', import.meta.url)` and copy (or inline) that one file, renaming it, so every
// file the worker may load is spelled out here: a folder URL would not survive bundling, nor would a
// name looked up in index.json. A backbone added to scripts/build-models.mjs needs a line here
// (tests/browser/vite.test.mjs checks that every file index.json lists has one).
const defaultAssets = () => ({
  'webtune-mt.js': new URL('../dist/wasm/webtune-mt.js', import.meta.url).href,
  'webtune-mt.wasm': new URL('../dist/wasm/webtune-mt.wasm', import.meta.url).href,
  'webtune-mt.worker.js': new URL('../dist/wasm/webtune-mt.worker.js', import.meta.url).href,
  'webtune-st.js': new URL('../dist/wasm/webtune-st.js', import.meta.url).href,
  'webtune-st.wasm': new URL('../dist/wasm/webtune-st.wasm', import.meta.url).href,
  models: {
    'index.json': new URL('../dist/models/index.json', import.meta.url).href,
    'mobilenet_v2_0.35_224.webtune': new URL('../dist/models/mobilenet_v2_0.35_224.webtune', import.meta.url).href,
    'mobilenet_v1_0.25_224.webtune': new URL('../dist/models/mobilenet_v1_0.25_224.webtune', import.meta.url).href,
  },
});

/** Whether `new Worker(url, { type: 'module' })` starts a module worker (a browser that does not know
 * the option never reads it, and would run worker-browser.js as a classic script: a SyntaxError). */
function moduleWorkers() {
  if (typeof Worker === 'undefined') return false;
  let reads = false;
  try {
    new Worker('blob://', { get type() { reads = true; return 'module'; } }).terminate();
  } catch { /* the URL is meant to fail; only whether `type` was read matters */ }
  return reads;
}

function choose(options = {}) {
  if (!moduleWorkers()) {
    throw new WebtuneError('WT_ERR_UNSUPPORTED', 'webtune: this browser cannot start module workers (new Worker(url, { type: "module" })), ' +
      'which webtune runs its wasm module in; it needs Chrome/Edge 80+, Safari 15+ or Firefox 114+');
  }
  const cores = globalThis.navigator?.hardwareConcurrency ?? 2;
  if (options.threads === false || options.threads === 1) {
    return { variant: 'st', threads: 1, reason: `threads off: init({ threads: ${options.threads} }) asked for one thread` };
  }
  if (!globalThis.crossOriginIsolated) {
    return {
      variant: 'st', threads: 1,
      reason: 'threads off: page is not cross-origin isolated; serve it with the headers ' +
        '"Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp" to train on all cores',
    };
  }
  if (typeof SharedArrayBuffer === 'undefined') {
    return { variant: 'st', threads: 1, reason: 'threads off: this browser has no SharedArrayBuffer' };
  }
  const threads = typeof options.threads === 'number' ? Math.max(1, Math.min(5, Math.floor(options.threads))) : Math.max(1, Math.min(cores, 4));
  return { variant: 'mt', threads, reason: `threads on: page is cross-origin isolated, ${threads > cores ? `${threads} threads on ${cores} cores (more than the cores, as init({ threads }) asked)` : `${threads} of ${cores} cores`}` };
}

const here = () => globalThis.location?.href;

/**
 * Asset URLs: the defaults next to this module, overridden by init({ wasmPaths }) (a base URL, or a
 * map file name -> URL) and init({ modelsPath }) (the URL of a folder holding index.json and the
 * files it lists). models: { 'index.json': url, [file]: url }; a file missing from the map is
 * looked up next to index.json.
 */
function assets(options) {
  const a = defaultAssets();
  const w = options.wasmPaths;
  if (typeof w === 'string' || w instanceof URL) {
    const base = new URL(String(w), here()).href.replace(/\/?$/, '/');
    for (const k of Object.keys(a)) if (k !== 'models') a[k] = base + k;
  } else if (w && typeof w === 'object') {
    for (const [k, v] of Object.entries(w)) a[k] = new URL(String(v), here()).href;
  }
  if (options.modelsPath) a.models = { 'index.json': new URL('index.json', new URL(String(options.modelsPath), here()).href.replace(/\/?$/, '/')).href };
  return a;
}

function spawn(choice, options = {}) {
  const worker = new Worker(new URL('./worker-browser.js', import.meta.url), { type: 'module', name: 'webtune' });
  let exitHandler = () => {};
  worker.addEventListener('error', (e) => { e.preventDefault?.(); exitHandler(`error: ${e.message ?? 'the worker failed to load'}`); });
  worker.addEventListener('messageerror', () => exitHandler('a message could not be decoded'));
  worker.postMessage({ op: 'boot', args: { variant: choice.variant, threads: choice.threads, assets: assets(options), base: here() } });
  // A worker that ends itself (self.close(), after the wasm module aborted) fires no event here,
  // so worker-browser.js says so with a last message ({ exit }); a fatal reply means the same.
  const ended = (why) => { worker.terminate(); exitHandler(why); };
  return {
    post: (msg, transfer) => worker.postMessage(msg, transfer),
    onMessage: (fn) => worker.addEventListener('message', (e) => {
      if (e.data?.exit) return ended(e.data.exit);
      fn(e.data);
      if (e.data?.fatal) ended('the wasm module stopped');
    }),
    onExit: (fn) => { exitHandler = fn; },
    terminate: () => worker.terminate(),
  };
}

function ownBytes(x) {
  if (x instanceof ArrayBuffer) return new Uint8Array(x.slice(0));
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  throw new WebtuneError('WT_ERR_INVALID_ARGUMENT', 'webtune: expected bytes (Uint8Array or ArrayBuffer)');
}

let scratch = null; // one canvas reused for every frame grab
function grab(source, width, height) {
  if (!(width > 0 && height > 0)) throw new WebtuneError('WT_ERR_SHAPE', 'webtune: the image has no pixels yet (a video that is not playing, an <img> not loaded)');
  // frames are shrunk on the GPU to at most 640 on the short side: plenty for a 224 input
  const k = Math.min(1, 640 / Math.min(width, height));
  const w = Math.max(1, Math.round(width * k));
  const h = Math.max(1, Math.round(height * k));
  if (!scratch) scratch = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(w, h) : document.createElement('canvas');
  if (scratch.width !== w || scratch.height !== h) { scratch.width = w; scratch.height = h; }
  const g = scratch.getContext('2d', { willReadFrequently: true });
  g.drawImage(source, 0, 0, w, h);
  const data = g.getImageData(0, 0, w, h);
  return { kind: 'rgba', data: new Uint8Array(data.data.buffer), width: w, height: h };
}

async function toImage(image) {
  let payload;
  const G = globalThis;
  if (image instanceof ArrayBuffer || ArrayBuffer.isView(image)) {
    payload = { kind: 'encoded', bytes: ownBytes(image) };
  } else if (G.Blob && image instanceof G.Blob) {
    payload = { kind: 'encoded', bytes: new Uint8Array(await image.arrayBuffer()), name: image.name };
  } else if (G.ImageData && image instanceof G.ImageData) {
    payload = { kind: 'rgba', data: new Uint8Array(image.data.slice().buffer), width: image.width, height: image.height };
  } else if (G.HTMLVideoElement && image instanceof G.HTMLVideoElement) {
    payload = grab(image, image.videoWidth, image.videoHeight);
  } else if (G.HTMLImageElement && image instanceof G.HTMLImageElement) {
    if (!image.complete) await image.decode();
    payload = grab(image, image.naturalWidth, image.naturalHeight);
  } else if ((G.ImageBitmap && image instanceof G.ImageBitmap) || (G.HTMLCanvasElement && image instanceof G.HTMLCanvasElement) ||
             (G.OffscreenCanvas && image instanceof G.OffscreenCanvas)) {
    payload = grab(image, image.width, image.height);
  } else if (G.VideoFrame && image instanceof G.VideoFrame) {
    payload = grab(image, image.displayWidth, image.displayHeight);
  } else if (image && typeof image === 'object' && image.data && image.width && image.height) {
    const data = ownBytes(image.data);
    payload = { kind: data.length === image.width * image.height * 3 ? 'rgb' : 'rgba', data, width: image.width, height: image.height };
  } else {
    throw new WebtuneError('WT_ERR_INVALID_ARGUMENT', 'webtune: an image must be JPEG/PNG bytes, a Blob/File, ImageData, ImageBitmap, a canvas, an <img>, a <video>, or { data, width, height } RGBA pixels');
  }
  const buf = payload.bytes ?? payload.data;
  return { payload, transfer: [buf.buffer] };
}

async function bytesOf(x) {
  if (typeof x === 'string' || x instanceof URL) {
    const res = await fetch(x);
    if (!res.ok) throw new WebtuneError('WT_ERR_IO', `webtune: fetching ${x} failed: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  if (globalThis.Blob && x instanceof Blob) return new Uint8Array(await x.arrayBuffer());
  return ownBytes(x);
}

async function backboneArgs(b) {
  if (b.bytes) return { ...b, bytes: await bytesOf(b.bytes) };
  return b;
}

const api = createApi({ environment: 'browser', choose, spawn, toImage, bytesOf, backboneArgs });

export const { init, capabilities, createClassifier, loadClassifier, listBackbones, memory, terminate, crashForTesting } = api;
export { WebtuneError };
