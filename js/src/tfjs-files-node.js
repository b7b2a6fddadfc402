// tfjs-files-node.js: reads a TF.js layers model (model.json + the shards its manifest names)
// from a folder, for Node. Paths are validated by the C side (no absolute paths or "..").
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { tfjsWeightPaths } from './models.js';
import { WebtuneError } from './core.js';

/**
 * @param {object} core  a wrapped module
 * @param {string} modelJsonPath  path of model.json
 * @returns {{ json: Uint8Array, files: Map<string, Uint8Array> }}
 */
export function readTfjsModel(core, modelJsonPath) {
  if (!existsSync(modelJsonPath)) throw new WebtuneError('WT_ERR_IO', `webtune: ${modelJsonPath} does not exist`);
  const json = new Uint8Array(readFileSync(modelJsonPath));
  const dir = path.dirname(modelJsonPath);
  const files = new Map();
  for (const rel of tfjsWeightPaths(core, json)) {
    const file = path.join(dir, rel);
    if (!existsSync(file)) {
      throw new WebtuneError('WT_ERR_NOT_FOUND', `webtune: weight file "${rel}" named by ${modelJsonPath} is missing (looked for ${file})`);
    }
    files.set(rel, new Uint8Array(readFileSync(file)));
  }
  return { json, files };
}
