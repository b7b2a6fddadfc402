// init.mjs: start webtune, see which wasm module runs and why, list the shipped backbones, read the
// heap size, stop the worker, and start again single-threaded.
//   node docs/examples/init.mjs
// In your own project the import is: import { init, ... } from 'webtune';
import { init, capabilities, listBackbones, memory, terminate } from '../../js/src/node.js';

const caps = await init(); // starts the worker thread and loads the wasm module in it
console.log(`variant ${caps.variant}, threads ${caps.threads}, environment ${caps.environment}, simd ${caps.simd}`);
console.log(`reason: ${caps.reason}`);
console.log(`init() again returns the same object: ${(await init({ threads: false })) === caps}`);

const { default: defaultName, backbones } = await listBackbones();
for (const b of backbones) {
  console.log(`backbone ${b.name}${b.name === defaultName ? ' (default)' : ''}: ${b.embeddingDim}-d embedding, input ${b.inputSize.join('x')}, ${(b.bytes / 1024).toFixed(0)} KiB`);
}
console.log(`wasm heap: ${(await memory()).heapBytes / 1048576} MB`);

await terminate(); // classifiers are gone; the next call starts a fresh worker
console.log(`after terminate(): capabilities() is ${capabilities()}`);

const single = await init({ threads: false }); // options count again after terminate()
console.log(`variant ${single.variant}, threads ${single.threads}`);
console.log(`reason: ${single.reason}`);
await terminate();
