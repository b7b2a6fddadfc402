// build-models.mjs: converts the pretrained backbones in ../shared/backbones into webtune model
// files inside the package's output folder (js/dist/models, git-ignored: weights are never
// committed here), with their licence and provenance beside them.
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCoreNode } from '../js/src/core-node.js';
import { readTfjsModel } from '../js/src/tfjs-files-node.js';
import { convertTfjs } from '../js/src/convert.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.WT_SHARED_DIR ?? path.resolve(root, '..', 'shared');
const outDir = path.join(root, 'js', 'dist', 'models');

// The default backbone first. Names are what users pass as `backbone`.
export const BACKBONES = [
  { name: 'mobilenet_v2_0.35_224', dir: 'teachable_machine_mobilenet_v2_0.35_224' },
  { name: 'mobilenet_v1_0.25_224', dir: 'mobilenet_v1_0.25_224' },
];

const core = await loadCoreNode('st');
mkdirSync(outDir, { recursive: true });
const index = [];
for (const b of BACKBONES) {
  const src = path.join(shared, 'backbones', b.dir, 'model.json');
  if (!existsSync(src)) throw new Error(`build-models: ${src} is missing (set WT_SHARED_DIR to the shared folder)`);
  const { bytes, info, sha256 } = convertTfjs(core, readTfjsModel(core, src), { name: b.name });
  writeFileSync(path.join(outDir, `${b.name}.webtune`), bytes);
  index.push({ name: b.name, file: `${b.name}.webtune`, embeddingDim: info.embeddingDim, inputSize: [info.inH, info.inW],
    sha256: Buffer.from(sha256).toString('hex'), bytes: bytes.length });
  console.log(`build-models: ${b.name}: ${info.embeddingDim}-d embedding, ${(bytes.length / 1024).toFixed(0)} KiB`);
}
writeFileSync(path.join(outDir, 'index.json'), JSON.stringify({ default: BACKBONES[0].name, backbones: index }, null, 2) + '\n');
// Licence and provenance travel with the weights.
const readme = readFileSync(path.join(shared, 'backbones', 'README.md'), 'utf8');
writeFileSync(path.join(outDir, 'NOTICE.md'), `# Pretrained backbones shipped with webtune

Converted by scripts/build-models.mjs from the TensorFlow.js layers files described below, cut at
the usual transfer-learning layer and followed by global average pooling. The weights are Keras
Applications' ImageNet-pretrained MobileNets, licensed under the Apache License 2.0
(https://www.apache.org/licenses/LICENSE-2.0).

${readme}`);
