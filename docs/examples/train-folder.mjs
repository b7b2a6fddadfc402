// train-folder.mjs: the Node quick start. Reads a folder with one sub-folder of photos per class,
// trains with the default options (frozen backbone, cached augmented views, a new linear head),
// shows progress, then scores the model on a test folder laid out the same way.
//   node docs/examples/train-folder.mjs
// The photos: ../shared/datasets/flowers beside the repository (WT_SHARED_DIR overrides).
// In your own project the import is: import { ... } from 'webtune';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, readImageFolder, createClassifier, terminate } from '../../js/src/node.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const flowers = path.join(process.env.WT_SHARED_DIR ?? path.resolve(repo, '..', 'shared'), 'datasets', 'flowers');

const caps = await init();
console.log(`webtune ${caps.variant}, ${caps.threads} threads`);

const train = await readImageFolder(path.join(flowers, 'train')); // { labels, files: { label: [paths] }, skipped }
const clf = await createClassifier({ labels: train.labels }); // default backbone: mobilenet_v2_0.35_224
for (const label of train.labels) {
  const r = await clf.addExamples(label, train.files[label].slice(0, 20)); // 20 photos per class keep this quick
  for (const e of r.errors) console.log(`skipped ${e.name}: ${e.message}`);
}
console.log(`examples: ${JSON.stringify(clf.counts)}`);

const result = await clf.train({
  seed: 1,
  onProgress: (p) => {
    if (p.phase === 'cache' && p.cacheDone === p.cacheTotal) console.log(`embedded ${p.cacheTotal} views`);
    if ((p.phase === 'epoch' || p.phase === 'done') && (p.epoch + 1) % 10 === 0) { // 'done' ends the last epoch
      console.log(`epoch ${p.epoch + 1}/${p.epochs}: loss ${p.epochLoss.toFixed(3)}, training accuracy ${(100 * p.epochAccuracy).toFixed(1)}%`);
    }
  },
});
console.log(`trained ${result.epochs} epochs on ${result.nTrain} photos in ${(result.elapsedMs / 1000).toFixed(1)} s`);

const test = await readImageFolder(path.join(flowers, 'test'));
const items = test.labels.flatMap((label) => test.files[label].map((image) => ({ image, label })));
const ev = await clf.evaluate(items);
console.log(`test accuracy ${(100 * ev.accuracy).toFixed(1)}% on ${ev.n} photos`);
for (const label of ev.labels) console.log(`  ${label.padEnd(10)} ${(100 * ev.perClass[label]).toFixed(0)}%`);
console.log(`confusion (rows: true class, columns: predicted): ${JSON.stringify(ev.confusion)}`);

await clf.dispose();
await terminate();
