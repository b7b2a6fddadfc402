// compare-strategies.mjs: every fine-tuning strategy on the flowers photos (train on train/,
// evaluate on test/), beside a Teachable Machine-style pipeline run in TensorFlow.js as the
// reference: the same MobileNet v2 0.35 backbone frozen, a Dense(100, relu) + softmax head,
// Adam 1e-3, 50 epochs, batch 16, no augmentation; and Teachable Machine's own variant of it
// (`teachable-as-tm`: its library's 15% hold-out and fixed order). Prints a table of test accuracy
// (mean over seeds) and training images/s. docs/strategies.md records its output.
//
//   node docs/examples/compare-strategies.mjs [--seeds 3] [--only head,default,...] [--json]
//
// Needs the repository's devDependencies (@tensorflow/tfjs) and the shared photos beside the repo
// (WT_SHARED_DIR overrides). The webtune rows use the package API exactly as a user would.
import { parseArgs } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as webtune from '../../js/src/node.js';
import { cliTrainOptions } from '../../js/src/defaults.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.WT_SHARED_DIR ?? path.resolve(root, '..', 'shared');
const flowers = path.join(shared, 'datasets', 'flowers');
const { values: args } = parseArgs({ options: { seeds: { type: 'string', default: '3' }, only: { type: 'string' }, json: { type: 'boolean' } } });
const SEEDS = Array.from({ length: Number(args.seeds) }, (_, i) => i + 1);

// name -> train() options (the seed is added per run)
const STRATEGIES = {
  'default (CLI, no options)': { ...cliTrainOptions, cliRefit: true },
  'head, all 200 photos (API default)': {},
  // the best recipe by cross-validation on train/ (docs/examples/tune-default.mjs), run like the CLI
  'CV-chosen candidate (CLI; 16 views, crop 0.8, AdamW 1)': {
    ...cliTrainOptions, cliRefit: true, cacheViews: 16, augment: { crop: 0.8, flip: true, brightness: 0.2, contrast: 0.2 }, optimizer: 'adamw', weightDecay: 1,
  },
  // the multi-layer embeddings best by cross-validation on train/ (tune-default.mjs), run like the CLI
  'multi-layer, CLI (+ block_14_add + block_12_add)': { ...cliTrainOptions, cliRefit: true, embeddingLayers: ['block_14_add', 'block_12_add'] },
  'multi-layer, CLI (+ block_14_add)': { ...cliTrainOptions, cliRefit: true, embeddingLayers: ['block_14_add'] },
  'head, no augmentation': { augment: false, cacheViews: 1 },
  'head + label smoothing 0.1 + dropout 0.2': { labelSmoothing: 0.1, dropout: 0.2 },
  'layers:batchnorm': { strategy: 'layers:batchnorm', epochs: 10, augment: { flip: true } },
  'top:2': { strategy: 'top:2', epochs: 10, augment: { flip: true } },
  'full': { strategy: 'full', epochs: 8, learningRate: 3e-4, augment: { flip: true } },
  'two-phase top:2': { strategy: 'top:2', epochs: 10, twoPhase: { headEpochs: 10 }, augment: { flip: true } },
};

const train = await webtune.readImageFolder(path.join(flowers, 'train'));
const test = await webtune.readImageFolder(path.join(flowers, 'test'));
const testItems = test.labels.flatMap((label) => test.files[label].map((image) => ({ image, label })));
const caps = await webtune.init();

async function runWebtune(options, seed) {
  const clf = await webtune.createClassifier({ labels: train.labels });
  for (const l of train.labels) await clf.addExamples(l, train.files[l]);
  if (options.cliRefit) {
    // what `webtune train` does by default: validate with a hold-out, then refit on every photo
    const { cliRefit, ...rest } = options;
    await clf.train({ ...rest, seed });
    options = { ...rest, validationSplit: 0 };
  }
  let trainImages = 0;
  let trainMs = 0;
  let last = 0;
  const t0 = Date.now();
  await clf.train({
    ...options, seed,
    onProgress: (p) => {
      if (p.phase !== 'cache') { trainImages += p.images; trainMs += p.elapsedMs - last; }
      last = p.elapsedMs;
    },
  });
  const seconds = (Date.now() - t0) / 1000;
  const ev = await clf.evaluate(testItems);
  await clf.dispose();
  return { accuracy: ev.accuracy, imagesPerSecond: trainImages / (trainMs / 1000), seconds };
}

/** The TF.js side: the TM export's backbone and the flowers photos' embeddings, computed once. */
let tfjsSide = null;
async function tfjsEmbeddings() {
  if (tfjsSide) return tfjsSide;
  const tf = await import('@tensorflow/tfjs');
  const { loadTfjsModel } = await import('../../tests/js/tfjs_reference.mjs');
  const { loadCoreNode } = await import('../../js/src/core-node.js');
  const { imageToTensor } = await import('../../js/src/models.js');
  const { readFileSync } = await import('node:fs');
  await tf.setBackend('cpu');
  const core = await loadCoreNode('st');
  const model = await loadTfjsModel(path.join(shared, 'backbones', 'teachable_machine_mobilenet_v2_0.35_224'));
  const backbone = model.layers[0]; // TM export: [MobileNetV2 truncated + GlobalAveragePooling2D, head]
  // identical preprocessing for both sides: centre crop, bilinear, [-1, 1] (what TM does in the browser)
  const embed = (files) => tf.tidy(() => {
    const xs = files.map((f) => imageToTensor(core, readFileSync(f)));
    const batch = tf.tensor4d(Float32Array.from(xs.flatMap((x) => Array.from(x))), [xs.length, 224, 224, 3]);
    return backbone.predict(batch);
  });
  const t0 = Date.now();
  const trainFiles = train.labels.flatMap((l) => train.files[l]);
  const trainY = train.labels.flatMap((l, i) => train.files[l].map(() => i));
  const chunks = [];
  for (let i = 0; i < trainFiles.length; i += 20) chunks.push(embed(trainFiles.slice(i, i + 20)));
  const xTrain = tf.concat(chunks);
  const testFiles = testItems.map((x) => x.image);
  const tchunks = [];
  for (let i = 0; i < testFiles.length; i += 20) tchunks.push(embed(testFiles.slice(i, i + 20)));
  const xTest = tf.concat(tchunks);
  const embedSeconds = (Date.now() - t0) / 1000;
  const yTest = testItems.map((x) => train.labels.indexOf(x.label));
  tfjsSide = { tf, xTrain, trainY, xTest, yTest, embedSeconds };
  return tfjsSide;
}

/** The Teachable Machine-style reference in TF.js (CPU backend; the head is tiny): the issue's
 * recipe on all 200 training photos, reshuffled each epoch. */
async function runTeachable(seeds) {
  const { tf, xTrain, trainY, xTest, yTest, embedSeconds } = await tfjsEmbeddings();
  const yTrain = tf.oneHot(tf.tensor1d(trainY, 'int32'), train.labels.length);
  const results = [];
  for (const seed of seeds) {
    const head = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [xTrain.shape[1]], units: 100, activation: 'relu', kernelInitializer: tf.initializers.varianceScaling({ scale: 1, mode: 'fanAvg', distribution: 'uniform', seed }) }),
        tf.layers.dense({ units: train.labels.length, activation: 'softmax', kernelInitializer: tf.initializers.varianceScaling({ scale: 1, mode: 'fanAvg', distribution: 'uniform', seed: seed + 100 }) }),
      ],
    });
    head.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const t1 = Date.now();
    // fit's own shuffle draws from Math.random: the same per-epoch reshuffle from a seeded
    // generator instead, so the reference's figure is repeatable (the initialisers are seeded too)
    const random = mulberry32(seed);
    for (let epoch = 0; epoch < 50; epoch++) {
      const order = tf.tensor1d(shuffledIndices(trainY.length, random), 'int32');
      const [xs, ys] = [tf.gather(xTrain, order), tf.gather(yTrain, order)];
      await head.fit(xs, ys, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
      tf.dispose([order, xs, ys]);
    }
    const fitSeconds = (Date.now() - t1) / 1000;
    const pred = head.predict(xTest).argMax(-1).dataSync();
    const acc = yTest.filter((y, i) => pred[i] === y).length / yTest.length;
    results.push({ accuracy: acc, imagesPerSecond: (50 * trainY.length) / fitSeconds, seconds: embedSeconds + fitSeconds });
    head.dispose();
  }
  yTrain.dispose();
  return results;
}

/** Teachable Machine as its image library (@teachablemachine/image, teachable-mobilenet.ts) trains:
 * each class shuffled and ceil(15%) of it held out for validation (which only reports: it never
 * steers training), the rest shuffled once and fed in that fixed order every epoch; Dense(100, relu)
 * + Dense(softmax) without a bias, both with TF.js's default variance-scaling initialiser; Adam
 * 1e-3, 50 epochs, batch 16. The shuffles use TM's own seeded Fisher-Yates, from mulberry32(seed). */
async function runTeachableAsTm(seeds) {
  const { tf, xTrain, trainY, xTest, yTest, embedSeconds } = await tfjsEmbeddings();
  const results = [];
  for (const seed of seeds) {
    const random = mulberry32(seed);
    const kept = [];
    for (let c = 0; c < train.labels.length; c++) {
      const members = trainY.map((y, i) => (y === c ? i : -1)).filter((i) => i >= 0);
      const shuffled = shuffledIndices(members.length, random).map((k) => members[k]);
      const nValidation = Math.ceil(0.15 * shuffled.length);
      kept.push(...shuffled.slice(0, shuffled.length - nValidation));
    }
    const order = shuffledIndices(kept.length, random).map((k) => kept[k]);
    const idx = tf.tensor1d(order, 'int32');
    const xs = tf.gather(xTrain, idx);
    const ys = tf.oneHot(tf.tensor1d(order.map((i) => trainY[i]), 'int32'), train.labels.length);
    const head = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [xTrain.shape[1]], units: 100, activation: 'relu', useBias: true, kernelInitializer: tf.initializers.varianceScaling({ seed }) }),
        tf.layers.dense({ units: train.labels.length, activation: 'softmax', useBias: false, kernelInitializer: tf.initializers.varianceScaling({ seed: seed + 100 }) }),
      ],
    });
    head.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const t1 = Date.now();
    await head.fit(xs, ys, { epochs: 50, batchSize: 16, shuffle: false, verbose: 0 });
    const fitSeconds = (Date.now() - t1) / 1000;
    const pred = head.predict(xTest).argMax(-1).dataSync();
    const acc = yTest.filter((y, i) => pred[i] === y).length / yTest.length;
    results.push({ accuracy: acc, imagesPerSecond: (50 * order.length) / fitSeconds, seconds: embedSeconds + fitSeconds });
    tf.dispose([idx, xs, ys]);
    head.dispose();
  }
  return results;
}

/** A small seeded generator (mulberry32) for the reference's shuffling: floats in [0, 1). */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 0..n-1 in a Fisher-Yates order drawn from random. */
function shuffledIndices(n, random) {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
const rows = [];
const only = args.only ? args.only.split(',') : null;
if (!only || only.includes('teachable')) {
  const r = await runTeachable(SEEDS);
  rows.push({ name: 'Teachable Machine-style (TF.js reference)', runs: r });
}
if (!only || only.includes('teachable-as-tm')) {
  const r = await runTeachableAsTm(SEEDS);
  rows.push({ name: 'Teachable Machine as its library trains (TF.js; 85% of the photos, see docs)', runs: r });
}
for (const [name, options] of Object.entries(STRATEGIES)) {
  if (only && !only.some((o) => name.startsWith(o))) continue;
  const runs = [];
  for (const seed of SEEDS) runs.push(await runWebtune(options, seed));
  rows.push({ name, options, runs });
  if (!args.json) process.stderr.write(`${name}: ${runs.map((r) => r.accuracy.toFixed(3)).join(' ')}\n`);
}

const table = rows.map((r) => ({
  name: r.name, accuracy: mean(r.runs.map((x) => x.accuracy)), perSeed: r.runs.map((x) => x.accuracy),
  imagesPerSecond: mean(r.runs.map((x) => x.imagesPerSecond)), seconds: mean(r.runs.map((x) => x.seconds)), options: r.options,
}));
if (args.json) {
  process.stdout.write(`${JSON.stringify({ machine: `${os.cpus()[0].model}, ${os.cpus().length} cores`, variant: caps.variant, threads: caps.threads, seeds: SEEDS, table })}\n`);
} else {
  console.log(`flowers: ${train.labels.length} classes, ${train.labels.reduce((s, l) => s + train.files[l].length, 0)} training photos, ${testItems.length} test photos; seeds ${SEEDS.join(', ')}`);
  console.log(`webtune ${caps.variant}, ${caps.threads} threads; ${os.cpus()[0].model}, ${os.cpus().length} cores\n`);
  console.log('| strategy | test accuracy (mean) | per seed | training images/s | wall time per run (s) |');
  console.log('|---|---|---|---|---|');
  for (const r of table) {
    console.log(`| ${r.name} | ${(r.accuracy * 100).toFixed(1)}% | ${r.perSeed.map((a) => (a * 100).toFixed(0)).join(' / ')} | ${r.imagesPerSecond.toFixed(0)} | ${r.seconds.toFixed(1)} |`);
  }
}
await webtune.terminate();
