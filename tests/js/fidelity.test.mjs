// Fidelity of imported backbones against TensorFlow.js (CPU backend) as the reference, on real
// photos from ../shared/datasets/flowers/test, in both wasm variants:
// - preprocessing: webtune's decode+resize+crop+scale vs TF.js resizeBilinear on the same pixels;
// - embeddings at the default cut: per image, max|webtune - tfjs| / max|tfjs| <= 1e-4;
// - MobileNet v1 0.25 with its ImageNet head: the same top-1 class on every photo;
// - the Teachable Machine export with its own head: the same probabilities within 1e-4;
// - the round trip TF.js -> webtune file -> loaded net: bit-exact (f32); in f16 every weight within
//   1e-3 relative and the same predictions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { loadCoreNode } from '../../js/src/core-node.js';
import { readTfjsModel } from '../../js/src/tfjs-files-node.js';
import { importTfjs, forward, imageToTensor, decodeImage, saveModel, loadModel, softmax } from '../../js/src/models.js';
import { tfjsReference } from './tfjs_reference.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.WT_SHARED_DIR ?? path.resolve(root, '..', 'shared');
const V1 = path.join(shared, 'backbones', 'mobilenet_v1_0.25_224');
const TM = path.join(shared, 'backbones', 'teachable_machine_mobilenet_v2_0.35_224');
const TEST_DIR = path.join(shared, 'datasets', 'flowers', 'test');
const BATCH = 10;

const photos = readdirSync(TEST_DIR).sort().flatMap((cls) =>
  readdirSync(path.join(TEST_DIR, cls)).sort().map((f) => path.join(TEST_DIR, cls, f)));

/** Relative error of one image's vector: max|a-b| / max|b|. */
function relErr(a, b) {
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

function argmax(v) {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

function freezeAll(core, net) {
  const n = core.module._wt_net_node_count(net);
  for (let i = 1; i < n; i++) core.call('wt_net_set_trainable', net, i, 0);
}

/** Runs `nodes` of net over all inputs in batches; returns one Float32Array per node. */
function runAll(core, net, inputs, perImage, n, nodes) {
  core.call('wt_net_plan', net, BATCH);
  const outs = nodes.map(() => []);
  for (let i = 0; i < n; i += BATCH) {
    const b = Math.min(BATCH, n - i);
    const res = forward(core, net, inputs.subarray(i * perImage, (i + b) * perImage), b, nodes);
    res.forEach((r, k) => outs[k].push(r));
  }
  return outs.map((chunks) => Float32Array.from(chunks.flatMap((c) => Array.from(c))));
}

const perImage = 224 * 224 * 3;
let inputs; // webtune-preprocessed photos, shared by every check
const reference = new Map();
/** TF.js's embeddings and outputs for every photo, computed in batches to bound its memory. */
async function tfjsFor(dir) {
  if (!reference.has(dir)) {
    await getInputs();
    const parts = [];
    for (let i = 0; i < photos.length; i += BATCH) {
      const n = Math.min(BATCH, photos.length - i);
      parts.push(await tfjsReference(dir, inputs.subarray(i * perImage, (i + n) * perImage), n));
    }
    const cat = (key) => Float32Array.from(parts.flatMap((p) => Array.from(p[key])));
    reference.set(dir, { ...parts[0], embedding: cat('embedding'), output: cat('output') });
  }
  return reference.get(dir);
}

/** Every test photo decoded and preprocessed by webtune, once. */
async function getInputs() {
  if (!inputs) {
    const core = await loadCoreNode('st');
    inputs = new Float32Array(photos.length * perImage);
    photos.forEach((file, i) => inputs.set(imageToTensor(core, readFileSync(file)), i * perImage));
  }
  return inputs;
}

/** Runs fn(ctx) with a fresh context that is destroyed afterwards, even on failure (live worker
 * threads would keep Node running). */
async function withContext(core, threads, fn) {
  const ctx = core.callOutInt('wtjs_context_create', threads, 0);
  try {
    return await fn(ctx);
  } finally {
    core.module._wt_context_destroy(ctx);
  }
}

test('all 100 test photos are used', () => assert.equal(photos.length, 100));

test('preprocessing matches TF.js resizeBilinear(halfPixelCenters) + centre crop + [-1,1] on the same pixels', async () => {
  const core = await loadCoreNode('st');
  await getInputs();
  await tf.setBackend('cpu');
  let worst = 0;
  for (const file of photos.slice(0, 25)) {
    const { width, height, pixels } = decodeImage(core, readFileSync(file));
    // the documented geometry: cover 224x224 keeping the aspect ratio, then the middle
    const [rh, rw] = width * 224 >= height * 224 ? [224, Math.round(width * 224 / height)] : [Math.round(height * 224 / width), 224];
    const y0 = Math.floor((rh - 224) / 2), x0 = Math.floor((rw - 224) / 2);
    const ref = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(pixels, [height, width, 3], 'float32'), [rh, rw], false, true)
      .slice([y0, x0, 0], [224, 224, 3]).div(127.5).sub(1).dataSync());
    const ours = imageToTensor(core, readFileSync(file));
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - ref[i]));
  }
  assert.ok(worst <= 1e-6, `preprocessing differs from TF.js by up to ${worst}`);
});

for (const [variant, threads] of [['st', 1], ['mt', 2]]) {
  test(`${variant}: embeddings of both backbones match TF.js within 1e-4 on all ${photos.length} test photos`, async () => {
    const core = await loadCoreNode(variant);
    await getInputs();
    await withContext(core, threads, async (ctx) => { for (const dir of [V1, TM]) {
      const ref = await tfjsFor(dir);
      const { net, info } = importTfjs(core, ctx, ...Object.values(readTfjsModel(core, path.join(dir, 'model.json'))));
      assert.equal(info.embeddingDim, ref.embeddingDim);
      freezeAll(core, net);
      const [emb] = runAll(core, net, inputs, perImage, photos.length, [info.embeddingNode]);
      let worst = 0;
      for (let i = 0; i < photos.length; i++) {
        const d = info.embeddingDim;
        worst = Math.max(worst, relErr(emb.subarray(i * d, (i + 1) * d), ref.embedding.subarray(i * d, (i + 1) * d)));
      }
      assert.ok(worst <= 1e-4, `${path.basename(dir)}: worst per-image relative error ${worst}`);
      core.module._wt_net_destroy(net);
    } });
  });

  test(`${variant}: whole models: v1's ImageNet top-1 and the TM head's probabilities match TF.js`, async () => {
    const core = await loadCoreNode(variant);
    await getInputs();
    await withContext(core, threads, async (ctx) => { for (const dir of [V1, TM]) {
      const ref = await tfjsFor(dir);
      const { json, files } = readTfjsModel(core, path.join(dir, 'model.json'));
      const { net, info } = importTfjs(core, ctx, json, files, { cutLayer: '' });
      assert.equal(info.nOutputs, ref.outputDim);
      assert.equal(info.outputSoftmax, true);
      freezeAll(core, net);
      const [logits] = runAll(core, net, inputs, perImage, photos.length, [info.logitsNode]);
      const probs = softmax(logits, info.nOutputs);
      const k = info.nOutputs;
      let sameTop1 = 0, worstProb = 0;
      for (let i = 0; i < photos.length; i++) {
        const ours = probs.subarray(i * k, (i + 1) * k), theirs = ref.output.subarray(i * k, (i + 1) * k);
        if (argmax(ours) === argmax(theirs)) sameTop1++;
        for (let j = 0; j < k; j++) worstProb = Math.max(worstProb, Math.abs(ours[j] - theirs[j]));
      }
      assert.equal(sameTop1, photos.length, `${path.basename(dir)}: top-1 differs on ${photos.length - sameTop1} photos`);
      if (dir === TM) assert.ok(worstProb <= 1e-4, `TM probabilities differ by up to ${worstProb}`);
      core.module._wt_net_destroy(net);
    } });
  });
}

test('round trip TF.js -> webtune file -> loaded net: bit-exact in float32, within 1e-3 in float16', async () => {
  const core = await loadCoreNode('mt');
  await getInputs();
  await withContext(core, 2, async (ctx) => {
  const { json, files } = readTfjsModel(core, path.join(TM, 'model.json'));
  const { net, info } = importTfjs(core, ctx, json, files, { cutLayer: '' });
  freezeAll(core, net);
  const sample = inputs.subarray(0, BATCH * perImage);
  const [want] = runAll(core, net, sample, perImage, BATCH, [info.logitsNode]);
  for (const fp16 of [false, true]) {
    const bytes = saveModel(core, net, { labels: ['a', 'b', 'c', 'd', 'e'], logitsNode: info.logitsNode,
      embeddingNode: info.embeddingNode, outputSoftmax: true }, { fp16 });
    const loaded = loadModel(core, ctx, bytes);
    assert.deepEqual(loaded.meta.labels, ['a', 'b', 'c', 'd', 'e']);
    freezeAll(core, loaded.net);
    const [got] = runAll(core, loaded.net, sample, perImage, BATCH, [loaded.meta.logitsNode]);
    if (!fp16) {
      assert.deepEqual(Buffer.from(got.buffer), Buffer.from(want.buffer), 'f32 round trip must be bit-exact');
    } else {
      // every weight within 1e-3 relative (half keeps 11 significant bits: <= 2^-11); below half's
      // smallest normal (6.1e-5) the spacing is absolute (2^-24), so that is the floor of the scale
      let worstWeight = 0;
      const nParams = core.module._wt_net_param_count(net);
      for (let i = 0; i < nParams; i++) {
        const count = core.module._wtjs_param_count_floats(net, i);
        const a = core.readFloats('wt_net_param_read', count, net, i);
        const b = core.readFloats('wt_net_param_read', count, loaded.net, i);
        for (let j = 0; j < count; j++) worstWeight = Math.max(worstWeight, Math.abs(a[j] - b[j]) / Math.max(Math.abs(a[j]), 6.1e-5));
      }
      assert.ok(worstWeight <= 1e-3, `f16 weights differ by up to ${worstWeight} relative`);
      // through ~150 layers the rounding compounds; the predictions stay the same
      const k = info.nOutputs;
      const p = softmax(got, k), q = softmax(want, k);
      for (let i = 0; i < BATCH; i++) assert.equal(argmax(p.subarray(i * k, (i + 1) * k)), argmax(q.subarray(i * k, (i + 1) * k)));
      assert.ok(relErr(got, want) <= 1e-2, `f16 logits differ by ${relErr(got, want)} relative`);
      console.log(`f16 round trip: weights within ${worstWeight.toExponential(2)} relative, logits within ${relErr(got, want).toExponential(2)}`);
    }
    core.module._wt_net_destroy(loaded.net);
  }
  core.module._wt_net_destroy(net);
  });
});

test('damaged model files are rejected with a clear error', async () => {
  const core = await loadCoreNode('st');
  await withContext(core, 1, async (ctx) => {
  const { json, files } = readTfjsModel(core, path.join(V1, 'model.json'));
  const { net } = importTfjs(core, ctx, json, files);
  const good = saveModel(core, net, {});
  core.module._wt_net_destroy(net);
  const flipped = good.slice(); flipped[Math.floor(good.length / 2)] ^= 0x10;
  const magic = good.slice(); magic[0] = 0x58;
  const cases = [[flipped, /checksum/], [good.slice(0, good.length - 100), /truncated/], [magic, /magic/]];
  for (const [bytes, message] of cases) {
    assert.throws(() => loadModel(core, ctx, bytes), (e) => e.code === 'WT_ERR_CORRUPT' && message.test(e.message), String(message));
  }
  // a TF.js model whose shard is short, and one whose shard is missing
  const short = new Map(files); const [first] = short.keys(); short.set(first, short.get(first).subarray(0, 10));
  assert.throws(() => importTfjs(core, ctx, json, short), (e) => e.code === 'WT_ERR_CORRUPT' && e.message.includes(first));
  const missing = new Map(files); missing.delete(first);
  assert.throws(() => importTfjs(core, ctx, json, missing), (e) => e.code === 'WT_ERR_NOT_FOUND' && e.message.includes(first));
  });
});
