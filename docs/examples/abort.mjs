// abort.mjs: stop a training run with an AbortSignal. train() rejects with code WT_ERR_ABORTED
// within a step, and the classifier keeps the model it had before the run.
//   node docs/examples/abort.mjs
// In your own project the import is: import { ... } from 'webtune';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClassifier, terminate } from '../../js/src/node.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const flowers = path.join(process.env.WT_SHARED_DIR ?? path.resolve(repo, '..', 'shared'), 'datasets', 'flowers');
const photos = (split, label, n) => readdirSync(path.join(flowers, split, label)).sort().slice(0, n).map((f) => path.join(flowers, split, label, f));

const clf = await createClassifier({ labels: ['daisy', 'tulips'] });
await clf.addExamples('daisy', photos('train', 'daisy', 6));
await clf.addExamples('tulips', photos('train', 'tulips', 6));
await clf.train({ epochs: 5, seed: 1 }); // a first model
const [probe] = photos('test', 'tulips', 1);
const before = await clf.predict(probe);

const controller = new AbortController();
let steps = 0;
const started = Date.now();
try {
  // a long run: the whole backbone, 500 epochs; stop it after 3 training steps (a step already
  // under way when the signal fires still finishes, so 3 or 4 steps are reported)
  await clf.train({
    strategy: 'full', epochs: 500, batchSize: 4, signal: controller.signal,
    onProgress: (p) => { if (p.phase === 'train' && ++steps === 3) controller.abort(); },
  });
} catch (e) {
  console.log(`train() rejected after ${steps} steps, ${Date.now() - started} ms: ${e.code}`);
}
const after = await clf.predict(probe);
console.log(`the previous model is intact: ${JSON.stringify(after) === JSON.stringify(before)}`);

// a signal that is already aborted rejects at once; AbortSignal.timeout() works too
try {
  await clf.train({ signal: AbortSignal.abort() });
} catch (e) {
  console.log(`already aborted: ${e.code}`);
}
try {
  await clf.train({ strategy: 'full', epochs: 500, batchSize: 4, signal: AbortSignal.timeout(500) });
} catch (e) {
  console.log(`timed out: ${e.code}`);
}

// dispose() during training aborts it too
const run = clf.train({ strategy: 'full', epochs: 500, batchSize: 4 });
run.catch(() => {});
await new Promise((resolve) => setTimeout(resolve, 300));
await clf.dispose();
console.log(`disposed while training: ${await run.then(() => 'finished', (e) => e.code)}`);
await terminate();
