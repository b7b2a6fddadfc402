// api.test.mjs: the public Node API (js/src/node.js) on real photos and the real default backbone:
// training off the main thread, progress, abort, dispose, bad inputs, save/load, and flat memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as webtune from '../../js/src/node.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.WT_SHARED_DIR ?? path.resolve(root, '..', 'shared');
const flowers = path.join(shared, 'datasets', 'flowers');

/** n image paths per class from a split. */
function pick(split, classes, n) {
  const out = {};
  for (const c of classes) {
    out[c] = readdirSync(path.join(flowers, split, c)).filter((f) => /\.jpe?g$/i.test(f)).sort().slice(0, n)
      .map((f) => path.join(flowers, split, c, f));
  }
  return out;
}

const CLASSES = ['daisy', 'dandelion', 'roses'];

test('init picks the threaded module in Node and says why; init is idempotent', async () => {
  const caps = await webtune.init();
  assert.equal(caps.environment, 'node');
  assert.equal(caps.variant, 'mt');
  assert.ok(caps.threads >= 1);
  assert.match(caps.reason, /^threads on: Node\.js worker threads/);
  assert.equal(await webtune.init({ threads: false }), caps, 'a second init returns the first result');
  assert.deepEqual(webtune.capabilities(), caps);
});

test('threads: false chooses the single-threaded module with its reason', async () => {
  await webtune.terminate();
  const caps = await webtune.init({ threads: false });
  assert.equal(caps.variant, 'st');
  assert.equal(caps.threads, 1);
  assert.match(caps.reason, /^threads off: init\(\{ threads: false \}\)/);
  const backbones = await webtune.listBackbones();
  assert.equal(backbones.default, 'mobilenet_v2_0.35_224');
  await webtune.terminate();
  assert.equal(webtune.capabilities(), null);
  assert.equal((await webtune.init()).variant, 'mt');
});

test('train on real photos: progress per step and epoch, learns, predicts, evaluates, saves and reloads', async () => {
  const clf = await webtune.createClassifier({ labels: CLASSES });
  assert.deepEqual(clf.inputSize, [224, 224]);
  assert.equal(clf.backbone, 'mobilenet_v2_0.35_224');
  const train = pick('train', CLASSES, 16);
  for (const c of CLASSES) {
    const r = await clf.addExamples(c, train[c]);
    assert.equal(r.added, 16);
    assert.deepEqual(r.errors, []);
  }
  assert.deepEqual(clf.counts, { daisy: 16, dandelion: 16, roses: 16 });
  const events = [];
  const result = await clf.train({ epochs: 8, batchSize: 8, learningRate: 3e-3, validationSplit: 0.25, seed: 1, onProgress: (p) => events.push(p) });
  const phases = new Set(events.map((e) => e.phase));
  assert.ok(phases.has('cache') && phases.has('train') && phases.has('epoch'), [...phases].join());
  assert.equal(events.at(-1).phase, 'done');
  const epochEnds = events.filter((e) => e.phase === 'epoch' || e.phase === 'done');
  assert.equal(epochEnds.length, 8);
  for (const e of epochEnds) {
    for (const k of ['loss', 'accuracy', 'epochLoss', 'epochAccuracy', 'valAccuracy', 'imagesPerSecond', 'etaSeconds']) {
      assert.equal(typeof e[k], 'number', `${k} in ${JSON.stringify(e)}`);
    }
  }
  assert.equal(result.nVal, 12);
  assert.ok(result.valAccuracy >= 0.75, `validation accuracy ${result.valAccuracy}`);
  assert.ok(epochEnds.at(-1).epochLoss < epochEnds[0].epochLoss, 'loss falls');

  const test_ = pick('test', CLASSES, 8);
  const items = CLASSES.flatMap((c) => test_[c].map((image) => ({ image, label: c })));
  const ev = await clf.evaluate(items);
  assert.equal(ev.n, 24);
  assert.ok(ev.accuracy >= 0.7, `test accuracy ${ev.accuracy}`);
  assert.equal(ev.confusion.length, 3);
  assert.equal(ev.confusion.flat().reduce((s, x) => s + x, 0), 24);
  assert.deepEqual(Object.keys(ev.perClass), CLASSES);

  const image = readFileSync(test_.roses[0]);
  const top = await clf.predict(image, { topK: 2 });
  assert.equal(top.length, 2);
  assert.ok(top[0].probability >= top[1].probability);

  const bytes = await clf.save();
  const again = await webtune.loadClassifier(bytes);
  assert.deepEqual(again.labels, CLASSES);
  const all = items.map((x) => x.image);
  const p1 = await clf.predictBatch(all, { topK: 3 });
  const p2 = await again.predictBatch(all, { topK: 3 });
  assert.deepEqual(p2, p1, 'a reloaded model predicts bit-identically');
  await again.dispose();
  await clf.dispose();
});

test('abort mid-training rejects with WT_ERR_ABORTED and keeps the previous model', async () => {
  const clf = await webtune.createClassifier({ labels: ['a', 'b'] });
  const train = pick('train', ['daisy', 'tulips'], 6);
  await clf.addExamples('a', train.daisy);
  await clf.addExamples('b', train.tulips);
  await clf.train({ epochs: 2, seed: 3 });
  const probe = readFileSync(train.daisy[0]);
  const before = await clf.predict(probe);
  const controller = new AbortController();
  let steps = 0;
  const run = clf.train({ epochs: 500, strategy: 'full', batchSize: 4, signal: controller.signal,
    onProgress: (p) => { if (p.phase !== 'cache' && ++steps === 2) controller.abort(); } });
  await assert.rejects(run, (e) => e instanceof webtune.WebtuneError && e.code === 'WT_ERR_ABORTED');
  assert.ok(steps >= 2 && steps < 20, `stopped after ${steps} steps`);
  assert.deepEqual(await clf.predict(probe), before, 'the earlier model is intact');
  // and it can train again
  await clf.train({ epochs: 1 });
  await clf.dispose();
});

test('backbones from every source: shipped name, .webtune path, TF.js model.json path, a Teachable Machine export as bytes', async () => {
  const tm = path.join(shared, 'backbones', 'teachable_machine_mobilenet_v2_0.35_224');
  const weights = {};
  const manifest = JSON.parse(readFileSync(path.join(tm, 'model.json'), 'utf8'));
  for (const g of manifest.weightsManifest) for (const p of g.paths) weights[p] = readFileSync(path.join(tm, p));
  const sources = {
    name: 'mobilenet_v1_0.25_224',
    webtunePath: path.join(root, 'js', 'dist', 'models', 'mobilenet_v2_0.35_224.webtune'),
    modelJsonPath: path.join(shared, 'backbones', 'mobilenet_v1_0.25_224', 'model.json'),
    teachableBytes: { modelJson: readFileSync(path.join(tm, 'model.json'), 'utf8'), weights, name: 'my-teachable-model' },
  };
  const probe = pick('test', ['daisy'], 1).daisy[0];
  for (const [kind, backbone] of Object.entries(sources)) {
    const clf = await webtune.createClassifier({ labels: ['daisy', 'tulips'], backbone });
    const train = pick('train', ['daisy', 'tulips'], 4);
    await clf.addExamples('daisy', train.daisy);
    await clf.addExamples('tulips', train.tulips);
    await clf.train({ epochs: 3, cacheViews: 1, augment: false });
    const [top] = await clf.predict(probe, { topK: 1 });
    assert.ok(['daisy', 'tulips'].includes(top.label), kind);
    if (kind === 'teachableBytes') assert.equal(clf.backbone, 'my-teachable-model');
    await clf.dispose();
  }
});

test('dispose is idempotent and later use throws WT_ERR_DISPOSED', async () => {
  const clf = await webtune.createClassifier({ labels: ['x', 'y'] });
  await clf.dispose();
  await clf.dispose();
  assert.equal(clf.disposed, true);
  await assert.rejects(clf.addExample('x', { data: new Uint8Array(4 * 4 * 4), width: 4, height: 4 }), { code: 'WT_ERR_DISPOSED' });
  await assert.rejects(clf.train(), { code: 'WT_ERR_DISPOSED' });
  await assert.rejects(clf.predict(new Uint8Array(3)), { code: 'WT_ERR_DISPOSED' });
});

test('bad inputs: corrupt images, wrong model files, unknown classes, empty classes: clear errors', async () => {
  const clf = await webtune.createClassifier({ labels: ['a', 'b'] });
  const jpeg = readFileSync(pick('train', ['daisy'], 1).daisy[0]);
  await assert.rejects(clf.addExample('a', jpeg.subarray(0, 200)), { code: 'WT_ERR_CORRUPT' });
  await assert.rejects(clf.addExample('a', new TextEncoder().encode('hello, not an image')), { code: 'WT_ERR_UNSUPPORTED' });
  await assert.rejects(clf.addExample('zebra', jpeg), (e) => e.code === 'WT_ERR_NOT_FOUND' && /no class "zebra"/.test(e.message));
  const r = await clf.addExamples('a', [jpeg, new Uint8Array([0xff, 0xd8, 0xff, 0x00]), jpeg]);
  assert.equal(r.added, 2);
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0].index, 1);
  await assert.rejects(clf.train(), (e) => e.code === 'WT_ERR_SHAPE' && /"b" has no examples/.test(e.message));
  await assert.rejects(clf.predict(jpeg), (e) => e.code === 'WT_ERR_STATE' && /not trained/.test(e.message));
  await assert.rejects(clf.save(), { code: 'WT_ERR_STATE' });
  await assert.rejects(clf.train({ strategy: 'sideways' }), { code: 'WT_ERR_INVALID_ARGUMENT' });
  await assert.rejects(clf.train({ epochs: -1 }), { code: 'WT_ERR_INVALID_ARGUMENT' });
  await assert.rejects(webtune.loadClassifier(jpeg), (e) => e.code === 'WT_ERR_CORRUPT' && /not a webtune model file/.test(e.message));
  const backbone = readFileSync(path.join(root, 'js', 'dist', 'models', 'mobilenet_v2_0.35_224.webtune'));
  await assert.rejects(webtune.loadClassifier(backbone), (e) => e.code === 'WT_ERR_UNSUPPORTED' && /backbone/.test(e.message));
  const flipped = Uint8Array.from(backbone);
  flipped[flipped.length >> 1] ^= 0x10;
  await assert.rejects(webtune.createClassifier({ labels: ['a', 'b'], backbone: { bytes: flipped } }), { code: 'WT_ERR_CORRUPT' });
  await assert.rejects(webtune.createClassifier({ labels: ['a', 'a'] }), { code: 'WT_ERR_INVALID_ARGUMENT' });
  await assert.rejects(webtune.createClassifier({ backbone: 'mobilenet_v9' }), (e) => e.code === 'WT_ERR_NOT_FOUND' && /available/.test(e.message));
  // the classifier still works after all that
  assert.equal(clf.counts.a, 2);
  await clf.dispose();
});

test('a memory budget too small for the examples is a clear error, and the examples so far stay', async () => {
  const clf = await webtune.createClassifier({ labels: ['a', 'b'], memoryBudgetMB: 1 }); // room for 6 examples of 224x224x3
  const imgs = pick('train', ['daisy'], 8).daisy;
  const r = await clf.addExamples('a', imgs.slice(0, 6));
  assert.equal(r.added, 6);
  await assert.rejects(clf.addExample('a', imgs[6]), (e) => e.code === 'WT_ERR_OUT_OF_MEMORY' && /budget of 1 MB holds 6 examples/.test(e.message));
  await assert.rejects(clf.addExamples('a', imgs.slice(6)), { code: 'WT_ERR_OUT_OF_MEMORY' });
  assert.equal(clf.counts.a, 6);
  await clf.dispose();
});

test('classes can be added, renamed and removed; labels follow', async () => {
  const clf = await webtune.createClassifier({ labels: ['a'] });
  await clf.addClass('b');
  await clf.addClass('c');
  const px = { data: new Uint8Array(8 * 8 * 4).fill(200), width: 8, height: 8 };
  await clf.addExample('b', px);
  await clf.addExample('c', px);
  await clf.addExample('c', px);
  await clf.renameClass('c', 'sea');
  assert.deepEqual(clf.labels, ['a', 'b', 'sea']);
  await clf.removeClass('b');
  assert.deepEqual(clf.labels, ['a', 'sea']);
  const ex = await clf.exportExamples();
  assert.equal(ex.examples.length, 2);
  assert.deepEqual(ex.examples.map((e) => e.label), ['sea', 'sea']);
  assert.equal(ex.examples[0].data.length, 224 * 224 * 3);
  await assert.rejects(clf.addClass('a'), { code: 'WT_ERR_INVALID_ARGUMENT' });
  await clf.dispose();
});

test('memory stays flat: 10,000 predictions and 100 epochs leave the wasm and JS heaps where they were', async () => {
  const clf = await webtune.createClassifier({ labels: ['a', 'b'] });
  const train = pick('train', ['daisy', 'tulips'], 6);
  await clf.addExamples('a', train.daisy);
  await clf.addExamples('b', train.tulips);
  await clf.train({ epochs: 2 });
  const frame = { data: new Uint8Array(64 * 48 * 4).fill(90), width: 64, height: 48 };
  // warm up: the heap reaches its working size
  for (let i = 0; i < 200; i++) await clf.predict(frame);
  await clf.train({ epochs: 100, batchSize: 4 });
  global.gc?.();
  const heap0 = (await webtune.memory()).heapBytes;
  const js0 = process.memoryUsage().heapUsed;
  for (let i = 0; i < 10000; i += 50) await clf.predictBatch(new Array(50).fill(frame), { topK: 1 });
  await clf.train({ epochs: 100, batchSize: 4 });
  global.gc?.();
  const heap1 = (await webtune.memory()).heapBytes;
  const js1 = process.memoryUsage().heapUsed;
  assert.equal(heap1, heap0, `wasm heap grew from ${heap0} to ${heap1}`);
  assert.ok(js1 - js0 < 16 * 1048576, `JS heap grew by ${((js1 - js0) / 1048576).toFixed(1)} MB`);
  await clf.dispose();
});

test.after(() => webtune.terminate());
