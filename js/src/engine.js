// engine.js: the state a worker keeps (one wasm module, one context, classifiers by id) and the
// operations the public API sends it. Environment-neutral: the worker entry points (worker-node.js,
// worker-browser.js) bring the wasm module and a way to read backbone files.
//
// A classifier holds its backbone as webtune model-file bytes (whatever it was loaded from), a
// dataset of uint8 examples in the wasm heap, and, once trained, a net (backbone + head). Training
// always builds a new net from the backbone bytes and swaps it in only when it finishes, so an
// aborted or failed run leaves the previous model as it was.
import { WebtuneError, Layer, addLayer } from './core.js';
import { importTfjs, loadModel, saveModel, weightsSha256, Filter, Crop } from './models.js';
import { defaultTrainOptions } from './defaults.js';

const MAGIC = [0x57, 0x54, 0x4d, 0x4f, 0x44, 0x45, 0x4c, 0x00]; // "WTMODEL\0"
const TRAIN_FIELDS = 29; // wtjs_trainer_create's option array, in its order (web/webtune_js.c)
const PROGRESS_FIELDS = 21;
const STRATEGIES = { head: 0, top: 1, layers: 2, full: 3 };
const OPTIMIZERS = { adam: 0, adamw: 1, sgd: 2 };
const SCHEDULES = { constant: 0, step: 1, cosine: 2 };
const PHASES = ['cache', 'train', 'epoch', 'done'];
const PREDICT_BATCH = 8;

const fail = (code, message) => { throw new WebtuneError(code, message); };

function isModelFile(u8) {
  return u8.length >= 8 && MAGIC.every((b, i) => u8[i] === b);
}

/** Parses a strategy option: 'head' | 'full' | 'top:N' | 'layers:a,b*' | {name, ...}. */
export function parseStrategy(s = 'head') {
  if (typeof s !== 'string') fail('WT_ERR_INVALID_ARGUMENT', 'webtune: strategy must be a string such as "head", "top:2", "layers:block_16_*" or "full"');
  const [name, arg = ''] = s.split(/:(.*)/s);
  if (!(name in STRATEGIES)) fail('WT_ERR_INVALID_ARGUMENT', `webtune: unknown strategy "${s}" (use head, top:N, layers:<patterns> or full)`);
  if (name === 'top') {
    const n = arg === '' ? 2 : Number(arg);
    if (!Number.isInteger(n) || n < 1) fail('WT_ERR_INVALID_ARGUMENT', `webtune: "${s}": top needs a block count >= 1, e.g. top:2`);
    return { strategy: STRATEGIES.top, topBlocks: n, layers: null };
  }
  if (name === 'layers') {
    if (!arg) fail('WT_ERR_INVALID_ARGUMENT', `webtune: "${s}": layers needs names or patterns, e.g. layers:block_16_*,Conv_1 or layers:batchnorm`);
    return { strategy: STRATEGIES.layers, topBlocks: 0, layers: arg };
  }
  return { strategy: STRATEGIES[name], topBlocks: 0, layers: null };
}

function num(v, name, lo, hi, dflt) {
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'boolean') v = v ? 1 : 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) {
    fail('WT_ERR_INVALID_ARGUMENT', `webtune: ${name} must be a number in [${lo}, ${hi}], not ${v}`);
  }
  return v;
}

/** The option array for wtjs_trainer_create from train() options. */
export function trainOptionArray(o, preprocess) {
  const st = parseStrategy(o.strategy ?? 'head');
  const aug = o.augment === true ? { crop: 0.7, flip: true, rotation: 10, brightness: 0.2, contrast: 0.2, saturation: 0.2 }
    : (o.augment || {});
  const optimizer = o.optimizer ?? 'adam';
  if (!(optimizer in OPTIMIZERS)) fail('WT_ERR_INVALID_ARGUMENT', `webtune: optimizer must be adam, adamw or sgd, not ${optimizer}`);
  const schedule = o.schedule ?? 'constant';
  if (!(schedule in SCHEDULES)) fail('WT_ERR_INVALID_ARGUMENT', `webtune: schedule must be constant, step or cosine, not ${schedule}`);
  const v = [
    num(o.epochs, 'epochs', 1, 100000, 20),
    num(o.batchSize, 'batchSize', 1, 1024, 16),
    num(o.learningRate, 'learningRate', 1e-12, 1e30, 1e-3),
    OPTIMIZERS[optimizer],
    num(o.weightDecay, 'weightDecay', 0, 1, 0),
    SCHEDULES[schedule],
    num(o.warmupSteps, 'warmupSteps', 0, 1e9, 0),
    num(o.validationSplit, 'validationSplit', 0, 0.9, 0),
    num(o.seed, 'seed', 0, 2 ** 53, 0),
    st.strategy,
    st.topBlocks,
    num(o.backboneLearningRateScale, 'backboneLearningRateScale', 1e-6, 100, 0.1),
    o.batchNorm === 'batch' ? 1 : 0,
    o.adaBN ? 1 : 0,
    num(o.labelSmoothing, 'labelSmoothing', 0, 0.5, 0),
    o.balanced ? 1 : 0,
    num(o.earlyStopping, 'earlyStopping', 0, 1e6, 0),
    num(o.cacheViews, 'cacheViews', 1, 64, 1),
    num(aug.crop, 'augment.crop', 0, 1, 0),
    num(aug.aspect, 'augment.aspect', 0, 4, 0),
    aug.flip ? 1 : 0,
    num(aug.rotation, 'augment.rotation', 0, 180, 0),
    num(aug.brightness, 'augment.brightness', 0, 1, 0),
    num(aug.contrast, 'augment.contrast', 0, 1, 0),
    num(aug.saturation, 'augment.saturation', 0, 1, 0),
    preprocess.scale ?? 0,
    preprocess.offset ?? 0,
    num(o.domainAdaptation === true ? 1 : o.domainAdaptation, 'domainAdaptation', 0, 10, 0),
    onDivergence(o.onDivergence),
  ];
  if (v.length !== TRAIN_FIELDS) throw new Error('webtune: internal: train option count');
  return { values: new Float64Array(v), layers: st.layers };
}

function onDivergence(v = 'error') {
  if (v !== 'error' && v !== 'rollback') fail('WT_ERR_INVALID_ARGUMENT', `webtune: onDivergence must be "error" or "rollback", not ${v}`);
  return v === 'rollback' ? 1 : 0;
}

export class Engine {
  /**
   * @param {object} core  wrapped wasm module (core.js)
   * @param {{ threads: number, readBackbone: (name: string) => Promise<Uint8Array>,
   *           listBackbones: () => Promise<object>, fetchBytes?: (url: string) => Promise<Uint8Array> }} env
   */
  constructor(core, env) {
    this.core = core;
    this.env = env;
    this.M = core.module;
    this.ctx = core.callOutInt('wtjs_context_create', Math.max(1, env.threads | 0), 0);
    this.threads = this.M._wt_context_threads(this.ctx);
    this.classifiers = new Map();
    this.nextId = 1;
    this.aborted = new Set(); // request ids whose training should stop
  }

  info() {
    return { variant: this.core.variant, threads: this.threads, heapBytes: this.M._wtjs_heap_bytes() };
  }

  get(id) {
    const c = this.classifiers.get(id);
    if (!c) fail('WT_ERR_STATE', 'webtune: this classifier was disposed; create or load a new one');
    return c;
  }

  // ---- backbones -------------------------------------------------------------------------

  /** Resolves a backbone source to model-file bytes plus a display name. */
  async backboneBytes(src) {
    if (src == null || src === 'default') src = (await this.env.listBackbones()).default;
    if (typeof src === 'string') {
      if (/^(https?:|blob:|data:)/.test(src) || src.includes('/') || src.endsWith('.webtune') || src.endsWith('.json')) {
        return this.backboneBytes({ url: src });
      }
      return { bytes: await this.env.readBackbone(src), name: src };
    }
    if (src.url) {
      const url = String(src.url);
      const bytes = await this.env.fetchBytes(url);
      if (url.endsWith('.json') || bytes[0] === 0x7b /* { */) {
        const json = bytes;
        const paths = (await import('./models.js')).tfjsWeightPaths(this.core, json);
        const files = new Map();
        for (const p of paths) files.set(p, await this.env.fetchBytes(/^[a-z]+:/i.test(url) ? new URL(p, url).href : joinPath(url, p)));
        return this.fromTfjs({ modelJson: json, weights: files, name: src.name });
      }
      return { bytes, name: src.name ?? url.split('/').pop().replace(/\.webtune$/, '') };
    }
    if (src.bytes) {
      const bytes = toU8(src.bytes);
      if (!isModelFile(bytes)) fail('WT_ERR_CORRUPT', 'webtune: these bytes are not a webtune model file (for a TF.js model pass { modelJson, weights })');
      return { bytes, name: src.name ?? '' };
    }
    if (src.modelJson) return this.fromTfjs(src);
    fail('WT_ERR_INVALID_ARGUMENT', 'webtune: backbone must be a name, a URL or path, { bytes }, or { modelJson, weights }');
  }

  /** A TF.js layers model (or a Teachable Machine export) -> backbone model-file bytes. */
  fromTfjs(src) {
    const json = typeof src.modelJson === 'string' ? new TextEncoder().encode(src.modelJson)
      : src.modelJson instanceof Uint8Array || src.modelJson instanceof ArrayBuffer ? toU8(src.modelJson)
        : new TextEncoder().encode(JSON.stringify(src.modelJson));
    const files = src.weights instanceof Map ? new Map([...src.weights].map(([k, v]) => [k, toU8(v)]))
      : new Map(Object.entries(src.weights ?? {}).map(([k, v]) => [k, toU8(v)]));
    const { net, info } = importTfjs(this.core, this.ctx, json, files, {});
    try {
      const sha = weightsSha256(this.core, net, info.embeddingNode);
      const bytes = saveModel(this.core, net, {
        preprocess: { outH: info.inH, outW: info.inW, filter: Filter.BILINEAR, crop: Crop.CENTER, scale: 0, offset: 0 },
        backboneName: (src.name ?? 'tfjs').slice(0, 60), backboneSha256: sha,
        embeddingNode: info.embeddingNode, logitsNode: -1, outputSoftmax: false,
      });
      return { bytes, name: src.name ?? 'tfjs' };
    } finally {
      this.M._wt_net_destroy(net);
    }
  }

  /** Loads model-file bytes as a backbone: a net cut at its embedding, with its metadata. */
  loadBackboneNet(bytes) {
    const { net, meta } = loadModel(this.core, this.ctx, bytes);
    try {
      if (meta.embeddingNode < 1) fail('WT_ERR_UNSUPPORTED', 'webtune: this model file has no embedding node, so it cannot be a backbone');
      const [h, w, c] = shape(this.core, net, meta.embeddingNode);
      if (h !== 1 || w !== 1) fail('WT_ERR_UNSUPPORTED', `webtune: the model's embedding is ${h}x${w}x${c}, not pooled`);
      if (meta.logitsNode >= 0 || this.M._wt_net_node_count(net) > meta.embeddingNode + 1) {
        this.core.call('wt_net_truncate', net, meta.embeddingNode);
      }
      return { net, meta, embeddingDim: c };
    } catch (e) {
      this.M._wt_net_destroy(net);
      throw e;
    }
  }

  // ---- classifiers -----------------------------------------------------------------------

  async createClassifier({ labels = [], backbone, memoryBudgetMB = 1024, dropout } = {}) {
    checkLabels(labels, true);
    num(dropout, 'dropout', 0, 0.95, 0);
    const { bytes, name } = await this.backboneBytes(backbone);
    return this.newClassifier({ backboneBytes: bytes, backboneName: name, labels, memoryBudgetMB, dropout });
  }

  newClassifier({ backboneBytes, backboneName, labels, memoryBudgetMB, dropout, trained }) {
    const b = this.loadBackboneNet(backboneBytes);
    this.M._wt_net_destroy(b.net); // only its shape and metadata are needed until training
    const { outH, outW } = b.meta.preprocess;
    if (!(outH > 0 && outW > 0)) fail('WT_ERR_UNSUPPORTED', 'webtune: the backbone file does not record its input size');
    const budget = num(memoryBudgetMB, 'memoryBudgetMB', 1, 4096, 1024);
    const ds = this.core.callOutInt('wt_dataset_create', outH, outW, Math.floor(budget * 1048576));
    const id = this.nextId++;
    const c = {
      id, labels: [...labels], backboneBytes, backboneName: backboneName || b.meta.backboneName,
      backboneSha256: b.meta.backboneSha256, preprocess: b.meta.preprocess, embeddingDim: b.embeddingDim,
      dropout, ds, net: 0, embeddingNode: b.meta.embeddingNode, logitsNode: -1, trainedLabels: null,
      memoryBudgetMB: budget,
    };
    this.classifiers.set(id, c);
    if (trained) Object.assign(c, trained);
    return { id, ...this.describe(c) };
  }

  describe(c) {
    return {
      labels: [...c.labels], inputSize: [c.preprocess.outH, c.preprocess.outW], backbone: c.backboneName,
      embeddingDim: c.embeddingDim, trained: !!c.net, trainedLabels: c.trainedLabels ? [...c.trainedLabels] : null,
      counts: this.counts(c).perClass, unlabeled: this.counts(c).unlabeled,
    };
  }

  counts(c) {
    const n = this.M._wt_dataset_count(c.ds);
    const perClass = Object.fromEntries(c.labels.map((l) => [l, 0]));
    let unlabeled = 0;
    this.core.withScratch(4, (p) => { // labels only: 0 pixel bytes are copied
      for (let i = 0; i < n; i++) {
        this.core.call('wtjs_dataset_read', c.ds, i, p, 0, p);
        const label = this.core.heapI32()[p >> 2];
        if (label >= 0) perClass[c.labels[label]]++;
        else unlabeled++;
      }
    });
    return { perClass, unlabeled };
  }

  /** A trained net (backbone + head) from a webtune model file, planned for prediction. */
  loadTrainedNet(u8) {
    if (!isModelFile(u8)) fail('WT_ERR_CORRUPT', 'webtune: not a webtune model file (bad magic); expected bytes saved by classifier.save()');
    const { net, meta } = loadModel(this.core, this.ctx, u8);
    try {
      if (meta.logitsNode < 0 || meta.labels.length < 2) {
        fail('WT_ERR_UNSUPPORTED', 'webtune: this model file is a backbone without a trained head; use it as { backbone } in createClassifier');
      }
      if (meta.embeddingNode < 1) fail('WT_ERR_UNSUPPORTED', 'webtune: this model file has no embedding node');
      freezeAndPlan(this.core, net, PREDICT_BATCH, meta.embeddingNode);
    } catch (e) {
      this.M._wt_net_destroy(net);
      throw e;
    }
    return { net, meta };
  }

  /** Loads a saved classifier (webtune model file with labels and a head). */
  async loadClassifier({ bytes, memoryBudgetMB = 1024 }) {
    const u8 = toU8(bytes);
    const { net, meta } = this.loadTrainedNet(u8);
    try {
      return this.newClassifier({
        backboneBytes: u8, backboneName: meta.backboneName, labels: meta.labels, memoryBudgetMB, dropout: undefined,
        trained: { net, logitsNode: meta.logitsNode, trainedLabels: [...meta.labels] },
      });
    } catch (e) {
      this.M._wt_net_destroy(net);
      throw e;
    }
  }

  /**
   * Rebuilds a classifier in a fresh module from the copy its caller kept after the old module
   * died: how it was made (origin: createClassifier's options, or the bytes loadClassifier got),
   * its current labels, the model of its last train() (null if it has not trained since it was
   * made: untrained, or the loaded model) and its examples as stored
   * ({ label, data }: RGB at the input size, in dataset order), so nothing the user had is lost.
   */
  async restoreClassifier({ origin, labels, trainedLabels = null, model = null, examples = [] }) {
    const r = origin.bytes ? await this.loadClassifier({ bytes: origin.bytes, memoryBudgetMB: origin.memoryBudgetMB })
      : await this.createClassifier({ ...origin, labels: [] });
    const c = this.get(r.id);
    try {
      checkLabels(labels, true);
      c.labels = [...labels];
      if (model) { // trained since it was made: this model replaces the one it was loaded with, if any
        const { net, meta } = this.loadTrainedNet(toU8(model));
        if (c.net) this.M._wt_net_destroy(c.net);
        Object.assign(c, { net, logitsNode: meta.logitsNode, trainedLabels: [...meta.labels] });
      }
      if (c.net && trainedLabels) c.trainedLabels = [...trainedLabels]; // renames since
      const n = c.preprocess.outH * c.preprocess.outW * 3;
      const p = this.core.alloc(n);
      try {
        for (const { label, data } of examples) {
          const u8 = toU8(data);
          if (u8.length !== n) fail('WT_ERR_SHAPE', `webtune: a kept example has ${u8.length} bytes, not ${n}`);
          this.core.heapU8().set(u8, p);
          this.core.call('wt_dataset_add', c.ds, p, n, label === null ? -1 : labelIndex(c, label), 0);
        }
      } finally {
        this.core.free(p);
      }
    } catch (e) {
      this.dispose(r.id);
      throw e;
    }
    return { id: r.id, ...this.describe(c) };
  }

  dispose(id) {
    const c = this.classifiers.get(id);
    if (!c) return false;
    if (c.training) fail('WT_ERR_STATE', 'webtune: abort training before disposing the classifier');
    if (c.net) this.M._wt_net_destroy(c.net);
    this.M._wt_dataset_destroy(c.ds);
    this.classifiers.delete(id);
    return true;
  }

  // ---- classes and examples --------------------------------------------------------------

  /** The dataset must not change under a running trainer. */
  idle(id) {
    const c = this.get(id);
    if (c.training) fail('WT_ERR_STATE', 'webtune: the classifier is training; wait for train() to finish or abort it before changing classes or examples');
    return c;
  }

  addClass(id, label) {
    const c = this.idle(id);
    checkLabels([...c.labels, label], false);
    c.labels.push(label);
    return this.describe(c);
  }

  renameClass(id, from, to) {
    const c = this.idle(id);
    const i = labelIndex(c, from);
    checkLabels(c.labels.map((l, k) => (k === i ? to : l)), false);
    c.labels[i] = to;
    if (c.trainedLabels && c.trainedLabels[i] === from) c.trainedLabels[i] = to;
    return this.describe(c);
  }

  removeClass(id, label) {
    const c = this.idle(id);
    const i = labelIndex(c, label);
    this.core.call('wt_dataset_remove_label', c.ds, i);
    c.labels.splice(i, 1);
    return this.describe(c);
  }

  clearExamples(id, label) {
    const c = this.idle(id);
    const n = this.M._wt_dataset_count(c.ds);
    const px = c.preprocess.outH * c.preprocess.outW * 3;
    const target = label == null ? -2 : labelIndex(c, label);
    this.core.withScratch(px + 4, (p) => {
      for (let i = n - 1; i >= 0; i--) {
        this.core.call('wtjs_dataset_read', c.ds, i, p, 0, p + px);
        const l = this.core.heapI32()[(p + px) >> 2];
        if (target === -2 || l === target) this.core.call('wt_dataset_remove', c.ds, i);
      }
    });
    return this.describe(c);
  }

  /** image: { kind: 'encoded', bytes } | { kind: 'rgba' | 'rgb', data, width, height }. Returns RGB at input size. */
  toExample(c, image) {
    const { outH, outW, filter, crop } = c.preprocess;
    const n = outH * outW * 3;
    const out = this.core.alloc(n);
    try {
      this.fillExample(c, image, out, n, filter, crop);
      return this.core.heapU8().slice(out, out + n);
    } finally {
      this.core.free(out);
    }
  }

  fillExample(c, image, out, n, filter = c.preprocess.filter, crop = c.preprocess.crop) {
    const { outH, outW } = c.preprocess;
    if (!image || typeof image !== 'object') fail('WT_ERR_INVALID_ARGUMENT', 'webtune: an image must be encoded bytes or { data, width, height }');
    if (image.kind === 'encoded') {
      const bytes = toU8(image.bytes);
      if (!bytes.length) fail('WT_ERR_INVALID_ARGUMENT', 'webtune: the image is empty (0 bytes)');
      const src = this.core.allocCopy(bytes);
      try {
        this.core.call('wtjs_image_resize_u8', src, bytes.length, outH, outW, filter, crop, out, n);
      } finally {
        this.core.free(src);
      }
      return;
    }
    const { width, height } = image;
    const data = toU8(image.data);
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      fail('WT_ERR_SHAPE', `webtune: image size ${width}x${height} is not valid`);
    }
    let rgba = data;
    if (image.kind === 'rgb') {
      if (data.length !== width * height * 3) fail('WT_ERR_SHAPE', `webtune: an RGB image of ${width}x${height} has ${width * height * 3} bytes, not ${data.length}`);
      rgba = new Uint8Array(width * height * 4);
      for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
        rgba[j] = data[i]; rgba[j + 1] = data[i + 1]; rgba[j + 2] = data[i + 2]; rgba[j + 3] = 255;
      }
    } else if (data.length < width * height * 4) {
      fail('WT_ERR_SHAPE', `webtune: an RGBA image of ${width}x${height} needs ${width * height * 4} bytes, got ${data.length}`);
    }
    const src = this.core.allocCopy(rgba);
    try {
      this.core.call('wtjs_rgba_resize_u8', src, rgba.length, width, height, 0, outH, outW, filter, crop, out, n);
    } finally {
      this.core.free(src);
    }
  }

  /** keep: also return each added example as stored (RGB at the input size), for the caller's copy. */
  addExamples(id, label, images, keep = false) {
    const c = this.idle(id);
    const li = label === null ? -1 : labelIndex(c, label); // null: unlabelled (target-domain) images
    const n = c.preprocess.outH * c.preprocess.outW * 3;
    const out = this.core.alloc(n);
    const errors = [];
    const stored = [];
    let added = 0;
    try {
      images.forEach((image, k) => {
        try {
          this.fillExample(c, image, out, n);
          this.core.call('wt_dataset_add', c.ds, out, n, li, 0);
          if (keep) stored.push(this.core.heapU8().slice(out, out + n));
          added++;
        } catch (e) {
          if (e.code === 'WT_ERR_OUT_OF_MEMORY' || images.length === 1) throw e;
          errors.push({ index: k, name: image.name, code: e.code, message: e.message });
        }
      });
    } finally {
      this.core.free(out);
    }
    const counts = this.counts(c);
    const r = { added, errors, count: li < 0 ? counts.unlabeled : counts.perClass[c.labels[li]], total: this.M._wt_dataset_count(c.ds) };
    return keep ? { ...r, stored } : r;
  }

  exportExamples(id) {
    const c = this.get(id);
    const n = this.M._wt_dataset_count(c.ds);
    const px = c.preprocess.outH * c.preprocess.outW * 3;
    const examples = [];
    this.core.withScratch(px + 4, (p) => {
      for (let i = 0; i < n; i++) {
        this.core.call('wtjs_dataset_read', c.ds, i, p, px, p + px);
        const label = this.core.heapI32()[(p + px) >> 2];
        examples.push({ label: label >= 0 ? c.labels[label] : null, data: this.core.heapU8().slice(p, p + px) });
      }
    });
    return { width: c.preprocess.outW, height: c.preprocess.outH, examples };
  }

  // ---- training --------------------------------------------------------------------------

  /**
   * Trains a new net from the backbone; `report(progress)` is called per step, `shouldYield()`
   * says when to give the event loop a turn (so an abort message can arrive).
   */
  async train(id, userOptions, reqId, report, yieldNow) {
    const c = this.idle(id);
    // unset options take the defaults; a strategy other than the default's drops its head-only extras
    const base = userOptions.strategy && userOptions.strategy !== defaultTrainOptions.strategy
      ? { ...defaultTrainOptions, cacheViews: 1, epochs: 10 } : defaultTrainOptions;
    const options = { ...base };
    for (const [k, v] of Object.entries(userOptions)) if (v !== undefined) options[k] = v;
    // views of an image differ only by augmentation: without it one is enough
    if (options.augment === false && userOptions.cacheViews === undefined) options.cacheViews = 1;
    c.training = true;
    try {
      return await this.trainNet(c, options, reqId, report, yieldNow);
    } finally {
      c.training = false;
    }
  }

  async trainNet(c, options, reqId, report, yieldNow) {
    const dropout = num(options.dropout ?? c.dropout, 'dropout', 0, 0.95, 0);
    const { values, layers } = trainOptionArray(options, c.preprocess);
    if (c.labels.length < 2) fail('WT_ERR_SHAPE', `webtune: training needs at least 2 classes; this classifier has ${c.labels.length}`);
    const counts = this.counts(c).perClass;
    const empty = c.labels.filter((l) => counts[l] === 0);
    if (empty.length) fail('WT_ERR_SHAPE', `webtune: class${empty.length > 1 ? 'es' : ''} ${empty.map((l) => `"${l}"`).join(', ')} ha${empty.length > 1 ? 've' : 's'} no examples; add images to every class before training`);
    const twoPhase = options.twoPhase ? parseStrategy(options.strategy ?? 'head') : null;
    const M = this.M;
    const b = this.loadBackboneNet(c.backboneBytes);
    let net = b.net;
    let trainer = 0;
    const owned = [];
    try {
      const hidden = num(options.hiddenUnits, 'hiddenUnits', 0, 4096, 0);
      // the head (and the cache) read the multi-layer embedding when embeddingLayers names any;
      // the saved model's embedding node stays the backbone's own (its cut and hash)
      const embedding = this.addEmbeddingLayers(net, b.meta.embeddingNode, options.embeddingLayers);
      const logits = this.core.callOutInt('wt_net_add_classifier_head', net, embedding, c.labels.length, dropout, hidden, options.normalizeEmbedding ? 1 : 0);
      const phases = [];
      if (twoPhase && twoPhase.strategy !== STRATEGIES.head) {
        // phase 1: the head alone (cached embeddings); phase 2: the chosen strategy at a lower rate
        const head = Float64Array.from(values);
        head[9] = STRATEGIES.head; head[10] = 0;
        head[0] = num(options.twoPhase.headEpochs, 'twoPhase.headEpochs', 1, 100000, Math.max(1, Math.round(values[0] / 2)));
        const fine = Float64Array.from(values);
        fine[2] = values[2] * num(options.twoPhase.learningRateScale, 'twoPhase.learningRateScale', 1e-6, 1, 0.1);
        phases.push({ values: head, layers: null }, { values: fine, layers });
      } else {
        phases.push({ values, layers });
      }
      const started = Date.now();
      let last = null;
      let stepOffset = 0;
      for (let ph = 0; ph < phases.length; ph++) {
        const { values: v, layers: lay } = phases[ph];
        const optPtr = this.core.alloc(v.length * 8);
        owned.push(optPtr);
        new Float64Array(M.HEAPF64.buffer, optPtr, v.length).set(v);
        const layersPtr = lay ? this.core.allocCString(lay) : 0;
        if (layersPtr) owned.push(layersPtr);
        trainer = this.core.callOutInt('wtjs_trainer_create', net, embedding, logits, c.ds, optPtr, v.length, layersPtr);
        const out = this.core.alloc(PROGRESS_FIELDS * 8);
        owned.push(out);
        let phaseDone = false;
        let epochsEnded = 0;
        while (!phaseDone) {
          if (this.aborted.has(reqId)) fail('WT_ERR_ABORTED', 'webtune: training was aborted; the classifier keeps its previous model');
          try {
            this.core.call('wtjs_trainer_step', trainer, out);
          } catch (e) {
            // the C message says the trainer restored its last good weights; here those live in a
            // net that is about to be dropped: the classifier keeps the model it had before train()
            if (e.code === 'WT_ERR_NOT_FINITE') e.message = e.message.replace(/the weights after epoch \d+ are restored/, "the classifier keeps its previous model (train({ onDivergence: 'rollback' }) keeps the last good epoch instead)");
            throw e;
          }
          const p = new Float64Array(M.HEAPF64.buffer, out, PROGRESS_FIELDS);
          const progress = {
            phase: PHASES[p[0]], epoch: p[1] + (ph > 0 ? phases[0].values[0] : 0), epochs: phases.reduce((s, x) => s + x.values[0], 0),
            step: p[3] + stepOffset, stepsPerEpoch: p[4], totalSteps: phases.reduce((s, x) => s + x.values[0] * p[4], 0),
            cacheDone: p[6], cacheTotal: p[7], images: p[8], loss: p[9], accuracy: p[10], learningRate: p[17],
            nTrain: p[18], nVal: p[19], diverged: p[20] === 1, stage: phases.length > 1 ? (ph === 0 ? 'head' : 'finetune') : undefined,
          };
          if (p[0] >= 2) {
            Object.assign(progress, { epochLoss: p[11], epochAccuracy: p[12], valAccuracy: p[13] < 0 ? null : p[13],
              valLoss: p[14] < 0 ? null : p[14], bestValAccuracy: p[15] < 0 ? null : p[15], bestEpoch: p[16] });
          }
          if (p[0] === 2) epochsEnded++;
          if (p[0] === 3) {
            // rollback with no finished epoch would leave an untrained head: a model that looks
            // trained and guesses (a second phase starts from the head the first one trained)
            if (progress.diverged && epochsEnded === 0 && ph === 0) {
              fail('WT_ERR_NOT_FINITE', `webtune: training diverged in the first epoch (learning rate ${v[2]} is too high for this data), so there is no good epoch to roll back to; the classifier keeps its previous model`);
            }
            phaseDone = true;
            stepOffset += p[3];
            if (ph < phases.length - 1) progress.phase = 'epoch';
          }
          progress.elapsedMs = Date.now() - started;
          last = progress;
          report(progress);
          await yieldNow();
        }
        M._wt_trainer_destroy(trainer);
        trainer = 0;
      }
      freezeAndPlan(this.core, net, PREDICT_BATCH, b.meta.embeddingNode);
      // success: swap the new net in
      if (c.net) M._wt_net_destroy(c.net);
      c.net = net;
      c.logitsNode = logits;
      c.embeddingNode = b.meta.embeddingNode;
      c.trainedLabels = [...c.labels];
      net = 0;
      return { ...last, phase: 'done', labels: [...c.labels], heapBytes: M._wtjs_heap_bytes() };
    } finally {
      this.aborted.delete(reqId);
      if (trainer) M._wt_trainer_destroy(trainer);
      if (net) M._wt_net_destroy(net);
      for (const p of owned) this.core.free(p);
    }
  }

  /**
   * The multi-layer embedding: the backbone's pooled embedding and the global-average-pooled
   * output of each named backbone layer, each L2-normalised (unit RMS), joined by WT_LAYER_CONCAT
   * (which gives both sides of each join an equal share of the length: with one extra layer, half
   * from the embedding and half from the layer, whatever their widths). Returns the node the head
   * reads: `embedding` itself when no layer is named. 'auto' names the layer the default uses for
   * the backbone (docs/strategies.md): block_14_add for MobileNet v2, none for others.
   */
  addEmbeddingLayers(net, embedding, spec) {
    let names = spec ?? [];
    if (names === 'auto') names = findNode(this.core, net, 'block_14_add') > 0 ? ['block_14_add'] : [];
    if (typeof names === 'string') names = names.split(',').map((x) => x.trim()).filter(Boolean);
    if (!Array.isArray(names) || names.some((x) => typeof x !== 'string' || !x)) {
      fail('WT_ERR_INVALID_ARGUMENT', "webtune: embeddingLayers must be 'auto', a layer name, or an array of layer names (e.g. ['block_14_add'])");
    }
    if (names.length === 0) return embedding;
    const add = (d) => addLayer(this.core, net, d);
    let x = add({ type: Layer.L2_NORMALIZE, name: 'embedding/l2_normalize', input: embedding });
    for (const name of names) {
      const node = findNode(this.core, net, name);
      if (!(node > 0 && node <= embedding)) {
        fail('WT_ERR_NOT_FOUND', `webtune: embeddingLayers: the backbone has no layer "${name}" (names are the Keras layer names, e.g. block_14_add for MobileNet v2, conv_pw_11_relu for v1)`);
      }
      let y = node;
      if (shape(this.core, net, node).slice(0, 2).some((d) => d !== 1)) {
        y = add({ type: Layer.GLOBAL_AVG_POOL, name: `embedding/${name}/pool`, input: y });
      }
      y = add({ type: Layer.L2_NORMALIZE, name: `embedding/${name}/l2_normalize`, input: y });
      x = add({ type: Layer.CONCAT, name: `embedding/concat_${name}`, input: x, input2: y });
    }
    return x;
  }

  abort(reqId) {
    this.aborted.add(reqId);
  }

  // ---- inference -------------------------------------------------------------------------

  /**
   * Probabilities [n][K] for images. With tta (test-time augmentation) each image is also run
   * mirrored and the two predictions are averaged.
   */
  probabilities(c, images, tta = false) {
    if (!c.net) fail('WT_ERR_STATE', 'webtune: the classifier is not trained yet; call train() (or load a saved model) first');
    const K = c.trainedLabels.length;
    const { outH, outW } = c.preprocess;
    const px = outH * outW * 3;
    const per = tta ? 2 : 1;
    const out = [];
    const inPtr = this.core.alloc(px * PREDICT_BATCH);
    const probPtr = this.core.alloc(4 * K * PREDICT_BATCH);
    try {
      const step = PREDICT_BATCH / per;
      for (let first = 0; first < images.length; first += step) {
        const n = Math.min(step, images.length - first);
        for (let b = 0; b < n; b++) {
          const at = inPtr + b * per * px;
          this.fillExample(c, images[first + b], at, px);
          if (tta) { // mirror rows into the next slot
            const h8 = this.core.heapU8();
            for (let y = 0; y < outH; y++) {
              const row = at + y * outW * 3;
              for (let x = 0; x < outW; x++) {
                const s = row + x * 3;
                const d = row + px + (outW - 1 - x) * 3;
                h8[d] = h8[s]; h8[d + 1] = h8[s + 1]; h8[d + 2] = h8[s + 2];
              }
            }
          }
        }
        const { scale, offset } = c.preprocess;
        this.core.call('wtjs_predict_u8', c.net, c.logitsNode, scale, offset, inPtr, n * per, probPtr, n * per * K);
        const f = this.core.heapF32();
        for (let b = 0; b < n; b++) {
          const p = f.slice((probPtr >> 2) + b * per * K, (probPtr >> 2) + (b * per + 1) * K);
          if (tta) for (let k = 0; k < K; k++) p[k] = (p[k] + f[(probPtr >> 2) + (b * per + 1) * K + k]) / 2;
          out.push(p);
        }
      }
    } finally {
      this.core.free(inPtr);
      this.core.free(probPtr);
    }
    return out;
  }

  predict(id, images, topK = 3, tta = false) {
    const c = this.get(id);
    const labels = c.trainedLabels ?? c.labels;
    return this.probabilities(c, images, tta).map((probs) =>
      Array.from(probs, (p, i) => ({ label: labels[i], probability: p }))
        .sort((a, b) => b.probability - a.probability)
        .slice(0, Math.max(1, Math.min(topK, labels.length))));
  }

  evaluate(id, items, tta = false) {
    const c = this.get(id);
    if (!c.net) fail('WT_ERR_STATE', 'webtune: the classifier is not trained yet');
    const labels = c.trainedLabels;
    const K = labels.length;
    const confusion = Array.from({ length: K }, () => new Array(K).fill(0));
    const errors = [];
    let correct = 0;
    let n = 0;
    for (const item of items) {
      const t = labels.indexOf(item.label);
      if (t < 0) fail('WT_ERR_NOT_FOUND', `webtune: evaluate: "${item.label}" is not one of the classifier's labels (${labels.join(', ')})`);
      let probs;
      try {
        [probs] = this.probabilities(c, [item.image], tta);
      } catch (e) {
        if (e.code === 'WT_ERR_OUT_OF_MEMORY') throw e;
        errors.push({ name: item.image.name, code: e.code, message: e.message });
        continue;
      }
      let best = 0;
      for (let k = 1; k < K; k++) if (probs[k] > probs[best]) best = k;
      confusion[t][best]++;
      if (best === t) correct++;
      n++;
    }
    const perClass = Object.fromEntries(labels.map((l, i) => {
      const total = confusion[i].reduce((s, x) => s + x, 0);
      return [l, total ? confusion[i][i] / total : null];
    }));
    return { accuracy: n ? correct / n : 0, perClass, confusion, labels: [...labels], n, errors };
  }

  save(id, { fp16 = false } = {}) {
    const c = this.get(id);
    if (!c.net) fail('WT_ERR_STATE', 'webtune: nothing to save: the classifier is not trained yet');
    const p = c.preprocess;
    return saveModel(this.core, c.net, {
      labels: c.trainedLabels, preprocess: { outH: p.outH, outW: p.outW, filter: p.filter, crop: p.crop, scale: p.scale, offset: p.offset },
      backboneName: (c.backboneName || '').slice(0, 60), backboneSha256: c.backboneSha256,
      embeddingNode: c.embeddingNode, logitsNode: c.logitsNode, outputSoftmax: true,
    }, { fp16 });
  }
}

// A net for prediction: everything frozen, memory saving on (only the logits are read), the
// embedding kept as training keeps it. A trained net and the same model loaded from a file then get
// the same plan, so the same batch norms fold into their convolutions and both predict bit-identically.
function freezeAndPlan(core, net, batch, embeddingNode) {
  const n = core.module._wt_net_node_count(net);
  for (let i = 1; i < n; i++) core.call('wt_net_set_trainable', net, i, 0);
  core.call('wt_net_set_memory_saving', net, 1);
  core.call('wt_net_keep_output', net, embeddingNode, 1);
  core.call('wt_net_plan', net, batch);
}

/** Node id of the layer with this name, or -1. */
function findNode(core, net, name) {
  return core.withCString(name, (p) => core.withScratch(4, (out) => {
    const st = core.module._wt_net_find_node(net, p, out);
    return st === 0 ? core.heapI32()[out >> 2] : -1;
  }));
}

function shape(core, net, node) {
  return core.withScratch(12, (p) => {
    core.call('wt_net_node_shape', net, node, p, p + 4, p + 8);
    return Array.from(core.heapI32().subarray(p >> 2, (p >> 2) + 3));
  });
}

function labelIndex(c, label) {
  const i = typeof label === 'number' ? label : c.labels.indexOf(label);
  if (!(i >= 0 && i < c.labels.length)) fail('WT_ERR_NOT_FOUND', `webtune: no class "${label}" (classes: ${c.labels.join(', ') || 'none'}); add it with addClass()`);
  return i;
}

function checkLabels(labels, allowEmpty) {
  if (!Array.isArray(labels)) fail('WT_ERR_INVALID_ARGUMENT', 'webtune: labels must be an array of strings');
  if (!allowEmpty && labels.length === 0) fail('WT_ERR_INVALID_ARGUMENT', 'webtune: no labels');
  const seen = new Set();
  for (const l of labels) {
    if (typeof l !== 'string' || l.length === 0 || l.length > 1000) fail('WT_ERR_INVALID_ARGUMENT', `webtune: a class label must be a non-empty string, not ${JSON.stringify(l)}`);
    if (seen.has(l)) fail('WT_ERR_INVALID_ARGUMENT', `webtune: class "${l}" appears twice`);
    seen.add(l);
  }
}

function toU8(x) {
  if (x instanceof Uint8Array) return x;
  if (x instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && x instanceof SharedArrayBuffer)) return new Uint8Array(x);
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  fail('WT_ERR_INVALID_ARGUMENT', 'webtune: expected bytes (Uint8Array or ArrayBuffer)');
}

function joinPath(base, rel) {
  const i = base.lastIndexOf('/');
  return i >= 0 ? `${base.slice(0, i + 1)}${rel}` : rel;
}
