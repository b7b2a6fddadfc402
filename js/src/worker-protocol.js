// worker-protocol.js: the worker's side of the request/response protocol.
// Requests: { id, op, args }. Replies: { id, ok: true, result } | { id, ok: false, error: { code, message } },
// and for train, { id, event } per step. { op: 'abort', target } stops the training request `target`.
// ArrayBuffers in results (saved models, exported examples) are transferred, not copied.

/** Ops the engine answers; each gets (engine, args, ctx) and returns a value or a promise. */
const OPS = {
  info: (e) => e.info(),
  listBackbones: (e) => e.env.listBackbones(),
  createClassifier: (e, a) => e.createClassifier(a),
  loadClassifier: (e, a) => e.loadClassifier(a),
  describe: (e, a) => e.describe(e.get(a.id)),
  addClass: (e, a) => e.addClass(a.id, a.label),
  renameClass: (e, a) => e.renameClass(a.id, a.from, a.to),
  removeClass: (e, a) => e.removeClass(a.id, a.label),
  clearExamples: (e, a) => e.clearExamples(a.id, a.label),
  addExamples: (e, a) => e.addExamples(a.id, a.label, a.images, a.keep),
  restoreClassifier: (e, a) => e.restoreClassifier(a),
  exportExamples: (e, a) => e.exportExamples(a.id),
  train: (e, a, ctx) => e.train(a.id, a.options ?? {}, ctx.id, ctx.event, ctx.yieldNow),
  predict: (e, a) => e.predict(a.id, a.images, a.topK, a.tta),
  evaluate: (e, a) => e.evaluate(a.id, a.items, a.tta),
  save: (e, a) => e.save(a.id, a.options ?? {}),
  dispose: (e, a) => e.dispose(a.id),
  memory: (e) => ({ heapBytes: e.M._wtjs_heap_bytes() }),
  // for tests of failure isolation only: 'abort' aborts the wasm module, 'exit' ends the worker
  crashForTesting: (e, a, ctx) => (a.kind === 'exit' ? ctx.exit() : e.M._wtjs_abort_for_testing()),
};

/** Errors after which the module cannot be used again: the worker reports them and ends. */
function isFatal(e) {
  return (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) || /^Aborted\(/.test(e?.message ?? '');
}

function transferables(value, out = [], seen = new Set()) {
  if (!value || typeof value !== 'object' || seen.has(value)) return out;
  seen.add(value);
  if (ArrayBuffer.isView(value)) {
    if (!seen.has(value.buffer) && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength) {
      seen.add(value.buffer);
      out.push(value.buffer);
    }
    return out;
  }
  for (const v of Array.isArray(value) ? value : Object.values(value)) transferables(v, out, seen);
  return out;
}

/**
 * @param {Promise<object>} enginePromise  resolves to an Engine once the wasm module is loaded
 * @param {(msg: object, transfer?: ArrayBuffer[]) => void} post
 * @param {() => Promise<void>} yieldNow  lets queued messages (an abort) run
 * @returns {(msg: object) => void} the message handler (install it synchronously)
 */
export function createHandler(enginePromise, post, yieldNow, exit = () => globalThis.close?.()) {
  return async (msg) => {
    const { id, op, args } = msg;
    let engine;
    try {
      engine = await enginePromise;
    } catch (e) {
      if (id !== undefined) post({ id, ok: false, error: { code: e.code ?? 'WT_ERR_INIT', message: e.message } });
      return;
    }
    if (op === 'abort') {
      engine.abort(msg.target);
      return;
    }
    const fn = OPS[op];
    try {
      if (!fn) throw Object.assign(new Error(`webtune worker: unknown op ${op}`), { code: 'WT_ERR_INVALID_ARGUMENT' });
      const result = await fn(engine, args ?? {}, { id, event: (event) => post({ id, event }), yieldNow, exit });
      post({ id, ok: true, result }, transferables(result));
    } catch (e) {
      if (isFatal(e)) {
        // the wasm module is unusable (aborted, or a trap): fail this call, then end the worker so
        // the caller's next call starts a fresh one
        post({ id, ok: false, fatal: true, error: { code: 'WT_ERR_MODULE_ABORTED', message: `webtune: the wasm module stopped (${e.message}); the next call starts a fresh one` } });
        exit();
        return;
      }
      post({ id, ok: false, error: { code: e.code ?? 'WT_ERR_INTERNAL', message: e.message ?? String(e) } });
    }
  };
}
