// docs-examples.test.mjs: every runnable example of docs/api.md (docs/examples/*.mjs) runs with
// node as a user would, on the real flowers photos and the real backbones, and prints what the docs
// say it prints. The examples use small settings (each runs in seconds). The measurement scripts
// (compare-strategies.mjs, tune-default.mjs, domain-shift.mjs) take minutes and are not run here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const examples = path.join(root, 'docs', 'examples');
const NOT_RUN = new Set(['compare-strategies.mjs', 'tune-default.mjs', 'domain-shift.mjs', 'domain-shift-data.mjs']);

/** Runs docs/examples/<name> and returns its stdout (a failing example fails with its stderr). */
async function run(name) {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(examples, name)], {
      cwd: root, encoding: 'utf8', timeout: 120000, maxBuffer: 1 << 20,
    });
    return stdout;
  } catch (e) {
    throw new Error(`${name} failed (${e.code ?? e.signal}):\n${e.stdout}\n${e.stderr}`);
  }
}

/** The number a regexp's first group captures in `out`. */
function number(out, re) {
  const m = out.match(re);
  assert.ok(m, `${re} in:\n${out}`);
  return Number(m[1]);
}

const checks = {
  'init.mjs': (out) => {
    assert.match(out, /^variant mt, threads \d, environment node, simd true$/m);
    assert.match(out, /^reason: threads on: Node\.js worker threads, \d of \d+ cores$/m);
    assert.match(out, /init\(\) again returns the same object: true/);
    assert.match(out, /^backbone mobilenet_v2_0\.35_224 \(default\): 1280-d embedding, input 224x224/m);
    assert.match(out, /^backbone mobilenet_v1_0\.25_224: 256-d embedding/m);
    assert.match(out, /capabilities\(\) is null/);
    assert.match(out, /^variant st, threads 1$/m);
    assert.match(out, /^reason: threads off: init\(\{ threads: false \}\) asked for one thread$/m);
  },
  'train-folder.mjs': (out) => {
    assert.match(out, /examples: \{"daisy":20,"dandelion":20,"roses":20,"sunflowers":20,"tulips":20\}/);
    assert.match(out, /embedded 800 views/);
    assert.match(out, /^epoch 30\/30: loss [\d.]+, training accuracy [\d.]+%$/m);
    assert.match(out, /trained 30 epochs on 100 photos/);
    const acc = number(out, /test accuracy ([\d.]+)% on 100 photos/);
    assert.ok(acc >= 60, `test accuracy ${acc}%`);
    const confusion = JSON.parse(out.match(/confusion .*: (\[\[.*\]\])/)[1]);
    assert.equal(confusion.flat().reduce((s, x) => s + x, 0), 100);
  },
  'predict.mjs': (out) => {
    assert.match(out, /^path: +(\w+ [\d.]+%, ){2}\w+ [\d.]+%$/m);
    assert.match(out, /^bytes: +\w+ [\d.]+%$/m);
    assert.match(out, /^tta: +\w+ [\d.]+%$/m);
    assert.match(out, /^raw RGBA: .*\(sum 1\.000\)$/m);
    assert.ok(number(out, /batch: 12 images, (\d+) top-1 right/) >= 8);
  },
  'save-load.mjs': (out) => {
    assert.ok(number(out, /float16: \d+ bytes, ([\d.]+) of it/) < 0.6);
    assert.match(out, /loaded: labels daisy, sunflowers, trained true, backbone mobilenet_v2_0\.35_224/);
    assert.match(out, /same predictions after reload: true/);
    assert.match(out, /float16 model: same top-1 true/);
    assert.ok(number(out, /largest probability change ([\d.]+)/) < 0.02);
    assert.match(out, /retrained the loaded classifier on 6 new photos/);
  },
  'abort.mjs': (out) => {
    assert.match(out, /train\(\) rejected after [34] steps, \d+ ms: WT_ERR_ABORTED/);
    assert.match(out, /the previous model is intact: true/);
    assert.match(out, /already aborted: WT_ERR_ABORTED/);
    assert.match(out, /timed out: WT_ERR_ABORTED/);
    assert.match(out, /disposed while training: WT_ERR_ABORTED/);
  },
  'errors.mjs': (out) => {
    for (const [what, code] of [['unknown class', 'WT_ERR_NOT_FOUND'], ['truncated JPEG', 'WT_ERR_CORRUPT'],
      ['not an image', 'WT_ERR_UNSUPPORTED'], ['missing file', 'WT_ERR_NOT_FOUND'], ['predict before training', 'WT_ERR_STATE'],
      ['save before training', 'WT_ERR_STATE'], ['class without examples', 'WT_ERR_SHAPE'], ['unknown strategy', 'WT_ERR_INVALID_ARGUMENT'],
      ['option out of range', 'WT_ERR_INVALID_ARGUMENT'], ['duplicate label', 'WT_ERR_INVALID_ARGUMENT'],
      ['unknown backbone', 'WT_ERR_NOT_FOUND'], ['a photo is not a model file', 'WT_ERR_CORRUPT'], ['use after dispose', 'WT_ERR_DISPOSED']]) {
      assert.match(out, new RegExp(`^${what}: ${code}: `, 'm'), what);
    }
    assert.match(out, /addExamples: added 2, errors \[\{"index":2,"code":"WT_ERR_CORRUPT"\}\]/);
    assert.match(out, /still usable: trained on 3 photos/);
  },
  'strategies.mjs': (out) => {
    for (const name of ['head', 'top:2', 'layers:block_16_\\*,Conv_1', 'layers:batchnorm', 'full']) {
      assert.match(out, new RegExp(`^${name} +2 epochs, \\d+ steps, loss [\\d.]+, [\\d.]+ s$`, 'm'), name);
    }
    assert.match(out, /^twoPhase top:1 +4 epochs, 8 steps, .*stages head -> finetune$/m);
  },
  'unlabeled-adabn.mjs': (out) => {
    assert.match(out, /addUnlabeled: added 18; unlabeled 18, labelled \{"daisy":10,"roses":10,"sunflowers":10\}/);
    for (const name of ['no adaptation', 'AdaBN', 'DANN 0.3', 'AdaBN, head']) {
      assert.match(out, new RegExp(`^${name} +target-domain accuracy [\\d.]+% on 24 images$`, 'm'), name);
    }
    assert.match(out, /DANN without unlabelled images: WT_ERR_SHAPE/);
    assert.match(out, /DANN with the head strategy: WT_ERR_INVALID_ARGUMENT/);
  },
  'classes.mjs': (out) => {
    assert.match(out, /labels \[\], input 224x224, backbone mobilenet_v2_0\.35_224/);
    assert.match(out, /count after one example: 1/);
    assert.match(out, /counts \{"daisy":4,"rose":4,"tulip":4\}/);
    assert.match(out, /labels \["daisy","roses"\], counts \{"daisy":4,"roses":4\}/);
    assert.match(out, /trained true, trainedLabels \["daisy","roses"\]/);
    assert.match(out, /labels \["daisy","roses","sunflowers"\], trainedLabels \["daisy","roses"\]/);
    assert.match(out, /after clearExamples\('daisy'\): \{"daisy":0,"roses":4,"sunflowers":0\}/);
    assert.match(out, /exported 4 examples of 224x224, 150528 bytes each, labels roses/);
    assert.match(out, /restored counts \{"daisy":0,"roses":4,"sunflowers":0\}/);
    assert.match(out, /after clearExamples\(\): \{"daisy":0,"roses":0,"sunflowers":0\}/);
  },
  'backbones.mjs': (out) => {
    assert.match(out, /shipped: mobilenet_v2_0\.35_224, mobilenet_v1_0\.25_224; default mobilenet_v2_0\.35_224/);
    for (const [kind, name] of [['default', 'mobilenet_v2_0.35_224'], ['shipped name', 'mobilenet_v1_0.25_224'],
      ['webtune file path', 'mobilenet_v2_0.35_224'], ['webtune file bytes', 'v1-from-bytes'], ['TF.js model.json path', 'tfjs'],
      ['Teachable Machine export', 'my-teachable-machine-model']]) {
      assert.match(out, new RegExp(`^${kind} +backbone "${name.replace(/\./g, '\\.')}", input 224x224, predicts (daisy|tulips)$`, 'm'), kind);
    }
  },
  'validation.mjs': (out) => {
    const stopped = number(out, /stopped after epoch (\d+) of 100/);
    assert.ok(stopped < 100, `early stopping stopped at ${stopped}`);
    const kept = number(out, /kept epoch (\d+)/);
    assert.equal(kept, stopped - 4, 'the best epoch is 4 epochs before the stop');
    assert.match(out, /nTrain 45, nVal 15, diverged false/);
    assert.match(out, /cache: 105\/105/);
    const phases = JSON.parse(out.match(/events per phase: (\{.*\})/)[1]);
    assert.deepEqual(Object.keys(phases), ['cache', 'train', 'epoch', 'done']);
    assert.equal(phases.done, 1);
    assert.equal(phases.epoch, stopped - 1);
    const fields = out.match(/result fields: (.*)/)[1].split(' ');
    for (const f of ['labels', 'heapBytes', 'diverged', 'imagesPerSecond', 'valAccuracy', 'bestEpoch', 'nTrain', 'nVal']) assert.ok(fields.includes(f), f);
  },
  'divergence.mjs': (out) => {
    assert.match(out, /onDivergence 'error' \(default\): WT_ERR_NOT_FINITE/);
    assert.match(out, /previous model kept: true/);
    assert.match(out, /onDivergence 'rollback': diverged true, finished at epoch \d of 6/);
    assert.match(out, /predicts finite probabilities: true/);
  },
  'memory.mjs': (out) => {
    assert.match(out, /example 7: WT_ERR_OUT_OF_MEMORY: .*budget of 1 MB holds 6 examples/);
    assert.match(out, /kept 6 examples/);
    assert.match(out, /heap stayed flat: true/);
  },
};

test('every example in docs/examples has a check here (or is a measurement script), and docs/api.md names only files that exist', () => {
  const files = readdirSync(examples).filter((f) => f.endsWith('.mjs') && !NOT_RUN.has(f)).sort();
  assert.deepEqual(files, Object.keys(checks).sort());
  const api = readFileSync(path.join(root, 'docs', 'api.md'), 'utf8');
  const named = [...api.matchAll(/examples\/([\w-]+\.mjs)/g)].map((m) => m[1]);
  for (const f of Object.keys(checks)) assert.ok(named.includes(f), `docs/api.md points to examples/${f}`);
  for (const f of named) assert.ok(existsSync(path.join(examples, f)), `docs/examples/${f} exists`);
});

for (const [name, check] of Object.entries(checks)) {
  test(`docs/examples/${name}`, async () => check(await run(name)));
}
