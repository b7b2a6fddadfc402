// strategies.test.mjs: every fine-tuning strategy through the public API on real flower photos and
// the real MobileNet v2 backbone: each beats the untrained head on held-out photos; exactly the
// layers a strategy should train change (frozen ones stay bit-identical, batch-norm statistics
// included); domain adaptation runs on a shifted domain (tests/js/domain-adaptation.test.mjs checks
// that it helps); seeds make runs repeatable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as webtune from '../../js/src/node.js';
import { loadCoreNode } from '../../js/src/core-node.js';
import { loadModel } from '../../js/src/models.js';
import { domainShiftData } from '../../docs/examples/domain-shift-data.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.WT_SHARED_DIR ?? path.resolve(root, '..', 'shared');
const flowers = path.join(shared, 'datasets', 'flowers');
const CLASSES = ['daisy', 'roses', 'sunflowers'];
const files = (split, c, n, from = 0) => readdirSync(path.join(flowers, split, c)).sort().slice(from, from + n).map((f) => path.join(flowers, split, c, f));

// every parameter of a model file by name (the shipped backbone, or a saved classifier)
const core = await loadCoreNode('st');
const ctx = core.callOutInt('wtjs_context_create', 1, 0);
function params(bytes) {
  const { net } = loadModel(core, ctx, bytes);
  const out = new Map();
  const n = core.module._wt_net_param_count(net);
  for (let i = 0; i < n; i++) {
    const name = core.module.UTF8ToString(core.module._wtjs_param_name(net, i));
    out.set(name, core.readFloats('wt_net_param_read', core.module._wtjs_param_count_floats(net, i), net, i));
  }
  core.module._wt_net_destroy(net);
  return out;
}
const backbone = params(readFileSync(path.join(root, 'js', 'dist', 'models', 'mobilenet_v2_0.35_224.webtune')));
const same = (a, b) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

async function classifier() {
  const clf = await webtune.createClassifier({ labels: CLASSES });
  for (const c of CLASSES) await clf.addExamples(c, files('train', c, 16));
  return clf;
}

/** Names of backbone parameters that changed, and whether the head changed. */
async function changes(clf) {
  const trained = params(await clf.save());
  const changed = [];
  for (const [name, v] of backbone) if (!same(v, trained.get(name))) changed.push(name);
  return changed;
}

const common = { epochs: 6, batchSize: 8, validationSplit: 0.25, seed: 5, augment: false, cacheViews: 1 };

/** Loads saved bytes and checks that the loaded classifier predicts as `clf` does; returns it. */
async function loadsAlike(clf, bytes) {
  const probe = files('test', 'roses', 3);
  const loaded = await webtune.loadClassifier(bytes);
  const a = await clf.predictBatch(probe, { topK: 3 });
  const b = await loaded.predictBatch(probe, { topK: 3 });
  for (let i = 0; i < probe.length; i++) {
    assert.deepEqual(b[i].map((x) => x.label), a[i].map((x) => x.label));
    for (let k = 0; k < 3; k++) assert.ok(Math.abs(b[i][k].probability - a[i][k].probability) < 1e-6);
  }
  return loaded;
}
let untrained;

test('the untrained head is near chance on the held-out photos', async () => {
  const clf = await classifier();
  const r = await clf.train({ ...common, epochs: 1, learningRate: 1e-12 });
  untrained = r.valAccuracy;
  assert.ok(untrained < 0.7, `untrained ${untrained}`);
  await clf.dispose();
});

const cases = [
  { name: 'head', options: { strategy: 'head', epochs: 30 }, check: (ch) => assert.deepEqual(ch, [], 'the backbone is bit-identical') },
  {
    name: 'top:2', options: { strategy: 'top:2', learningRate: 1e-3 },
    check: (ch) => {
      assert.ok(ch.length > 0 && ch.every((n) => /^(block_16_|Conv_1)/.test(n)), `only the last two blocks change: ${ch.join(' ')}`);
      assert.ok(ch.some((n) => n.startsWith('block_16_') && n.endsWith('/weight')) && ch.some((n) => n.startsWith('Conv_1/')), ch.join(' '));
      assert.ok(!ch.some((n) => /moving_(mean|variance)/.test(n)), 'frozen batch-norm statistics stay (batch norms stay in inference mode)');
    },
  },
  {
    name: 'layers:batchnorm', options: { strategy: 'layers:batchnorm', learningRate: 3e-3 },
    check: (ch) => assert.ok(ch.length > 0 && ch.every((n) => /\/(gamma|beta)$/.test(n)), `only gamma/beta change: ${ch.slice(0, 5).join(' ')}`),
  },
  {
    name: 'full', options: { strategy: 'full', learningRate: 5e-4 },
    check: (ch) => assert.ok(ch.includes('Conv1/weight') && ch.includes('block_8_project/weight') && ch.includes('Conv_1/weight'), 'every block changes'),
  },
  {
    // batch statistics of 8 photos are noisy and the moving averages lag: it learns, less well
    name: 'full, batch statistics', options: { strategy: 'full', learningRate: 5e-4, batchNorm: 'batch' }, minVal: 0.5,
    check: (ch) => assert.ok(ch.includes('bn_Conv1/moving_mean'), 'unfrozen batch norms on batch statistics update their moving averages'),
  },
  {
    name: 'two-phase top:2', options: { strategy: 'top:2', twoPhase: { headEpochs: 4 }, epochs: 8 },
    check: (ch) => assert.ok(ch.length > 0 && ch.every((n) => /^(block_16_|Conv_1)/.test(n)), `changed: [${ch.join(' ')}]`),
  },
];

for (const c of cases) {
  test(`strategy ${c.name}: beats the untrained head and changes exactly its layers`, async () => {
    const clf = await classifier();
    const events = [];
    const r = await clf.train({ ...common, ...c.options, onProgress: (p) => events.push(p) });
    assert.ok(r.valAccuracy > untrained + 0.15 && r.valAccuracy >= (c.minVal ?? 0.75), `${c.name}: validation ${r.valAccuracy} vs untrained ${untrained}`);
    if (c.options.twoPhase) assert.deepEqual([...new Set(events.map((e) => e.stage))], ['head', 'finetune']);
    c.check(await changes(clf));
    await clf.dispose();
  });
}

test('normalizeEmbedding: the head starts with an L2 normalisation, which the saved model keeps', async () => {
  const clf = await classifier();
  const r = await clf.train({ ...common, epochs: 30, normalizeEmbedding: true });
  assert.ok(r.valAccuracy > untrained + 0.15 && r.valAccuracy >= 0.75, `validation ${r.valAccuracy} vs untrained ${untrained}`);
  const bytes = await clf.save();
  assert.deepEqual(await changes(clf), [], 'the backbone is bit-identical');
  const { net } = loadModel(core, ctx, bytes);
  const name = core.allocCString('head/l2_normalize');
  try {
    const node = core.callOutInt('wt_net_find_node', net, name);
    assert.equal(core.module._wt_net_node_count(net), node + 2, 'the normalisation sits right before the dense head');
  } finally {
    core.free(name);
    core.module._wt_net_destroy(net);
  }
  const loaded = await loadsAlike(clf, bytes);
  await loaded.dispose();
  await clf.dispose();
});

test('embeddingLayers: the head reads the embedding joined to a pooled inner block; saved, loaded and retrained alike', async () => {
  const clf = await classifier();
  const r = await clf.train({ ...common, epochs: 30, embeddingLayers: 'auto' }); // block_14_add for MobileNet v2
  assert.ok(r.valAccuracy > untrained + 0.15 && r.valAccuracy >= 0.75, `validation ${r.valAccuracy} vs untrained ${untrained}`);
  const bytes = await clf.save();
  assert.deepEqual(await changes(clf), [], 'the backbone is bit-identical');
  const nodeOf = (net, name) => {
    const p = core.allocCString(name);
    try {
      return core.withScratch(4, (out) => (core.module._wt_net_find_node(net, p, out) === 0 ? core.heapI32()[out >> 2] : -1));
    } finally {
      core.free(p);
    }
  };
  const channels = (net, node) => core.withScratch(12, (p) => {
    core.call('wt_net_node_shape', net, node, p, p + 4, p + 8);
    return core.heapI32()[(p >> 2) + 2];
  });
  const { net } = loadModel(core, ctx, bytes);
  try {
    const cat = nodeOf(net, 'embedding/concat_block_14_add');
    assert.equal(channels(net, cat), 1280 + 56, 'the 1280-d embedding and block_14_add\'s 56 channels');
    assert.ok(nodeOf(net, 'embedding/block_14_add/pool') < cat);
    assert.equal(core.module._wt_net_node_count(net), cat + 2, 'the dense head reads the joined embedding');
  } finally {
    core.module._wt_net_destroy(net);
  }
  const loaded = await loadsAlike(clf, bytes);
  // retraining a loaded classifier starts from the plain backbone: no joined embedding unless asked
  for (const c of CLASSES) await loaded.addExamples(c, files('train', c, 8));
  await loaded.train({ ...common, epochs: 2, embeddingLayers: [] });
  const again = loadModel(core, ctx, await loaded.save());
  try {
    assert.equal(nodeOf(again.net, 'embedding/concat_block_14_add'), -1);
    assert.equal(channels(again.net, again.meta.embeddingNode), 1280);
  } finally {
    core.module._wt_net_destroy(again.net);
  }
  await assert.rejects(clf.train({ ...common, embeddingLayers: ['block_99_add'] }), (e) => e.code === 'WT_ERR_NOT_FOUND' && /block_99_add/.test(e.message));
  await loaded.dispose();
  await clf.dispose();
});

test('a seed makes a single-thread run repeatable bit for bit; threads change results only by rounding', async () => {
  const run = async () => {
    const clf = await classifier();
    await clf.train({ ...common, strategy: 'top:1', epochs: 2, augment: true, seed: 9 });
    const out = params(await clf.save());
    await clf.dispose();
    return out;
  };
  await webtune.terminate();
  await webtune.init({ threads: false });
  const a = await run();
  const b = await run();
  for (const [name, v] of a) assert.ok(same(v, b.get(name)), `${name} differs between two single-thread runs`);
  await webtune.terminate();
  const caps = await webtune.init({ threads: 2 });
  assert.equal(caps.variant, 'mt');
  const m = await run();
  let worst = 0;
  for (const [name, v] of a) {
    const w = m.get(name);
    for (let i = 0; i < v.length; i++) worst = Math.max(worst, Math.abs(v[i] - w[i]) / Math.max(1e-2, Math.abs(v[i])));
  }
  assert.ok(worst < 1e-2, `threads changed a weight by ${worst} (relative)`);
});

// The shifted-domain comparison itself (with and without adaptation over seeds) is
// tests/js/domain-adaptation.test.mjs, and docs/examples/domain-shift.mjs for docs/strategies.md;
// here, what must hold whatever the numbers: both run on real photos with unlabelled target images, learn, and DANN's domain
// classifier is gone from the saved model.
test('domain adaptation (DANN, AdaBN) on a colour-shifted, blurred target domain: trains, learns, leaves no domain head', async () => {
  const { sourceExamples, targetTrain, targetTest } = await domainShiftData(webtune, files);
  for (const extra of [{ adaBN: true }, { domainAdaptation: 0.3 }]) {
    const clf = await webtune.createClassifier({ labels: CLASSES });
    for (const e of sourceExamples) await clf.addExample(e.label, { data: e.data, width: 224, height: 224 });
    const r = await clf.addUnlabeled(targetTrain);
    assert.equal(r.added, targetTrain.length);
    assert.equal(clf.unlabeled, targetTrain.length);
    await clf.train({ strategy: 'top:2', epochs: 3, batchSize: 8, augment: false, seed: 1, ...extra });
    const acc = (await clf.evaluate(targetTest)).accuracy;
    assert.ok(acc > 0.5, `${JSON.stringify(extra)}: target accuracy ${acc}`);
    const saved = params(await clf.save());
    assert.ok(![...saved.keys()].some((k) => k.startsWith('domain/')), 'no domain classifier in the saved model');
    await clf.dispose();
  }
  await assert.rejects(async () => {
    const clf = await webtune.createClassifier({ labels: CLASSES });
    for (const e of sourceExamples.filter((_, i) => i % 16 < 2)) await clf.addExample(e.label, { data: e.data, width: 224, height: 224 });
    try { await clf.train({ strategy: 'top:2', domainAdaptation: 1 }); } finally { await clf.dispose(); }
  }, (e) => e.code === 'WT_ERR_SHAPE' && /unlabelled/.test(e.message));
});

test.after(async () => {
  core.module._wt_context_destroy(ctx);
  await webtune.terminate();
});
