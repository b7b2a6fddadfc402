// The wasm core through its exported C API, in Node: both variants load, train a small
// MobileNet-like net on a fixed batch, agree bit for bit (threads split outputs, never
// reductions), and report bad input as WebtuneErrors with a code and a message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCoreNode } from '../../js/src/core-node.js';
import { Layer, BnMode, Optimizer, addLayer, createOptimizer, WebtuneError } from '../../js/src/core.js';

const H = 12, W = 12, C = 3, BATCH = 8, CLASSES = 3;

function fixedBatch() {
  let s = 12345;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const x = new Float32Array(BATCH * H * W * C).map(rand);
  const labels = Int32Array.from({ length: BATCH }, (_, i) => i % CLASSES);
  return { x, labels };
}

function buildNet(core, ctx) {
  const net = core.callOutInt('wt_net_create', ctx, H, W, C);
  let x = addLayer(core, net, { type: Layer.CONV2D, input: 0, outChannels: 8, stride: 2 });
  x = addLayer(core, net, { type: Layer.BATCHNORM, input: x, bnMode: BnMode.BATCH_STATS });
  x = addLayer(core, net, { type: Layer.RELU6, input: x });
  const skip = x;
  x = addLayer(core, net, { type: Layer.DEPTHWISE, input: x });
  x = addLayer(core, net, { type: Layer.BATCHNORM, input: x, bnMode: BnMode.BATCH_STATS });
  x = addLayer(core, net, { type: Layer.RELU6, input: x });
  x = addLayer(core, net, { type: Layer.CONV2D, input: x, outChannels: 8, kernelH: 1, kernelW: 1 });
  x = addLayer(core, net, { type: Layer.ADD, input: x, input2: skip });
  x = addLayer(core, net, { type: Layer.GLOBAL_AVG_POOL, input: x });
  x = addLayer(core, net, { type: Layer.DROPOUT, input: x, dropoutRate: 0.1 });
  const logits = addLayer(core, net, { type: Layer.DENSE, name: 'head', input: x, outChannels: CLASSES, useBias: true });
  core.call('wt_net_plan', net, BATCH);
  return { net, logits };
}

/** Trains `steps` Adam steps; returns the losses and all parameters concatenated. */
function train(core, threads, steps) {
  const ctx = core.callOutInt('wtjs_context_create', threads, 7);
  const { net, logits } = buildNet(core, ctx);
  const opt = createOptimizer(core, net, { type: Optimizer.ADAM, learningRate: 0.01 });
  const { x, labels } = fixedBatch();
  const losses = [];
  core.withFloats(x, (xPtr) => core.withScratch(labels.length * 4, (lPtr) => {
    new Int32Array(core.module.HEAP32.buffer).set(labels, lPtr >> 2);
    core.withScratch(4, (lossPtr) => {
      for (let i = 0; i < steps; i++) {
        core.call('wt_net_zero_grad', net);
        core.call('wt_net_forward', net, xPtr, BATCH, 1);
        core.call('wt_net_softmax_xent', net, logits, lPtr, 0, 0, lossPtr);
        losses.push(new Float32Array(core.module.HEAPF32.buffer)[lossPtr >> 2]);
        core.call('wt_net_backward', net);
        core.call('wt_optimizer_step', opt);
      }
    });
  }));
  const params = [];
  const n = core.module._wt_net_param_count(net);
  for (let i = 0; i < n; i++) {
    const count = core.module._wtjs_param_count_floats(net, i);
    params.push(...core.readFloats('wt_net_param_read', count, net, i));
  }
  core.module._wt_optimizer_destroy(opt);
  core.module._wt_net_destroy(net);
  core.module._wt_context_destroy(ctx);
  return { losses, params: Float32Array.from(params) };
}

test('both wasm variants load and report whether threads are compiled in', async () => {
  const mt = await loadCoreNode('mt');
  const st = await loadCoreNode('st');
  assert.equal(mt.threadsCompiled, true);
  assert.equal(st.threadsCompiled, false);
});

test('a small net overfits a fixed batch in wasm, and st, mt x1 and mt x2 agree bit for bit', async () => {
  const st = train(await loadCoreNode('st'), 1, 120);
  const mt1 = train(await loadCoreNode('mt'), 1, 120);
  const mt2 = train(await loadCoreNode('mt'), 2, 120);
  assert.ok(st.losses[0] > 0.9, `initial loss ${st.losses[0]} should be near ln 3`);
  assert.ok(st.losses.at(-1) < 0.1, `loss fell only to ${st.losses.at(-1)}`);
  assert.deepEqual(mt1.losses, st.losses);
  assert.deepEqual(mt2.losses, st.losses);
  assert.deepEqual(Buffer.from(mt2.params.buffer), Buffer.from(st.params.buffer));
});

test('a threaded context really runs two threads in the mt variant and one in st', async () => {
  for (const [variant, want] of [['mt', 2], ['st', 1]]) {
    const core = await loadCoreNode(variant);
    const ctx = core.callOutInt('wtjs_context_create', 2, 0);
    assert.equal(core.module._wt_context_threads(ctx), want, variant);
    core.module._wt_context_destroy(ctx);
  }
});

test('bad input becomes a WebtuneError with a status code and a message', async () => {
  const core = await loadCoreNode('st');
  const ctx = core.callOutInt('wtjs_context_create', 1, 0);
  const { net } = buildNet(core, ctx);
  assert.throws(() => core.call('wt_net_plan', net, 0),
    (e) => e instanceof WebtuneError && e.code === 'WT_ERR_SHAPE' && /max_batch 0/.test(e.message));
  assert.throws(() => addLayer(core, net, { type: Layer.DENSE, input: 999, outChannels: 2 }),
    (e) => e.code === 'WT_ERR_NOT_FOUND' && /input node 999/.test(e.message));
  core.call('wt_net_plan', net, BATCH);
  const nan = new Float32Array(BATCH * H * W * C);
  nan[5] = NaN;
  assert.throws(() => core.withFloats(nan, (p) => core.call('wt_net_forward', net, p, BATCH, 1)),
    (e) => e.code === 'WT_ERR_NOT_FINITE' && /NaN/.test(e.message));
  assert.throws(() => core.call('wt_net_backward', net), (e) => e.code === 'WT_ERR_STATE');
  core.module._wt_net_destroy(net);
  core.module._wt_context_destroy(ctx);
});

test('a Node process that loaded the threaded module exits when its work is done', async () => {
  const { spawnSync } = await import('node:child_process');
  const url = new URL('../../js/src/core-node.js', import.meta.url).href;
  const script = `const { loadCoreNode } = await import(${JSON.stringify(url)});
    const core = await loadCoreNode('mt');
    const ctx = core.callOutInt('wtjs_context_create', 2, 0);
    core.module._wt_context_destroy(ctx);
    console.log('finished');`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30000 });
  assert.equal(run.stdout.trim(), 'finished');
  assert.equal(run.status, 0, `exit status ${run.status} (signal ${run.signal}): the pthread pool kept Node alive`);
});
