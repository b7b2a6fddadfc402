// models.js: importing TF.js layers-format models, webtune model files, and running a net on a
// batch, over the exported C API (see web/webtune_js.c). Environment-neutral: callers bring bytes.

const te = new TextEncoder();

/** Resize filters and crops of wt_preprocess. */
export const Filter = Object.freeze({ BILINEAR: 0, AREA: 1 });
export const Crop = Object.freeze({ CENTER: 0, NONE: 1 });

/**
 * Lists the weight files a model.json needs (paths as written in its manifest).
 * @param {object} core  a wrapped module (core.js)
 * @param {string|Uint8Array} modelJson
 */
export function tfjsWeightPaths(core, modelJson) {
  const json = typeof modelJson === 'string' ? te.encode(modelJson) : modelJson;
  const jsonPtr = core.allocCopy(json);
  try {
    return core.withScratch(8, (out) => {
      core.call('wt_tfjs_weight_paths', jsonPtr, json.length, out, out + 4);
      const strPtr = core.heapU32()[out >> 2];
      const text = core.module.UTF8ToString(strPtr);
      core.module._wt_tfjs_paths_free(strPtr);
      return text.split('\n').filter((p) => p.length > 0);
    });
  } finally {
    core.free(jsonPtr);
  }
}

/**
 * Builds a net from a TF.js layers model.
 * @param {object} core
 * @param {number} ctx  context handle
 * @param {string|Uint8Array} modelJson
 * @param {Map<string, Uint8Array>|Record<string, Uint8Array>} files  weight shards by manifest path
 * @param {{cutLayer?: string|null, noPooling?: boolean, bnMode?: number, inH?: number, inW?: number}} [options]
 *   cutLayer: undefined/null = default transfer-learning cut, '' = the whole model with its head.
 * @returns {{ net: number, info: object }}
 */
export function importTfjs(core, ctx, modelJson, files, options = {}) {
  const json = typeof modelJson === 'string' ? te.encode(modelJson) : modelJson;
  const entries = files instanceof Map ? [...files.entries()] : Object.entries(files);
  const owned = [];
  const keep = (ptr) => (owned.push(ptr), ptr);
  try {
    const jsonPtr = keep(core.allocCopy(json));
    const n = entries.length;
    const pathsPtr = keep(core.alloc(4 * n));
    const bytesPtr = keep(core.alloc(4 * n));
    const lensPtr = keep(core.alloc(4 * n));
    entries.forEach(([path, bytes], i) => {
      const p = keep(core.allocCString(path));
      const b = keep(core.allocCopy(bytes));
      const u32 = core.heapU32();
      u32[(pathsPtr >> 2) + i] = p;
      u32[(bytesPtr >> 2) + i] = b;
      u32[(lensPtr >> 2) + i] = bytes.length;
    });
    const cut = options.cutLayer == null ? 0 : keep(core.allocCString(options.cutLayer));
    const outPtr = keep(core.alloc(4 + 11 * 4));
    core.call('wtjs_import_tfjs', ctx, jsonPtr, json.length, pathsPtr, bytesPtr, lensPtr, n, cut,
      options.noPooling ? 1 : 0, options.bnMode ?? 0, options.inH ?? 0, options.inW ?? 0, outPtr, outPtr + 4);
    const i32 = core.heapI32();
    const net = i32[outPtr >> 2];
    const v = Array.from(i32.subarray((outPtr >> 2) + 1, (outPtr >> 2) + 12));
    const [outputNode, embeddingNode, embeddingDim, logitsNode, nOutputs, outputSoftmax, inH, inW, inC, nLayers, nWeights] = v;
    return {
      net,
      info: { outputNode, embeddingNode, embeddingDim, logitsNode, nOutputs, outputSoftmax: outputSoftmax === 1, inH, inW, inC, nLayers, nWeights },
    };
  } finally {
    for (const p of owned) core.free(p);
  }
}

/** Shape [h, w, c] of a node's output. */
export function nodeShape(core, net, node) {
  return core.withScratch(12, (p) => {
    core.call('wt_net_node_shape', net, node, p, p + 4, p + 8);
    return Array.from(core.heapI32().subarray(p >> 2, (p >> 2) + 3));
  });
}

/**
 * Runs the net (inference) on `batch` images and returns a copy of each requested node's output.
 * The net must be planned for at least `batch`.
 * @param {Float32Array} input  batch*h*w*c floats, NHWC
 * @param {number[]} nodes
 */
export function forward(core, net, input, batch, nodes, training = false) {
  core.withFloats(input, (ptr) => core.call('wt_net_forward', net, ptr, batch, training ? 1 : 0));
  return nodes.map((node) => {
    const [h, w, c] = nodeShape(core, net, node);
    return core.readFloats('wt_net_read_output', batch * h * w * c, net, node);
  });
}

/**
 * Encoded JPEG/PNG bytes -> Float32Array (outH*outW*3) as the model expects it.
 * scale/offset 0/0 = MobileNet's [-1, 1].
 */
export function imageToTensor(core, bytes, { outH = 224, outW = 224, filter = Filter.BILINEAR, crop = Crop.CENTER, scale = 0, offset = 0 } = {}) {
  const src = core.allocCopy(bytes);
  try {
    return core.readFloats('wtjs_image_to_tensor', outH * outW * 3, src, bytes.length, outH, outW, filter, crop, scale, offset);
  } finally {
    core.free(src);
  }
}

/** Decodes JPEG/PNG bytes to { width, height, pixels: Uint8Array (RGB) }. */
export function decodeImage(core, bytes) {
  const src = core.allocCopy(bytes);
  try {
    return core.withScratch(8, (wh) => {
      let status = core.module._wtjs_image_decode_into(src, bytes.length, 0, 0, wh);
      if (status !== 0 && core.statusName(status) !== 'WT_ERR_SHAPE') core.call('wtjs_image_decode_into', src, bytes.length, 0, 0, wh);
      const [width, height] = core.heapI32().subarray(wh >> 2, (wh >> 2) + 2);
      const n = width * height * 3;
      const out = core.alloc(n);
      try {
        core.call('wtjs_image_decode_into', src, bytes.length, out, n, wh);
        return { width, height, pixels: core.heapU8().slice(out, out + n) };
      } finally {
        core.free(out);
      }
    });
  } finally {
    core.free(src);
  }
}

/**
 * Saves a net as a webtune model file. meta: { labels?, preprocess?: {outH, outW, filter, crop, scale, offset},
 * backboneName?, backboneSha256?: Uint8Array(32), embeddingNode?, logitsNode?, outputSoftmax? }.
 * @returns {Uint8Array}
 */
export function saveModel(core, net, meta = {}, { fp16 = false } = {}) {
  const labels = meta.labels ?? [];
  const packed = te.encode(labels.map((l) => `${l}\0`).join(''));
  const p = meta.preprocess ?? {};
  const owned = [];
  const keep = (ptr) => (owned.push(ptr), ptr);
  try {
    const labelsPtr = keep(core.allocCopy(packed));
    const namePtr = meta.backboneName ? keep(core.allocCString(meta.backboneName)) : 0;
    const shaPtr = meta.backboneSha256 ? keep(core.allocCopy(meta.backboneSha256)) : 0;
    const out = keep(core.alloc(8));
    core.call('wtjs_model_save', net, labelsPtr, labels.length, p.outH ?? 0, p.outW ?? 0, p.filter ?? 0, p.crop ?? 0,
      p.scale ?? 0, p.offset ?? 0, namePtr, shaPtr, meta.embeddingNode ?? -1, meta.logitsNode ?? -1,
      meta.outputSoftmax ? 1 : 0, fp16 ? 1 : 0, out, out + 4);
    const [bytesPtr, len] = core.heapU32().subarray(out >> 2, (out >> 2) + 2);
    const bytes = core.heapU8().slice(bytesPtr, bytesPtr + len);
    core.module._wt_free_bytes(bytesPtr);
    return bytes;
  } finally {
    for (const ptr of owned) core.free(ptr);
  }
}

/** Loads a webtune model file: returns { net, meta }. The net is not planned. */
export function loadModel(core, ctx, bytes) {
  const src = core.allocCopy(bytes);
  try {
    return core.withScratch(8 + 32, (out) => {
      core.call('wt_model_load', ctx, src, bytes.length, out, out + 4);
      const [net, metaPtr] = core.heapU32().subarray(out >> 2, (out >> 2) + 2);
      try {
        const ints = out + 8;
        core.module._wtjs_meta_ints(metaPtr, ints);
        const [nLabels, outH, outW, filter, crop, embeddingNode, logitsNode, outputSoftmax] =
          core.heapI32().subarray(ints >> 2, (ints >> 2) + 8);
        const labels = [];
        for (let i = 0; i < nLabels; i++) labels.push(core.module.UTF8ToString(core.module._wtjs_meta_label(metaPtr, i)));
        const shaPtr = core.module._wtjs_meta_backbone_sha256(metaPtr);
        const meta = {
          labels,
          preprocess: { outH, outW, filter, crop, scale: core.module._wtjs_meta_scale(metaPtr), offset: core.module._wtjs_meta_offset(metaPtr) },
          backboneName: core.module.UTF8ToString(core.module._wtjs_meta_backbone_name(metaPtr)),
          backboneSha256: core.heapU8().slice(shaPtr, shaPtr + 32),
          embeddingNode, logitsNode, outputSoftmax: outputSoftmax === 1,
        };
        return { net, meta };
      } finally {
        core.module._wt_model_meta_free(metaPtr);
      }
    });
  } finally {
    core.free(src);
  }
}

/** SHA-256 of a net's parameters up to `upToNode` (-1 = all): identifies a backbone. */
export function weightsSha256(core, net, upToNode = -1) {
  return core.withScratch(32, (p) => {
    core.call('wt_net_weights_sha256', net, upToNode, p);
    return core.heapU8().slice(p, p + 32);
  });
}

/** Softmax over the last axis of [n, k] logits (float64 internally). */
export function softmax(logits, k) {
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i += k) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[i + j]);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(logits[i + j] - max);
    for (let j = 0; j < k; j++) out[i + j] = Math.exp(logits[i + j] - max) / sum;
  }
  return out;
}
