// api.test.mjs: the package's browser entry (js/src/index.js, unbundled) in headless Chromium, on
// real photos and the real default backbone: cross-origin isolated (threaded module) and not
// (single-threaded module), every browser input kind, training off the main thread (the page keeps
// painting), abort, dispose, corrupt images, save/load, and recovery after the wasm module dies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, serveStatic } from './chromium.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.WT_SHARED_DIR ?? path.resolve(root, '..', 'shared');
const flowers = path.join(shared, 'datasets', 'flowers');
const PAGE = '/tests/browser/fixtures/api.html';

/** n photo URLs (as served under /shared/) per class of a split, from the `skip`-th on. */
function pick(split, classes, n, skip = 0) {
  const out = {};
  for (const c of classes) {
    out[c] = readdirSync(path.join(flowers, split, c)).filter((f) => /\.jpe?g$/i.test(f)).sort().slice(skip, skip + n)
      .map((f) => `/shared/datasets/flowers/${split}/${c}/${encodeURIComponent(f)}`);
  }
  return out;
}

let browser;
const servers = {};

before(async () => {
  browser = await launchChromium();
  const mounts = { '/shared/': shared };
  servers.isolated = await serveStatic(root, { isolated: true, mounts });
  servers.plain = await serveStatic(root, { isolated: false, mounts });
});

after(async () => {
  await browser?.close();
  for (const s of Object.values(servers)) await s.close();
});

/** A fresh page of the fixture; page errors and worker errors fail the run. */
async function openPage(server) {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/favicon/.test(m.location()?.url ?? '')) problems.push(`console: ${m.text()}`); });
  await page.goto(`${server.url}${PAGE}`);
  await page.waitForFunction(() => window.__ready === true, null, { timeout: 20000 });
  return { page, problems };
}

/** Runs window.tests[name](args) in the page and returns its value (throws the page's error). */
async function run(page, name, args) {
  const r = await page.evaluate(([n, a]) => window.tests[n](a), [name, args]);
  if (!r.ok) throw new Error(`page ${name}: ${r.error.code ?? ''} ${r.error.message}\n${r.error.stack ?? ''}`);
  return r.value;
}

const CLASSES = ['daisy', 'dandelion', 'roses'];

test('cross-origin isolated page: threaded module, all input kinds, trains off the main thread, predicts, evaluates, saves and reloads', async (t) => {
  const { page, problems } = await openPage(servers.isolated);
  try {
    const r = await run(page, 'scenario', { train: pick('train', CLASSES, 16), test: pick('test', CLASSES, 8), epochs: 8, cacheViews: 4 });
    const tr = r.train;
    t.diagnostic(`mt: init ${r.initMs | 0} ms, add 48 photos ${r.addMs | 0} ms, train ${tr.ms | 0} ms (${tr.frames} frames, ` +
      `longest frame gap ${tr.maxFrameGap.toFixed(0)} ms, timer gap ${tr.maxTickGap.toFixed(0)} ms, longest main-thread task ${tr.longestTask.toFixed(0)} ms), test accuracy ${r.evaluate.accuracy.toFixed(3)}`);
    assert.equal(r.crossOriginIsolated, true);
    assert.equal(r.capabilities.variant, 'mt');
    assert.equal(r.capabilities.environment, 'browser');
    assert.ok(r.capabilities.threads >= 2, `threads ${r.capabilities.threads}`);
    assert.match(r.capabilities.reason, /^threads on/);
    assert.equal(r.backbone, r.backbones.default);
    assert.deepEqual(r.inputSize, [224, 224]);
    assert.deepEqual(r.counts, { daisy: 16, dandelion: 16, roses: 16 });
    assert.ok(Object.keys(r.kindsUsed).length >= 8, `input kinds ${Object.keys(r.kindsUsed)}`);
    // training: progress per phase, loss falls, the page kept painting
    for (const phase of ['cache', 'train', 'epoch', 'done']) assert.ok(tr.phases.includes(phase), `phase ${phase} in ${tr.phases}`);
    assert.equal(tr.lastPhase, 'done');
    assert.equal(tr.epochLoss.length, 8);
    assert.ok(tr.epochLoss.at(-1) < tr.epochLoss[0], `epoch losses ${tr.epochLoss}`);
    assert.ok(tr.accuracy >= 0.9, `training accuracy ${tr.accuracy}`);
    assert.ok(tr.frames >= 5, `only ${tr.frames} animation frames during ${tr.ms} ms of training`);
    // the page's own thread never ran a task of 200 ms or more while training (the Long Tasks API);
    // gaps between frames also count time another process held the CPU, so they get a wide bound
    assert.equal(tr.longTasksObserved, true, 'the Long Tasks API is there');
    const blocked = await run(page, 'blockMainThread');
    assert.ok(blocked.longestTask >= 250, `the control: 300 ms of main-thread work shows as a ${blocked.longestTask} ms task`);
    assert.ok(tr.longestTask < 200, `the main thread was busy for ${tr.longestTask} ms in one task (${tr.longTasks} tasks over 50 ms)`);
    assert.ok(tr.maxFrameGap < 1000 && tr.maxTickGap < 1000, `the main thread stalled: ${tr.maxFrameGap} ms between frames, ${tr.maxTickGap} ms between timer ticks`);
    // held-out photos
    assert.equal(r.evaluate.n, 24);
    assert.ok(r.evaluate.accuracy >= 0.7, `test accuracy ${r.evaluate.accuracy}`);
    assert.equal(r.evaluate.confusion.flat().reduce((s, x) => s + x, 0), 24);
    // one photo as every input kind: decoded in wasm (bytes, Blob) or by the browser (the rest), same answer
    const tops = Object.entries(r.predict).map(([kind, p]) => [kind, p[0].label, p[0].probability]);
    assert.ok(tops.every(([, label]) => label === tops[0][1]), `top labels differ by input kind: ${JSON.stringify(tops)}`);
    const probs = tops.map(([, , p]) => p);
    assert.ok(Math.max(...probs) - Math.min(...probs) < 0.2, `probabilities by input kind: ${JSON.stringify(tops)}`);
    // save and reload (bytes and Blob) predict bit-identically
    assert.equal(r.saved.type, '[object Uint8Array]');
    assert.ok(r.saved.bytes > 100000);
    assert.deepEqual(r.reloaded.labels, CLASSES);
    assert.equal(r.reloaded.trained, true);
    assert.equal(r.reloaded.identical, true);
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});

test('abort, dispose, corrupt images and a dead wasm module give clear errors (isolated page)', async () => {
  const { page, problems } = await openPage(servers.isolated);
  try {
    const caps = await page.evaluate(() => window.webtune.init());
    assert.equal(caps.variant, 'mt');
    const ab = await run(page, 'abort', { a: pick('train', ['daisy'], 4, 20).daisy, b: pick('train', ['tulips'], 4, 20).tulips });
    assert.equal(ab.error?.code, 'WT_ERR_ABORTED', JSON.stringify(ab.error));
    assert.equal(ab.error.name, 'WebtuneError');
    assert.ok(ab.steps >= 2 && ab.steps < 20, `stopped after ${ab.steps} steps`);
    assert.equal(ab.intact, true, 'the earlier model is intact after an abort');
    assert.equal(ab.preAborted?.code, 'WT_ERR_ABORTED');
    assert.equal(ab.trainsAgain, true);

    const er = await run(page, 'errors', { photo: pick('train', ['roses'], 1).roses[0] });
    assert.equal(er.truncatedBytes.code, 'WT_ERR_CORRUPT', JSON.stringify(er.truncatedBytes));
    assert.equal(er.truncatedBlob.code, 'WT_ERR_CORRUPT', JSON.stringify(er.truncatedBlob));
    assert.equal(er.notAnImage.code, 'WT_ERR_UNSUPPORTED', JSON.stringify(er.notAnImage));
    assert.equal(er.wrongType.code, 'WT_ERR_INVALID_ARGUMENT');
    assert.equal(er.emptyCanvas.code, 'WT_ERR_SHAPE');
    assert.deepEqual(er.mixed, { added: 2, errors: [{ index: 1, code: 'WT_ERR_CORRUPT' }] });
    assert.equal(er.untrainedPredict.code, 'WT_ERR_STATE');
    assert.equal(er.loadNotAModel.code, 'WT_ERR_CORRUPT');
    assert.equal(er.unknownBackbone.code, 'WT_ERR_NOT_FOUND');
    assert.equal(er.disposedFlag, true);
    for (const k of ['afterDisposeAdd', 'afterDisposeTrain', 'afterDisposePredict', 'afterDisposeSave']) {
      assert.equal(er[k].code, 'WT_ERR_DISPOSED', `${k}: ${JSON.stringify(er[k])}`);
    }

    const cr = await run(page, 'crash', { a: pick('train', ['daisy'], 3).daisy, b: pick('train', ['tulips'], 3).tulips });
    assert.equal(cr.abort.code, 'WT_ERR_MODULE_ABORTED', JSON.stringify(cr.abort));
    assert.equal(cr.exit.code, 'WT_ERR_WORKER', JSON.stringify(cr.exit));
    assert.equal(cr.capabilities.variant, 'mt');
    assert.equal(cr.backbones, 'mobilenet_v2_0.35_224');
    // the classifier made before both crashes carries on: same model, the same 6 examples byte for byte
    assert.equal(cr.samePrediction, true);
    assert.equal(cr.examples, 6);
    assert.equal(cr.sameExamples, true);
    assert.deepEqual(cr.counts, { a: 3, b: 3 });
    assert.equal(cr.trainsAgain, true);
    // the aborted module prints its abort message to the console; nothing else may fail
    assert.deepEqual(problems.filter((p) => !/Aborted|abort/i.test(p)), []);
  } finally {
    await page.close();
  }
});

test('page without COOP/COEP: single-threaded module, says why, still trains', async (t) => {
  const { page, problems } = await openPage(servers.plain);
  try {
    const r = await run(page, 'scenario', { train: pick('train', ['dandelion', 'roses'], 12), test: pick('test', ['dandelion', 'roses'], 8), epochs: 6, cacheViews: 2 });
    t.diagnostic(`st: init ${r.initMs | 0} ms, train ${r.train.ms | 0} ms, longest frame gap ${r.train.maxFrameGap.toFixed(0)} ms, longest main-thread task ${r.train.longestTask.toFixed(0)} ms, test accuracy ${r.evaluate.accuracy.toFixed(3)}`);
    assert.equal(r.crossOriginIsolated, false);
    assert.equal(r.capabilities.variant, 'st');
    assert.equal(r.capabilities.threads, 1);
    assert.match(r.capabilities.reason, /^threads off: .*not cross-origin isolated/);
    assert.match(r.capabilities.reason, /Cross-Origin-Opener-Policy: same-origin/);
    assert.match(r.capabilities.reason, /Cross-Origin-Embedder-Policy: require-corp/);
    assert.equal(r.train.lastPhase, 'done');
    assert.ok(r.train.longTasksObserved && r.train.longestTask < 200, `the main thread was busy for ${r.train.longestTask} ms in one task`);
    assert.ok(r.train.maxFrameGap < 1000, `the main thread stalled: ${r.train.maxFrameGap} ms`);
    assert.ok(r.evaluate.accuracy >= 0.8, `test accuracy ${r.evaluate.accuracy}`);
    assert.equal(r.reloaded.identical, true);
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});

test('a browser without module workers gets a clear WT_ERR_UNSUPPORTED from init(), not a hang', async () => {
  const page = await browser.newPage();
  try {
    // what such a browser does: the { type } option is never read, the script would run as a classic one
    await page.addInitScript(() => {
      const Original = window.Worker;
      window.Worker = class extends Original { constructor(url) { super(url); } };
    });
    await page.goto(`${servers.isolated.url}${PAGE}`);
    await page.waitForFunction(() => window.__ready === true, null, { timeout: 20000 });
    const r = await page.evaluate(() => window.webtune.init().then(() => ({ ok: true }), (e) => ({ code: e.code, message: e.message })));
    assert.equal(r.code, 'WT_ERR_UNSUPPORTED', JSON.stringify(r));
    assert.match(r.message, /module workers/);
  } finally {
    await page.close();
  }
});
