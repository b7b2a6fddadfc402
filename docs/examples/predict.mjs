// predict.mjs: every way to ask a trained classifier about images: a file path, encoded bytes, raw
// RGBA pixels, a batch, top-k, and mirrored test-time augmentation (tta).
//   node docs/examples/predict.mjs
// In your own project the import is: import { ... } from 'webtune';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClassifier, terminate } from '../../js/src/node.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const flowers = path.join(process.env.WT_SHARED_DIR ?? path.resolve(repo, '..', 'shared'), 'datasets', 'flowers');
const photos = (split, label, n) => readdirSync(path.join(flowers, split, label)).sort().slice(0, n).map((f) => path.join(flowers, split, label, f));
const show = (preds) => preds.map((p) => `${p.label} ${(100 * p.probability).toFixed(1)}%`).join(', ');

const labels = ['daisy', 'roses', 'sunflowers'];
const clf = await createClassifier({ labels });
for (const label of labels) await clf.addExamples(label, photos('train', label, 12));
await clf.train({ epochs: 15, cacheViews: 2, seed: 1 });

const [rose] = photos('test', 'roses', 1);
console.log(`path:  ${show(await clf.predict(rose))}`); // top 3 by default
console.log(`bytes: ${show(await clf.predict(readFileSync(rose), { topK: 1 }))}`);
console.log(`tta:   ${show(await clf.predict(rose, { topK: 1, tta: true }))}`); // also the mirrored image, averaged

// raw pixels: RGBA (4 bytes per pixel) or RGB (3), any size; here a 64x48 mid-grey frame
const frame = { data: new Uint8Array(64 * 48 * 4).fill(128), width: 64, height: 48 };
const all = await clf.predict(frame, { topK: labels.length });
console.log(`raw RGBA: ${show(all)} (sum ${all.reduce((s, p) => s + p.probability, 0).toFixed(3)})`);

// a batch: one result list per image, in order
const batch = labels.flatMap((label) => photos('test', label, 4));
const results = await clf.predictBatch(batch, { topK: 1 });
const right = results.filter((r, i) => r[0].label === labels[Math.floor(i / 4)]).length;
console.log(`batch: ${results.length} images, ${right} top-1 right`);

await clf.dispose();
await terminate();
