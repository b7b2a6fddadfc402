// tfjs_reference.mjs: TensorFlow.js (CPU backend, in Node) as the framework of record for the
// TF.js-layers importer. For a backbone directory (model.json + shards) and a batch of
// preprocessed NHWC float32 images it returns what TF.js computes:
//   embedding  global average pooling of the cut layer's output (conv_pw_13_relu for MobileNet v1,
//              out_relu for v2, as wt_import_tfjs cuts by default), [n, C]
//   output     the model's final output (for both shared backbones: softmax probabilities), [n, K]
//
// As a module:
//   import { tfjsReference } from './tfjs_reference.mjs';
//   const { embedding, output, embeddingDim, outputDim } = await tfjsReference(dir, images, n);
// As a script (writes a reference file the C test test_import compares against):
//   node tests/js/tfjs_reference.mjs <backbone dir> <out.bin> [n_images] [inputs.f32]
//   inputs.f32 (optional): n*224*224*3 little-endian floats; default: deterministic patterns.
// File layout (little-endian): "WTREF1\0\0", int32 n, h, w, c, embedding_dim, output_dim, then
// float32 inputs [n*h*w*c], embeddings [n*embedding_dim], outputs [n*output_dim].
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';

const DEFAULT_CUTS = ['conv_pw_13_relu', 'out_relu'];

// Node has no fetch for file:// URLs: an IOHandler that reads model.json and its shards with fs.
function fileHandler(dir) {
  return {
    async load() {
      const model = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      const weightSpecs = [];
      const buffers = [];
      for (const group of model.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: model.modelTopology,
        weightSpecs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
        format: model.format,
        generatedBy: model.generatedBy,
        convertedBy: model.convertedBy,
      };
    },
  };
}

const cache = new Map();
export async function loadTfjsModel(dir) {
  if (!cache.has(dir)) cache.set(dir, tf.loadLayersModel(fileHandler(dir)));
  return cache.get(dir);
}

// The (sub)model that directly contains layer `name`, searching nested models depth first.
function findOwner(model, name) {
  for (const layer of model.layers) {
    if (layer.name === name) return model;
    if (Array.isArray(layer.layers)) {
      const owner = findOwner(layer, name);
      if (owner) return owner;
    }
  }
  return null;
}

// A function image batch -> cut layer output. The sub-model owning the cut must read the network
// input directly (true for both shared backbones: the cut lives in the first nested stage).
function cutFunction(model, cutLayer) {
  const owner = findOwner(model, cutLayer);
  if (!owner) throw new Error(`tfjs_reference: no layer named ${cutLayer}`);
  const sub = tf.model({ inputs: owner.inputs, outputs: owner.getLayer(cutLayer).output });
  return (x) => sub.predict(x);
}

function defaultCut(model) {
  for (const name of DEFAULT_CUTS) if (findOwner(model, name)) return name;
  throw new Error('tfjs_reference: no default cut layer (conv_pw_13_relu or out_relu)');
}

/** Runs TF.js on `images` (Float32Array, n*224*224*3, NHWC, already scaled to [-1, 1]). */
export async function tfjsReference(dir, images, n, { cutLayer } = {}) {
  await tf.setBackend('cpu');
  await tf.ready();
  const model = await loadTfjsModel(dir);
  const [, h, w, c] = model.inputs[0].shape;
  if (images.length !== n * h * w * c) throw new Error(`tfjs_reference: expected ${n}x${h}x${w}x${c} floats`);
  const cut = cutFunction(model, cutLayer ?? defaultCut(model));
  return tf.tidy(() => {
    const x = tf.tensor4d(images, [n, h, w, c]);
    const emb = tf.mean(cut(x), [1, 2]);
    const out = model.predict(x).reshape([n, -1]);
    return {
      embedding: emb.dataSync().slice(),
      embeddingDim: emb.shape[1],
      output: out.dataSync().slice(),
      outputDim: out.shape[1],
      inputShape: [h, w, c],
    };
  });
}

/** Deterministic smooth test images in [-1, 1] (different per image, all channels used). */
export function patternImages(n, h = 224, w = 224, c = 3) {
  const x = new Float32Array(n * h * w * c);
  let i = 0;
  for (let k = 0; k < n; k++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++)
        for (let ch = 0; ch < c; ch++)
          x[i++] = 0.9 * Math.sin(0.031 * (k + 1) * (y + 1) + 0.047 * (ch + 1) * xx + 0.5 * k);
  return x;
}

export function writeReferenceFile(file, images, ref, n) {
  const [h, w, c] = ref.inputShape;
  const header = Buffer.alloc(32);
  header.write('WTREF1\0\0', 0, 'latin1');
  [n, h, w, c, ref.embeddingDim, ref.outputDim].forEach((v, k) => header.writeInt32LE(v, 8 + 4 * k));
  const f32 = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  fs.writeFileSync(file, Buffer.concat([header, f32(images), f32(ref.embedding), f32(ref.output)]));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const [dir, out, nArg, inputsFile] = process.argv.slice(2);
  if (!dir || !out) {
    console.error('usage: node tests/js/tfjs_reference.mjs <backbone dir> <out.bin> [n_images] [inputs.f32]');
    process.exit(2);
  }
  const n = Number(nArg ?? 3);
  let images;
  if (inputsFile) {
    const b = fs.readFileSync(inputsFile);
    images = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  } else {
    images = patternImages(n);
  }
  const ref = await tfjsReference(dir, images, n);
  writeReferenceFile(out, images, ref, n);
  console.log(`tfjs_reference: ${dir}: ${n} images, embedding ${ref.embeddingDim}-d, output ${ref.outputDim}-d -> ${out}`);
}
