// backbones.mjs: where a classifier's backbone can come from: a shipped name, a webtune model file
// (path, URL or bytes), a TensorFlow.js layers model (model.json path or URL), or a TF.js model in
// memory such as a Teachable Machine export ({ modelJson, weights }).
//   node docs/examples/backbones.mjs
// The TF.js models are in ../shared/backbones beside the repository (WT_SHARED_DIR overrides).
// In your own project the import is: import { ... } from 'webtune';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listBackbones, createClassifier, terminate } from '../../js/src/node.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.WT_SHARED_DIR ?? path.resolve(repo, '..', 'shared');
const flowers = path.join(shared, 'datasets', 'flowers');
const photos = (split, label, n) => readdirSync(path.join(flowers, split, label)).sort().slice(0, n).map((f) => path.join(flowers, split, label, f));

const shipped = await listBackbones();
console.log(`shipped: ${shipped.backbones.map((b) => b.name).join(', ')}; default ${shipped.default}`);

const tm = path.join(shared, 'backbones', 'teachable_machine_mobilenet_v2_0.35_224');
const manifest = JSON.parse(readFileSync(path.join(tm, 'model.json'), 'utf8'));
const weights = {}; // file name (as model.json's weightsManifest lists it) -> bytes
for (const group of manifest.weightsManifest) for (const p of group.paths) weights[p] = readFileSync(path.join(tm, p));

const sources = {
  'default': undefined,
  'shipped name': 'mobilenet_v1_0.25_224',
  'webtune file path': path.join(repo, 'js', 'dist', 'models', 'mobilenet_v2_0.35_224.webtune'),
  'webtune file bytes': { bytes: readFileSync(path.join(repo, 'js', 'dist', 'models', 'mobilenet_v1_0.25_224.webtune')), name: 'v1-from-bytes' },
  'TF.js model.json path': path.join(shared, 'backbones', 'mobilenet_v1_0.25_224', 'model.json'),
  'Teachable Machine export': { modelJson: manifest, weights, name: 'my-teachable-machine-model' },
};
for (const [kind, backbone] of Object.entries(sources)) {
  const clf = await createClassifier({ labels: ['daisy', 'tulips'], backbone });
  await clf.addExamples('daisy', photos('train', 'daisy', 4));
  await clf.addExamples('tulips', photos('train', 'tulips', 4));
  await clf.train({ epochs: 3, cacheViews: 1, augment: false });
  const [top] = await clf.predict(photos('test', 'tulips', 1)[0], { topK: 1 });
  console.log(`${kind.padEnd(25)} backbone "${clf.backbone}", input ${clf.inputSize.join('x')}, predicts ${top.label}`);
  await clf.dispose();
}
await terminate();
