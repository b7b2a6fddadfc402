// tune-default.mjs: chooses the default head-training recipe by stratified k-fold cross-validation
// on the flowers TRAINING photos only (train/: 5 classes x 40), so the test photos stay untouched
// until the chosen recipe is confirmed with compare-strategies.mjs. Each candidate trains, per
// fold, on the other folds' photos with the package API exactly as a user would and is scored on
// the held-out fold; the figure is correct / all 200 photos, pooled over the folds.
//
//   node docs/examples/tune-default.mjs [--folds 5] [--seed 1] [--only 'previous default,adamw 1'] [--list] [--json]
//
// Needs the shared photos beside the repo (WT_SHARED_DIR overrides). docs/strategies.md records
// its output.
import { parseArgs } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as webtune from '../../js/src/node.js';
import { defaultTrainOptions } from '../../js/src/defaults.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.WT_SHARED_DIR ?? path.resolve(root, '..', 'shared');
const { values: args } = parseArgs({
  options: {
    folds: { type: 'string', default: '5' }, seed: { type: 'string', default: '1' },
    only: { type: 'string' }, list: { type: 'boolean' }, json: { type: 'boolean' },
  },
});
const FOLDS = Number(args.folds);
const SEED = Number(args.seed);

// name -> changes from the default this script was written to improve (8 views of mild colour
// jitter and mirroring, plain Adam); `library default` is what train() does with no options now
const mild = { flip: true, brightness: 0.2, contrast: 0.2 };
const PREVIOUS = { cacheViews: 8, augment: mild, optimizer: 'adam', weightDecay: 0 };
const CANDIDATES = {
  'previous default': {},
  'adamw 0.1': { optimizer: 'adamw', weightDecay: 0.1 },
  'adamw 1': { optimizer: 'adamw', weightDecay: 1 },
  cosine: { schedule: 'cosine' },
  '60 epochs': { epochs: 60 },
  'saturation 0.2': { augment: { ...mild, saturation: 0.2 } },
  '16 views + crop 0.8': { cacheViews: 16, augment: { ...mild, crop: 0.8 } },
  'l2 normalize': { normalizeEmbedding: true },
  'l2 normalize + adamw 1': { normalizeEmbedding: true, optimizer: 'adamw', weightDecay: 1 },
  'adamw 1 + cosine': { optimizer: 'adamw', weightDecay: 1, schedule: 'cosine' },
  '16 views + crop 0.8 + adamw 1': { cacheViews: 16, augment: { ...mild, crop: 0.8 }, optimizer: 'adamw', weightDecay: 1 },
  // multi-layer embeddings: the pooled output of an inner block joined to the embedding
  // (embeddingLayers; candidates from a first look at the blocks 12-16 of MobileNet v2 0.35)
  '+ block_16_project_BN': { embeddingLayers: ['block_16_project_BN'] },
  '+ block_14_add': { embeddingLayers: ['block_14_add'] },
  '+ block_13_expand_relu': { embeddingLayers: ['block_13_expand_relu'] },
  '+ block_12_add': { embeddingLayers: ['block_12_add'] },
  '+ block_14_add + block_12_add': { embeddingLayers: ['block_14_add', 'block_12_add'] },
  // batch-norm statistics re-estimated on the user's photos before the embeddings are cached
  adabn: { adaBN: true },
  // the head's capacity (Teachable Machine's Dense(100, relu)) and the number of cached views
  'hidden 100': { hiddenUnits: 100 },
  '4 views': { cacheViews: 4 },
  '16 views': { cacheViews: 16 },
};
const optionsOf = (name) => (name === 'library default' ? { ...defaultTrainOptions } : { ...defaultTrainOptions, ...PREVIOUS, ...CANDIDATES[name] });
CANDIDATES['library default'] = {};

if (args.list) {
  for (const name of Object.keys(CANDIDATES)) console.log(`${name}: ${JSON.stringify(optionsOf(name))}`);
  process.exit(0);
}

/** xorshift-style deterministic shuffle so the folds are the same on every run */
function shuffled(xs, seed) {
  const a = [...xs];
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = a.length - 1; i > 0; i--) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const data = await webtune.readImageFolder(path.join(shared, 'datasets', 'flowers', 'train'));
// stratified folds: each class's photos shuffled, then dealt round-robin
const fold = new Map();
data.labels.forEach((l, c) => shuffled(data.files[l], SEED * 31 + c).forEach((f, i) => fold.set(f, i % FOLDS)));
await webtune.init();

async function crossValidate(options) {
  let correct = 0;
  let n = 0;
  const perFold = [];
  for (let k = 0; k < FOLDS; k++) {
    const clf = await webtune.createClassifier({ labels: data.labels });
    for (const l of data.labels) await clf.addExamples(l, data.files[l].filter((f) => fold.get(f) !== k));
    await clf.train({ ...options, seed: SEED });
    const held = data.labels.flatMap((label) => data.files[label].filter((f) => fold.get(f) === k).map((image) => ({ image, label })));
    const ev = await clf.evaluate(held);
    await clf.dispose();
    correct += Math.round(ev.accuracy * ev.n);
    n += ev.n;
    perFold.push(ev.accuracy);
  }
  return { accuracy: correct / n, perFold };
}

const only = args.only ? args.only.split(',') : null;
const rows = [];
for (const name of Object.keys(CANDIDATES)) {
  if (only && !only.includes(name)) continue;
  const t0 = Date.now();
  const options = optionsOf(name);
  const r = await crossValidate(options);
  rows.push({ name, options, ...r, seconds: (Date.now() - t0) / 1000 });
  if (!args.json) process.stderr.write(`${name}: ${(r.accuracy * 100).toFixed(1)}% (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
}
if (args.json) {
  process.stdout.write(`${JSON.stringify({ folds: FOLDS, seed: SEED, rows })}\n`);
} else {
  console.log(`flowers train/: ${data.labels.length} classes, ${fold.size} photos, ${FOLDS}-fold stratified cross-validation, seed ${SEED}\n`);
  console.log('| candidate (changes from the previous default) | CV accuracy | per fold |');
  console.log('|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${(r.accuracy * 100).toFixed(1)}% | ${r.perFold.map((a) => (a * 100).toFixed(0)).join(' / ')} |`);
  }
}
await webtune.terminate();
