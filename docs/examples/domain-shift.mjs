// domain-shift.mjs: does domain adaptation help on a shifted target domain? Trains on labelled
// source photos, with unlabelled target photos for AdaBN / DANN, and scores each on other, labelled
// target photos (never used for training), over seeds. docs/strategies.md records the output.
//   node docs/examples/domain-shift.mjs [--seeds 3] [--epochs 10] [--strategy top:2] [--batch-norm frozen|batch]
import { parseArgs } from 'node:util';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as webtune from '../../js/src/node.js';
import { domainShiftData } from './domain-shift-data.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const flowers = path.join(process.env.WT_SHARED_DIR ?? path.resolve(root, '..', 'shared'), 'datasets', 'flowers');
const files = (split, c, n, from = 0) => readdirSync(path.join(flowers, split, c)).sort().slice(from, from + n).map((f) => path.join(flowers, split, c, f));
const { values } = parseArgs({ options: {
  seeds: { type: 'string', default: '3' }, epochs: { type: 'string', default: '10' },
  strategy: { type: 'string', default: 'top:2' }, 'batch-norm': { type: 'string', default: 'frozen' },
} });
const CLASSES = ['daisy', 'roses', 'sunflowers'];
// per class: 16 labelled source photos (train/ 0-15), 24 unlabelled target photos (train/ 16-39),
// 20 scored target photos (test/)
const SIZES = { source: 16, unlabelled: 24, unlabelledFrom: 16, scored: 20 };
const { sourceExamples, targetTrain, targetTest } = await domainShiftData(webtune, files, CLASSES, SIZES);
const modes = {
  none: {}, AdaBN: { adaBN: true }, 'DANN 0.3': { domainAdaptation: 0.3 }, 'DANN 1': { domainAdaptation: 1 },
  'DANN 0.3 + AdaBN': { domainAdaptation: 0.3, adaBN: true },
};
const base = { strategy: values.strategy, batchNorm: values['batch-norm'], epochs: Number(values.epochs), batchSize: 8, augment: false };
const scores = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
for (let seed = 1; seed <= Number(values.seeds); seed++) {
  for (const [mode, extra] of Object.entries(modes)) {
    const clf = await webtune.createClassifier({ labels: CLASSES });
    for (const e of sourceExamples) await clf.addExample(e.label, { data: e.data, width: 224, height: 224 });
    if (mode !== 'none') await clf.addUnlabeled(targetTrain);
    await clf.train({ ...base, seed, ...extra });
    scores[mode].push((await clf.evaluate(targetTest)).accuracy);
    await clf.dispose();
  }
}
console.log(`target-domain accuracy (${targetTest.length} shifted photos, ${CLASSES.length} classes; ${targetTrain.length} unlabelled), ` +
  `${base.strategy}, batch norm ${base.batchNorm}, ${base.epochs} epochs`);
console.log('| adaptation | mean | per seed |\n|---|---|---|');
for (const [m, xs] of Object.entries(scores)) console.log(`| ${m} | ${(100 * xs.reduce((s, x) => s + x, 0) / xs.length).toFixed(1)}% | ${xs.map((x) => (100 * x).toFixed(0)).join(' / ')} |`);
await webtune.terminate();
