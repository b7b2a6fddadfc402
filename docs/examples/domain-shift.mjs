// domain-shift.mjs: does domain adaptation help on a shifted target domain? Trains top:2 on
// labelled source photos, with unlabelled target photos for AdaBN / DANN, and scores each on
// labelled target photos, over seeds. docs/strategies.md records the output.
//   node docs/examples/domain-shift.mjs [--seeds 3] [--epochs 5]
import { parseArgs } from 'node:util';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as webtune from '../../js/src/node.js';
import { domainShiftData } from './domain-shift-data.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const flowers = path.join(process.env.WT_SHARED_DIR ?? path.resolve(root, '..', 'shared'), 'datasets', 'flowers');
const files = (split, c, n, from = 0) => readdirSync(path.join(flowers, split, c)).sort().slice(from, from + n).map((f) => path.join(flowers, split, c, f));
const { values } = parseArgs({ options: { seeds: { type: 'string', default: '3' }, epochs: { type: 'string', default: '5' } } });
const CLASSES = ['daisy', 'roses', 'sunflowers'];
const { sourceExamples, targetTrain, targetTest } = await domainShiftData(webtune, files, CLASSES);
const modes = { none: {}, AdaBN: { adaBN: true }, 'DANN 0.3': { domainAdaptation: 0.3 }, 'DANN 1': { domainAdaptation: 1 } };
const scores = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
for (let seed = 1; seed <= Number(values.seeds); seed++) {
  for (const [mode, extra] of Object.entries(modes)) {
    const clf = await webtune.createClassifier({ labels: CLASSES });
    for (const e of sourceExamples) await clf.addExample(e.label, { data: e.data, width: 224, height: 224 });
    if (mode !== 'none') await clf.addUnlabeled(targetTrain);
    await clf.train({ strategy: 'top:2', epochs: Number(values.epochs), batchSize: 8, augment: false, seed, ...extra });
    scores[mode].push((await clf.evaluate(targetTest)).accuracy);
    await clf.dispose();
  }
}
console.log(`target-domain accuracy (${targetTest.length} shifted photos, ${CLASSES.length} classes), top:2, ${values.epochs} epochs`);
console.log('| adaptation | mean | per seed |\n|---|---|---|');
for (const [m, xs] of Object.entries(scores)) console.log(`| ${m} | ${(100 * xs.reduce((s, x) => s + x, 0) / xs.length).toFixed(1)}% | ${xs.map((x) => (100 * x).toFixed(0)).join(' / ')} |`);
await webtune.terminate();
