// The shipped default backbones (built into js/dist/models from ../shared/backbones) and the
// `webtune convert` command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCoreNode } from '../../js/src/core-node.js';
import { loadModel, nodeShape } from '../../js/src/models.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.WT_SHARED_DIR ?? path.resolve(root, '..', 'shared');
const models = path.join(root, 'js', 'dist', 'models');
const cli = path.join(root, 'js', 'bin', 'webtune.js');
const TM_JSON = path.join(shared, 'backbones', 'teachable_machine_mobilenet_v2_0.35_224', 'model.json');

test('the package ships both backbones, v2 0.35 as the default, with licence and provenance', async () => {
  const index = JSON.parse(readFileSync(path.join(models, 'index.json'), 'utf8'));
  assert.equal(index.default, 'mobilenet_v2_0.35_224');
  const core = await loadCoreNode('st');
  const ctx = core.callOutInt('wtjs_context_create', 1, 0);
  try {
    for (const [name, dim] of [['mobilenet_v2_0.35_224', 1280], ['mobilenet_v1_0.25_224', 256]]) {
      const entry = index.backbones.find((b) => b.name === name);
      assert.ok(entry, name);
      const { net, meta } = loadModel(core, ctx, readFileSync(path.join(models, entry.file)));
      assert.equal(meta.backboneName, name);
      assert.equal(Buffer.from(meta.backboneSha256).toString('hex'), entry.sha256);
      assert.deepEqual(nodeShape(core, net, meta.embeddingNode), [1, 1, dim]);
      assert.deepEqual([meta.preprocess.outH, meta.preprocess.outW], [224, 224]);
      core.module._wt_net_destroy(net);
    }
  } finally {
    core.module._wt_context_destroy(ctx);
  }
  const notice = readFileSync(path.join(models, 'NOTICE.md'), 'utf8');
  assert.match(notice, /Apache License 2\.0/);
  assert.match(notice, /teachable_machine_mobilenet_v2_0\.35_224/);
});

test('webtune convert: a Teachable Machine export with its head, float32 and float16', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'webtune-convert-'));
  const f32 = path.join(dir, 'tm.webtune'), f16 = path.join(dir, 'tm16.webtune');
  const labels = JSON.parse(readFileSync(path.join(path.dirname(TM_JSON), 'metadata.json'), 'utf8')).labels;
  const out = execFileSync('node', [cli, 'convert', TM_JSON, '--out', f32, '--whole', '--labels', labels.join(','), '--json'], { encoding: 'utf8' });
  const summary = JSON.parse(out.trim().split('\n').at(-1));
  assert.equal(summary.outputs, 5);
  execFileSync('node', [cli, 'convert', TM_JSON, '--out', f16, '--whole', '--fp16']);
  const ratio = statSync(f16).size / statSync(f32).size;
  assert.ok(ratio > 0.45 && ratio < 0.6, `fp16 file is ${ratio} of the f32 one`);
  const core = await loadCoreNode('st');
  const ctx = core.callOutInt('wtjs_context_create', 1, 0);
  try {
    const { net, meta } = loadModel(core, ctx, readFileSync(f32));
    assert.deepEqual(meta.labels, labels); // Korean labels survive the round trip
    assert.equal(meta.outputSoftmax, true);
    core.module._wt_net_destroy(net);
  } finally {
    core.module._wt_context_destroy(ctx);
  }
});

test('webtune convert: bad input gives a clear error and a non-zero exit', () => {
  const missing = spawnSync('node', [cli, 'convert', '/nonexistent/model.json', '--out', '/tmp/x.webtune'], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /does not exist/);
  const noOut = spawnSync('node', [cli, 'convert', TM_JSON], { encoding: 'utf8' });
  assert.equal(noOut.status, 2);
  assert.match(noOut.stderr, /--out/);
  const unknown = spawnSync('node', [cli, 'frobnicate'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command/);
});
