// validation.mjs: a stratified validation split, early stopping (the best epoch's weights are kept),
// the other train() options, and every field a progress event carries.
//   node docs/examples/validation.mjs
// In your own project the import is: import { ... } from 'webtune';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readImageFolder, createClassifier, terminate } from '../../js/src/node.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const flowers = path.join(process.env.WT_SHARED_DIR ?? path.resolve(repo, '..', 'shared'), 'datasets', 'flowers');

const train = await readImageFolder(path.join(flowers, 'train'));
const clf = await createClassifier({ labels: train.labels });
for (const label of train.labels) await clf.addExamples(label, train.files[label].slice(0, 12));

const phases = {};
let cacheEvent = null;
const result = await clf.train({
  validationSplit: 0.25,   // 3 of each class's 12 photos held out (stratified, seeded)
  earlyStopping: 4,        // stop after 4 epochs without a better validation accuracy
  epochs: 100,
  batchSize: 32,
  learningRate: 3e-3,
  cacheViews: 2,           // head strategy: augmented views per photo, embedded once
  augment: { flip: true, brightness: 0.2, contrast: 0.2 },
  optimizer: 'adamw',
  weightDecay: 1e-4,
  schedule: 'cosine',
  warmupSteps: 5,
  hiddenUnits: 0,          // a linear head (the default)
  dropout: 0,
  labelSmoothing: 0,
  balanced: false,
  seed: 7,
  onProgress: (p) => {
    phases[p.phase] = (phases[p.phase] ?? 0) + 1;
    if (p.phase === 'cache') cacheEvent = p;
    if (p.phase === 'epoch' || p.phase === 'done') {
      console.log(`epoch ${p.epoch + 1}: loss ${p.epochLoss.toFixed(3)}, train ${(100 * p.epochAccuracy).toFixed(0)}%, ` +
        `val ${(100 * p.valAccuracy).toFixed(0)}% (best ${(100 * p.bestValAccuracy).toFixed(0)}% at epoch ${p.bestEpoch + 1}), ` +
        `lr ${p.learningRate.toExponential(2)}, step ${p.step}/${p.totalSteps}, ETA ${p.etaSeconds?.toFixed(1)} s`);
    }
  },
});
console.log(`events per phase: ${JSON.stringify(phases)}`);
console.log(`cache: ${cacheEvent.cacheDone}/${cacheEvent.cacheTotal} (${result.nTrain} photos x 2 views + ${result.nVal} validation photos)`);
console.log(`stopped after epoch ${result.epoch + 1} of ${result.epochs}; kept epoch ${result.bestEpoch + 1}: validation accuracy ${(100 * result.bestValAccuracy).toFixed(1)}%`);
console.log(`nTrain ${result.nTrain}, nVal ${result.nVal}, diverged ${result.diverged}, ${Math.round(result.imagesPerSecond)} rows/s, heap ${(result.heapBytes / 1048576).toFixed(0)} MB`);
console.log(`result fields: ${Object.keys(result).sort().join(' ')}`);
await clf.dispose();
await terminate();
