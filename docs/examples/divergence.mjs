// divergence.mjs: what happens when training diverges (a NaN or infinite loss or gradient).
// By default train() rejects with WT_ERR_NOT_FINITE and the classifier keeps its previous model;
// with onDivergence: 'rollback' it finishes with the last good epoch's weights and diverged: true.
// A learning rate of 1e14 (ramped up by warm-up) makes it diverge in the third epoch.
//   node docs/examples/divergence.mjs
// In your own project the import is: import { ... } from 'webtune';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClassifier, terminate } from '../../js/src/node.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const flowers = path.join(process.env.WT_SHARED_DIR ?? path.resolve(repo, '..', 'shared'), 'datasets', 'flowers');
const photos = (split, label, n) => readdirSync(path.join(flowers, split, label)).sort().slice(0, n).map((f) => path.join(flowers, split, label, f));

const clf = await createClassifier({ labels: ['daisy', 'roses'] });
await clf.addExamples('daisy', photos('train', 'daisy', 8));
await clf.addExamples('roses', photos('train', 'roses', 8));
await clf.train({ epochs: 5, seed: 1 }); // a good first model
const [probe] = photos('test', 'roses', 1);
const before = await clf.predict(probe);

const tooHigh = { strategy: 'full', optimizer: 'sgd', learningRate: 1e14, warmupSteps: 12, epochs: 6, batchSize: 8, augment: false, seed: 1 };
try {
  await clf.train(tooHigh);
} catch (e) {
  console.log(`onDivergence 'error' (default): ${e.code}`);
  console.log(`  ${e.message}`);
}
console.log(`previous model kept: ${JSON.stringify(await clf.predict(probe)) === JSON.stringify(before)}`);

const epochs = [];
const r = await clf.train({ ...tooHigh, onDivergence: 'rollback', onProgress: (p) => { if (p.phase !== 'train') epochs.push(p.epoch + 1); } });
console.log(`onDivergence 'rollback': diverged ${r.diverged}, finished at epoch ${r.epoch + 1} of ${r.epochs} (epoch ends reported: ${epochs.join(', ')})`);
const after = await clf.predict(probe);
console.log(`the rolled-back model predicts finite probabilities: ${after.every((p) => Number.isFinite(p.probability))}`);
await clf.dispose();
await terminate();
