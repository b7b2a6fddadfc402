// save-load.mjs: save a trained classifier as a webtune model file (labels, preprocessing and the
// backbone's identity included), load it back from a path or from bytes, and check that it predicts
// exactly as before; float16 weights halve the file.
//   node docs/examples/save-load.mjs
// In your own project the import is: import { ... } from 'webtune';
import { writeFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClassifier, loadClassifier, terminate } from '../../js/src/node.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const flowers = path.join(process.env.WT_SHARED_DIR ?? path.resolve(repo, '..', 'shared'), 'datasets', 'flowers');
const photos = (split, label, n) => readdirSync(path.join(flowers, split, label)).sort().slice(0, n).map((f) => path.join(flowers, split, label, f));

const labels = ['daisy', 'sunflowers'];
const clf = await createClassifier({ labels });
for (const label of labels) await clf.addExamples(label, photos('train', label, 10));
await clf.train({ epochs: 10, cacheViews: 2, seed: 1 });

const dir = mkdtempSync(path.join(os.tmpdir(), 'webtune-example-'));
const file = path.join(dir, 'flowers.webtune');
const bytes = await clf.save(); // Uint8Array
writeFileSync(file, bytes);
const half = await clf.save({ fp16: true });
console.log(`saved ${bytes.length} bytes (float16: ${half.length} bytes, ${(half.length / bytes.length).toFixed(2)} of it)`);

const probes = labels.flatMap((label) => photos('test', label, 5));
const before = await clf.predictBatch(probes, { topK: 2 });
await clf.dispose();

const again = await loadClassifier(file); // Node: a path; anywhere: bytes (Uint8Array, Buffer, ArrayBuffer)
console.log(`loaded: labels ${again.labels.join(', ')}, trained ${again.trained}, backbone ${again.backbone}, examples ${JSON.stringify(again.counts)}`);
const after = await again.predictBatch(probes, { topK: 2 });
console.log(`same predictions after reload: ${JSON.stringify(after) === JSON.stringify(before)}`);

const small = await loadClassifier(half);
const approx = await small.predictBatch(probes, { topK: 2 });
const maxDiff = Math.max(...approx.map((r, i) => Math.abs(r[0].probability - before[i][0].probability)));
console.log(`float16 model: same top-1 ${approx.every((r, i) => r[0].label === before[i][0].label)}, largest probability change ${maxDiff.toFixed(4)}`);

// a loaded model keeps no training photos: to train it again, add examples for every class;
// train() then fits a new head on the saved model's backbone (fine-tuned layers included)
await again.addExamples('daisy', photos('train', 'daisy', 3));
await again.addExamples('sunflowers', photos('train', 'sunflowers', 3));
const r = await again.train({ epochs: 3 });
console.log(`retrained the loaded classifier on ${r.nTrain} new photos`);

await again.dispose();
await small.dispose();
rmSync(dir, { recursive: true });
await terminate();
