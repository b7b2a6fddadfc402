// failures.test.mjs: failure isolation and long sessions. A worker that dies or a wasm module that
// aborts fails the pending calls with a clear error (never a hang) and the next call works on a
// fresh module; a saved model survives; a diverging run never leaves NaN weights; a short soak
// keeps memory flat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as webtune from '../../js/src/node.js';
import { soak } from '../soak/soak.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.WT_SHARED_DIR ?? path.resolve(root, '..', 'shared');
const photo = (c, i) => {
  const dir = path.join(shared, 'datasets', 'flowers', 'train', c);
  return readFileSync(path.join(dir, readdirSync(dir).sort()[i]));
};

async function trained() {
  const clf = await webtune.createClassifier({ labels: ['daisy', 'roses'] });
  await clf.addExamples('daisy', [0, 1, 2, 3].map((i) => photo('daisy', i)));
  await clf.addExamples('roses', [0, 1, 2, 3].map((i) => photo('roses', i)));
  await clf.train({ epochs: 3, cacheViews: 1, augment: false });
  return clf;
}

for (const kind of ['abort', 'exit']) {
  test(`${kind === 'abort' ? 'a wasm abort' : 'worker death'} during training: pending calls reject, and the classifiers carry on in a fresh module with their examples and last model`, async () => {
    const clf = await trained();
    await clf.addUnlabeled([photo('tulips', 0), photo('tulips', 1)]);
    await clf.addClass('sunflowers');
    await clf.addExamples('sunflowers', [photo('sunflowers', 0)]);
    await clf.renameClass('roses', 'rose');
    await clf.addClass('gone');
    await clf.addExamples('gone', [photo('dandelion', 0)]);
    await clf.removeClass('gone');
    const examples = await clf.exportExamples();
    const counts = clf.counts;
    const saved = await clf.save();
    const loaded = await webtune.loadClassifier(saved);
    const lean = await webtune.createClassifier({ labels: ['a', 'b'], keepCopy: false });
    const expected = await clf.predict(photo('roses', 5));
    const training = clf.train({ epochs: 1000, strategy: 'full', batchSize: 2 });
    const predicting = clf.predict(photo('daisy', 5));
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(webtune.crashForTesting(kind), (e) => ['WT_ERR_MODULE_ABORTED', 'WT_ERR_WORKER'].includes(e.code));
    await assert.rejects(training, (e) => ['WT_ERR_WORKER', 'WT_ERR_MODULE_ABORTED'].includes(e.code) && /worker|module/.test(e.message));
    await predicting.catch(() => {}); // it may have finished before the crash
    // the next calls (two at once: one rebuild) run in a fresh module, on the last trained model and
    // every example, labelled and unlabelled, exactly as they were stored
    const [after, kept] = await Promise.all([clf.predict(photo('roses', 5)), clf.exportExamples()]);
    assert.deepEqual(after, expected);
    assert.equal(kept.examples.length, examples.examples.length);
    assert.deepEqual(kept, examples);
    assert.deepEqual(clf.counts, counts);
    assert.equal(clf.unlabeled, 2);
    assert.deepEqual(clf.labels, ['daisy', 'rose', 'sunflowers']);
    assert.equal(clf.trained, true);
    assert.deepEqual(await loaded.predict(photo('roses', 5)), expected, 'a loaded classifier carries on too');
    // it trains again on what it kept, and the saved bytes still load
    const r = await clf.train({ epochs: 3, cacheViews: 1, augment: false });
    assert.deepEqual(r.labels, ['daisy', 'rose', 'sunflowers']);
    assert.deepEqual(await (await webtune.loadClassifier(saved)).predict(photo('roses', 5)), expected);
    // one made with keepCopy: false is lost, with an error that says so
    await assert.rejects(lean.addClass('c'), (e) => e.code === 'WT_ERR_WORKER' && /keepCopy: false/.test(e.message) && /load a saved model/.test(e.message));
    await Promise.all([clf.dispose(), loaded.dispose(), lean.dispose()]);
  });
}

test('a learning rate that makes the loss NaN: a clear error, the earlier model kept, nothing NaN saved; rollback finishes instead', async () => {
  const clf = await trained();
  const before = await clf.predict(photo('roses', 5));
  await assert.rejects(clf.train({ strategy: 'full', optimizer: 'sgd', learningRate: 1e30, epochs: 3, batchSize: 4 }),
    (e) => e.code === 'WT_ERR_NOT_FINITE' && /diverged/.test(e.message) && /learning rate/.test(e.message));
  assert.deepEqual(await clf.predict(photo('roses', 5)), before, 'the previous model is untouched');
  // rollback needs a finished epoch to go back to: diverging in the first one is the same clear error
  await assert.rejects(clf.train({ strategy: 'full', optimizer: 'sgd', learningRate: 1e30, epochs: 3, batchSize: 4, onDivergence: 'rollback' }),
    (e) => e.code === 'WT_ERR_NOT_FINITE' && /no good epoch to roll back to/.test(e.message) && /keeps its previous model/.test(e.message));
  assert.deepEqual(await clf.predict(photo('roses', 5)), before, 'the previous model is untouched');
  // warm-up ramps a far too high rate up over 12 steps: the first epochs are fine, a later one diverges
  const ends = [];
  const r = await clf.train({ strategy: 'full', optimizer: 'sgd', learningRate: 1e14, warmupSteps: 12, epochs: 6, batchSize: 4, augment: false, seed: 1,
    onDivergence: 'rollback', onProgress: (p) => { if (p.phase === 'epoch') ends.push(p.epoch); } });
  assert.equal(r.diverged, true);
  assert.ok(ends.length >= 1 && r.epoch + 1 < 6, `rolled back to an earlier epoch (epoch ends ${ends}, result epoch ${r.epoch})`);
  const bytes = await clf.save(); // saving checks every weight is finite
  const again = await webtune.loadClassifier(bytes);
  const p = await again.predict(photo('roses', 5));
  assert.ok(p.every((x) => Number.isFinite(x.probability)));
  await again.dispose();
  await clf.dispose();
});

test('running into the wasm heap ceiling (2 GB) is a clear error, and the module goes on working', async () => {
  const clf = await trained();
  const probe = photo('roses', 5);
  const before = await clf.predict(probe);
  await assert.rejects(clf.train({ strategy: 'full', batchSize: 1024, epochs: 1 }),
    (e) => e.code === 'WT_ERR_OUT_OF_MEMORY' && /smaller batch/.test(e.message));
  assert.deepEqual(await clf.predict(probe), before);
  await clf.train({ epochs: 2, cacheViews: 1, augment: false });
  await clf.dispose();
});

test('oversize and hostile images are clear errors', async () => {
  const clf = await webtune.createClassifier({ labels: ['a', 'b'] });
  // a PNG header claiming 100000 x 100000 pixels
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452000186a0000186a00806000000', 'hex');
  await assert.rejects(clf.addExample('a', png), (e) => ['WT_ERR_SHAPE', 'WT_ERR_CORRUPT'].includes(e.code));
  await assert.rejects(clf.addExample('a', { data: new Uint8Array(16), width: 100000, height: 100000 }), { code: 'WT_ERR_SHAPE' });
  await assert.rejects(clf.addExample('a', new Uint8Array([1])), { code: 'WT_ERR_UNSUPPORTED' });
  await clf.dispose();
});

test('a short soak: rounds of thousands of examples, many epochs, predictions, save/load, dispose: memory stays flat', async () => {
  const samples = await soak({ rounds: 4, examples: 600, epochs: 60, predictions: 600 });
  const [, warm, , last] = samples;
  assert.ok(last.wasmHeapMB <= warm.wasmHeapMB * 1.05 + 1, `wasm heap ${warm.wasmHeapMB} -> ${last.wasmHeapMB} MB`);
  assert.ok(last.jsHeapMB <= warm.jsHeapMB + 24, `JS heap ${warm.jsHeapMB} -> ${last.jsHeapMB} MB`);
  assert.ok(last.rssMB <= warm.rssMB * 1.15 + 32, `RSS ${warm.rssMB} -> ${last.rssMB} MB`);
  assert.ok(samples.every((s) => s.trainAccuracy > 0.8), 'each round learns');
});

test.after(() => webtune.terminate());
