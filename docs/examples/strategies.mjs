// strategies.mjs: the fine-tuning strategies side by side on a tiny set (2 classes x 8 photos, 2
// epochs), to show the options and what each run reports. docs/strategies.md has the measured
// comparison on the whole flowers set (docs/examples/compare-strategies.mjs).
//   node docs/examples/strategies.mjs
// In your own project the import is: import { ... } from 'webtune';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClassifier, terminate } from '../../js/src/node.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const flowers = path.join(process.env.WT_SHARED_DIR ?? path.resolve(repo, '..', 'shared'), 'datasets', 'flowers');
const photos = (split, label, n) => readdirSync(path.join(flowers, split, label)).sort().slice(0, n).map((f) => path.join(flowers, split, label, f));

const clf = await createClassifier({ labels: ['dandelion', 'tulips'] });
await clf.addExamples('dandelion', photos('train', 'dandelion', 8));
await clf.addExamples('tulips', photos('train', 'tulips', 8));

const runs = {
  'head': { strategy: 'head', cacheViews: 4 },                     // the default: frozen backbone, cached embeddings
  'top:2': { strategy: 'top:2' },                                  // the last 2 MobileNet blocks + the head
  'layers:block_16_*,Conv_1': { strategy: 'layers:block_16_*,Conv_1' }, // named layers (* globs)
  'layers:batchnorm': { strategy: 'layers:batchnorm' },            // every batch norm's gamma/beta
  'full': { strategy: 'full', learningRate: 3e-4 },                // everything
  'twoPhase top:1': { strategy: 'top:1', twoPhase: { headEpochs: 2, learningRateScale: 0.1 } }, // head first, then top:1
};
for (const [name, options] of Object.entries(runs)) {
  const stages = new Set();
  const r = await clf.train({ epochs: 2, batchSize: 8, seed: 1, augment: { flip: true }, ...options,
    onProgress: (p) => { if (p.stage) stages.add(p.stage); } });
  console.log(`${name.padEnd(26)} ${r.epochs} epochs, ${r.totalSteps} steps, loss ${r.epochLoss.toFixed(3)}, ` +
    `${(r.elapsedMs / 1000).toFixed(1)} s${stages.size ? `, stages ${[...stages].join(' -> ')}` : ''}`);
}
await clf.dispose();
await terminate();
