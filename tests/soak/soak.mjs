// soak.mjs: a long session through the public API, printing memory over time. Each round creates a
// classifier, adds thousands of examples (real photos and webcam-sized raw frames), trains for many
// epochs, predicts a few thousand frames, saves, reloads, and disposes everything. The wasm heap,
// the worker-side and main-thread JS heaps and the process RSS must stay flat once warmed up.
//
//   node --expose-gc tests/soak/soak.mjs [--rounds 20] [--examples 2000] [--epochs 200] [--predictions 2000] [--json]
//
// docs/soak.md records a long run; tests/js/failures.test.mjs runs a short one and asserts flatness.
import { parseArgs } from 'node:util';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as webtune from '../../js/src/node.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.WT_SHARED_DIR ?? path.resolve(root, '..', 'shared');

export async function soak({ rounds = 20, examples = 2000, epochs = 200, predictions = 2000, log = () => {} } = {}) {
  const dir = path.join(shared, 'datasets', 'flowers', 'train');
  const classes = readdirSync(dir).sort();
  const photos = classes.map((c) => readdirSync(path.join(dir, c)).sort().slice(0, 10).map((f) => readFileSync(path.join(dir, c, f))));
  // a 320x240 RGBA "webcam frame" per class, varied per example by a moving bright bar
  const frame = (k, i) => {
    const data = new Uint8Array(320 * 240 * 4);
    for (let p = 0; p < 320 * 240; p++) {
      const x = p % 320;
      data[p * 4] = (k * 50 + x) & 255;
      data[p * 4 + 1] = (k * 90 + (p >> 8)) & 255;
      data[p * 4 + 2] = Math.abs(x - ((i * 7) % 320)) < 8 ? 255 : k * 40;
      data[p * 4 + 3] = 255;
    }
    return { data, width: 320, height: 240 };
  };
  await webtune.init();
  const samples = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = Date.now();
    const clf = await webtune.createClassifier({ labels: classes, memoryBudgetMB: 1024 });
    const perClass = Math.ceil(examples / classes.length);
    for (let k = 0; k < classes.length; k++) {
      // photos are decoded in the worker; raw frames are resized there; batches of 50 keep messages small
      for (let i = 0; i < perClass; i += 50) {
        const batch = [];
        for (let j = i; j < Math.min(perClass, i + 50); j++) batch.push(j % 3 === 0 ? frame(k, j) : photos[k][j % photos[k].length]);
        await clf.addExamples(classes[k], batch);
      }
    }
    const result = await clf.train({ epochs, strategy: 'head', cacheViews: 1, augment: false, seed: r });
    const probe = frame(r % classes.length, 1);
    for (let i = 0; i < predictions; i += 100) await clf.predictBatch(new Array(Math.min(100, predictions - i)).fill(probe), { topK: 1 });
    const bytes = await clf.save();
    const again = await webtune.loadClassifier(bytes);
    await again.predict(probe);
    await again.dispose();
    await clf.dispose();
    global.gc?.();
    const { heapBytes } = await webtune.memory();
    const m = process.memoryUsage();
    const sample = {
      round: r + 1, seconds: (Date.now() - t0) / 1000, examples: perClass * classes.length, epochs, predictions,
      trainAccuracy: result.epochAccuracy, wasmHeapMB: heapBytes / 1048576, rssMB: m.rss / 1048576, jsHeapMB: m.heapUsed / 1048576,
    };
    samples.push(sample);
    log(sample);
  }
  await webtune.terminate();
  return samples;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, examples: { type: 'string' }, epochs: { type: 'string' }, predictions: { type: 'string' }, json: { type: 'boolean' } } });
  const opts = Object.fromEntries(Object.entries(values).filter(([k, v]) => k !== 'json' && v !== undefined).map(([k, v]) => [k, Number(v)]));
  if (!values.json) {
    console.log('| round | s | examples | epochs | predictions | train acc | wasm heap MB | RSS MB | JS heap MB |');
    console.log('|---|---|---|---|---|---|---|---|---|');
  }
  const samples = await soak({
    ...opts,
    log: (s) => {
      if (values.json) console.log(JSON.stringify(s));
      else console.log(`| ${s.round} | ${s.seconds.toFixed(1)} | ${s.examples} | ${s.epochs} | ${s.predictions} | ${(s.trainAccuracy * 100).toFixed(0)}% | ${s.wasmHeapMB.toFixed(1)} | ${s.rssMB.toFixed(1)} | ${s.jsHeapMB.toFixed(1)} |`);
    },
  });
  const warm = samples[Math.min(1, samples.length - 1)];
  const last = samples.at(-1);
  console.log(`\nafter round ${warm.round} -> round ${last.round}: wasm heap ${warm.wasmHeapMB.toFixed(1)} -> ${last.wasmHeapMB.toFixed(1)} MB, RSS ${warm.rssMB.toFixed(1)} -> ${last.rssMB.toFixed(1)} MB, JS heap ${warm.jsHeapMB.toFixed(1)} -> ${last.jsHeapMB.toFixed(1)} MB`);
}
