// domain-adaptation.test.mjs: domain adaptation must raise accuracy on a shifted target domain.
// Real flower photos; the target domain is other photos of the same classes under a strong orange
// cast and a 5x5 blur (docs/examples/domain-shift-data.mjs). Per class: 16 labelled source photos
// (train/ 0-15), 24 unlabelled target photos (train/ 16-39, labels never given to training) and 20
// labelled target photos from test/ used only to score. Trained with and without adaptation
// (DANN with AdaBN) over 3 seeds; the adapted model must score higher on average and on most seeds.
// docs/strategies.md ("Domain adaptation") has the fuller table from docs/examples/domain-shift.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as webtune from '../../js/src/node.js';
import { domainShiftData } from '../../docs/examples/domain-shift-data.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const flowers = path.join(process.env.WT_SHARED_DIR ?? path.resolve(root, '..', 'shared'), 'datasets', 'flowers');
const CLASSES = ['daisy', 'roses', 'sunflowers'];
const files = (split, c, n, from = 0) => readdirSync(path.join(flowers, split, c)).sort().slice(from, from + n).map((f) => path.join(flowers, split, c, f));
const SIZES = { source: 16, unlabelled: 24, unlabelledFrom: 16, scored: 20 };
const SEEDS = [1, 2, 3];
const BASE = { strategy: 'full', batchNorm: 'batch', epochs: 5, batchSize: 8, augment: false };
const ADAPTED = { domainAdaptation: 0.3, adaBN: true };

test('the source, unlabelled target and scored target photos are disjoint', () => {
  for (const c of CLASSES) {
    const source = files('train', c, SIZES.source);
    const unlabelled = files('train', c, SIZES.unlabelled, SIZES.unlabelledFrom);
    const scored = files('test', c, SIZES.scored);
    assert.equal(new Set([...source, ...unlabelled, ...scored]).size, source.length + unlabelled.length + scored.length);
    assert.equal(unlabelled.length, SIZES.unlabelled, `${c}: not enough photos in train/`);
  }
});

test('domain adaptation (DANN + AdaBN) beats no adaptation on a colour-cast, blurred target domain over 3 seeds', async (t) => {
  const { sourceExamples, targetTrain, targetTest } = await domainShiftData(webtune, files, CLASSES, SIZES);
  assert.equal(targetTest.length, CLASSES.length * SIZES.scored);
  const acc = { none: [], adapted: [] };
  for (const seed of SEEDS) {
    for (const mode of ['none', 'adapted']) {
      const clf = await webtune.createClassifier({ labels: CLASSES });
      try {
        for (const e of sourceExamples) await clf.addExample(e.label, { data: e.data, width: 224, height: 224 });
        if (mode === 'adapted') await clf.addUnlabeled(targetTrain); // images only: no labels
        await clf.train({ ...BASE, seed, ...(mode === 'adapted' ? ADAPTED : {}) });
        acc[mode].push((await clf.evaluate(targetTest)).accuracy);
      } finally {
        await clf.dispose();
      }
    }
  }
  const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const pct = (xs) => xs.map((x) => (100 * x).toFixed(0)).join(' / ');
  t.diagnostic(`target accuracy per seed: none ${pct(acc.none)} (mean ${(100 * mean(acc.none)).toFixed(1)}%), ` +
    `DANN 0.3 + AdaBN ${pct(acc.adapted)} (mean ${(100 * mean(acc.adapted)).toFixed(1)}%)`);
  assert.ok(mean(acc.adapted) > mean(acc.none), `mean target accuracy: adapted ${mean(acc.adapted)} vs none ${mean(acc.none)}`);
  const wins = acc.adapted.filter((a, i) => a > acc.none[i]).length;
  assert.ok(wins >= 2, `adaptation wins on ${wins} of ${SEEDS.length} seeds`);
});

test.after(async () => {
  await webtune.terminate();
});
