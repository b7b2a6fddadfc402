// memory.mjs: the example memory budget and the wasm heap. Examples are stored as RGB bytes at the
// model's input size (147 KB for 224x224) under memoryBudgetMB; past it, adding fails with
// WT_ERR_OUT_OF_MEMORY and the examples so far stay. memory() reports the wasm heap, which grows
// to its working size and then stays there.
//   node docs/examples/memory.mjs
// In your own project the import is: import { ... } from 'webtune';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, memory, createClassifier, terminate } from '../../js/src/node.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const flowers = path.join(process.env.WT_SHARED_DIR ?? path.resolve(repo, '..', 'shared'), 'datasets', 'flowers');
const photos = (split, label, n) => readdirSync(path.join(flowers, split, label)).sort().slice(0, n).map((f) => path.join(flowers, split, label, f));
const mb = (bytes) => `${(bytes / 1048576).toFixed(0)} MB`;

await init();
console.log(`heap after init: ${mb((await memory()).heapBytes)}`);

const small = await createClassifier({ labels: ['daisy', 'roses'], memoryBudgetMB: 1 }); // room for 6 examples
const files = photos('train', 'daisy', 8);
for (const file of files) {
  try {
    await small.addExample('daisy', file);
  } catch (e) {
    console.log(`example ${small.counts.daisy + 1}: ${e.code}: ${e.message}`);
    break;
  }
}
console.log(`kept ${small.counts.daisy} examples`);
await small.dispose();

const clf = await createClassifier({ labels: ['daisy', 'roses'] }); // default budget: 1024 MB
await clf.addExamples('daisy', photos('train', 'daisy', 6));
await clf.addExamples('roses', photos('train', 'roses', 6));
const frame = { data: new Uint8Array(64 * 48 * 4).fill(90), width: 64, height: 48 };
// warm-up: train() holds the current model and the new one until it finishes, and the heap's free
// space settles after a few runs (measured: 75, 109, 131, then 157 MB for good)
for (let i = 0; i < 4; i++) await clf.train({ epochs: 3, cacheViews: 1 });
for (let i = 0; i < 20; i++) await clf.predict(frame);
const heap0 = (await memory()).heapBytes;
for (let i = 0; i < 100; i++) await clf.predict(frame);
for (let i = 0; i < 4; i++) await clf.train({ epochs: 3, cacheViews: 1 });
const heap1 = (await memory()).heapBytes;
console.log(`heap at working size: ${mb(heap0)}; after 100 more predictions and 4 more trainings: ${mb(heap1)}`);
console.log(`heap stayed flat: ${heap1 === heap0}`);
await clf.dispose();
await terminate();
