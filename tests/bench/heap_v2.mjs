// heap_v2.mjs: where the wasm heap of `full` fine-tuning of MobileNet v2 0.35 at batch 16 goes
// (the memory row of compare_tfjs.mjs, step by step).   node tests/bench/heap_v2.mjs
import '@tensorflow/tfjs';
import { loadCoreNode } from '../../js/src/core-node.js';
import { createOptimizer, Optimizer } from '../../js/src/core.js';
import { importTfjs } from '../../js/src/models.js';
import { ARCHS, buildMobilenet, toLayersFormat } from './mobilenets.mjs';

const MB = (b) => (b / 1048576).toFixed(1);
const core = await loadCoreNode('mt');
const ctx = core.callOutInt('wtjs_context_create', 2, 1);
const show = (what) => console.log(`${what.padEnd(36)} wasm memory ${MB(core.heapBytes())} MB`);
show('module start');
const model = buildMobilenet(ARCHS.find((a) => a.id === 'v2_0.35'), { nClasses: 5 });
const { modelJson, weights } = await toLayersFormat(model);
const { net, info } = importTfjs(core, ctx, modelJson, weights, { cutLayer: '' });
show('imported');
const n = core.module._wt_net_node_count(net);
for (let i = 1; i < n; i++) core.call('wt_net_set_trainable', net, i, 1);
core.call('wt_net_set_memory_saving', net, 1);
for (const node of [info.embeddingNode, info.logitsNode]) core.call('wt_net_keep_output', net, node, 1);
core.call('wt_net_plan', net, 16);
show(`planned (${MB(core.module._wt_net_planned_bytes(net))} MB of buffers)`);
const o = createOptimizer(core, net, { type: Optimizer.ADAM, learningRate: 1e-4 });
const IMG = 224 * 224 * 3;
const x = core.alloc(16 * IMG * 4);
const lab = core.alloc(16 * 4);
core.heapI32().set(Int32Array.from({ length: 16 }, (_, i) => i % 5), lab >> 2);
const loss = core.alloc(4);
show('optimizer + input batch');
for (let s = 0; s < 2; s++) {
  core.call('wt_net_zero_grad', net);
  core.call('wt_net_forward', net, x, 16, 1);
  show(`step ${s + 1} forward`);
  core.call('wt_net_softmax_xent', net, info.logitsNode, lab, 0, 0, loss);
  core.call('wt_net_backward', net);
  show(`step ${s + 1} backward`);
  core.call('wt_optimizer_step', o);
  show(`step ${s + 1} update`);
}
process.exit(0);
