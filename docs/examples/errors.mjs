// errors.mjs: every failure is a WebtuneError with a stable `code` and a message that says what to
// do; a failed call leaves the classifier usable. This script makes common mistakes on purpose and
// prints each code.
//   node docs/examples/errors.mjs
// In your own project the import is: import { ... } from 'webtune';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClassifier, loadClassifier, WebtuneError, terminate } from '../../js/src/node.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const flowers = path.join(process.env.WT_SHARED_DIR ?? path.resolve(repo, '..', 'shared'), 'datasets', 'flowers');
const photos = (split, label, n) => readdirSync(path.join(flowers, split, label)).sort().slice(0, n).map((f) => path.join(flowers, split, label, f));

async function attempt(what, fn) {
  try {
    await fn();
    console.log(`${what}: no error`);
  } catch (e) {
    if (!(e instanceof WebtuneError)) throw e;
    console.log(`${what}: ${e.code}: ${e.message}`);
  }
}

const clf = await createClassifier({ labels: ['daisy', 'roses'] });
const jpeg = readFileSync(photos('train', 'daisy', 1)[0]);
await attempt('unknown class', () => clf.addExample('zebra', jpeg));
await attempt('truncated JPEG', () => clf.addExample('daisy', jpeg.subarray(0, 200)));
await attempt('not an image', () => clf.addExample('daisy', new TextEncoder().encode('hello')));
await attempt('missing file', () => clf.addExample('daisy', '/no/such/photo.jpg'));
await attempt('predict before training', () => clf.predict(jpeg));
await attempt('save before training', () => clf.save());
await attempt('class without examples', async () => { await clf.addExample('daisy', jpeg); await clf.train(); });
await attempt('unknown strategy', () => clf.train({ strategy: 'sideways' }));
await attempt('option out of range', () => clf.train({ epochs: 0 }));
await attempt('duplicate label', () => createClassifier({ labels: ['a', 'a'] }));
await attempt('unknown backbone', () => createClassifier({ backbone: 'mobilenet_v9' }));
await attempt('a photo is not a model file', () => loadClassifier(jpeg));

// addExamples() does not throw for unreadable images: it skips them and lists them
const r = await clf.addExamples('roses', [...photos('train', 'roses', 2), jpeg.subarray(0, 100)]);
console.log(`addExamples: added ${r.added}, errors ${JSON.stringify(r.errors.map((e) => ({ index: e.index, code: e.code })))}`);

// the classifier is still fine after all that
const result = await clf.train({ epochs: 3, cacheViews: 1 });
console.log(`still usable: trained on ${result.nTrain} photos`);
await clf.dispose();
await attempt('use after dispose', () => clf.predict(jpeg));
await terminate();
