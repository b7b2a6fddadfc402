#!/usr/bin/env node
// compare_tfjs.mjs: webtune vs TensorFlow.js on the same networks, in one Node process (issue 7).
//
//   node tests/bench/compare_tfjs.mjs [--quick] [--arch v1_0.25,v2_0.35,v1_1.0] [--json out.json]
//                                     [--wasm-dir DIR] [--tfjs-step-budget SECONDS] [--tfjs-max-step SECONDS]
//                                     [--no-profile]
//   (npm run bench)
//
// For MobileNet v1 0.25, v2 0.35 and v1 1.0 at 224x224 (built in TF.js with the real Keras layer
// names and random weights, serialised in the TF.js layers format and imported into webtune, so both
// run the very same network), it measures:
//   embedding   forward to the pooled features: batch 1 latency, batch 32 images/s
//   head        a dense head (5 classes) trained on cached embeddings, batch 32: steps/s
//   top:2       forward + backward + Adam update with the last two MobileNet blocks + head trainable,
//               batch 16, images/s
//   full        the same with every layer trainable
// webtune runs in-process on the SIMD+threads module with 2 threads and with 1; batch norms run on
// their stored statistics (webtune's default; TF.js with training: false), Adam, softmax
// cross-entropy. TF.js uses its wasm backend (XNNPACK, SIMD; Node gets no threads from it). For
// embeddings it runs both the layers model (as tf.loadLayersModel / Teachable Machine run it: conv,
// batch norm and ReLU6 as separate ops) and the same backbone as a converted graph model runs it
// (batch norms folded, ReLU6 fused into tf.fused.conv2d / depthwiseConv2d); ratios use the faster.
// For training it runs the layers model, with the CPU backend's kernels for the three ops the wasm backend lacks
// (Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropInput/Filter: tensorflow/tfjs#8474).
// Those CPU kernels are so slow that a TF.js training step at batch 16 can take minutes; the script
// times TF.js training at the largest batch in 16, 8, 4, 2, 1 whose step fits --tfjs-step-budget
// seconds (default 20) and says which batch it used (their cost is linear in the batch). A step whose
// CPU-kernel work alone is predicted (from the fastest rate those kernels reached earlier in the run)
// to exceed --tfjs-max-step seconds (default 45; MobileNet v1 1.0 `full` needs minutes per image) is
// not run: the row shows that prediction as "est.", which overstates TF.js's speed. Those kernels'
// speed varies up to 10x with what else runs on the machine (they are cache-miss bound).
//
// It also measures the wasm SIMD mul+add peak (web/bench_peak.c, the loop of bench_kernels.c)
// in the same module, and times every conv / depthwise / pointwise / batch-norm / activation kernel
// of each network on its real shape (web/bench_peak.c wtjs_bench_kernel) for a per-layer-class
// profile and the pointwise GEMM's share of the peak. Medians of several timed iterations after
// warm-up; memory after each row: webtune's wasm heap, TF.js's wasm heap, process RSS.
import fs from 'node:fs';
import os from 'node:os';
import { execSync } from 'node:child_process';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadCoreNode, defaultWasmDir } from '../../js/src/core-node.js';
import { addLayer, createOptimizer, Optimizer, Layer } from '../../js/src/core.js';
import { importTfjs } from '../../js/src/models.js';
import { ARCHS, buildMobilenet, fusedMobilenet, toLayersFormat, topBlockLayers, layerMacs } from './mobilenets.mjs';
import { median, randomUniform } from './common.mjs';

// ---- options ----------------------------------------------------------------------------------
const args = process.argv.slice(2);
const opt = { quick: false, arch: null, json: null, wasmDir: defaultWasmDir, tfjsBudget: 20, tfjsMaxStep: 45, profile: true };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--quick') opt.quick = true;
  else if (a === '--arch') opt.arch = args[++i].split(',');
  else if (a === '--json') opt.json = args[++i];
  else if (a === '--wasm-dir') opt.wasmDir = path.resolve(args[++i]);
  else if (a === '--tfjs-step-budget') opt.tfjsBudget = Number(args[++i]);
  else if (a === '--tfjs-max-step') opt.tfjsMaxStep = Number(args[++i]);
  else if (a === '--no-profile') opt.profile = false;
  else {
    console.error('usage: compare_tfjs.mjs [--quick] [--arch v1_0.25,v2_0.35,v1_1.0] [--json out.json] [--wasm-dir DIR] [--tfjs-step-budget S] [--tfjs-max-step S] [--no-profile]');
    process.exit(2);
  }
}
if (opt.quick) opt.tfjsBudget = Math.min(opt.tfjsBudget, 6);
const archs = ARCHS.filter((a) => !opt.arch || opt.arch.includes(a.id));
const T0 = performance.now();
const log = (...m) => console.error(`[${((performance.now() - T0) / 1000).toFixed(0).padStart(4)} s]`, ...m);

// ---- small helpers ----------------------------------------------------------------------------
const MB = (b) => b / 1048576;
/** Runs fn `warm` times, then at least minIters times and until minSeconds have passed (at most
 * maxIters), calling after() (untimed) after each timed call; returns the seconds of each call and
 * their median. */
function timeIt(fn, { warm = 1, minIters = 5, minSeconds = 1, maxIters = 200, after = null } = {}) {
  for (let i = 0; i < warm; i++) fn();
  const ts = [];
  let spent = 0;
  while (ts.length < maxIters && (ts.length < minIters || spent < minSeconds)) {
    const t = performance.now();
    fn();
    ts.push((performance.now() - t) / 1e3);
    spent += ts[ts.length - 1];
    if (after) after();
  }
  return { samples: ts, ...stats(ts) };
}
function stats(ts) {
  return { median: median(ts), min: Math.min(...ts), n: ts.length };
}
const rss = () => process.memoryUsage().rss;
const IT = opt.quick
  ? { b1: { warm: 2, minIters: 5, minSeconds: 0.3 }, b32: { warm: 1, minIters: 2, minSeconds: 0.3 }, head: { warm: 3, minIters: 10, minSeconds: 0.2 }, train: { warm: 1, minIters: 2, minSeconds: 0.3 } }
  : { b1: { warm: 3, minIters: 15, minSeconds: 1.5 }, b32: { warm: 1, minIters: 3, minSeconds: 1 }, head: { warm: 5, minIters: 30, minSeconds: 1 }, train: { warm: 1, minIters: 3, minSeconds: 1.5 } };
const IMG = 224 * 224 * 3;
const ROUNDS = opt.quick ? 1 : 2; // webtune rows: rounds of (2 threads, 1 thread)
const PLAN_LIMIT = 1.4 * 2 ** 30; // a webtune plan larger than this would not fit the 2 GB wasm memory

// ---- the machine ------------------------------------------------------------------------------
function sourceState() {
  try {
    const run = (c) => execSync(c, { cwd: path.dirname(new URL(import.meta.url).pathname), stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const changed = run('git status --porcelain -- ../../src ../../include ../../web').split('\n').filter(Boolean).length;
    return `${run('git rev-parse --short HEAD')}${changed ? ` + ${changed} uncommitted change(s) in src/include/web` : ''}`;
  } catch {
    return 'unknown';
  }
}

function machine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1];
  } catch { /* not Linux */ }
  return {
    cpu, cores: os.cpus().length, memGB: +(os.totalmem() / 2 ** 30).toFixed(1), node: process.version,
    os: `${os.type()} ${os.release()}`, tfjs: tf.version.tfjs, loadavgStart: os.loadavg().map((x) => +x.toFixed(2)), source: sourceState(),
  };
}

// ---- TF.js setup ------------------------------------------------------------------------------
const FALLBACK_KERNELS = ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'];
const fallbackMs = Object.fromEntries(FALLBACK_KERNELS.map((k) => [k, 0]));

/** Registers the CPU backend's kernels for the ops the wasm backend lacks, under the wasm backend:
 * inputs are copied out of the wasm heap, run through tfjs-backend-cpu, and the result copied back. */
function registerCpuFallbacks() {
  const cpu = tf.findBackend('cpu');
  for (const kernelName of FALLBACK_KERNELS) {
    if (tf.getKernel(kernelName, 'wasm')) continue; // a future wasm backend has it
    const cpuKernel = tf.getKernel(kernelName, 'cpu');
    tf.registerKernel({
      kernelName, backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const t = performance.now();
        const ci = {};
        for (const [k, x] of Object.entries(inputs)) {
          ci[k] = { dataId: cpu.write(backend.readSync(x.dataId), x.shape, x.dtype), shape: x.shape, dtype: x.dtype };
        }
        const out = cpuKernel.kernelFunc({ inputs: ci, backend: cpu, attrs });
        const values = cpu.readSync(out.dataId);
        for (const x of Object.values(ci)) cpu.disposeData(x.dataId, true);
        cpu.disposeData(out.dataId, true);
        fallbackMs[kernelName] += performance.now() - t;
        return { dataId: backend.write(values, out.shape, out.dtype), shape: out.shape, dtype: out.dtype };
      },
    });
  }
}

const tfjsWasmHeap = () => tf.findBackend('wasm')?.wasm?.HEAPU8?.buffer?.byteLength ?? 0;

// ---- webtune helpers --------------------------------------------------------------------------
function nodeByName(core, net, name) {
  return core.withCString(name, (p) => core.callOutInt('wt_net_find_node', net, p));
}
function setTrainable(core, net, names /* Set or 'all' or 'none' */) {
  const n = core.module._wt_net_node_count(net);
  for (let i = 1; i < n; i++) core.call('wt_net_set_trainable', net, i, names === 'all' ? 1 : 0);
  if (names instanceof Set) for (const name of names) core.call('wt_net_set_trainable', net, nodeByName(core, net, name), 1);
}

/** webtune's memory-saving plan (shared activation buffers), as its trainer uses it, when the module
 * exports it; the embedding/logits outputs stay readable either way. Returns whether it is on. */
function memorySaving(core, net, keep = []) {
  const M = core.module;
  if (typeof M._wt_net_set_memory_saving !== 'function') return false;
  core.call('wt_net_set_memory_saving', net, 1);
  if (typeof M._wt_net_keep_output === 'function') for (const node of keep) core.call('wt_net_keep_output', net, node, 1);
  return true;
}

/** One training step of a planned net: zero grads, forward (training), softmax xent, backward, Adam. */
function makeStep(core, net, logits, opt, inPtr, labelsPtr, lossPtr, batch, phases = null) {
  if (!phases) {
    return () => {
      core.call('wt_net_zero_grad', net);
      core.call('wt_net_forward', net, inPtr, batch, 1);
      core.call('wt_net_softmax_xent', net, logits, labelsPtr, 0, 0, lossPtr);
      core.call('wt_net_backward', net);
      core.call('wt_optimizer_step', opt);
    };
  }
  // the same, with the time of each phase appended to phases[name]
  const calls = [
    ['zero_grad', () => core.call('wt_net_zero_grad', net)],
    ['forward', () => core.call('wt_net_forward', net, inPtr, batch, 1)],
    ['loss', () => core.call('wt_net_softmax_xent', net, logits, labelsPtr, 0, 0, lossPtr)],
    ['backward', () => core.call('wt_net_backward', net)],
    ['optimizer', () => core.call('wt_optimizer_step', opt)],
  ];
  return () => {
    for (const [name, fn] of calls) {
      const t = performance.now();
      fn();
      (phases[name] ??= []).push((performance.now() - t) / 1e3);
    }
  };
}

// ---- FLOPs ------------------------------------------------------------------------------------
/** Flops per image: forward of every conv/dense layer; a training step adds d_weight for trainable
 * layers and d_input for layers above the lowest trainable one (2 flops per multiply-add). */
function flopsPerImage(model, trainable /* Set of layer names or null */) {
  const macs = layerMacs(model);
  let fwd = 0;
  let bwd = 0;
  let seenTrainable = false;
  for (const l of macs) {
    fwd += 2 * l.macs;
    if (!trainable) continue;
    const tr = trainable.has(l.name);
    if (tr) bwd += 2 * l.macs; // d_weight
    if (seenTrainable) bwd += 2 * l.macs; // d_input (something below trains)
    if (tr) seenTrainable = true;
  }
  return fwd + bwd;
}

/** Multiply-adds per image of a training step that TF.js runs in the CPU-backend fallback kernels:
 * Conv2DBackpropFilter of trainable convolutions, DepthwiseConv2dNativeBackpropFilter of trainable
 * depthwise layers, DepthwiseConv2dNativeBackpropInput of depthwise layers above the lowest
 * trainable one. */
function fallbackMacsPerImage(model, trainable) {
  let macs = 0;
  let seenTrainable = false;
  for (const l of layerMacs(model)) {
    const tr = trainable.has(l.name);
    if (tr && (l.cls === 'conv' || l.cls === 'pw' || l.cls === 'dw')) macs += l.macs;
    if (seenTrainable && l.cls === 'dw') macs += l.macs;
    if (tr) seenTrainable = true;
  }
  return macs;
}

// ---- per-layer kernel profile (web/bench_peak.c) ----------------------------------------------
const OP = {
  LINEAR_FWD: 0, LINEAR_BWD_DATA: 1, LINEAR_BWD_WEIGHT: 2, DW_FWD: 3, DW_BWD: 4, DW_BWD_WEIGHT: 5,
  CONV_FWD: 6, CONV_BWD: 7, CONV_BWD_WEIGHT: 8, BN_FROZEN_FWD: 9, BN_FROZEN_BWD: 10,
  RELU6_FWD: 13, RELU6_BWD: 14, ADD: 15, AXPY: 16, MEMSET: 17, BN_RELU6_FWD: 18, ZERO: 19,
  LINEAR_FWD_RELU6: 20, DW_FWD_RELU6: 21,
};

/** The kernel calls webtune makes for one forward (+ backward) pass over the model's layers. */
function kernelCalls(model, batch, trainable /* Set or null (inference) */) {
  const calls = [];
  const needsGrad = new Map(); // layer name -> its output gradient is needed
  const inputsOf = (l) => (l.inboundNodes[0]?.inboundLayers ?? []).map((x) => x.name);
  const shapeOf = (s) => s.slice(1);
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  // a ReLU6 that reads a batch norm runs with it in one forward pass (net.c; batch norms here use
  // stored statistics); backward keeps them apart
  const fusedRelu = new Set();
  for (const l of model.layers) {
    const ins = inputsOf(l);
    const cls = l.getClassName();
    if ((cls === 'Activation' || cls === 'ReLU') && ins.length === 1 && byName.get(ins[0])?.getClassName() === 'BatchNormalization') fusedRelu.add(l.name);
  }
  const fusedBn = new Set([...fusedRelu].map((n) => inputsOf(byName.get(n))[0]));
  // Inference-mode folding (net.c, plan_folds; the nets here plan with memory saving on): a
  // convolution read only by a batch norm, neither trained nor above anything trained, runs with the
  // batch norm folded in, and clamps as it stores when only a ReLU6 reads that batch norm. Folded
  // batch norms and ReLU6s run no kernel of their own.
  const readers = new Map();
  for (const l of model.layers) for (const n of inputsOf(l)) readers.set(n, [...(readers.get(n) ?? []), l]);
  const soleReader = (name, cls) => {
    const r = readers.get(name) ?? [];
    return r.length === 1 && cls.includes(r[0].getClassName()) ? r[0] : null;
  };
  const folded = new Set(); // batch norms and ReLU6s folded into their convolution
  const clamps = new Set(); // convolutions that clamp as they store
  for (const l of model.layers) {
    const cls = l.getClassName();
    const ins = inputsOf(l);
    const hasParams = l.trainableWeights.length > 0;
    const tr = !!trainable && hasParams && trainable.has(l.name);
    const inNeeds = ins.some((n) => needsGrad.get(n));
    needsGrad.set(l.name, tr || inNeeds);
    const bn = (cls === 'Conv2D' || cls === 'DepthwiseConv2D') && !needsGrad.get(l.name) ? soleReader(l.name, ['BatchNormalization']) : null;
    if (bn && !(trainable && trainable.has(bn.name))) {
      folded.add(bn.name);
      const relu = soleReader(bn.name, ['Activation', 'ReLU']);
      if (relu) {
        folded.add(relu.name);
        clamps.add(l.name);
      }
    }
    if (folded.has(l.name)) continue;
    if (cls === 'InputLayer' || cls === 'ZeroPadding2D' || cls === 'GlobalAveragePooling2D' || cls === 'Dense') continue;
    let src = byName.get(ins[0]);
    let [ih, iw, ic] = shapeOf(src.outputShape);
    let padded = false;
    if (src.getClassName() === 'ZeroPadding2D') {
      [ih, iw, ic] = shapeOf(byName.get(inputsOf(src)[0]).outputShape);
      padded = true;
    }
    const [oh, ow, oc] = shapeOf(l.outputShape);
    const back = trainable && needsGrad.get(l.name);
    const dIn = back && inNeeds;
    const nOut = batch * oh * ow * oc;
    const push = (cls2, op, dims, flops = 0) => calls.push({ layer: l.name, cls: cls2, op, dims, flops });
    const conv = (k, s) => {
      const tot = padded ? 0 : Math.max((oh - 1) * s + k - ih, 0);
      return [batch, ih, iw, ic, oh, ow, oc, k, s, Math.floor(tot / 2), Math.floor(tot / 2)];
    };
    if (cls === 'Conv2D' && l.kernelSize[0] === 1 && l.strides[0] === 1) {
      const d = [batch, ih, iw, ic, oh, ow, oc, 1, 1, 0, 0];
      const f = 2 * batch * ih * iw * ic * oc;
      push('pointwise fwd', clamps.has(l.name) ? OP.LINEAR_FWD_RELU6 : OP.LINEAR_FWD, d, f);
      if (back && tr) push('pointwise bwd-weight', OP.LINEAR_BWD_WEIGHT, d, f);
      if (dIn) push('pointwise bwd-data', OP.LINEAR_BWD_DATA, d, f);
    } else if (cls === 'Conv2D') {
      const d = conv(l.kernelSize[0], l.strides[0]);
      const f = 2 * batch * oh * ow * oc * l.kernelSize[0] * l.kernelSize[1] * ic;
      push('conv3x3 fwd', OP.CONV_FWD, d, f);
      if (clamps.has(l.name)) push('relu6 fwd', OP.RELU6_FWD, [1, 1, 1, nOut, 1, 1, nOut, 1, 1, 0, 0]); // the stem clamps in a pass
      if (back) push('conv3x3 bwd', dIn ? OP.CONV_BWD : OP.CONV_BWD_WEIGHT, d, dIn ? 2 * f : f);
    } else if (cls === 'DepthwiseConv2D') {
      const d = conv(l.kernelSize[0], l.strides[0]);
      const f = 2 * batch * oh * ow * oc * 9;
      push('depthwise fwd', clamps.has(l.name) ? OP.DW_FWD_RELU6 : OP.DW_FWD, d, f);
      if (back) push('depthwise bwd', dIn ? OP.DW_BWD : OP.DW_BWD_WEIGHT, d, dIn ? 2 * f : f);
    } else if (cls === 'BatchNormalization') {
      const d = [batch, oh, ow, oc, oh, ow, oc, 1, 1, 0, 0];
      if (fusedBn.has(l.name)) push('batchnorm+relu6 fwd', OP.BN_RELU6_FWD, d);
      else push('batchnorm fwd', OP.BN_FROZEN_FWD, d);
      if (back) push('batchnorm bwd', OP.BN_FROZEN_BWD, d);
    } else if (cls === 'Activation' || cls === 'ReLU') {
      const d = [1, 1, 1, nOut, 1, 1, nOut, 1, 1, 0, 0];
      if (!fusedRelu.has(l.name)) push('relu6 fwd', OP.RELU6_FWD, d);
      if (dIn) push('relu6 bwd', OP.RELU6_BWD, d);
    } else if (cls === 'Add') {
      const d = [1, 1, 1, nOut, 1, 1, nOut, 1, 1, 0, 0];
      push('add fwd', OP.ADD, d);
      if (back) { push('add bwd', OP.AXPY, d); push('add bwd', OP.AXPY, d); }
    }
    // every output gradient buffer is zeroed once per step, split over the pool (net.c)
    if (back) {
      const d = [1, 1, 1, nOut, 1, 1, nOut, 1, 1, 0, 0];
      push('zeroing gradients', OP.ZERO, d);
    }
  }
  return calls;
}

const kernelCache = new Map();
function timeKernel(M, op, threads, dims, seconds) {
  const key = `${op}/${threads}/${dims.join(',')}`;
  if (!kernelCache.has(key)) kernelCache.set(key, M._wtjs_bench_kernel(op, threads, ...dims, seconds));
  return kernelCache.get(key);
}

/** Estimated seconds per class for the calls, from single-kernel timings. */
function profile(M, calls, threads, seconds) {
  const byClass = new Map();
  for (const c of calls) {
    const t = timeKernel(M, c.op, threads, c.dims, seconds);
    const e = byClass.get(c.cls) ?? { seconds: 0, flops: 0, calls: 0 };
    e.seconds += t;
    e.flops += c.flops;
    e.calls++;
    byClass.set(c.cls, e);
  }
  return byClass;
}

// ---- main -------------------------------------------------------------------------------------
async function main() {
  const info = machine();
  log(`machine: ${info.cpu}, ${info.cores} cores, load ${info.loadavgStart.join(' ')}`);

  // webtune: the SIMD + threads module, contexts of 2 and 1 threads
  const core = await loadCoreNode('mt', { wasmDir: opt.wasmDir });
  const M = core.module;
  if (typeof M._wtjs_bench_peak !== 'function') {
    throw new Error(`${opt.wasmDir}/webtune-mt.wasm has no wtjs_bench_peak export (web/bench_peak.c): rebuild with "npm run build:wasm"`);
  }
  const ctx2 = core.callOutInt('wtjs_context_create', 2, 1);
  const ctx1 = core.callOutInt('wtjs_context_create', 1, 1);
  const threads2 = M._wt_context_threads(ctx2);

  // peak (measured again at the end; the best of both counts)
  const peak = { 1: M._wtjs_bench_peak(1, opt.quick ? 0.2 : 0.6), 2: M._wtjs_bench_peak(2, opt.quick ? 0.2 : 0.6) };
  log(`wasm SIMD mul+add peak: 1 thread ${peak[1].toFixed(1)} GFLOP/s, 2 threads ${peak[2].toFixed(1)} GFLOP/s`);
  const coresNow = () => M._wtjs_bench_peak(2, 0.03) / peak[1];

  // TF.js: wasm backend (+ CPU kernels for what it lacks)
  await tf.setBackend('cpu');
  await tf.ready();
  await tf.setBackend('wasm');
  await tf.ready();
  const tfjsInfo = {
    backend: tf.getBackend(),
    simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    threadsSupported: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
  };
  registerCpuFallbacks();
  // Warm the fallback kernels up on small shapes first: left to a single long first call, V8 at times
  // keeps them unoptimised for the whole call (then they run ~10x slower).
  tf.tidy(() => {
    const x = tf.randomUniform([2, 16, 16, 8]);
    const w = tf.randomUniform([1, 1, 8, 8]);
    const d = tf.randomUniform([3, 3, 8, 1]);
    const g = tf.grads((a, b, c) => tf.depthwiseConv2d(tf.conv2d(a, b, 1, 'same'), c, 2, 'same').sum());
    for (let i = 0; i < 200; i++) tf.tidy(() => g([x, w, d]).forEach((t) => t.dataSync()));
  });
  log(`TF.js ${tf.version.tfjs}: backend ${tfjsInfo.backend}, SIMD ${tfjsInfo.simd}, threads ${tfjsInfo.threadsSupported ? 'yes' : 'no (the wasm backend disables them in Node: tfjs#3830)'}`);

  const results = [];
  const profiles = [];
  let cpuRate = 0; // fastest multiply-adds/s the CPU-backend fallback kernels reached so far
  const inPtr = core.alloc(32 * IMG * 4);
  core.heapF32().set(randomUniform(32 * IMG, 7), inPtr >> 2);
  const labelsPtr = core.alloc(32 * 4);
  core.heapI32().set(Int32Array.from({ length: 32 }, (_, i) => i % 5), labelsPtr >> 2);
  const lossPtr = core.alloc(4);
  const xAll = tf.tensor4d(randomUniform(32 * IMG, 7), [32, 224, 224, 3]);

  for (const arch of archs) {
    log(`== ${arch.label}`);
    const model = buildMobilenet(arch, { nClasses: 5 });
    const embModel = tf.model({ inputs: model.inputs, outputs: model.getLayer('embedding').output });
    const { modelJson, weights } = await toLayersFormat(model);
    const embDim = model.getLayer('embedding').outputShape[1];
    const top2 = new Set([...topBlockLayers(model, 2), 'logits']);
    const all = new Set(model.layers.filter((l) => l.trainableWeights.length).map((l) => l.name));
    const flops = { emb: flopsPerImage(model, null), top2: flopsPerImage(model, top2), full: flopsPerImage(model, all) };
    const row = (name, extra) => {
      const r = { arch: arch.id, archLabel: arch.label, row: name, ...extra };
      results.push(r);
      return r;
    };

    // -- webtune: embedding (rounds alternate 2 and 1 threads, so both see the same machine) ------
    const wt = { b1: [], b32: { 1: [], 2: [] }, cores: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [th, ctx] of [[2, ctx2], [1, ctx1]]) {
        const { net, info: ii } = importTfjs(core, ctx, modelJson, weights, {});
        setTrainable(core, net, 'none');
        wt.memSaving = memorySaving(core, net, [ii.embeddingNode]);
        // a plan for 32 that would not fit the 2 GB wasm memory runs the 32 images in chunks
        core.call('wt_net_plan', net, 1);
        let chunk = 32;
        while (chunk > 1 && chunk * M._wt_net_planned_bytes(net) > PLAN_LIMIT) chunk /= 2;
        wt.chunk = chunk;
        core.call('wt_net_plan', net, chunk);
        if (th === 2 && round === 0) wt.b1 = timeIt(() => core.call('wt_net_forward', net, inPtr, 1, 0), IT.b1);
        wt.b32[th].push(...timeIt(() => {
          for (let b = 0; b < 32; b += chunk) core.call('wt_net_forward', net, inPtr + b * IMG * 4, chunk, 0);
        }, { ...IT.b32, after: th === 2 ? () => wt.cores.push(coresNow()) : null }).samples);
        if (th === 2 && round === 0) {
          wt.embPlanned = M._wt_net_planned_bytes(net);
          wt.embHeap = core.heapBytes();
        }
        M._wt_net_destroy(net);
      }
    }
    const e2 = stats(wt.b32[2]);
    const e1 = stats(wt.b32[1]);
    log(`webtune embedding: b1 ${(wt.b1.median * 1e3).toFixed(2)} ms, b32 ${(32 / e2.median).toFixed(1)} img/s (2T), ${(32 / e1.median).toFixed(1)} img/s (1T)`);

    // -- TF.js: embedding, as a layers model (loadLayersModel, Teachable Machine) and as a converted
    //    graph model runs it (batch norms folded, ReLU6 fused: the faster of the two) --------------
    await tf.setBackend('wasm');
    const x1 = xAll.slice([0, 0, 0, 0], [1, 224, 224, 3]);
    const fused = fusedMobilenet(arch);
    const tf1 = timeIt(() => { const y = fused.predict(x1); y.dataSync(); y.dispose(); }, IT.b1);
    const tf32 = timeIt(() => { const y = fused.predict(xAll); y.dataSync(); y.dispose(); }, { ...IT.b32, minIters: 2 * IT.b32.minIters });
    const tl1 = timeIt(() => { const y = embModel.predict(x1); y.dataSync(); y.dispose(); }, IT.b1);
    const tl32 = timeIt(() => { const y = embModel.predict(xAll); y.dataSync(); y.dispose(); }, IT.b32);
    const tfEmbHeap = tfjsWasmHeap();
    fused.dispose();
    log(`TF.js embedding: b1 ${(tf1.median * 1e3).toFixed(2)} ms fused / ${(tl1.median * 1e3).toFixed(2)} ms layers, b32 ${(32 / tf32.median).toFixed(1)} img/s fused / ${(32 / tl32.median).toFixed(1)} layers`);
    row('embedding b1 latency (ms)', {
      unit: 'ms', lowerIsBetter: true, wt2: wt.b1.median * 1e3, wt1: null, tfjs: tf1.median * 1e3, tfjsBackend: 'wasm, fused', tfjsLayers: tl1.median * 1e3,
      gflops: flops.emb / wt.b1.median / 1e9, peakThreads: 2, wtHeapMB: MB(wt.embHeap), wtPlanMB: MB(wt.embPlanned),
      tfjsHeapMB: MB(tfEmbHeap), rssMB: MB(rss()),
    });
    row('embedding b32 (img/s)', {
      unit: 'img/s', wt2: 32 / e2.median, wt1: 32 / e1.median, speedupBest: e1.min / e2.min, tfjs: 32 / tf32.median, tfjsBackend: 'wasm, fused',
      tfjsLayers: 32 / tl32.median, wtChunk: wt.chunk, wtMemSaving: wt.memSaving, wtIters: [e2.n, e1.n],
      gflops: (32 * flops.emb) / e2.median / 1e9, gflops1: (32 * flops.emb) / e1.median / 1e9, peakThreads: 2,
      cores: median(wt.cores), wtHeapMB: MB(wt.embHeap), wtPlanMB: MB(wt.embPlanned), tfjsHeapMB: MB(tfEmbHeap), rssMB: MB(rss()),
    });
    x1.dispose();

    // -- head on cached embeddings (batch 32, 5 classes) ---------------------------------------
    {
      const net = core.callOutInt('wt_net_create', ctx2, 1, 1, embDim);
      const logits = addLayer(core, net, { type: Layer.DENSE, name: 'logits', input: 0, outChannels: 5, useBias: true });
      core.call('wt_net_plan', net, 32);
      const o = createOptimizer(core, net, { type: Optimizer.ADAM, learningRate: 1e-3 });
      const embPtr = core.alloc(32 * embDim * 4);
      core.heapF32().set(randomUniform(32 * embDim, 3).map((v) => 3 * (v + 1)), embPtr >> 2);
      const th = timeIt(makeStep(core, net, logits, o, embPtr, labelsPtr, lossPtr, 32), IT.head);
      const heap = core.heapBytes();
      M._wt_optimizer_destroy(o);
      M._wt_net_destroy(net);
      core.free(embPtr);
      const head = tf.sequential({ layers: [tf.layers.dense({ units: 5, inputShape: [embDim] })] });
      const topt = tf.train.adam(1e-3);
      const e = tf.randomUniform([32, embDim], 0, 6);
      const y = tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 5), 'int32'), 5);
      const tt = timeIt(() => {
        const loss = topt.minimize(() => tf.losses.softmaxCrossEntropy(y, head.apply(e)), true, head.trainableWeights.map((w) => w.val));
        loss.dataSync();
        loss.dispose();
      }, IT.head);
      e.dispose(); y.dispose(); head.dispose(); topt.dispose();
      row('head step b32 (steps/s)', {
        unit: 'steps/s', wt2: 1 / th.median, wt1: null, tfjs: 1 / tt.median, tfjsBackend: 'wasm',
        gflops: (32 * 3 * 2 * embDim * 5) / th.median / 1e9, peakThreads: 2, wtHeapMB: MB(heap), tfjsHeapMB: MB(tfjsWasmHeap()), rssMB: MB(rss()),
      });
      log(`head: webtune ${(1 / th.median).toFixed(0)} steps/s, TF.js ${(1 / tt.median).toFixed(0)} steps/s`);
    }

    // -- fine-tuning steps (batch 16) ----------------------------------------------------------
    for (const [strat, trainSet] of [['top:2', top2], ['full', all]]) {
      const r = { 1: [], 2: [], cores: [], phases: { 1: {}, 2: {} } };
      for (let round = 0; round < ROUNDS; round++) {
        for (const [th, ctx] of [[2, ctx2], [1, ctx1]]) {
          const { net, info: ii } = importTfjs(core, ctx, modelJson, weights, { cutLayer: '' });
          setTrainable(core, net, trainSet);
          r.memSaving = memorySaving(core, net, [ii.embeddingNode, ii.logitsNode]);
          // the batch: 16 unless its plan would not fit the 2 GB wasm memory
          core.call('wt_net_plan', net, 1);
          const per = M._wt_net_planned_bytes(net);
          let b = 16;
          while (b > 1 && b * per > PLAN_LIMIT) b /= 2;
          if (b < 16) r.b16Bytes = 16 * per;
          r.batch = b;
          core.call('wt_net_plan', net, b);
          const o = createOptimizer(core, net, { type: Optimizer.ADAM, learningRate: 1e-4 });
          const t = timeIt(makeStep(core, net, ii.logitsNode, o, inPtr, labelsPtr, lossPtr, b, r.phases[th]),
            { ...IT.train, after: th === 2 ? () => r.cores.push(coresNow()) : null });
          r[th].push(...t.samples);
          if (th === 2 && round === 0) {
            r.planned = M._wt_net_planned_bytes(net);
            r.heap = core.heapBytes();
          }
          M._wt_optimizer_destroy(o);
          M._wt_net_destroy(net);
        }
      }
      const s2 = stats(r[2]);
      const s1 = stats(r[1]);
      const ph = (th) => Object.fromEntries(Object.entries(r.phases[th]).map(([k, v]) => [k, median(v)]));
      log(`webtune ${strat}: ${(r.batch / s2.median).toFixed(1)} img/s (2T), ${(r.batch / s1.median).toFixed(1)} img/s (1T) at batch ${r.batch}`);

      // TF.js: wasm + CPU fallback kernels, at the largest batch whose step fits the budget
      await tf.setBackend('wasm');
      for (const l of model.layers) l.trainable = trainSet.has(l.name);
      const topt = tf.train.adam(1e-4);
      const vars = model.trainableWeights.map((w) => w.val);
      const stepAt = (b) => {
        const x = xAll.slice([0, 0, 0, 0], [b, 224, 224, 3]);
        const y = tf.oneHot(tf.tensor1d(Array.from({ length: b }, (_, i) => i % 5), 'int32'), 5);
        for (const k of FALLBACK_KERNELS) fallbackMs[k] = 0;
        const t = performance.now();
        const loss = topt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: false })), true, vars);
        loss.dataSync();
        const s = (performance.now() - t) / 1e3;
        loss.dispose(); x.dispose(); y.dispose();
        return { s, fallback: Object.values(fallbackMs).reduce((a, v) => a + v, 0) / 1e3 };
      };
      // Multiply-adds per image that run in the CPU-backend kernels; a step predicted (from the
      // fastest rate those kernels reached so far in this run) to take longer than --tfjs-max-step
      // is not run: its images/s is that prediction (an overestimate of TF.js), marked "est.".
      const cpuMacs = fallbackMacsPerImage(model, trainSet);
      const predicted = cpuRate > 0 ? cpuMacs / cpuRate : 0;
      const samples = [];
      let tb = 1;
      let fb = 1;
      let estimated = false;
      if (predicted > opt.tfjsMaxStep) {
        estimated = true;
      } else {
        const cal = stepAt(1); // warm-up and calibration: seconds per image
        if (cal.fallback > 0) cpuRate = Math.max(cpuRate, cpuMacs / cal.fallback);
        for (const b of [16, 8, 4, 2]) if (b * cal.s <= opt.tfjsBudget) { tb = b; break; }
        fb = cal.fallback / cal.s;
        if (tb === 1 && cal.s > opt.tfjsBudget / 2) {
          samples.push(cal.s); // too slow to repeat: the calibration step is the measurement
        } else {
          if (tb > 1 && tb * cal.s < 5) stepAt(tb); // warm-up at this batch (slower steps are warm enough)
          const n = Math.max(1, Math.min(opt.quick ? 1 : 3, Math.floor((2 * opt.tfjsBudget) / (tb * cal.s))));
          for (let i = 0; i < n; i++) {
            const m = stepAt(tb);
            samples.push(m.s);
            fb = m.fallback / m.s;
            if (m.fallback > 0) cpuRate = Math.max(cpuRate, (tb * cpuMacs) / m.fallback);
          }
        }
      }
      topt.dispose();
      for (const l of model.layers) l.trainable = true;
      const tfImgS = estimated ? 1 / predicted : tb / median(samples);
      log(estimated
        ? `TF.js ${strat}: not run (a batch-1 step would take ~${predicted.toFixed(0)} s in the CPU kernels alone); est. <= ${tfImgS.toFixed(4)} img/s`
        : `TF.js ${strat}: ${tfImgS.toFixed(3)} img/s at batch ${tb} (${samples.length} timed step(s), ${(100 * fb).toFixed(0)}% in CPU kernels)`);
      row(`${strat} step b16 (img/s)`, {
        unit: 'img/s', wt2: r.batch / s2.median, wt1: r.batch / s1.median, speedupBest: s1.min / s2.min, tfjs: tfImgS,
        wtBatch: r.batch, wtB16Bytes: r.b16Bytes ?? null, wtIters: [s2.n, s1.n],
        tfjsBackend: estimated ? 'wasm+cpu (est.)' : `wasm+cpu (b${tb}${samples.length === 1 ? ', 1 step' : ''})`, tfjsBatch: tb,
        tfjsSteps: samples.length, tfjsCpuShare: fb, tfjsEstimated: estimated, tfjsCpuMacs: cpuMacs,
        gflops: (r.batch * flops[strat === 'full' ? 'full' : 'top2']) / s2.median / 1e9,
        gflops1: (r.batch * flops[strat === 'full' ? 'full' : 'top2']) / s1.median / 1e9, peakThreads: 2,
        cores: median(r.cores), wtHeapMB: MB(r.heap), wtPlanMB: MB(r.planned), tfjsHeapMB: MB(tfjsWasmHeap()), rssMB: MB(rss()), wtMemSaving: r.memSaving,
        wtPhases2: ph(2), wtPhases1: ph(1),
      });
    }

    // -- per-layer-class profile from single-kernel timings -------------------------------------
    if (opt.profile) {
      const sec = opt.quick ? 0.005 : 0.02;
      const embRow = results.find((x) => x.arch === arch.id && x.row.startsWith('embedding b32'));
      const fullRow = results.find((x) => x.arch === arch.id && x.row.startsWith('full'));
      const emb = profile(M, kernelCalls(model, 32, null), 2, sec);
      const fb = fullRow.wtBatch;
      const full = profile(M, kernelCalls(model, fb, all), 2, sec);
      profiles.push({ arch: arch.id, archLabel: arch.label, what: 'embedding b32, 2 threads', measured: 32 / embRow.wt2, classes: Object.fromEntries(emb) });
      profiles.push({ arch: arch.id, archLabel: arch.label, what: `full step b${fb}, 2 threads`, measured: fb / fullRow.wt2, classes: Object.fromEntries(full) });
      log(`profiled ${kernelCache.size} kernel shapes so far`);
    }
    model.dispose();
  }

  // pointwise GEMM share of the peak (1 and 2 threads) over every pointwise layer of the models
  const pw = { 1: { f: 0, s: 0 }, 2: { f: 0, s: 0 } };
  if (opt.profile) {
    for (const arch of archs) {
      const model = buildMobilenet(arch, { nClasses: 5 });
      const all = new Set(model.layers.filter((l) => l.trainableWeights.length).map((l) => l.name));
      for (const c of kernelCalls(model, 16, all)) {
        if (!c.cls.startsWith('pointwise')) continue;
        for (const th of [1, 2]) {
          pw[th].f += c.flops;
          pw[th].s += timeKernel(M, c.op, th, c.dims, opt.quick ? 0.005 : 0.02);
        }
      }
      model.dispose();
    }
  }
  const peakEnd = { 1: M._wtjs_bench_peak(1, opt.quick ? 0.2 : 0.6), 2: M._wtjs_bench_peak(2, opt.quick ? 0.2 : 0.6) };
  const peakBest = { 1: Math.max(peak[1], peakEnd[1]), 2: Math.max(peak[2], peakEnd[2]) };

  // peak wasm heap of `full` fine-tuning of MobileNet v2 0.35 at batch 16, in a fresh module
  let v2Heap = null;
  if (archs.some((a) => a.id === 'v2_0.35')) {
    const fresh = await loadCoreNode('mt', { wasmDir: opt.wasmDir });
    const ctx = fresh.callOutInt('wtjs_context_create', 2, 1);
    const before = fresh.heapBytes();
    const model = buildMobilenet(ARCHS.find((a) => a.id === 'v2_0.35'), { nClasses: 5 });
    const { modelJson, weights } = await toLayersFormat(model);
    const { net, info: ii } = importTfjs(fresh, ctx, modelJson, weights, { cutLayer: '' });
    setTrainable(fresh, net, 'all');
    const saving = memorySaving(fresh, net, [ii.embeddingNode, ii.logitsNode]);
    fresh.call('wt_net_plan', net, 16);
    const o = createOptimizer(fresh, net, { type: Optimizer.ADAM, learningRate: 1e-4 });
    const x = fresh.alloc(16 * IMG * 4);
    fresh.heapF32().set(randomUniform(16 * IMG, 9), x >> 2);
    const lab = fresh.alloc(16 * 4);
    fresh.heapI32().set(Int32Array.from({ length: 16 }, (_, i) => i % 5), lab >> 2);
    const loss = fresh.alloc(4);
    const step = makeStep(fresh, net, ii.logitsNode, o, x, lab, loss, 16);
    step(); step();
    v2Heap = { initialMB: MB(before), peakMB: MB(fresh.heapBytes()), planMB: MB(fresh.module._wt_net_planned_bytes(net)), memSaving: saving };
    fresh.module._wt_optimizer_destroy(o);
    fresh.module._wt_net_destroy(net);
    model.dispose();
  }

  info.loadavgEnd = os.loadavg().map((x) => +x.toFixed(2));
  info.seconds = +((performance.now() - T0) / 1e3).toFixed(0);
  tfjsInfo.cpuKernelMacsPerSecond = cpuRate;
  const report = { machine: info, tfjs: tfjsInfo, webtuneThreads: threads2, peak, peakEnd, peakBest, pointwise: pw, v2Heap, results, profiles };
  printReport(report);
  if (opt.json) fs.writeFileSync(opt.json, `${JSON.stringify(report, null, 1)}\n`);
}

// ---- report -----------------------------------------------------------------------------------
function fmt(v, d = 1) {
  if (v == null || Number.isNaN(v)) return '-';
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(d);
  if (Math.abs(v) >= 0.1) return v.toFixed(d + 1);
  return v.toPrecision(2);
}

function table(header, rows) {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(w[i])).join(' | ')} |`;
  return [line(header), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

function printReport(rep) {
  const m = rep.machine;
  const out = [];
  out.push(`webtune vs TensorFlow.js ${m.tfjs} (node tests/bench/compare_tfjs.mjs), ${new Date().toISOString()}`);
  out.push(`machine: ${m.cpu}, ${m.cores} cores, ${m.memGB} GB, ${m.os}, Node ${m.node}; load average ${m.loadavgStart.join(' ')} at start, ${m.loadavgEnd.join(' ')} at the end; ${m.seconds} s; webtune source ${m.source}`);
  const saving = rep.results.some((r) => r.wtMemSaving);
  out.push(`webtune: webtune-mt.wasm (SIMD + threads), contexts of ${rep.webtuneThreads} and 1 threads, memory-saving plans ${saving ? 'on' : 'not available in this build'}; batch norms on stored statistics, Adam, softmax cross-entropy. TF.js: backend ${rep.tfjs.backend}, SIMD ${rep.tfjs.simd}, threads ${rep.tfjs.threadsSupported ? 'yes' : 'no (disabled in Node by tfjs-backend-wasm)'}; training on wasm + CPU-backend kernels for Conv2DBackpropFilter and DepthwiseConv2dNativeBackpropInput/Filter (not in the wasm backend).`);
  if (rep.tfjs.cpuKernelMacsPerSecond) out.push(`TF.js's CPU fallback kernels reached at best ${(rep.tfjs.cpuKernelMacsPerSecond / 1e6).toFixed(1)} M multiply-adds/s in this run (they take 96-100% of a TF.js training step).`);
  out.push(`wasm SIMD f32x4 mul+add peak (same module): 1 thread ${rep.peakBest[1].toFixed(1)} GFLOP/s, 2 threads ${rep.peakBest[2].toFixed(1)} GFLOP/s (start ${rep.peak[1].toFixed(1)}/${rep.peak[2].toFixed(1)}, end ${rep.peakEnd[1].toFixed(1)}/${rep.peakEnd[2].toFixed(1)})`);
  out.push('');
  const rows = rep.results.map((r) => {
    const ratio = r.lowerIsBetter ? r.tfjs / r.wt2 : r.wt2 / r.tfjs;
    const ratio1 = r.wt1 == null ? '-' : `${fmt(r.lowerIsBetter ? r.tfjs / r.wt1 : r.wt1 / r.tfjs, 2)}x`;
    const sp = r.wt1 == null ? '-' : `${(r.wt2 / r.wt1).toFixed(2)}x (${r.speedupBest.toFixed(2)}x)`;
    const pk = r.gflops / rep.peakBest[r.peakThreads];
    let name = r.wtChunk && r.wtChunk < 32 ? `${r.row} [webtune: ${32 / r.wtChunk} x ${r.wtChunk}]` : r.row;
    if (r.wtBatch && r.wtBatch < 16) name += ` [webtune at b${r.wtBatch}: a b16 plan needs ${(r.wtB16Bytes / 2 ** 30).toFixed(1)} GB]`;
    const layers = r.tfjsLayers == null ? '-' : `${fmt(r.tfjsLayers)} (${fmt(r.lowerIsBetter ? r.tfjsLayers / r.wt2 : r.wt2 / r.tfjsLayers, 2)}x)`;
    return [r.archLabel, name, fmt(r.wt2), r.wt1 == null ? '-' : fmt(r.wt1), sp, r.cores == null ? '-' : r.cores.toFixed(2),
      fmt(r.tfjs), r.tfjsBackend, `${fmt(ratio, 2)}x`, ratio1, layers, fmt(r.gflops), `${(100 * pk).toFixed(0)}%`,
      fmt(r.wtHeapMB, 0), r.wtPlanMB == null ? '-' : fmt(r.wtPlanMB, 0), fmt(r.tfjsHeapMB, 0), fmt(r.rssMB, 0)];
  });
  out.push(table(['model', 'row', 'webtune 2T', 'webtune 1T', '2T/1T (best)', 'cores', 'TF.js', 'TF.js backend', 'webtune/TF.js', '1T/TF.js',
    'TF.js layers model (webtune/it)', 'wt GFLOP/s 2T', '% peak 2T', 'wt heap MB', 'wt plan MB', 'TF.js heap MB', 'RSS MB'], rows));
  out.push('');
  out.push('Medians; webtune rows alternate 2-thread and 1-thread runs. 2T/1T: ratio of medians (of the fastest iterations). webtune/TF.js:');
  out.push('2-thread webtune over TF.js (for latency: TF.js time over webtune time); >1 = webtune faster. cores: median of 2-thread peak');
  out.push('samples taken after each 2-thread iteration, over the 1-thread peak (~2 = both cores were free, ~1 = another process held one).'); 
  out.push('TF.js for embeddings: "fused" = batch norms folded and ReLU6 fused into tf.fused.conv2d/depthwiseConv2d (how a converted');
  out.push('graph model runs, the faster TF.js path); "layers model" = the Keras-style model (tf.loadLayersModel, Teachable Machine).');
  out.push('TF.js training "est.": not run; images/s predicted from its CPU kernels\' fastest measured rate, ignoring the rest of the step');
  out.push('(an upper bound for TF.js, so the ratio is a lower bound for webtune).');
  out.push('wt heap: webtune wasm memory after the row (a high-water mark over the process so far); wt plan: the net\'s planned buffers;');
  out.push('TF.js heap: its wasm backend memory; RSS: the whole process (both libraries). GFLOP/s count conv/dense multiply-adds as 2 flops;');
  out.push('a training step adds d_weight for trainable layers and d_input above the lowest trainable one.');
  const ph = rep.results.filter((r) => r.wtPhases2);
  if (ph.length) {
    out.push('');
    out.push('webtune training step by phase (median ms; 2 threads / 1 thread):');
    const names = ['zero_grad', 'forward', 'loss', 'backward', 'optimizer'];
    out.push(table(['model', 'row', ...names], ph.map((r) => [r.archLabel, r.row.split(' ')[0],
      ...names.map((n) => `${(r.wtPhases2[n] * 1e3).toFixed(1)} / ${(r.wtPhases1[n] * 1e3).toFixed(1)}`)])));
  }
  if (rep.v2Heap) {
    out.push('');
    out.push(`Peak wasm heap, full fine-tuning of MobileNet v2 0.35 at batch 16 (fresh module, 2 Adam steps, memory saving ${rep.v2Heap.memSaving ? 'on' : 'not available'}): ${rep.v2Heap.peakMB.toFixed(0)} MB (module start ${rep.v2Heap.initialMB.toFixed(0)} MB; planned buffers ${rep.v2Heap.planMB.toFixed(0)} MB)`);
  }
  if (rep.pointwise[2].s > 0) {
    out.push('');
    const g1 = rep.pointwise[1].f / rep.pointwise[1].s / 1e9;
    const g2 = rep.pointwise[2].f / rep.pointwise[2].s / 1e9;
    out.push(`Pointwise (GEMM) kernels, every 1x1 layer of the models at batch 16 (fwd, bwd-data, bwd-weight; FLOP-weighted): 1 thread ${g1.toFixed(1)} GFLOP/s = ${(100 * g1 / rep.peakBest[1]).toFixed(0)}% of peak, 2 threads ${g2.toFixed(1)} GFLOP/s = ${(100 * g2 / rep.peakBest[2]).toFixed(0)}% of peak`);
  }
  for (const p of rep.profiles) {
    out.push('');
    const total = Object.values(p.classes).reduce((s, c) => s + c.seconds, 0);
    out.push(`Profile: ${p.archLabel}, ${p.what}: kernels timed alone on each layer's shape sum to ${(total * 1e3).toFixed(1)} ms; the measured step/batch took ${(p.measured * 1e3).toFixed(1)} ms`);
    const rs = Object.entries(p.classes).sort((a, b) => b[1].seconds - a[1].seconds).map(([cls, c]) => [
      cls, c.calls, (c.seconds * 1e3).toFixed(2), `${(100 * c.seconds / p.measured).toFixed(1)}%`,
      c.flops ? (c.flops / c.seconds / 1e9).toFixed(1) : '-', c.flops ? `${(100 * c.flops / c.seconds / 1e9 / rep.peakBest[2]).toFixed(0)}%` : '-']);
    rs.push(['(rest: input copy and check, loss, optimizer, dispatch, cache effects)', '', ((p.measured - total) * 1e3).toFixed(2), `${(100 * (p.measured - total) / p.measured).toFixed(1)}%`, '', '']);
    out.push(table(['class', 'calls', 'ms', '% of measured', 'GFLOP/s', '% peak 2T'], rs));
  }
  out.push('');
  out.push(...targets(rep));
  console.log(out.join('\n'));
}

function targets(rep) {
  const out = ['Targets (issue 7):'];
  const ok = (b) => (b ? 'MET' : 'NOT MET');
  const emb = rep.results.filter((r) => r.row.startsWith('embedding b32'));
  out.push(`- embedding b32 webtune >= 1.0x TF.js wasm (XNNPACK), fused graph-style: ${emb.map((r) => `${r.arch} ${(r.wt2 / r.tfjs).toFixed(2)}x`).join(', ')} -> ${ok(emb.every((r) => r.wt2 >= r.tfjs))}`);
  out.push(`  (against the TF.js layers model: ${emb.map((r) => `${r.arch} ${(r.wt2 / r.tfjsLayers).toFixed(2)}x`).join(', ')} -> ${ok(emb.every((r) => r.wt2 >= r.tfjsLayers))})`);
  const tr = rep.results.filter((r) => r.row.startsWith('top:2') || r.row.startsWith('full'));
  out.push(`- top:2 and full webtune >= 3x TF.js: ${tr.map((r) => `${r.arch} ${r.row.split(' ')[0]} ${(r.wt2 / r.tfjs).toFixed(0)}x`).join(', ')} -> ${ok(tr.every((r) => r.wt2 >= 3 * r.tfjs))}`);
  if (rep.pointwise[2].s > 0) {
    const g2 = rep.pointwise[2].f / rep.pointwise[2].s / 1e9 / rep.peakBest[2];
    out.push(`- pointwise/GEMM >= 50% of the wasm SIMD peak (2 threads): ${(100 * g2).toFixed(0)}% -> ${ok(g2 >= 0.5)}`);
  }
  const sp = rep.results.filter((r) => r.wt1 != null);
  out.push(`- 2 threads >= 1.7x over 1: ${sp.map((r) => `${r.arch} ${r.row.split(' ')[0]} ${(r.wt2 / r.wt1).toFixed(2)}x`).join(', ')} -> ${ok(sp.every((r) => r.wt2 >= 1.7 * r.wt1))}` +
    ` (peak loop itself: ${(rep.peakBest[2] / rep.peakBest[1]).toFixed(2)}x)`);
  if (rep.v2Heap) out.push(`- peak wasm heap, full MobileNet v2 0.35 b16 < 300 MB: ${rep.v2Heap.peakMB.toFixed(0)} MB -> ${ok(rep.v2Heap.peakMB < 300)}`);
  return out;
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
