// vite.test.mjs: the published package in a fresh Vite app. `npm pack` of this repository is
// installed (offline) into a new project in a temp folder, whose main.js does
// `import { init, createClassifier } from 'webtune'`; `vite build` (the repository's devDependency,
// default config) must carry every file the package loads at run time (the wasm modules, their
// glue, the pthread worker script, the backbones and their index) into dist/, and the built app,
// served cross-origin isolated, must run the threaded module and train on real photos in Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, readdirSync, symlinkSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, serveStatic } from './chromium.mjs';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.WT_SHARED_DIR ?? path.resolve(root, '..', 'shared');
const flowers = path.join(shared, 'datasets', 'flowers');

const photos = (split, c, n, skip = 0) => readdirSync(path.join(flowers, split, c)).filter((f) => /\.jpe?g$/i.test(f)).sort()
  .slice(skip, skip + n).map((f) => `/shared/datasets/flowers/${split}/${c}/${encodeURIComponent(f)}`);

const INDEX_HTML = `<!doctype html>
<meta charset="utf-8">
<title>webtune in a Vite app</title>
<p id="status">loading</p>
<script type="module" src="/main.js"></script>
`;

const MAIN_JS = `import { init, createClassifier } from 'webtune';

const blobs = (urls) => Promise.all(urls.map(async (u) => {
  const res = await fetch(u);
  if (!res.ok) throw new Error(\`\${u}: HTTP \${res.status}\`);
  return res.blob();
}));

// two classes of photos, a short head training, a prediction on held-out photos
window.runWebtune = async ({ a, b, probesA, probesB }) => {
  try {
    const capabilities = await init();
    const clf = await createClassifier({ labels: ['a', 'b'] });
    await clf.addExamples('a', await blobs(a));
    await clf.addExamples('b', await blobs(b));
    const result = await clf.train({ epochs: 5, cacheViews: 2, seed: 1 });
    const predictions = [];
    for (const [label, urls] of [['a', probesA], ['b', probesB]]) {
      for (const image of await blobs(urls)) predictions.push({ label, top: (await clf.predict(image, { topK: 2 }))[0].label });
    }
    return { ok: true, capabilities, backbone: clf.backbone, accuracy: result.epochAccuracy, predictions };
  } catch (e) {
    return { ok: false, code: e.code, message: e.message, stack: e.stack };
  }
};
document.getElementById('status').textContent = 'ready';
window.__ready = true;
`;

let tmp;
let browser;
let server;

before(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'webtune-vite-')); });

after(async () => {
  await browser?.close();
  await server?.close();
  if (tmp && !process.env.WT_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
});

test('every shipped backbone file has its own new URL() literal in the browser entry', () => {
  const index = JSON.parse(readFileSync(path.join(root, 'js', 'dist', 'models', 'index.json'), 'utf8'));
  const entry = readFileSync(path.join(root, 'js', 'src', 'index.js'), 'utf8');
  for (const file of ['index.json', ...index.backbones.map((b) => b.file)]) {
    assert.ok(entry.includes(`new URL('../dist/models/${file}', import.meta.url)`), `js/src/index.js has no new URL() for ${file}`);
  }
});

test('npm pack -> fresh Vite app -> vite build -> threaded training in Chromium', async (t) => {
  const t0 = Date.now();
  // 1. the package as npm would publish it
  const packed = JSON.parse((await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: root, maxBuffer: 1 << 24 })).stdout);
  const tarball = path.join(tmp, packed[0].filename);
  assert.ok(existsSync(tarball), tarball);

  // 2. a new app that installs it (no network: the package has no dependencies)
  const app = path.join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'webtune-vite-app', private: true, type: 'module' }, null, 2));
  writeFileSync(path.join(app, 'index.html'), INDEX_HTML);
  writeFileSync(path.join(app, 'main.js'), MAIN_JS);
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: app });
  assert.ok(existsSync(path.join(app, 'node_modules', 'webtune', 'js', 'dist', 'wasm', 'webtune-mt.wasm')));
  // Vite itself comes from this repository's devDependencies (linked after the install, which prunes
  // what package.json does not list); it resolves its own dependencies from its real path.
  symlinkSync(path.join(root, 'node_modules', 'vite'), path.join(app, 'node_modules', 'vite'), 'dir');

  // 3. vite build, default configuration
  const build = await run(process.execPath, [path.join(app, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'], { cwd: app, maxBuffer: 1 << 24 });
  const tBuild = Date.now();
  const dist = path.join(app, 'dist');
  const assets = readdirSync(path.join(dist, 'assets'));
  const js = assets.filter((f) => f.endsWith('.js')).map((f) => readFileSync(path.join(dist, 'assets', f), 'utf8')).join('\n');
  // files emitted next to the bundle (hashed names)...
  for (const re of [/^webtune-mt-.*\.wasm$/, /^webtune-st-.*\.wasm$/, /^webtune-mt-.*\.js$/, /^webtune-st-.*\.js$/,
    /^mobilenet_v2_0\.35_224-.*\.webtune$/, /^mobilenet_v1_0\.25_224-.*\.webtune$/, /^worker-browser-.*\.js$/]) {
    assert.ok(assets.some((f) => re.test(f)), `vite build emitted no ${re} (assets: ${assets.join(', ')})\n${build.stdout}`);
  }
  // ...or, under Vite's 4 KB inline limit (the pthread worker script, index.json), inlined as data: URLs
  for (const file of ['webtune-mt.worker.js', 'index.json']) {
    const stem = file.replace(/\.[a-z]+$/, '').replace(/\./g, '\\.');
    const asFile = assets.some((f) => new RegExp(`^${stem}-.*\\.${file.split('.').pop()}$`).test(f));
    const inlined = new RegExp(`['"]${file.replace(/\./g, '\\.')}['"]:new URL\\(\`data:`).test(js);
    assert.ok(asFile || inlined, `${file} is neither emitted nor inlined by vite build`);
  }
  assert.doesNotMatch(js, /\.\.\/dist\/(wasm|models)\//, 'a new URL(\'../dist/...\') pattern was left unresolved');

  // 4. the built app, served cross-origin isolated, in Chromium
  server = await serveStatic(dist, { isolated: true, mounts: { '/shared/': shared } });
  browser = await launchChromium();
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/favicon/.test(m.location()?.url ?? '')) problems.push(`console: ${m.text()}`); });
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => window.__ready === true, null, { timeout: 20000 });
  const r = await page.evaluate((args) => window.runWebtune(args), {
    a: photos('train', 'dandelion', 8), b: photos('train', 'roses', 8),
    probesA: photos('test', 'dandelion', 4), probesB: photos('test', 'roses', 4),
  });
  assert.ok(r.ok, `${r.code} ${r.message}\n${r.stack}`);
  t.diagnostic(`vite: pack+install+build ${tBuild - t0} ms, whole test ${Date.now() - t0} ms; ${r.capabilities.reason}; ` +
    `training accuracy ${r.accuracy}; predictions ${r.predictions.filter((p) => p.top === p.label).length}/${r.predictions.length} right`);
  assert.equal(r.capabilities.variant, 'mt');
  assert.ok(r.capabilities.threads >= 2);
  assert.match(r.capabilities.reason, /^threads on/);
  assert.equal(r.backbone, 'mobilenet_v2_0.35_224');
  assert.ok(r.accuracy >= 0.9, `training accuracy ${r.accuracy}`);
  assert.ok(r.predictions.filter((p) => p.top === p.label).length >= 6, JSON.stringify(r.predictions));
  // everything came from the build output: hashed assets, nothing from outside dist/
  const fetched = server.requests.filter((u) => !u.startsWith('/shared/'));
  for (const re of [/^\/assets\/webtune-mt-.*\.wasm$/, /^\/assets\/webtune-mt-.*\.js$/, /^\/assets\/mobilenet_v2_0\.35_224-.*\.webtune$/]) {
    assert.ok(fetched.some((u) => re.test(u)), `the page never fetched ${re}: ${fetched.join(' ')}`);
  }
  assert.deepEqual(problems, []);
  await page.close();
});
