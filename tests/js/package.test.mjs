// package.test.mjs: the package as users get it. `npm pack` makes the tarball; a fresh project
// outside the repository installs it (no registry needed: webtune has no runtime dependencies),
// then (1) a Node script trains on ../shared/datasets/flowers/train, evaluates on test/, saves,
// reloads and compares predictions, and (2) the installed `webtune` CLI does the same from the shell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync, copyFileSync, readdirSync, existsSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.WT_SHARED_DIR ?? path.resolve(root, '..', 'shared');
const flowers = path.join(shared, 'datasets', 'flowers');
const work = mkdtempSync(path.join(os.tmpdir(), 'webtune-pkg-'));
const project = path.join(work, 'app');

function npm(args, cwd) {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });
}

test('npm pack + npm install into a fresh project', () => {
  const out = npm(['pack', '--json', '--pack-destination', work], root);
  const [{ filename, files }] = JSON.parse(out);
  const names = files.map((f) => f.path);
  for (const f of ['js/src/node.js', 'js/src/index.js', 'js/src/worker-browser.js', 'js/types/index.d.ts', 'js/bin/webtune.js',
    'js/dist/wasm/webtune-mt.wasm', 'js/dist/wasm/webtune-st.wasm', 'js/dist/wasm/webtune-mt.worker.js',
    'js/dist/models/mobilenet_v2_0.35_224.webtune', 'js/dist/models/index.json', 'js/dist/models/NOTICE.md']) {
    assert.ok(names.includes(f), `${f} is in the tarball`);
  }
  assert.ok(!names.some((n) => n.startsWith('tests/') || n.startsWith('src/') || n.startsWith('build/')), 'no sources or tests shipped');
  mkdirSync(project);
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  npm(['install', '--offline', '--no-package-lock', path.join(work, filename)], project);
  assert.ok(existsSync(path.join(project, 'node_modules', 'webtune', 'package.json')));
});

test('installed package: train on flowers/train, evaluate on flowers/test, save, reload, same predictions', () => {
  const script = `
import { init, createClassifier, loadClassifier, readImageFolder, terminate } from 'webtune';
import { writeFileSync, readFileSync } from 'node:fs';
const caps = await init();
const train = await readImageFolder(${JSON.stringify(path.join(flowers, 'train'))});
const test = await readImageFolder(${JSON.stringify(path.join(flowers, 'test'))});
const clf = await createClassifier({ labels: train.labels });
for (const l of train.labels) await clf.addExamples(l, train.files[l]);
const result = await clf.train({ epochs: 15, validationSplit: 0.15, seed: 1 });
const items = test.labels.flatMap((l) => test.files[l].map((image) => ({ image, label: l })));
const ev = await clf.evaluate(items);
writeFileSync('model.webtune', await clf.save());
const again = await loadClassifier(readFileSync('model.webtune'));
const images = items.map((x) => x.image);
const a = await clf.predictBatch(images, { topK: 5 });
const b = await again.predictBatch(images, { topK: 5 });
console.log(JSON.stringify({ caps, valAccuracy: result.valAccuracy, accuracy: ev.accuracy, n: ev.n, same: JSON.stringify(a) === JSON.stringify(b) }));
await terminate();
`;
  writeFileSync(path.join(project, 'train.mjs'), script);
  const out = execFileSync(process.execPath, ['train.mjs'], { cwd: project, encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').at(-1));
  assert.equal(r.caps.variant, 'mt');
  assert.equal(r.n, readdirSync(path.join(flowers, 'test')).reduce((s, c) => s + readdirSync(path.join(flowers, 'test', c)).length, 0));
  assert.ok(r.accuracy >= 0.75, `test accuracy ${r.accuracy}`);
  assert.equal(r.same, true, 'reloaded model predicts identically');
});

test('installed CLI: train, eval --json, predict --json; unreadable images skipped by name; bad folders are clear errors', () => {
  const bin = path.join(project, 'node_modules', '.bin', 'webtune');
  // a copy of a small training set with one broken file
  const data = path.join(work, 'data');
  for (const c of ['daisy', 'sunflowers']) {
    mkdirSync(path.join(data, c), { recursive: true });
    for (const f of readdirSync(path.join(flowers, 'train', c)).slice(0, 12)) copyFileSync(path.join(flowers, 'train', c, f), path.join(data, c, f));
  }
  writeFileSync(path.join(data, 'daisy', 'broken.jpg'), readFileSync(path.join(flowers, 'train', 'daisy', readdirSync(path.join(flowers, 'train', 'daisy'))[0])).subarray(0, 300));
  const t = spawnSync(bin, ['train', data, '--out', path.join(work, 'cli.webtune'), '--epochs', '30', '--json'], { cwd: project, encoding: 'utf8' });
  assert.equal(t.status, 0, t.stderr);
  const summary = JSON.parse(t.stdout.trim().split('\n').at(-1));
  assert.deepEqual(summary.labels, ['daisy', 'sunflowers']);
  assert.ok(summary.skipped.some((f) => f.endsWith('broken.jpg')), JSON.stringify(summary.skipped));
  assert.equal(summary.counts.daisy, 12);
  assert.equal(typeof summary.trainAccuracy, 'number');
  assert.equal(typeof summary.valAccuracy, 'number');

  const testDir = path.join(work, 'test2');
  for (const c of ['daisy', 'sunflowers']) {
    mkdirSync(path.join(testDir, c), { recursive: true });
    for (const f of readdirSync(path.join(flowers, 'test', c))) copyFileSync(path.join(flowers, 'test', c, f), path.join(testDir, c, f));
  }
  const e = spawnSync(bin, ['eval', path.join(work, 'cli.webtune'), testDir, '--json'], { cwd: project, encoding: 'utf8' });
  assert.equal(e.status, 0, e.stderr);
  const ev = JSON.parse(e.stdout.trim().split('\n').at(-1));
  assert.ok(ev.accuracy >= 0.8, `eval accuracy ${ev.accuracy}`);
  assert.deepEqual(Object.keys(ev.perClass), ['daisy', 'sunflowers']);
  assert.equal(ev.confusion.length, 2);
  assert.equal(ev.n, ev.confusion.flat().reduce((s, x) => s + x, 0));

  // every sunflower test photo in one call: one top-1 result each, mostly right (a model trained on
  // 12 photos a class misses some, so no single photo is asserted)
  const imgs = readdirSync(path.join(testDir, 'sunflowers')).sort().map((f) => path.join(testDir, 'sunflowers', f));
  const img = imgs[0];
  const p = spawnSync(bin, ['predict', path.join(work, 'cli.webtune'), ...imgs, '--top', '1', '--json'], { cwd: project, encoding: 'utf8' });
  assert.equal(p.status, 0, p.stderr);
  const pr = JSON.parse(p.stdout.trim().split('\n').at(-1));
  assert.equal(pr.results.length, imgs.length);
  assert.ok(pr.results.every((r) => r.predictions.length === 1 && r.predictions[0].probability >= 0.5));
  const right = pr.results.filter((r) => r.predictions[0].label === 'sunflowers').length;
  assert.ok(right / imgs.length >= 0.7, `${right} of ${imgs.length} sunflower photos predicted as sunflowers`);
  assert.equal(pr.results[0].image, img);

  // one class, an empty class: clear errors, exit code 2
  const one = path.join(work, 'one');
  mkdirSync(path.join(one, 'daisy'), { recursive: true });
  const r1 = spawnSync(bin, ['train', one, '--out', path.join(work, 'x.webtune'), '--json'], { cwd: project, encoding: 'utf8' });
  assert.equal(r1.status, 2);
  assert.match(JSON.parse(r1.stdout.trim()).error.message, /at least 2/);
  mkdirSync(path.join(one, 'empty'));
  const r2 = spawnSync(bin, ['train', one, '--out', path.join(work, 'x.webtune')], { cwd: project, encoding: 'utf8' });
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /no images/);
  // a file that is not a model
  const r3 = spawnSync(bin, ['eval', img, testDir, '--json'], { cwd: project, encoding: 'utf8' });
  assert.equal(r3.status, 1);
  assert.equal(JSON.parse(r3.stdout.trim()).error.code, 'WT_ERR_CORRUPT');
});

test.after(() => rmSync(work, { recursive: true, force: true }));
