// app.js: the webtune demo page. Collect webcam frames (or photos) per class, train in a Worker,
// watch live predictions, keep everything in the browser. The package's public API only:
// init, createClassifier, loadClassifier and the Classifier methods.
import { init, createClassifier, loadClassifier } from '../js/src/index.js';

// The page keeps every example in IndexedDB and restarts the engine from there after a crash
// (recover()), so the classifiers need not also keep a copy in memory: a long webcam session
// would otherwise hold each frame twice in the tab.
const LEAN = { keepCopy: false };
import { openStore } from './store.js';
import { Chart, renderConfusion } from './charts.js';

const CAPTURE_MS = 125;   // hold-to-record: at most 8 frames a second
const PREDICT_MS = 120;   // live predictions: at most ~8 a second, leaving the CPU to the page
const THUMBS_SHOWN = 48;  // newest thumbnails kept in each strip
const EVAL_PER_CLASS = 60; // confusion matrix: at most this many examples per class
const COLORS = ['#4f46e5', '#e11d48', '#d97706', '#059669', '#0284c7', '#9333ea', '#ea580c', '#0d9488', '#db2777', '#65a30d'];
const DEFAULTS = {
  head: { epochs: 20, learningRate: 0.001, views: 1 },
  top: { epochs: 10, learningRate: 0.001, blocks: 2 },
  full: { epochs: 10, learningRate: 0.001 },
};

const $ = (id) => document.getElementById(id);
const ui = {
  variant: $('variant'), banner: $('isolation-banner'), reason: $('isolation-reason'),
  video: $('video'), viewfinder: $('viewfinder'), cameraOff: $('camera-off'), cameraMessage: $('camera-message'),
  cameraStart: $('camera-start'), cameraPicker: $('camera-picker'), cameraSelect: $('camera-select'), mirror: $('mirror'),
  recBadge: $('rec-badge'), recClass: $('rec-class'), live: $('live'), label: $('prediction-label'), confidence: $('prediction-confidence'),
  bars: $('bars'), predictionsHint: $('predictions-hint'),
  classes: $('classes'), addClass: $('add-class'), template: $('class-template'),
  train: $('train'), stop: $('stop'), status: $('training-status'), progress: $('progress'), progressFill: $('progress-fill'),
  charts: $('charts'), lossValue: $('loss-value'), accValue: $('acc-value'),
  confusion: $('confusion'), confusionNote: $('confusion-note'), confusionTable: $('confusion-table'),
  epochs: $('epochs'), learningRate: $('learning-rate'), views: $('views'), blocks: $('blocks'),
  viewsField: $('views-field'), blocksField: $('blocks-field'), resetAdvanced: $('reset-advanced'),
  save: $('save'), load: $('load'), download: $('download'), openFile: $('open-file'), savedInfo: $('saved-info'),
  resetAll: $('reset-all'), toast: $('toast'), backboneName: $('backbone-name'),
};

const state = {
  store: null,
  caps: null,
  classifier: null,
  classes: [],          // { id, name, count, examples: [{ key, blob, url }], el }
  ready: false,         // the classifier exists and the stored examples are back in it
  training: false,
  abort: null,
  recordingId: null,
  lastRecordEnd: 0,
  stream: null,
  cameraReady: false,
  trainedSignature: null,
  savedModel: null,
  evaluating: false,
  recovering: false,
};

// ---- small helpers ---------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const newId = () => `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;
const colorOf = (cls) => COLORS[state.classes.indexOf(cls) % COLORS.length];
const fmtSeconds = (ms) => (ms < 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`);
const fmtBytes = (n) => (n > 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.round(n / 1e3)} KB`);
const pct = (v) => `${Math.round(v * 100)}%`;

// One classifier call at a time from this page (the worker would queue them anyway, but the page's
// own bookkeeping around each call must not interleave).
let tail = Promise.resolve();
let locked = 0;
function exclusive(fn) {
  locked++;
  const run = tail.then(fn);
  tail = run.catch(() => {});
  return run.finally(() => { locked--; });
}

let toastTimer = 0;
function toast(message, { action, ms = 4000, error = false } = {}) {
  clearTimeout(toastTimer);
  ui.toast.replaceChildren();
  ui.toast.classList.toggle('error', error);
  const p = document.createElement('span');
  p.textContent = message;
  ui.toast.appendChild(p);
  if (action) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'btn link';
    b.textContent = action.label;
    b.addEventListener('click', () => { hideToast(); action.run(); });
    ui.toast.appendChild(b);
  }
  ui.toast.classList.add('show');
  toastTimer = setTimeout(() => { hideToast(); action?.expire?.(); }, action ? Math.max(ms, 6000) : ms);
}
function hideToast() { ui.toast.classList.remove('show'); }

function errorText(e) {
  const m = String(e?.message ?? e).replace(/^webtune: /, '');
  return m.charAt(0).toUpperCase() + m.slice(1);
}

function signature() {
  return JSON.stringify(state.classes.map((c) => [c.name, c.count]));
}

async function persistClasses() {
  try { await state.store.setClasses(state.classes); } catch (e) { console.warn('could not store the classes', e); }
}

// ---- frames --------------------------------------------------------------------------------

const inputSize = () => state.classifier?.inputSize ?? [224, 224];
const captureCanvas = document.createElement('canvas');
const predictCanvas = document.createElement('canvas');

/** Draws the centre square of a video or image (what the model sees) into `canvas` at the input size. */
function drawSquare(canvas, source, sw, sh) {
  const [h, w] = inputSize();
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const g = canvas.getContext('2d', { willReadFrequently: true });
  const s = Math.min(sw, sh);
  g.drawImage(source, (sw - s) / 2, (sh - s) / 2, s, s, 0, 0, w, h);
  return g.getImageData(0, 0, w, h);
}

function videoFrame(canvas) {
  const v = ui.video;
  if (!state.cameraReady || !v.videoWidth || v.readyState < 2) return null;
  return drawSquare(canvas, v, v.videoWidth, v.videoHeight);
}

const jpeg = (canvas) => new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.9));

/** Adds the picture now in captureCanvas (as `pixels`) to class `cls`: classifier, store, thumbnails. */
async function addPicture(cls, pixels) {
  const blobPromise = jpeg(captureCanvas); // snapshot before the canvas is reused
  const count = await exclusive(() => state.classifier.addExample(cls.name, pixels));
  const blob = await blobPromise;
  let key = null;
  try { key = await state.store.addExample(cls.id, blob); } catch (e) { console.warn('could not store an example', e); }
  const ex = { key, blob, url: URL.createObjectURL(blob) };
  cls.examples.push(ex);
  cls.count = count;
  if (cls.el) {
    cls.el.count.textContent = String(count);
    cls.el.unit.textContent = count === 1 ? 'example' : 'examples';
    appendThumb(cls, ex);
  }
  refreshControls();
}

// ---- classes -------------------------------------------------------------------------------

function uniqueName(base = 'Class') {
  for (let i = state.classes.length + 1; ; i++) {
    const name = `${base} ${i}`;
    if (!state.classes.some((c) => c.name.toLowerCase() === name.toLowerCase())) return name;
  }
}

function renderClasses() {
  ui.classes.replaceChildren();
  state.classes.forEach((cls, i) => {
    const node = ui.template.content.firstElementChild.cloneNode(true);
    const q = (s) => node.querySelector(s);
    const el = {
      root: node, name: q('.class-name'), count: q('.count'), unit: q('.count-unit'), record: q('.record-btn'),
      upload: q('.upload-input'), uploadLabel: q('.upload-btn'), thumbs: q('.thumbs'), clear: q('.clear-btn'), remove: q('.remove-btn'),
    };
    cls.el = el;
    node.dataset.testid = `class-${i}`;
    node.style.setProperty('--c', colorOf(cls));
    el.name.value = cls.name;
    el.name.dataset.testid = `class-name-${i}`;
    el.name.setAttribute('aria-label', `Name of class ${i + 1}`);
    el.count.textContent = String(cls.count);
    el.count.dataset.testid = `count-${i}`;
    el.unit.textContent = cls.count === 1 ? 'example' : 'examples';
    el.record.dataset.testid = `capture-${i}`;
    el.upload.dataset.testid = `upload-${i}`;
    el.clear.dataset.testid = `clear-${i}`;
    el.remove.dataset.testid = `remove-${i}`;
    labelClassControls(cls);
    el.thumbs.setAttribute('aria-label', `Examples of ${cls.name}`);
    for (const ex of cls.examples.slice(-THUMBS_SHOWN)) appendThumb(cls, ex, false);
    wireClass(cls);
    ui.classes.appendChild(node);
  });
  renderBars();
  refreshControls();
}

function labelClassControls(cls) {
  const { el, name } = cls;
  el.record.setAttribute('aria-label', `Hold to record ${name} from the camera`);
  el.upload.setAttribute('aria-label', `Add photos to ${name}`);
  el.clear.setAttribute('aria-label', `Delete the examples of ${name}`);
  el.remove.setAttribute('aria-label', `Remove the class ${name}`);
}

function appendThumb(cls, ex, scroll = true) {
  const li = document.createElement('li');
  const img = document.createElement('img');
  img.src = ex.url;
  img.alt = '';
  img.decoding = 'async';
  li.appendChild(img);
  const strip = cls.el.thumbs; // newest first
  strip.insertBefore(li, strip.firstElementChild);
  while (strip.children.length > THUMBS_SHOWN) strip.lastElementChild.remove();
  cls.el.root.classList.toggle('has-examples', cls.examples.length > 0);
  if (scroll) strip.scrollLeft = 0;
}

function wireClass(cls) {
  const { el } = cls;
  el.root.classList.toggle('has-examples', cls.examples.length > 0);

  // renaming: committed on Enter or when the field loses focus, Escape puts the old name back
  el.name.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { e.preventDefault(); el.name.blur(); }
    if (e.key === 'Escape') { el.name.value = cls.name; el.name.blur(); }
  });
  el.name.addEventListener('change', () => renameClass(cls, el.name.value));

  // hold to record: pointer (mouse, touch, pen) or Space/Enter held down
  const btn = el.record;
  btn.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    btn.focus({ preventScroll: true });
    try { btn.setPointerCapture(e.pointerId); } catch { /* not capturable */ }
    startRecording(cls);
  });
  for (const type of ['pointerup', 'pointercancel', 'lostpointercapture']) btn.addEventListener(type, () => stopRecording(cls));
  btn.addEventListener('keydown', (e) => {
    if (e.key !== ' ' && e.key !== 'Enter') return;
    e.preventDefault();
    if (!e.repeat) startRecording(cls);
  });
  btn.addEventListener('keyup', (e) => {
    if (e.key !== ' ' && e.key !== 'Enter') return;
    e.preventDefault();
    stopRecording(cls);
  });
  btn.addEventListener('blur', () => stopRecording(cls));
  btn.addEventListener('contextmenu', (e) => e.preventDefault());
  // assistive technology "clicks" without pointer or key events: take one frame
  btn.addEventListener('click', (e) => {
    if (e.detail === 0 && performance.now() - state.lastRecordEnd > 400 && !state.recordingId) snapOne(cls);
  });

  el.upload.addEventListener('change', () => {
    const files = [...el.upload.files];
    el.upload.value = '';
    addFiles(cls, files);
  });
  const root = el.root;
  root.addEventListener('dragenter', (e) => { if (hasFiles(e)) { e.preventDefault(); root.classList.add('dropping'); } });
  root.addEventListener('dragover', (e) => { if (hasFiles(e)) { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; root.classList.add('dropping'); } });
  root.addEventListener('dragleave', (e) => { if (!root.contains(e.relatedTarget)) root.classList.remove('dropping'); });
  root.addEventListener('drop', (e) => {
    e.preventDefault();
    root.classList.remove('dropping');
    addFiles(cls, [...(e.dataTransfer?.files ?? [])]);
  });

  el.clear.addEventListener('click', () => clearClass(cls));
  el.remove.addEventListener('click', () => removeClass(cls));
}

const hasFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes('Files');

async function addClass() {
  if (!state.ready) return;
  if (state.classes.length >= 20) { toast('That is a lot of classes; 20 is the limit here.'); return; }
  const name = uniqueName();
  try {
    await exclusive(() => state.classifier.addClass(name));
  } catch (e) {
    toast(errorText(e), { error: true });
    return;
  }
  const cls = { id: newId(), name, count: 0, examples: [] };
  state.classes.push(cls);
  await persistClasses();
  renderClasses();
  cls.el.name.focus();
  cls.el.name.select();
}

async function renameClass(cls, value) {
  const name = value.trim().replace(/\s+/g, ' ');
  if (name === cls.name) { cls.el.name.value = name; return; }
  const clash = state.classes.find((c) => c !== cls && c.name.toLowerCase() === name.toLowerCase());
  if (!name || clash) {
    toast(!name ? 'A class needs a name.' : `There is already a class called "${clash.name}".`, { error: true });
    cls.el.name.value = cls.name;
    return;
  }
  const old = cls.name;
  try {
    await exclusive(async () => {
      await state.classifier.renameClass(cls.name, name);
      cls.name = name;
    });
  } catch (e) {
    toast(errorText(e), { error: true });
    cls.el.name.value = old;
    return;
  }
  if (state.trainedSignature) state.trainedSignature = state.trainedSignature.replace(JSON.stringify(old), JSON.stringify(name));
  cls.el.name.value = name;
  labelClassControls(cls);
  cls.el.thumbs.setAttribute('aria-label', `Examples of ${name}`);
  await persistClasses();
  renderBars();
  refreshControls();
}

async function removeClass(cls) {
  if (state.training || state.recordingId) return;
  const index = state.classes.indexOf(cls);
  try {
    await exclusive(() => state.classifier.removeClass(cls.name));
  } catch (e) {
    toast(errorText(e), { error: true });
    return;
  }
  state.classes.splice(index, 1);
  await persistClasses();
  renderClasses();
  (state.classes[Math.min(index, state.classes.length - 1)]?.el.name ?? ui.addClass).focus();
  let undone = false;
  toast(`Removed "${cls.name}"${cls.count ? ` and its ${cls.count} examples` : ''}.`, {
    action: {
      label: 'Undo',
      run: async () => {
        undone = true;
        await restoreClass(cls, Math.min(index, state.classes.length));
      },
      expire: () => { if (!undone) forgetExamples(cls); },
    },
  });
}

async function clearClass(cls) {
  if (state.training || state.recordingId || cls.count === 0) return;
  const kept = cls.examples;
  try {
    await exclusive(() => state.classifier.clearExamples(cls.name));
  } catch (e) {
    toast(errorText(e), { error: true });
    return;
  }
  cls.examples = [];
  cls.count = 0;
  renderClasses();
  cls.el.clear.focus();
  let undone = false;
  toast(`Deleted ${kept.length} examples of "${cls.name}".`, {
    action: {
      label: 'Undo',
      run: async () => {
        undone = true;
        const r = await exclusive(() => state.classifier.addExamples(cls.name, kept.map((x) => x.blob)));
        cls.examples = kept.concat(cls.examples);
        cls.count = r.count;
        renderClasses();
      },
      expire: () => { if (!undone) forgetExamples({ ...cls, examples: kept }, kept); },
    },
  });
}

/** Deletes stored examples for good (after the undo window), keeping any recorded since. */
async function forgetExamples(cls, only = null) {
  try {
    const live = state.classes.find((c) => c.id === cls.id);
    if (!live) { await state.store.deleteExamplesOf(cls.id); }
    else if (only) {
      // cleared examples: keep the ones recorded after the clear
      await state.store.deleteExamplesOf(cls.id);
      for (const ex of live.examples) ex.key = await state.store.addExample(cls.id, ex.blob);
    }
  } catch (e) { console.warn('could not delete stored examples', e); }
  for (const ex of only ?? cls.examples) if (!state.classes.some((c) => c.examples.includes(ex))) URL.revokeObjectURL(ex.url);
}

async function restoreClass(cls, index) {
  try {
    await exclusive(async () => {
      let name = cls.name;
      if (state.classes.some((c) => c.name.toLowerCase() === name.toLowerCase())) name = uniqueName(cls.name);
      await state.classifier.addClass(name);
      cls.name = name;
      if (cls.examples.length) {
        const r = await state.classifier.addExamples(name, cls.examples.map((x) => x.blob));
        cls.count = r.count;
      }
    });
  } catch (e) {
    toast(errorText(e), { error: true });
    return;
  }
  state.classes.splice(index, 0, cls);
  await persistClasses();
  renderClasses();
}

// ---- recording and photos ----------------------------------------------------------------

async function startRecording(cls) {
  if (state.recordingId || !state.ready) return;
  if (state.training) { toast('Wait for the training to finish.'); return; }
  if (!state.cameraReady) { toast('Turn on the camera first, or add photos.'); return; }
  state.recordingId = cls.id;
  cls.el.record.classList.add('recording');
  cls.el.record.setAttribute('aria-pressed', 'true');
  cls.el.root.classList.add('is-recording');
  ui.recClass.textContent = cls.name;
  ui.recBadge.hidden = false;
  ui.viewfinder.style.setProperty('--rec', colorOf(cls));
  ui.viewfinder.classList.add('recording');
  refreshControls();
  while (state.recordingId === cls.id) {
    const t0 = performance.now();
    const pixels = videoFrame(captureCanvas);
    if (pixels) {
      try {
        await addPicture(cls, pixels);
      } catch (e) {
        stopRecording(cls);
        if (!(await recover(e))) toast(errorText(e), { error: true });
        break;
      }
    }
    const wait = CAPTURE_MS - (performance.now() - t0);
    if (wait > 0) await sleep(wait);
  }
}

function stopRecording(cls) {
  if (state.recordingId !== cls.id) return;
  state.recordingId = null;
  state.lastRecordEnd = performance.now();
  cls.el.record.classList.remove('recording');
  cls.el.record.setAttribute('aria-pressed', 'false');
  cls.el.root.classList.remove('is-recording');
  ui.recBadge.hidden = true;
  ui.viewfinder.classList.remove('recording');
  persistClasses();
  refreshControls();
}

async function snapOne(cls) {
  if (!state.ready || state.training) return;
  const pixels = videoFrame(captureCanvas);
  if (!pixels) { toast('Turn on the camera first, or add photos.'); return; }
  try { await addPicture(cls, pixels); } catch (e) { toast(errorText(e), { error: true }); }
}

async function addFiles(cls, files) {
  if (!state.ready || state.training || !files.length) return;
  let added = 0;
  let skipped = 0;
  cls.el.uploadLabel.classList.add('busy');
  for (const file of files) {
    let bitmap = null;
    try {
      if (file.type && !file.type.startsWith('image/')) throw new Error('not an image');
      bitmap = await createImageBitmap(file);
      const pixels = drawSquare(captureCanvas, bitmap, bitmap.width, bitmap.height);
      await addPicture(cls, pixels);
      added++;
    } catch {
      skipped++;
    } finally {
      bitmap?.close();
    }
  }
  cls.el.uploadLabel.classList.remove('busy');
  await persistClasses();
  const what = `${added} photo${added === 1 ? '' : 's'}`;
  toast(skipped ? `Added ${what} to "${cls.name}"; ${skipped} file${skipped === 1 ? ' was' : 's were'} not a picture.` : `Added ${what} to "${cls.name}".`, { error: !added });
}

// ---- training ------------------------------------------------------------------------------

const lossChart = new Chart($('loss-chart'), { format: (v) => String(+v.toPrecision(3)), color: 'var(--accent)' });
const accChart = new Chart($('acc-chart'), { format: (v) => `${Math.round(v * 100)}%`, yMax: 1, color: 'var(--good)' });

function strategy() { return document.querySelector('input[name="strategy"]:checked').value; }

const dirty = new Set();
function applyDefaults(force = false) {
  const s = strategy();
  const d = DEFAULTS[s];
  const set = (input, key) => { if (d[key] !== undefined && (force || !dirty.has(key))) input.value = d[key]; };
  set(ui.epochs, 'epochs');
  set(ui.learningRate, 'learningRate');
  set(ui.views, 'views');
  set(ui.blocks, 'blocks');
  if (force) dirty.clear();
  ui.viewsField.hidden = s !== 'head';
  ui.blocksField.hidden = s !== 'top';
}

function trainOptions() {
  const s = strategy();
  const d = DEFAULTS[s];
  const num = (input, fallback, min, max, int = false) => {
    let v = Number(input.value);
    if (!Number.isFinite(v) || input.value === '') v = fallback;
    v = Math.min(max, Math.max(min, int ? Math.round(v) : v));
    input.value = v;
    return v;
  };
  const o = {
    strategy: s === 'top' ? `top:${num(ui.blocks, d.blocks, 1, 8, true)}` : s,
    epochs: num(ui.epochs, d.epochs, 1, 500, true),
    learningRate: num(ui.learningRate, d.learningRate, 1e-6, 1),
  };
  if (s === 'head') o.cacheViews = num(ui.views, d.views, 1, 16, true);
  return o;
}

function trainBlocker() {
  if (!state.ready) return 'Starting…';
  if (state.classes.length < 2) return 'Add a second class to train.';
  const empty = state.classes.filter((c) => c.count === 0);
  if (empty.length) return `Add examples to ${empty.map((c) => `"${c.name}"`).join(', ')} to train.`;
  return null;
}

async function train() {
  if (state.training) return;
  const blocker = trainBlocker();
  if (blocker) { setStatus(blocker); return; }
  const options = trainOptions();
  const total = state.classes.reduce((s, c) => s + c.count, 0);
  state.training = true;
  state.abort = new AbortController();
  ui.stop.hidden = false;
  ui.progress.hidden = false;
  ui.charts.hidden = false;
  ui.confusion.hidden = true;
  ui.status.dataset.state = 'training';
  delete ui.status.dataset.ms;
  setProgress(0);
  refreshControls();
  const series = { loss: [], acc: [], epochLoss: [], epochAcc: [] };
  lossChart.clear();
  accChart.clear();
  ui.lossValue.textContent = '';
  ui.accValue.textContent = '';
  setStatus(`Preparing ${total} examples…`);
  let lastDraw = 0;
  let lastProgress = null;
  const draw = (p) => {
    const xMax = p.totalSteps || 1;
    lossChart.update({ steps: series.loss, epochs: series.epochLoss, xMax });
    accChart.update({ steps: series.acc, epochs: series.epochAcc, xMax });
    const lastLoss = series.epochLoss.at(-1)?.[1] ?? series.loss.at(-1)?.[1];
    const lastAcc = series.epochAcc.at(-1)?.[1] ?? series.acc.at(-1)?.[1];
    if (Number.isFinite(lastLoss)) ui.lossValue.textContent = lastLoss.toFixed(3);
    if (Number.isFinite(lastAcc)) ui.accValue.textContent = pct(lastAcc);
  };
  const onProgress = (p) => {
    lastProgress = p;
    if (p.phase === 'cache') {
      setStatus(`Reading examples: ${p.cacheDone} of ${p.cacheTotal}`);
      setProgress(p.cacheTotal ? 0.7 * (p.cacheDone / p.cacheTotal) : 0);
    } else {
      const base = p.cacheTotal ? 0.7 : 0;
      setProgress(base + (1 - base) * (p.step / Math.max(1, p.totalSteps)));
      series.loss.push([p.step, p.loss]);
      series.acc.push([p.step, p.accuracy]);
      if (p.epochLoss !== undefined) {
        series.epochLoss.push([p.step, p.epochLoss]);
        series.epochAcc.push([p.step, p.epochAccuracy]);
      }
      setStatus(`Epoch ${Math.min(p.epoch + 1, p.epochs)} of ${p.epochs} · loss ${Number(p.loss).toFixed(3)}`);
    }
    const now = performance.now();
    if (p.phase !== 'cache' && (now - lastDraw > 80 || p.epochLoss !== undefined)) { lastDraw = now; draw(p); }
  };
  const t0 = performance.now();
  try {
    const result = await exclusive(() => state.classifier.train({ ...options, signal: state.abort.signal, onProgress }));
    const ms = performance.now() - t0;
    draw(result);
    setProgress(1);
    state.trainedSignature = signature();
    ui.status.dataset.ms = String(Math.round(ms));
    ui.status.dataset.examples = String(total);
    ui.status.dataset.state = 'done';
    const acc = result.epochAccuracy ?? result.accuracy;
    setStatus(`Trained on ${total} examples in ${fmtSeconds(ms)} (${result.epochs} epochs, ${pct(acc)} right in training) — done`);
    toast('Training done. Point the camera at something!');
    evaluateExamples();
  } catch (e) {
    ui.status.dataset.state = e.code === 'WT_ERR_ABORTED' ? 'stopped' : 'error';
    if (e.code === 'WT_ERR_ABORTED') setStatus(state.classifier.trained ? 'Stopped. The previous model is still in use.' : 'Stopped.');
    else setStatus(`Training failed: ${errorText(e)}`);
    if (lastProgress) draw(lastProgress);
    setTimeout(() => recover(e), 0);
  } finally {
    state.training = false;
    state.abort = null;
    ui.stop.hidden = true;
    setTimeout(() => { if (!state.training) ui.progress.hidden = true; }, 600);
    refreshControls();
    renderBars();
  }
}

function setStatus(text) { ui.status.textContent = text; }
function setProgress(f) { ui.progressFill.style.transform = `scaleX(${Math.max(0, Math.min(1, f))})`; }

/** Confusion matrix on the collected examples (at most EVAL_PER_CLASS per class, evenly spread). */
async function evaluateExamples() {
  const c = state.classifier;
  const labels = c.trainedLabels ?? [];
  const items = [];
  for (const cls of state.classes) {
    if (!labels.includes(cls.name) || !cls.examples.length) continue;
    const n = cls.examples.length;
    const k = Math.min(n, EVAL_PER_CLASS);
    for (let i = 0; i < k; i++) items.push({ image: cls.examples[Math.floor((i * n) / k)].blob, label: cls.name });
  }
  if (!items.length) return;
  state.evaluating = true;
  try {
    const ev = await exclusive(() => c.evaluate(items));
    if (c !== state.classifier) return;
    const order = state.classes.map((x) => x.name).filter((l) => ev.labels.includes(l));
    const idx = order.map((l) => ev.labels.indexOf(l));
    const matrix = idx.map((i) => idx.map((j) => ev.confusion[i][j]));
    const colors = order.map((l) => colorOf(state.classes.find((x) => x.name === l)));
    renderConfusion(ui.confusionTable, order, matrix, colors);
    ui.confusionNote.textContent = `${pct(ev.accuracy)} of ${ev.n} of your examples recognised. Rows: the class an example was recorded in; columns: what the model says. The model trained on these examples, so this shows which classes it still mixes up, not how it does on new images.`;
    ui.confusion.hidden = false;
  } catch (e) {
    console.warn('evaluation failed', e);
  } finally {
    state.evaluating = false;
  }
}

// ---- live predictions ------------------------------------------------------------------------

function renderBars() {
  ui.bars.replaceChildren();
  for (const cls of state.classes) {
    const li = document.createElement('li');
    li.style.setProperty('--c', colorOf(cls));
    li.innerHTML = '<span class="bar-name"></span><span class="bar-track"><span class="bar-fill"></span></span><span class="bar-value">–</span>';
    li.querySelector('.bar-name').textContent = cls.name;
    cls.bar = { li, fill: li.querySelector('.bar-fill'), value: li.querySelector('.bar-value') };
    ui.bars.appendChild(li);
  }
  const trained = state.classifier?.trained;
  ui.predictionsHint.textContent = trained
    ? (state.cameraReady ? 'What the model sees right now. Retrain after adding examples.' : 'Turn on the camera to see live predictions.')
    : 'Record a few seconds of each class, then train: the model\'s guess for the camera shows here.';
  if (!trained) ui.live.hidden = true;
}

function showPrediction(preds) {
  const byName = new Map(preds.map((p) => [p.label, p.probability]));
  const present = state.classes.filter((c) => byName.has(c.name));
  if (!present.length) return;
  let top = present[0];
  for (const c of present) if (byName.get(c.name) > byName.get(top.name)) top = c;
  for (const cls of state.classes) {
    if (!cls.bar) continue;
    const p = byName.get(cls.name);
    cls.bar.fill.style.transform = `scaleX(${p ?? 0})`;
    cls.bar.value.textContent = p === undefined ? '–' : pct(p);
    cls.bar.li.classList.toggle('top', cls === top);
  }
  ui.label.textContent = top.name;
  ui.confidence.textContent = pct(byName.get(top.name));
  ui.live.style.setProperty('--c', colorOf(top));
  ui.live.hidden = false;
}

async function predictLoop() {
  for (;;) {
    const t0 = performance.now();
    const c = state.classifier;
    if (c?.trained && state.ready && state.cameraReady && !state.training && !state.recordingId && !locked && !document.hidden) {
      const pixels = videoFrame(predictCanvas);
      if (pixels) {
        try {
          const preds = await exclusive(() => c.predict(pixels, { topK: c.trainedLabels.length }));
          if (c === state.classifier && !state.training) showPrediction(preds);
        } catch (e) {
          if (c === state.classifier && !(await recover(e))) console.warn('prediction failed', e);
        }
      }
    }
    await sleep(Math.max(30, PREDICT_MS - (performance.now() - t0)));
  }
}

// ---- saving and loading ------------------------------------------------------------------

function modelFileName() {
  const labels = state.classifier?.trainedLabels ?? [];
  const slug = labels.join('-').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60);
  return `${slug || 'model'}.webtune`;
}

function showSavedInfo() {
  const m = state.savedModel;
  if (!m) { ui.savedInfo.textContent = state.store.persistent ? 'No model saved in this browser yet.' : 'This browser does not allow storage here: a reload loses the session. Download the model to keep it.'; return; }
  const when = new Date(m.savedAt);
  const time = when.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  ui.savedInfo.textContent = `Saved in this browser ${time}: ${m.labels.join(', ')} (${fmtBytes(m.bytes.byteLength)}).`;
}

async function saveToBrowser() {
  try {
    const bytes = await exclusive(() => state.classifier.save());
    const m = { bytes, labels: state.classifier.trainedLabels, backbone: state.classifier.backbone, savedAt: Date.now() };
    await state.store.saveModel(m);
    state.savedModel = m;
    showSavedInfo();
    toast('Model saved in this browser.');
  } catch (e) {
    toast(`Could not save: ${errorText(e)}`, { error: true });
  }
  refreshControls();
}

async function downloadModel() {
  try {
    const bytes = await exclusive(() => state.classifier.save());
    const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = modelFileName();
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    toast(`Downloading ${a.download} (${fmtBytes(bytes.byteLength)}).`);
  } catch (e) {
    toast(`Could not download: ${errorText(e)}`, { error: true });
  }
}

async function loadFromBrowser() {
  const m = await state.store.getModel();
  if (!m) { toast('No model saved in this browser.'); return; }
  await useModel(m.bytes, 'the model saved in this browser');
}

async function openModelFile() {
  const file = ui.openFile.files[0];
  ui.openFile.value = '';
  if (file) await useModel(file, file.name);
}

/**
 * Switches to a model (saved bytes or a file): its classes join the page's, the page's examples
 * are added to it (so training again includes them).
 */
async function useModel(source, what) {
  if (state.training || state.recordingId) return;
  setBusy(true, `Loading ${what}…`);
  try {
    const c = await loadClassifier(source, LEAN);
    await adopt(c);
    toast(`Loaded ${what}: ${c.trainedLabels.join(', ')}.`);
  } catch (e) {
    toast(e.code === 'WT_ERR_CORRUPT' || e.code === 'WT_ERR_UNSUPPORTED' ? `${what} is not a webtune model file.` : `Could not load ${what}: ${errorText(e)}`, { error: true });
  } finally {
    setBusy(false);
  }
}

/** Makes `c` the page's classifier: reconciles classes, re-adds the stored examples. */
async function adopt(c, { keepEmpty = false } = {}) {
  await exclusive(async () => {
    const modelLabels = c.labels;
    const classes = state.classes.filter((x) => keepEmpty || x.examples.length > 0 || modelLabels.includes(x.name));
    for (const l of modelLabels) if (!classes.some((x) => x.name === l)) classes.push({ id: newId(), name: l, count: 0, examples: [] });
    for (const x of classes) if (!c.labels.includes(x.name)) await c.addClass(x.name);
    for (const x of classes) {
      x.count = 0;
      if (x.examples.length) x.count = (await c.addExamples(x.name, x.examples.map((e) => e.blob))).count;
    }
    const old = state.classifier;
    state.classifier = c;
    state.classes = classes;
    state.trainedSignature = c.trained ? signature() : null;
    old?.dispose().catch(() => {});
  });
  ui.backboneName.textContent = c.backbone;
  ui.confusion.hidden = true;
  ui.charts.hidden = true;
  if (c.trained) { ui.status.dataset.state = 'loaded'; setStatus('Using a loaded model. Train again to include new examples.'); }
  await persistClasses();
  renderClasses();
}

async function resetAll() {
  if (state.training || state.recordingId) return;
  const btn = ui.resetAll;
  if (!btn.dataset.armed) {
    btn.dataset.armed = '1';
    btn.dataset.text = btn.textContent;
    btn.textContent = 'Press again to delete everything';
    setTimeout(() => { if (btn.dataset.armed) { delete btn.dataset.armed; btn.textContent = btn.dataset.text; } }, 4000);
    return;
  }
  delete btn.dataset.armed;
  btn.textContent = btn.dataset.text;
  setBusy(true, 'Starting over…');
  try {
    await state.store.clearAll();
    for (const cls of state.classes) for (const ex of cls.examples) URL.revokeObjectURL(ex.url);
    state.classes = [{ id: newId(), name: 'Class 1', count: 0, examples: [] }, { id: newId(), name: 'Class 2', count: 0, examples: [] }];
    state.savedModel = null;
    const c = await createClassifier({ labels: state.classes.map((x) => x.name), ...LEAN });
    const old = state.classifier;
    state.classifier = c;
    state.trainedSignature = null;
    old?.dispose().catch(() => {});
    await persistClasses();
    ui.charts.hidden = true;
    ui.confusion.hidden = true;
    delete ui.status.dataset.state;
    setStatus('');
    renderClasses();
    showSavedInfo();
    toast('Started over.');
  } catch (e) {
    toast(errorText(e), { error: true });
  } finally {
    setBusy(false);
  }
}

/**
 * If the worker running webtune died (a crash, out of memory), starts a fresh one: the saved model
 * (if any) and every example come back. True when `e` was such a failure.
 */
async function recover(e) {
  if (e?.code !== 'WT_ERR_WORKER' && e?.code !== 'WT_ERR_MODULE_ABORTED') return false;
  if (state.recovering) return true;
  state.recovering = true;
  state.ready = false;
  refreshControls();
  toast('The training engine stopped; restarting it with your examples…', { error: true, ms: 8000 });
  try {
    let c = null;
    if (state.savedModel) c = await loadClassifier(state.savedModel.bytes, LEAN).catch(() => null);
    c ??= await createClassifier({ labels: [], ...LEAN });
    await adopt(c, { keepEmpty: true });
    setStatus(c.trained ? 'The engine restarted with your saved model.' : 'The engine restarted. Train again to use the camera.');
  } catch (err) {
    setStatus(`The engine did not restart: ${errorText(err)}. Reload the page.`);
  } finally {
    state.recovering = false;
    state.ready = true;
    refreshControls();
  }
  return true;
}

// ---- controls state --------------------------------------------------------------------------

let busy = false;
function setBusy(on, text) {
  busy = on;
  if (on && text) setStatus(text);
  refreshControls();
}

function refreshControls() {
  const idle = state.ready && !state.training && !busy;
  const trained = !!state.classifier?.trained;
  const blocker = trainBlocker();
  ui.train.disabled = !idle || !!blocker || !!state.recordingId;
  ui.train.textContent = trained ? 'Train again' : 'Train model';
  ui.addClass.disabled = !idle || !!state.recordingId;
  ui.save.disabled = !idle || !trained;
  ui.download.disabled = !idle || !trained;
  ui.load.disabled = !idle || !state.savedModel;
  ui.openFile.disabled = !idle;
  ui.resetAll.disabled = !idle;
  for (const cls of state.classes) {
    if (!cls.el) continue;
    const other = !!state.recordingId && state.recordingId !== cls.id;
    cls.el.record.disabled = !idle || other;
    cls.el.upload.disabled = !idle || !!state.recordingId;
    cls.el.uploadLabel.classList.toggle('disabled', !idle || !!state.recordingId);
    cls.el.clear.disabled = !idle || !!state.recordingId || cls.count === 0;
    cls.el.remove.disabled = !idle || !!state.recordingId;
    cls.el.name.disabled = !idle || !!state.recordingId;
  }
  if (!state.training && ui.status.dataset.state !== 'training') {
    const stale = trained && state.trainedSignature && state.trainedSignature !== signature();
    if (blocker && !trained && ui.status.dataset.state !== 'error') setStatus(blocker);
    else if (!trained && !blocker && !ui.status.dataset.state) setStatus(`Ready: ${state.classes.reduce((s, c) => s + c.count, 0)} examples in ${state.classes.length} classes.`);
    ui.train.classList.toggle('nudge', !!stale || (!trained && !blocker));
  }
}

// ---- camera --------------------------------------------------------------------------------

function cameraProblem(message) {
  state.cameraReady = false;
  ui.cameraMessage.textContent = message;
  ui.cameraOff.hidden = false;
  renderBars();
}

async function startCamera(deviceId = localStorage.getItem('webtune-demo-camera') || undefined) {
  if (!navigator.mediaDevices?.getUserMedia) {
    cameraProblem('This browser gives no camera access here (it needs https or localhost). You can still add photos.');
    ui.cameraStart.hidden = true;
    return;
  }
  ui.cameraStart.disabled = true;
  ui.cameraMessage.textContent = 'Starting the camera…';
  stopCamera();
  const video = { width: { ideal: 640 }, height: { ideal: 480 } };
  try {
    try {
      state.stream = await navigator.mediaDevices.getUserMedia({ audio: false, video: deviceId ? { ...video, deviceId: { exact: deviceId } } : video });
    } catch (e) {
      if (!deviceId || e.name !== 'OverconstrainedError' && e.name !== 'NotFoundError') throw e;
      state.stream = await navigator.mediaDevices.getUserMedia({ audio: false, video }); // the remembered camera is gone
    }
    const track = state.stream.getVideoTracks()[0];
    track.addEventListener('ended', () => cameraProblem('The camera stopped.'));
    ui.video.srcObject = state.stream;
    await ui.video.play().catch(() => {});
    if (!ui.video.videoWidth) await new Promise((r) => ui.video.addEventListener('loadeddata', r, { once: true }));
    state.cameraReady = true;
    ui.cameraOff.hidden = true;
    const id = track.getSettings().deviceId;
    if (id) localStorage.setItem('webtune-demo-camera', id);
    await listCameras(id);
  } catch (e) {
    const why = {
      NotAllowedError: 'Camera access was blocked. Allow it for this site and try again, or add photos instead.',
      NotFoundError: 'No camera found. You can still add photos to each class.',
      NotReadableError: 'The camera is busy in another app. Close it there and try again.',
    }[e.name] ?? `The camera did not start (${e.message}).`;
    cameraProblem(why);
  } finally {
    ui.cameraStart.disabled = false;
    ui.cameraStart.textContent = state.cameraReady ? 'Turn on camera' : 'Try again';
    renderBars();
  }
}

function stopCamera() {
  for (const t of state.stream?.getTracks() ?? []) t.stop();
  state.stream = null;
  state.cameraReady = false;
}

async function listCameras(currentId) {
  const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
  ui.cameraSelect.replaceChildren(...devices.map((d, i) => {
    const o = document.createElement('option');
    o.value = d.deviceId;
    o.textContent = d.label || `Camera ${i + 1}`;
    o.selected = d.deviceId === currentId;
    return o;
  }));
  ui.cameraPicker.hidden = devices.length < 2;
}

// ---- start ---------------------------------------------------------------------------------

function wire() {
  ui.addClass.addEventListener('click', addClass);
  ui.train.addEventListener('click', train);
  ui.stop.addEventListener('click', () => state.abort?.abort());
  ui.save.addEventListener('click', saveToBrowser);
  ui.load.addEventListener('click', loadFromBrowser);
  ui.download.addEventListener('click', downloadModel);
  ui.openFile.addEventListener('change', openModelFile);
  ui.resetAll.addEventListener('click', resetAll);
  ui.cameraStart.addEventListener('click', () => startCamera());
  ui.cameraSelect.addEventListener('change', () => startCamera(ui.cameraSelect.value));
  ui.mirror.addEventListener('click', () => {
    const on = ui.mirror.getAttribute('aria-pressed') !== 'true';
    ui.mirror.setAttribute('aria-pressed', String(on));
    ui.viewfinder.classList.toggle('mirrored', on);
    localStorage.setItem('webtune-demo-mirror', on ? '1' : '');
  });
  if (localStorage.getItem('webtune-demo-mirror')) ui.mirror.click();
  for (const r of document.querySelectorAll('input[name="strategy"]')) r.addEventListener('change', () => applyDefaults());
  for (const [input, key] of [[ui.epochs, 'epochs'], [ui.learningRate, 'learningRate'], [ui.views, 'views'], [ui.blocks, 'blocks']]) {
    input.addEventListener('input', () => dirty.add(key));
  }
  ui.resetAdvanced.addEventListener('click', () => applyDefaults(true));
  navigator.mediaDevices?.addEventListener?.('devicechange', () => { if (state.cameraReady) listCameras(ui.cameraSelect.value); });
  // a drop outside a class must not navigate away from the page
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => { e.preventDefault(); if (hasFiles(e)) toast('Drop photos on a class to add them to it.'); });
}

async function main() {
  wire();
  applyDefaults(true);
  refreshControls();
  setStatus('Starting the training engine…');
  const storePromise = openStore();
  try {
    state.caps = await init();
  } catch (e) {
    ui.variant.textContent = 'failed';
    ui.variant.dataset.variant = 'none';
    ui.banner.hidden = false;
    ui.banner.classList.add('error');
    ui.banner.innerHTML = '<strong>The training engine did not start.</strong> <span></span>';
    ui.banner.querySelector('span').textContent = `${errorText(e)}. Is js/dist built? Run bash scripts/build.sh`;
    setStatus('Unavailable.');
    return;
  }
  const caps = state.caps;
  ui.variant.dataset.variant = caps.variant;
  ui.variant.textContent = caps.variant === 'mt' ? `mt · SIMD + ${caps.threads} threads` : 'st · SIMD, 1 thread';
  ui.variant.title = caps.reason;
  document.documentElement.dataset.variant = caps.variant;
  if (caps.variant !== 'mt') {
    ui.banner.hidden = false;
    ui.reason.textContent = `${caps.reason.replace(/^threads off: /, 'Threads are off: ')}. Everything works, training is just slower.`;
  }

  state.store = await storePromise;
  const [storedClasses, storedExamples, saved] = await Promise.all([
    state.store.getClasses().catch(() => null), state.store.getExamples().catch(() => []), state.store.getModel().catch(() => null),
  ]);
  state.classes = (storedClasses?.length ? storedClasses : [{ id: newId(), name: 'Class 1' }, { id: newId(), name: 'Class 2' }])
    .map(({ id, name }) => ({ id, name, count: 0, examples: [] }));
  const byId = new Map(state.classes.map((c) => [c.id, c]));
  const orphans = new Set();
  for (const ex of storedExamples) {
    const cls = byId.get(ex.classId);
    if (cls) cls.examples.push({ key: ex.key, blob: ex.blob, url: URL.createObjectURL(ex.blob) });
    else orphans.add(ex.classId);
  }
  for (const id of orphans) state.store.deleteExamplesOf(id).catch(() => {});
  state.savedModel = saved;
  showSavedInfo();

  const nExamples = state.classes.reduce((s, c) => s + c.examples.length, 0);
  setStatus(nExamples ? `Restoring ${nExamples} examples…` : 'Loading the backbone…');
  let c = null;
  if (saved) {
    try { c = await loadClassifier(saved.bytes, LEAN); } catch (e) { console.warn('the saved model did not load', e); toast(`The saved model did not load: ${errorText(e)}`, { error: true }); }
  }
  c ??= await createClassifier({ labels: [], ...LEAN });
  await adopt(c, { keepEmpty: true });
  state.ready = true;
  if (!c.trained) delete ui.status.dataset.state;
  if (saved && c.trained) {
    ui.status.dataset.state = 'restored';
    setStatus(`Restored your saved model (${c.trainedLabels.join(', ')}) and ${nExamples} examples.`);
  } else if (nExamples) {
    setStatus(`Restored ${nExamples} examples.`);
  }
  refreshControls();
  predictLoop();

  // the camera starts by itself once the site may use it; otherwise on the button
  let granted = false;
  try { granted = (await navigator.permissions.query({ name: 'camera' })).state === 'granted'; } catch { /* not supported */ }
  if (granted) startCamera();
  else ui.cameraMessage.textContent = 'The camera is off. It is only used in this page: frames never leave your device.';
}

main().catch((e) => {
  console.error(e);
  toast(`Something went wrong: ${errorText(e)}`, { error: true, ms: 10000 });
});
