#!/usr/bin/env node
// scaling.mjs: webtune's 2-thread over 1-thread speed-up alone (issue 7's ">= 1.7x" criterion), in a
// few minutes instead of compare_tfjs.mjs's six, without TF.js timings.
//
//   node tests/bench/scaling.mjs [--arch v1_0.25,v2_0.35] [--rows emb,top2,full] [--iters N] [--wasm-dir DIR]
//
// The same networks and rows as compare_tfjs.mjs (embedding batch 32, top:2 and full steps at batch
// 16, Adam, memory saving on), but a 2-thread and a 1-thread net are built side by side and their
// iterations alternate one by one, so both see the same machine load; the step's phases are timed
// too. The scaling model (src/threadpool.h) predicts the ratio on two free cores from a 1-thread
// step whose parallel loops run as their two chunks one after the other: T1 / (T1 - loops + longest
// chunks); it ignores fork/join costs and memory bandwidth, but not the machine's load. `cores` is the 2-thread SIMD peak loop sampled after each 2-thread iteration over the
// 1-thread peak (~2: both cores were free; ~1: another process held one).
import path from 'node:path';
import os from 'node:os';
import { loadCoreNode, defaultWasmDir } from '../../js/src/core-node.js';
import { createOptimizer, Optimizer } from '../../js/src/core.js';
import { importTfjs } from '../../js/src/models.js';
import { ARCHS, buildMobilenet, toLayersFormat, topBlockLayers } from './mobilenets.mjs';
import { median, randomUniform } from './common.mjs';

const args = process.argv.slice(2);
const opt = { arch: ['v1_0.25', 'v2_0.35'], rows: ['emb', 'top2', 'full'], iters: 8, wasmDir: defaultWasmDir };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--arch') opt.arch = args[++i].split(',');
  else if (a === '--rows') opt.rows = args[++i].split(',');
  else if (a === '--iters') opt.iters = Number(args[++i]);
  else if (a === '--wasm-dir') opt.wasmDir = path.resolve(args[++i]);
  else {
    console.error('usage: scaling.mjs [--arch v1_0.25,v2_0.35,v1_1.0] [--rows emb,top2,full] [--iters N] [--wasm-dir DIR]');
    process.exit(2);
  }
}

const IMG = 224 * 224 * 3;

const core = await loadCoreNode('mt', { wasmDir: opt.wasmDir });
const M = core.module;
const ctx = { 2: core.callOutInt('wtjs_context_create', 2, 1), 1: core.callOutInt('wtjs_context_create', 1, 1) };
const peak1 = M._wtjs_bench_peak(1, 0.3);
const coresNow = () => M._wtjs_bench_peak(2, 0.03) / peak1;
const inPtr = core.alloc(32 * IMG * 4);
core.heapF32().set(randomUniform(32 * IMG, 7), inPtr >> 2);
const labelsPtr = core.alloc(32 * 4);
core.heapI32().set(Int32Array.from({ length: 32 }, (_, i) => i % 5), labelsPtr >> 2);
const lossPtr = core.alloc(4);

console.log(`webtune 2T/1T scaling, ${new Date().toISOString()}, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
if (M._wtjs_bench_forkjoin) {
  const fj = [0, 20, 100, 500].map((gap) => `${gap} us: ${M._wtjs_bench_forkjoin(2, gap, gap > 100 ? 500 : 3000).toFixed(1)} us`);
  console.log(`fork/join of a trivial 2-thread loop after a serial gap of ${fj.join(', ')}`);
}
console.log('| model | row | 2T ms | 1T ms | 2T/1T (median) | 2T/1T (best) | cores | model 2T/1T: 1T step, loops -> longest chunks, small loops, rest | phases 2T / 1T (ms) |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const arch of ARCHS.filter((a) => opt.arch.includes(a.id))) {
  const model = buildMobilenet(arch, { nClasses: 5 });
  const { modelJson, weights } = await toLayersFormat(model);
  const top2 = new Set([...topBlockLayers(model, 2), 'logits']);
  const all = new Set(model.layers.filter((l) => l.trainableWeights.length).map((l) => l.name));
  for (const row of opt.rows) {
    const nets = {};
    const phases = { 1: {}, 2: {} };
    const steps = {};
    for (const th of [2, 1]) {
      const training = row !== 'emb';
      const { net, info } = importTfjs(core, ctx[th], modelJson, weights, training ? { cutLayer: '' } : {});
      const n = M._wt_net_node_count(net);
      const trainSet = row === 'top2' ? top2 : all;
      for (let i = 1; i < n; i++) core.call('wt_net_set_trainable', net, i, 0);
      if (training) {
        for (const name of trainSet) {
          const node = core.withCString(name, (p) => core.callOutInt('wt_net_find_node', net, p));
          core.call('wt_net_set_trainable', net, node, 1);
        }
      }
      core.call('wt_net_set_memory_saving', net, 1);
      core.call('wt_net_keep_output', net, info.embeddingNode, 1);
      if (training) core.call('wt_net_keep_output', net, info.logitsNode, 1);
      const batch = training ? 16 : 32;
      core.call('wt_net_plan', net, batch);
      nets[th] = net;
      if (!training) {
        steps[th] = () => core.call('wt_net_forward', net, inPtr, batch, 0);
      } else {
        const o = createOptimizer(core, net, { type: Optimizer.ADAM, learningRate: 1e-4 });
        nets[th + 'o'] = o;
        const calls = [
          ['zero', () => core.call('wt_net_zero_grad', net)],
          ['fwd', () => core.call('wt_net_forward', net, inPtr, batch, 1)],
          ['loss', () => core.call('wt_net_softmax_xent', net, info.logitsNode, labelsPtr, 0, 0, lossPtr)],
          ['bwd', () => core.call('wt_net_backward', net)],
          ['opt', () => core.call('wt_optimizer_step', o)],
        ];
        steps[th] = () => {
          for (const [name, fn] of calls) {
            const t = performance.now();
            fn();
            (phases[th][name] ??= []).push(performance.now() - t);
          }
        };
      }
    }
    const ts = { 1: [], 2: [] };
    const cores = [];
    for (const th of [2, 1]) steps[th](); // warm-up
    for (const th of [2, 1]) phases[th] = {};
    for (let it = 0; it < opt.iters; it++) {
      for (const th of it % 2 ? [1, 2] : [2, 1]) {
        const t = performance.now();
        steps[th]();
        ts[th].push(performance.now() - t);
        if (th === 2) cores.push(coresNow());
      }
    }
    // the scaling model (src/threadpool.h): the 1-thread step with its loops run as 2 timed chunks
    const model = [];
    const out = core.alloc(5 * 8);
    for (let it = 0; it < (M._wtjs_pool_model_begin ? 3 : 0); it++) {
      M._wtjs_pool_model_begin(2);
      const t = performance.now();
      steps[1]();
      const wall = (performance.now() - t) / 1e3;
      M._wtjs_pool_model_end(out);
      const [loop, crit, serialLoop, loops, serialLoops] = new Float64Array(M.HEAPU8.buffer, out, 5);
      model.push({ wall, loop, crit, serialLoop, loops, serialLoops, pred: wall / (wall - loop + crit) });
    }
    core.free(out);
    model.sort((a, b) => a.pred - b.pred);
    const mm = model[1] ?? { pred: NaN, wall: NaN, loop: NaN, crit: NaN, serialLoop: NaN, loops: 0, serialLoops: 0 };
    for (const th of [2, 1]) {
      if (nets[th + 'o']) M._wt_optimizer_destroy(nets[th + 'o']);
      M._wt_net_destroy(nets[th]);
    }
    const m2 = median(ts[2]), m1 = median(ts[1]);
    const ph = (th) => Object.entries(phases[th]).map(([k, v]) => `${k} ${median(v).toFixed(1)}`).join(', ');
    const phs = row === 'emb' ? '' : `${ph(2)} / ${ph(1)}`;
    const ms = (x) => (x * 1e3).toFixed(1);
    const mod = `${mm.pred.toFixed(2)}x: ${ms(mm.wall)} ms, loops ${ms(mm.loop)} (${mm.loops}) -> ${ms(mm.crit)}, small loops ${ms(mm.serialLoop)} (${mm.serialLoops}), outside loops ${ms(mm.wall - mm.loop - mm.serialLoop)}`;
    console.log(`| ${arch.id} | ${row} | ${m2.toFixed(1)} | ${m1.toFixed(1)} | ${(m1 / m2).toFixed(2)}x | ${(Math.min(...ts[1]) / Math.min(...ts[2])).toFixed(2)}x | ${median(cores).toFixed(2)} | ${mod} | ${phs} |`);
  }
}
console.log(`load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
process.exit(0);
