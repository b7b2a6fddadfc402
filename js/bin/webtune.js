#!/usr/bin/env node
// webtune command-line interface (Node).
//   webtune convert <model.json> --out <file.webtune> [--fp16] [--whole] [--cut <layer>] [--name <name>] [--labels a,b,c]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadCoreNode } from '../src/core-node.js';
import { readTfjsModel } from '../src/tfjs-files-node.js';
import { convertTfjs } from '../src/convert.js';

const USAGE = `usage:
  webtune convert <model.json> --out <file.webtune> [--fp16] [--whole | --cut <layer>] [--name <name>] [--labels a,b,c]
      Converts a TensorFlow.js layers model (e.g. a Teachable Machine export) into a webtune model file.
      By default the model is cut at its embedding (MobileNet v1: conv_pw_13_relu, v2: out_relu)
      and pooled; --whole keeps its own head (with --labels for its classes).`;

function fail(message, code = 2) {
  process.stderr.write(`webtune: ${message}\n`);
  process.exit(code);
}

async function convert(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' }, fp16: { type: 'boolean' }, whole: { type: 'boolean' }, cut: { type: 'string' },
      name: { type: 'string' }, labels: { type: 'string' }, json: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) fail(`convert takes one model.json\n${USAGE}`);
  if (!values.out) fail(`convert needs --out <file.webtune>\n${USAGE}`);
  if (values.whole && values.cut) fail('--whole and --cut exclude each other');
  const core = await loadCoreNode('st');
  const model = readTfjsModel(core, positionals[0]);
  const { bytes, info } = convertTfjs(core, model, {
    cutLayer: values.whole ? '' : values.cut,
    fp16: values.fp16,
    name: values.name,
    labels: values.labels ? values.labels.split(',') : undefined,
  });
  writeFileSync(values.out, bytes);
  const summary = { out: values.out, bytes: bytes.length, fp16: !!values.fp16, input: [info.inH, info.inW, info.inC],
    embeddingDim: info.embeddingDim, outputs: info.nOutputs, layers: info.nLayers, weights: info.nWeights };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(`wrote ${values.out} (${(bytes.length / 1024).toFixed(0)} KiB, ${info.nLayers} layers, ` +
    `${info.logitsNode >= 0 ? `${info.nOutputs} outputs` : `${info.embeddingDim}-d embedding`})\n`);
}

const [command, ...rest] = process.argv.slice(2);
try {
  if (command === 'convert') await convert(rest);
  else if (!command || command === '--help' || command === 'help') process.stdout.write(`${USAGE}\n`);
  else fail(`unknown command "${command}"\n${USAGE}`);
} catch (e) {
  fail(`${e.message}${e.code ? ` [${e.code}]` : ''}`, 1);
}
