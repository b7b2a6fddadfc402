// core.js: a thin, environment-neutral wrapper over the exported C API of a loaded module.
// Every C call returns a status; a non-zero status becomes a WebtuneError carrying the status
// name as .code and the C side's last-error message.

export class WebtuneError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'WebtuneError';
    this.code = code;
  }
}

export function wrapModule(M, variant) {
  const statusName = (s) => M.UTF8ToString(M._wtjs_status_name(s));
  const lastError = () => M.UTF8ToString(M._wtjs_last_error());
  // Views of the heap must be re-created after memory grows (the buffer is replaced).
  const heapF32 = () => new Float32Array(M.HEAPF32.buffer);

  /** Calls C function `name`; throws a WebtuneError unless it returns WT_OK. */
  function call(name, ...args) {
    const fn = M[`_${name}`];
    if (typeof fn !== 'function') throw new TypeError(`webtune: no exported function ${name}`);
    const status = fn(...args);
    if (status !== 0) throw new WebtuneError(statusName(status), `${lastError()} (${statusName(status)})`);
    return status;
  }

  /** Runs fn(ptr) with `bytes` of scratch memory, freed afterwards. */
  function withScratch(bytes, fn) {
    const ptr = M._wtjs_malloc(Math.max(bytes, 4));
    if (!ptr) throw new WebtuneError('WT_ERR_OUT_OF_MEMORY', `webtune: cannot allocate ${bytes} bytes in the wasm heap`);
    try {
      return fn(ptr);
    } finally {
      M._wtjs_free(ptr);
    }
  }

  /** Calls a C function whose last argument is an int32 out-parameter, returns that value. */
  function callOutInt(name, ...args) {
    return withScratch(4, (out) => {
      call(name, ...args, out);
      return new Int32Array(M.HEAP32.buffer)[out >> 2];
    });
  }

  /** Copies a Float32Array into the heap for the duration of fn(ptr). */
  function withFloats(array, fn) {
    return withScratch(array.length * 4, (ptr) => {
      heapF32().set(array, ptr >> 2);
      return fn(ptr);
    });
  }

  function withCString(str, fn) {
    if (str == null) return fn(0);
    const n = M.lengthBytesUTF8(str) + 1;
    return withScratch(n, (ptr) => {
      M.stringToUTF8(str, ptr, n);
      return fn(ptr);
    });
  }

  /** Reads `count` floats through a C call that fills a buffer: name(...args, dst, count). */
  function readFloats(name, count, ...args) {
    return withScratch(count * 4, (ptr) => {
      call(name, ...args, ptr, count);
      return heapF32().slice(ptr >> 2, (ptr >> 2) + count); // a copy, never a view of the heap
    });
  }

  /** Allocates `bytes` in the wasm heap; the caller frees it with free(). */
  function alloc(bytes) {
    const ptr = M._wtjs_malloc(Math.max(bytes, 4));
    if (!ptr) throw new WebtuneError('WT_ERR_OUT_OF_MEMORY', `webtune: cannot allocate ${bytes} bytes in the wasm heap`);
    return ptr;
  }

  /** Copies a Uint8Array into a new heap allocation; returns its pointer (free it with free()). */
  function allocCopy(u8) {
    const ptr = alloc(u8.length);
    new Uint8Array(M.HEAPU8.buffer).set(u8, ptr);
    return ptr;
  }

  function allocCString(str) {
    const n = M.lengthBytesUTF8(str) + 1;
    const ptr = alloc(n);
    M.stringToUTF8(str, ptr, n);
    return ptr;
  }

  return {
    module: M,
    alloc,
    allocCopy,
    allocCString,
    free: (ptr) => M._wtjs_free(ptr),
    heapU8: () => new Uint8Array(M.HEAPU8.buffer),
    heapI32: () => new Int32Array(M.HEAP32.buffer),
    heapU32: () => new Uint32Array(M.HEAPU32.buffer),
    heapF32,
    variant,
    threadsCompiled: M._wtjs_threads_compiled() === 1,
    statusName,
    lastError,
    call,
    callOutInt,
    withScratch,
    withFloats,
    withCString,
    readFloats,
    heapBytes: () => M.HEAPU8.buffer.byteLength,
  };
}

/** Enum values of include/webtune.h (append-only there, so stable here). */
export const Layer = Object.freeze({
  CONV2D: 1, DEPTHWISE: 2, DENSE: 3, BATCHNORM: 4, RELU: 5, RELU6: 6, ADD: 7,
  GLOBAL_AVG_POOL: 8, DROPOUT: 9, GRAD_REVERSAL: 10, L2_NORMALIZE: 11, CONCAT: 12,
});
export const Padding = Object.freeze({ SAME: 0, VALID: 1, EXPLICIT: 2 });
export const BnMode = Object.freeze({ FROZEN: 0, BATCH_STATS: 1 });
export const Optimizer = Object.freeze({ SGD: 0, ADAM: 1, ADAMW: 2 });
export const Schedule = Object.freeze({ CONSTANT: 0, STEP: 1, COSINE: 2 });

/** Adds a layer through the flat export; fields as in wt_layer_desc. Returns the node id. */
export function addLayer(core, net, d) {
  return core.withCString(d.name ?? null, (namePtr) =>
    core.callOutInt('wtjs_net_add', net, d.type, namePtr, d.input ?? 0, d.input2 ?? 0, d.outChannels ?? 0,
      d.kernelH ?? 0, d.kernelW ?? 0, d.stride ?? 0, d.padding ?? 0, d.padTop ?? 0, d.padBottom ?? 0,
      d.padLeft ?? 0, d.padRight ?? 0, d.useBias ? 1 : 0, d.bnMode ?? 0, d.bnEpsilon ?? 0, d.bnMomentum ?? 0,
      d.dropoutRate ?? 0, d.grlLambda ?? 0));
}

/** Creates an optimizer through the flat export; fields as in wt_optimizer_desc. Returns its handle. */
export function createOptimizer(core, net, d) {
  return core.callOutInt('wtjs_optimizer_create', net, d.type, d.learningRate, d.momentum ?? 0, d.beta1 ?? 0,
    d.beta2 ?? 0, d.epsilon ?? 0, d.weightDecay ?? 0, d.schedule ?? 0, d.warmupSteps ?? 0, d.stepSize ?? 0,
    d.gamma ?? 0, d.totalSteps ?? 0, d.minLearningRate ?? 0);
}
