// paths-node.js: where the package keeps its built files, for Node.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const defaultWasmDir = path.resolve(here, '..', 'dist', 'wasm');
export const defaultModelsDir = path.resolve(here, '..', 'dist', 'models');
