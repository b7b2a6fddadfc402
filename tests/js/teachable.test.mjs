// A Teachable Machine export opened with its own head keeps training: the head learns on real
// photos while the frozen backbone stays bit-identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCoreNode } from '../../js/src/core-node.js';
import { readTfjsModel } from '../../js/src/tfjs-files-node.js';
import { importTfjs, imageToTensor } from '../../js/src/models.js';
import { Optimizer, createOptimizer } from '../../js/src/core.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.WT_SHARED_DIR ?? path.resolve(root, '..', 'shared');
const TM = path.join(shared, 'backbones', 'teachable_machine_mobilenet_v2_0.35_224', 'model.json');
const TRAIN = path.join(shared, 'datasets', 'flowers', 'train');

test('a Teachable Machine model keeps training its head on new photos; the backbone does not move', async () => {
  const core = await loadCoreNode('mt');
  const ctx = core.callOutInt('wtjs_context_create', 2, 0);
  try {
    const { json, files } = readTfjsModel(core, TM);
    const { net, info } = importTfjs(core, ctx, json, files, { cutLayer: '' });
    // freeze the backbone: every node up to the pooled embedding
    for (let node = 1; node <= info.embeddingNode; node++) core.call('wt_net_set_trainable', net, node, 0);
    const classes = readdirSync(TRAIN).sort();
    const BATCH = 10, perImage = 224 * 224 * 3;
    const x = new Float32Array(BATCH * perImage);
    const labels = new Int32Array(BATCH);
    for (let i = 0; i < BATCH; i++) {
      const cls = i % classes.length;
      const file = readdirSync(path.join(TRAIN, classes[cls])).sort()[Math.floor(i / classes.length)];
      x.set(imageToTensor(core, readFileSync(path.join(TRAIN, classes[cls], file))), i * perImage);
      labels[i] = cls; // the TM head's 5 outputs are reused as the 5 flower classes
    }
    core.call('wt_net_plan', net, BATCH);
    const nParams = core.module._wt_net_param_count(net);
    const snapshot = () => Array.from({ length: nParams }, (_, i) =>
      core.readFloats('wt_net_param_read', core.module._wtjs_param_count_floats(net, i), net, i));
    const before = snapshot();
    const opt = createOptimizer(core, net, { type: Optimizer.ADAM, learningRate: 1e-3 });
    const losses = [];
    core.withFloats(x, (xp) => core.withScratch(4 * BATCH + 4, (lp) => {
      core.heapI32().set(labels, lp >> 2);
      for (let step = 0; step < 25; step++) {
        core.call('wt_net_zero_grad', net);
        core.call('wt_net_forward', net, xp, BATCH, 1);
        core.call('wt_net_softmax_xent', net, info.logitsNode, lp, 0, 0, lp + 4 * BATCH);
        losses.push(core.heapF32()[(lp >> 2) + BATCH]);
        core.call('wt_net_backward', net);
        core.call('wt_optimizer_step', opt);
      }
    }));
    assert.ok(losses.at(-1) < losses[0] * 0.5, `loss went ${losses[0]} -> ${losses.at(-1)}`);
    const after = snapshot();
    let trainable = 0;
    for (let i = 0; i < nParams; i++) {
      const name = core.module.UTF8ToString(core.module._wtjs_param_name(net, i));
      const same = Buffer.compare(Buffer.from(before[i].buffer), Buffer.from(after[i].buffer)) === 0;
      if (core.module._wtjs_param_trainable(net, i) === 1) {
        trainable++;
        assert.ok(!same, `head parameter ${name} did not train`);
      }
      else assert.ok(same, `frozen parameter ${name} changed`);
    }
    // the head: Dense(100, relu) with bias, then Dense(5) without bias, as Teachable Machine builds it
    assert.equal(trainable, 3);
    core.module._wt_optimizer_destroy(opt);
    core.module._wt_net_destroy(net);
  } finally {
    core.module._wt_context_destroy(ctx);
  }
});
