// client.js: the public API on the caller's thread. Every call becomes a request to the worker
// that owns the wasm module (a Web Worker in browsers, a worker thread in Node), so training never
// blocks the page or the event loop. Environment specifics (how to start the worker, which variant
// to pick, how to turn a browser image into pixels) come from the `platform` of index.js / node.js.
import { WebtuneError } from './core.js';

export { WebtuneError };

class Rpc {
  constructor(worker, onDead) {
    this.worker = worker;
    this.pending = new Map();
    this.nextId = 1;
    this.dead = null;
    this.onDead = onDead;
    worker.onMessage((msg) => this.receive(msg));
    worker.onExit((why) => this.die(why));
  }

  receive(msg) {
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.event) {
      p.onEvent?.(msg.event);
      return;
    }
    this.settle(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new WebtuneError(msg.error.code, msg.error.message));
  }

  settle(id) {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.idle?.(true);
  }

  die(why) {
    if (this.dead) return;
    this.dead = why;
    const err = new WebtuneError('WT_ERR_WORKER', `webtune: the worker running webtune stopped (${why}); ` +
      'pending calls failed. The next call starts a fresh worker, and each classifier carries on in it with its ' +
      'examples and its last trained model');
    for (const [, p] of this.pending) p.reject(err);
    this.pending.clear();
    this.worker.idle?.(true);
    this.onDead(err);
  }

  call(op, args = {}, { transfer = [], onEvent } = {}) {
    if (this.dead) return Promise.reject(new WebtuneError('WT_ERR_WORKER', `webtune: the worker stopped (${this.dead})`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onEvent });
      if (this.pending.size === 1) this.worker.idle?.(false);
      try {
        this.worker.post({ id, op, args }, transfer);
      } catch (e) {
        this.settle(id);
        reject(new WebtuneError('WT_ERR_INVALID_ARGUMENT', `webtune: could not send ${op} to the worker: ${e.message}`));
      }
      this.lastId = id;
    });
  }

  abort(target) {
    if (!this.dead) this.worker.post({ op: 'abort', target }, []);
  }
}

/**
 * @param {{ choose: (options) => {variant, threads, reason}, spawn: (choice, options) => object,
 *           toImage: (image) => Promise<{payload, transfer}>, environment: string }} platform
 */
export function createApi(platform) {
  let session = null; // { rpc, capabilities, generation }
  let starting = null;
  let generation = 0;

  async function start(options) {
    const choice = await platform.choose(options);
    let worker = platform.spawn(choice, options);
    const gen = ++generation;
    let rpc = new Rpc(worker, () => { if (session?.generation === gen) session = null; });
    let info;
    try {
      info = await rpc.call('info');
    } catch (e) {
      rpc.worker.terminate();
      if (choice.variant !== 'mt') {
        throw new WebtuneError(e.code ?? 'WT_ERR_INIT', `webtune: could not start the wasm module: ${e.message}. ` +
          'Check that the package\'s dist/wasm files are served (or pass init({ wasmPaths }))');
      }
      // threads did not come up: fall back to the single-threaded module and say why
      const why = `threads off: the threaded module failed to start (${e.message})`;
      worker = platform.spawn({ variant: 'st', threads: 1, reason: why }, options);
      rpc = new Rpc(worker, () => { if (session?.generation === gen) session = null; });
      info = await rpc.call('info');
      choice.variant = 'st';
      choice.reason = why;
    }
    const capabilities = Object.freeze({
      variant: info.variant, threads: info.threads, simd: true, environment: platform.environment, reason: choice.reason,
    });
    return { rpc, capabilities, generation: gen };
  }

  /**
   * Loads the wasm module in a worker. Idempotent: later calls return the same capabilities
   * (options of later calls are ignored until the worker is terminated).
   * @param {{ threads?: boolean|number, wasmPaths?: string|URL|object, modelsPath?: string|URL }} [options]
   */
  async function init(options = {}) {
    if (session) return session.capabilities;
    starting ??= start(options).then((s) => { session = s; return s; }).finally(() => { starting = null; });
    return (await starting).capabilities;
  }

  async function rpc() {
    if (!session) await init();
    return session.rpc;
  }

  async function call(op, args, extra) {
    return (await rpc()).call(op, args, extra);
  }

  async function images(list) {
    const out = [];
    const transfer = [];
    for (const image of list) {
      const { payload, transfer: t } = await platform.toImage(image);
      out.push(payload);
      transfer.push(...t);
    }
    return { payload: out, transfer };
  }

  class Classifier {
    #id;
    #rpc;
    #desc;
    #disposed = false;
    #training = null;
    #trainingId = 0; // the request id of the running train() call, for dispose() to abort it
    // What it takes to rebuild this classifier in a fresh module if its worker dies: how it was
    // made, the model its last train() made (null until then: a loaded classifier's model is its
    // origin's bytes) and a copy of every example as the worker stored it (RGB at the input size,
    // in the worker's order). null when created with keepCopy: false.
    #copy;
    #reviving = null;

    constructor(r, id, desc, copy) {
      this.#rpc = r;
      this.#id = id;
      this.#desc = desc;
      this.#copy = copy;
    }

    /** Class labels, in order. */
    get labels() { return [...this.#desc.labels]; }
    /** Labels of the trained head (null before training). */
    get trainedLabels() { return this.#desc.trainedLabels ? [...this.#desc.trainedLabels] : null; }
    /** [height, width] examples are stored at (the model's input size). */
    get inputSize() { return [...this.#desc.inputSize]; }
    get backbone() { return this.#desc.backbone; }
    get trained() { return this.#desc.trained; }
    /** Examples per class, as of the last call that changed them. */
    get counts() { return { ...this.#desc.counts }; }
    get disposed() { return this.#disposed; }

    async #call(op, args = {}, extra) {
      if (this.#disposed) throw new WebtuneError('WT_ERR_DISPOSED', 'webtune: this classifier was disposed; create or load a new one');
      if (this.#rpc.dead === 'terminated') {
        throw new WebtuneError('WT_ERR_WORKER', 'webtune: terminate() ended this classifier with its worker; create or load a new one');
      }
      if (this.#rpc.dead) await this.#revive();
      return this.#rpc.call(op, { id: this.#id, ...args }, extra);
    }

    /** After the worker died: the same classifier in a fresh one, from the caller's copy. */
    #revive() {
      if (!this.#copy) {
        return Promise.reject(new WebtuneError('WT_ERR_WORKER', 'webtune: this classifier was lost when its worker stopped ' +
          '(it was created with keepCopy: false); load a saved model into a new one'));
      }
      this.#reviving ??= (async () => {
        const r = await rpc();
        const { id, ...desc } = await r.call('restoreClassifier', {
          origin: this.#copy.origin, labels: this.#desc.labels, trainedLabels: this.#desc.trainedLabels,
          model: this.#copy.model, examples: this.#copy.examples,
        });
        if (this.#disposed) { r.call('dispose', { id }).catch(() => {}); return; }
        this.#rpc = r;
        this.#id = id;
        this.#desc = desc;
      })().finally(() => { this.#reviving = null; });
      return this.#reviving;
    }

    #update(desc) {
      this.#desc = { ...this.#desc, ...desc };
      return this;
    }

    async addClass(label) { return this.#update(await this.#call('addClass', { label })).labels; }
    async removeClass(label) {
      const labels = this.#update(await this.#call('removeClass', { label })).labels;
      if (this.#copy) this.#copy.examples = this.#copy.examples.filter((x) => x.label !== label);
      return labels;
    }

    async renameClass(from, to) {
      const labels = this.#update(await this.#call('renameClass', { from, to })).labels;
      if (this.#copy) for (const x of this.#copy.examples) if (x.label === from) x.label = to;
      return labels;
    }

    /** Removes the examples of one class, or all examples (labelled and unlabelled) with no label. */
    async clearExamples(label) {
      this.#update(await this.#call('clearExamples', { label }));
      if (this.#copy) this.#copy.examples = label == null ? [] : this.#copy.examples.filter((x) => x.label !== label);
    }

    #keep(label, r) {
      if (this.#copy) for (const data of r.stored) this.#copy.examples.push({ label, data });
      delete r.stored;
      return r;
    }

    /**
     * Adds one example to class `label`: encoded JPEG/PNG bytes, ImageData, ImageBitmap, a canvas,
     * an <img>, a <video> (its current frame), { data, width, height } RGBA (or RGB), or in Node a
     * file path. Returns the class's example count.
     */
    async addExample(label, image) {
      const { payload, transfer } = await images([image]);
      const r = this.#keep(label, await this.#call('addExamples', { label, images: payload, keep: !!this.#copy }, { transfer }));
      this.#desc.counts = { ...this.#desc.counts, [label]: r.count };
      return r.count;
    }

    /**
     * Adds many examples; images that cannot be decoded are skipped and reported in `errors`
     * (with their name, when they came from files), never thrown.
     * @returns {Promise<{ added: number, errors: Array<{ index: number, name?: string, code: string, message: string }>, count: number }>}
     */
    async addExamples(label, list) {
      const { payload, transfer } = await images(list);
      const r = this.#keep(label, await this.#call('addExamples', { label, images: payload, keep: !!this.#copy }, { transfer }));
      this.#desc.counts = { ...this.#desc.counts, [label]: r.count };
      return r;
    }

    /**
     * Adds unlabelled images of the domain the model will be used in (e.g. webcam frames nobody
     * labelled), for train({ domainAdaptation }) and train({ adaBN }).
     */
    async addUnlabeled(list) {
      const { payload, transfer } = await images(list);
      const r = this.#keep(null, await this.#call('addExamples', { label: null, images: payload, keep: !!this.#copy }, { transfer }));
      this.#desc.unlabeled = r.count;
      return r;
    }

    /** Unlabelled examples held. */
    get unlabeled() { return this.#desc.unlabeled ?? 0; }

    /** Every stored example as RGB bytes at the input size (for persisting a session). */
    async exportExamples() { return this.#call('exportExamples'); }

    /**
     * Trains on the examples. Resolves with the final metrics; rejects with code WT_ERR_ABORTED if
     * `signal` aborts (the previous model, if any, is kept).
     */
    async train(options = {}) {
      const { signal, onProgress, ...rest } = options;
      if (signal?.aborted) throw new WebtuneError('WT_ERR_ABORTED', 'webtune: training was aborted before it started');
      if (this.#training) throw new WebtuneError('WT_ERR_STATE', 'webtune: this classifier is already training');
      let started = null;
      let trainImages = 0;
      let lastEvent = null;
      const onEvent = (p) => {
        lastEvent = p;
        if (p.phase !== 'cache') {
          if (started === null) started = p.elapsedMs - 0;
          trainImages += p.images;
          const seconds = Math.max(1e-3, (p.elapsedMs - started) / 1000);
          p.imagesPerSecond = trainImages / seconds;
          const stepsLeft = p.totalSteps - p.step;
          p.etaSeconds = p.step > 0 ? (seconds / p.step) * stepsLeft : null;
        } else {
          p.imagesPerSecond = null;
          p.etaSeconds = null;
        }
        try { onProgress?.(p); } catch { /* a throwing callback must not break training */ }
      };
      const promise = this.#call('train', { options: rest }, { onEvent });
      const id = this.#rpc.lastId;
      this.#trainingId = id;
      const onAbort = () => this.#rpc.abort(id);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#training = promise;
      try {
        const result = await promise;
        // throughput is measured here, on the caller's side: the result carries the last event's
        result.imagesPerSecond = lastEvent?.imagesPerSecond ?? null;
        result.etaSeconds = lastEvent ? 0 : null;
        this.#update({ trained: true, trainedLabels: result.labels });
        if (this.#copy) {
          // the new model, kept on this side so that it outlives the worker
          this.#copy.model = await this.#rpc.call('save', { id: this.#id, options: {} }).catch(() => null);
        }
        return result;
      } finally {
        signal?.removeEventListener('abort', onAbort);
        this.#training = null;
      }
    }

    /** Top-k labels with probabilities for one image. */
    /** Top-k labels with probabilities; tta: also run the mirrored image and average. */
    async predict(image, { topK = 3, tta = false } = {}) {
      const { payload, transfer } = await images([image]);
      return (await this.#call('predict', { images: payload, topK, tta }, { transfer }))[0];
    }

    async predictBatch(list, { topK = 3, tta = false } = {}) {
      const { payload, transfer } = await images(list);
      return this.#call('predict', { images: payload, topK, tta }, { transfer });
    }

    /**
     * Accuracy, per-class accuracy and confusion matrix (rows: true class, columns: predicted)
     * on labelled images: [{ image, label }].
     */
    async evaluate(items, { tta = false } = {}) {
      const list = [...items];
      const { payload, transfer } = await images(list.map((x) => x.image));
      return this.#call('evaluate', { items: payload.map((image, i) => ({ image, label: list[i].label })), tta }, { transfer });
    }

    /** The trained model as webtune model-file bytes (labels and preprocessing included). */
    async save({ fp16 = false } = {}) { return this.#call('save', { options: { fp16 } }); }

    /** Releases the classifier's memory in the worker. Idempotent; later calls throw. */
    async dispose() {
      if (this.#disposed) return;
      if (this.#training) {
        this.#rpc.abort(this.#trainingId);
        await this.#training.catch(() => {});
      }
      this.#disposed = true;
      this.#copy = null;
      await this.#reviving?.catch(() => {});
      if (!this.#rpc.dead) await this.#rpc.call('dispose', { id: this.#id });
    }
  }

  /**
   * A new classifier on a backbone: the default one, a shipped name ('mobilenet_v1_0.25_224'), a
   * URL or path (.webtune or TF.js model.json), { bytes } of a webtune file, or
   * { modelJson, weights } of a TF.js model (e.g. a Teachable Machine export).
   */
  async function createClassifier(options = {}) {
    const r = await rpc();
    let { backbone } = options;
    if (backbone && typeof backbone === 'object' && (backbone.bytes || backbone.weights)) backbone = await platform.backboneArgs(backbone);
    const { keepCopy = true, ...rest } = options;
    const origin = { ...rest, backbone };
    const { id, ...desc } = await r.call('createClassifier', origin);
    return new Classifier(r, id, desc, keepCopy ? { origin, model: null, examples: [] } : null);
  }

  /** A classifier from bytes written by classifier.save(). */
  async function loadClassifier(bytes, options = {}) {
    const r = await rpc();
    const { keepCopy = true, ...rest } = options;
    const origin = { bytes: await platform.bytesOf(bytes), ...rest };
    const { id, ...desc } = await r.call('loadClassifier', origin);
    return new Classifier(r, id, desc, keepCopy ? { origin, model: null, examples: [] } : null);
  }

  async function listBackbones() { return call('listBackbones'); }

  /** Bytes the wasm heap holds (it grows, never shrinks). */
  async function memory() { return call('memory'); }

  function capabilities() { return session ? session.capabilities : null; }

  /** Tests of failure isolation only: kind 'abort' aborts the wasm module, 'exit' ends the worker. */
  async function crashForTesting(kind) { return call('crashForTesting', { kind }); }

  /** Stops the worker. Classifiers are gone; a later call starts a fresh one. */
  async function terminate() {
    if (starting) await starting.catch(() => {});
    if (!session) return;
    const s = session;
    session = null;
    s.rpc.dead = 'terminated';
    await s.rpc.worker.terminate();
  }

  return { init, capabilities, createClassifier, loadClassifier, listBackbones, memory, terminate, crashForTesting, WebtuneError };
}
