// unlabeled-adabn.mjs: unlabelled images of the domain the model will be used in (say, webcam
// frames in warm, dim light that nobody labelled) for AdaBN (re-estimated batch-norm statistics)
// and DANN (domainAdaptation: a domain classifier behind gradient reversal). Here the "target
// domain" is photos made dark and orange in JavaScript and passed as raw RGB pixels.
//   node docs/examples/unlabeled-adabn.mjs
// docs/strategies.md measures whether this helps (on its shift and at its size it did not yet).
// In your own project the import is: import { ... } from 'webtune';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClassifier, terminate } from '../../js/src/node.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const flowers = path.join(process.env.WT_SHARED_DIR ?? path.resolve(repo, '..', 'shared'), 'datasets', 'flowers');
const photos = (split, label, n, from = 0) => readdirSync(path.join(flowers, split, label)).sort().slice(from, from + n).map((f) => path.join(flowers, split, label, f));
const labels = ['daisy', 'roses', 'sunflowers'];

/** Photos as RGB pixels at the model's input size: exportExamples() of a scratch classifier. */
async function pixels(label, files) {
  const tmp = await createClassifier({ labels: [label] });
  await tmp.addExamples(label, files);
  const { width, height, examples } = await tmp.exportExamples();
  await tmp.dispose();
  return examples.map((e) => ({ data: e.data, width, height }));
}
/** The target domain's look: darker, orange. */
const warm = ({ data, width, height }) => ({
  width, height, data: data.map((v, i) => (i % 3 === 0 ? Math.min(255, v * 0.6 + 60) : i % 3 === 1 ? v * 0.5 : v * 0.25)),
});

const target = {}; // per class: 6 unlabelled frames for adaptation, 8 labelled ones for scoring only
for (const label of labels) {
  const shifted = (await pixels(label, photos('test', label, 14))).map(warm);
  target[label] = { unlabeled: shifted.slice(0, 6), scoring: shifted.slice(6) };
}
const scoring = labels.flatMap((label) => target[label].scoring.map((image) => ({ image, label })));

const runs = {
  'no adaptation': { strategy: 'top:2' },
  'AdaBN': { strategy: 'top:2', adaBN: true },
  'DANN 0.3': { strategy: 'top:2', domainAdaptation: 0.3 },
  'AdaBN, head': { adaBN: true, cacheViews: 2 }, // AdaBN also works with the frozen backbone
};
for (const [name, options] of Object.entries(runs)) {
  const clf = await createClassifier({ labels });
  for (const label of labels) await clf.addExamples(label, photos('train', label, 10));
  if (name !== 'no adaptation') {
    const r = await clf.addUnlabeled(labels.flatMap((label) => target[label].unlabeled));
    if (name === 'AdaBN') console.log(`addUnlabeled: added ${r.added}; unlabeled ${clf.unlabeled}, labelled ${JSON.stringify(clf.counts)}`);
  }
  await clf.train({ epochs: 4, batchSize: 8, seed: 1, ...options });
  const ev = await clf.evaluate(scoring);
  console.log(`${name.padEnd(14)} target-domain accuracy ${(100 * ev.accuracy).toFixed(1)}% on ${ev.n} images`);
  await clf.dispose();
}

// DANN needs unlabelled images and a strategy that trains the backbone
const clf = await createClassifier({ labels });
for (const label of labels) await clf.addExamples(label, photos('train', label, 2));
try { await clf.train({ strategy: 'top:2', domainAdaptation: true }); } catch (e) { console.log(`DANN without unlabelled images: ${e.code}`); }
await clf.addUnlabeled(target.daisy.unlabeled);
try { await clf.train({ domainAdaptation: true }); } catch (e) { console.log(`DANN with the head strategy: ${e.code}`); }
await clf.dispose();
await terminate();
