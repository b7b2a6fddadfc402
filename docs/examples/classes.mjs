// classes.mjs: classes and examples: add, rename and remove classes, count and clear examples,
// export the stored examples (RGB at the model's input size) to keep a session.
//   node docs/examples/classes.mjs
// In your own project the import is: import { ... } from 'webtune';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClassifier, terminate } from '../../js/src/node.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const flowers = path.join(process.env.WT_SHARED_DIR ?? path.resolve(repo, '..', 'shared'), 'datasets', 'flowers');
const photos = (split, label, n) => readdirSync(path.join(flowers, split, label)).sort().slice(0, n).map((f) => path.join(flowers, split, label, f));

const clf = await createClassifier(); // no classes yet
console.log(`labels ${JSON.stringify(clf.labels)}, input ${clf.inputSize.join('x')}, backbone ${clf.backbone}`);
await clf.addClass('daisy');
await clf.addClass('rose');
await clf.addClass('tulip');
console.log(`count after one example: ${await clf.addExample('daisy', photos('train', 'daisy', 1)[0])}`);
await clf.addExamples('daisy', photos('train', 'daisy', 4).slice(1));
await clf.addExamples('rose', photos('train', 'roses', 4));
await clf.addExamples('tulip', photos('train', 'tulips', 4));
console.log(`counts ${JSON.stringify(clf.counts)}`);

await clf.renameClass('rose', 'roses'); // examples follow the class
await clf.removeClass('tulip');         // and its examples go
console.log(`labels ${JSON.stringify(clf.labels)}, counts ${JSON.stringify(clf.counts)}`);

await clf.train({ epochs: 5, cacheViews: 1 });
console.log(`trained ${clf.trained}, trainedLabels ${JSON.stringify(clf.trainedLabels)}`);
await clf.addClass('sunflowers'); // labels change now; the trained head keeps its classes until the next train()
console.log(`labels ${JSON.stringify(clf.labels)}, trainedLabels ${JSON.stringify(clf.trainedLabels)}`);

await clf.clearExamples('daisy'); // one class's examples
console.log(`after clearExamples('daisy'): ${JSON.stringify(clf.counts)}`);

const saved = await clf.exportExamples(); // every example as RGB bytes at the input size
console.log(`exported ${saved.examples.length} examples of ${saved.width}x${saved.height}, ${saved.examples[0].data.length} bytes each, labels ${[...new Set(saved.examples.map((e) => e.label))].join(',')}`);

// ...and back into a new classifier as raw RGB pixels
const copy = await createClassifier({ labels: clf.labels });
for (const e of saved.examples) await copy.addExample(e.label, { data: e.data, width: saved.width, height: saved.height });
console.log(`restored counts ${JSON.stringify(copy.counts)}`);

await clf.clearExamples(); // all of them
console.log(`after clearExamples(): ${JSON.stringify(clf.counts)}`);
await copy.dispose();
await clf.dispose();
await terminate();
