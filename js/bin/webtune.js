#!/usr/bin/env node
// webtune command-line interface (Node). Training runs in the package's worker thread, through the
// same API as any Node program (js/src/node.js).
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import path from 'node:path';
import { cliTrainOptions } from '../src/defaults.js';

const USAGE = `usage:
  webtune train <dir> --out model.webtune [--backbone <name|path>] [--epochs N] [--batch N] [--lr X]
                [--strategy head|top:N|layers:<patterns>|full] [--val X] [--seed N] [--threads N] [--no-refit] [--json]
      Fine-tunes a classifier on <dir>, which holds one sub-folder of images per class. It holds out
      a fraction (--val, default 0.15) to report validation accuracy, then trains the written model
      on every image (--no-refit keeps the first model).
  webtune eval <model.webtune> <dir> [--json]
      Accuracy, per-class accuracy and the confusion matrix on a folder laid out like train's.
  webtune predict <model.webtune> <image>... [--top K] [--json]
  webtune convert <model.json> --out <file.webtune> [--fp16] [--whole | --cut <layer>] [--name <name>] [--labels a,b,c]
      Converts a TensorFlow.js layers model (e.g. a Teachable Machine export) into a webtune model file.
  webtune backbones [--json]
      Lists the shipped backbones.
Unreadable images are reported by name and skipped. --json prints one JSON object as the last line.`;

class UsageError extends Error {}

function parse(argv, options) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, threads: { type: 'string' }, ...options } });
  } catch (e) {
    throw new UsageError(e.message);
  }
}

function number(v, name, { int = false, min = -Infinity, max = Infinity } = {}) {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (int && !Number.isInteger(n)) || n < min || n > max) {
    throw new UsageError(`--${name} must be ${int ? 'an integer' : 'a number'} in [${min}, ${max}], not "${v}"`);
  }
  return n;
}

async function api(values) {
  const webtune = await import('../src/node.js');
  const threads = number(values.threads, 'threads', { int: true, min: 1, max: 5 });
  await webtune.init(threads ? { threads } : {});
  return webtune;
}

const isTTY = process.stderr.isTTY;
function bar(fraction, width = 28) {
  const n = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}
function status(line) {
  if (isTTY) process.stderr.write(`\r\x1b[K${line}`);
}
const pct = (x) => (x == null ? '-' : `${(x * 100).toFixed(1)}%`);

/** Reads <dir> with one folder per class; warns about what it skips. */
async function readFolder(webtune, dir, json) {
  if (!existsSync(dir)) throw new UsageError(`${dir} does not exist`);
  const { labels, files, skipped } = await webtune.readImageFolder(dir);
  for (const s of skipped) if (!json) process.stderr.write(`webtune: skipping ${s} (not a .jpg/.jpeg/.png file)\n`);
  return { labels, files, skipped };
}

async function train(argv) {
  const { values, positionals } = parse(argv, {
    out: { type: 'string', short: 'o' }, backbone: { type: 'string' }, epochs: { type: 'string' }, batch: { type: 'string' },
    lr: { type: 'string' }, strategy: { type: 'string' }, val: { type: 'string' }, seed: { type: 'string' },
    augment: { type: 'boolean' }, 'no-augment': { type: 'boolean' }, fp16: { type: 'boolean' }, 'no-refit': { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError('train takes one folder');
  if (!values.out) throw new UsageError('train needs --out <model.webtune>');
  const options = {
    epochs: number(values.epochs, 'epochs', { int: true, min: 1, max: 100000 }),
    batchSize: number(values.batch, 'batch', { int: true, min: 1, max: 1024 }),
    learningRate: number(values.lr, 'lr', { min: 1e-9, max: 10 }),
    validationSplit: number(values.val, 'val', { min: 0, max: 0.9 }),
    seed: number(values.seed, 'seed', { int: true, min: 0 }),
    strategy: values.strategy,
  };
  Object.assign(options, defaultsFor(options));
  if (values['no-augment']) options.augment = false;
  else if (values.augment) options.augment = true;
  for (const k of Object.keys(options)) if (options[k] === undefined) delete options[k];

  const webtune = await api(values);
  const dir = positionals[0];
  const { labels, files, skipped } = await readFolder(webtune, dir, values.json);
  if (labels.length < 2) throw new UsageError(`${dir} has ${labels.length} class folder${labels.length === 1 ? '' : 's'}; training needs at least 2 (one sub-folder of images per class)`);
  const empty = labels.filter((l) => files[l].length === 0);
  if (empty.length) throw new UsageError(`class folder${empty.length > 1 ? 's' : ''} ${empty.map((l) => `"${l}"`).join(', ')} in ${dir} ha${empty.length > 1 ? 've' : 's'} no images`);
  let backbone = values.backbone;
  if (backbone && (backbone.includes('/') || backbone.endsWith('.webtune') || backbone.endsWith('.json'))) backbone = path.resolve(backbone);
  const clf = await webtune.createClassifier({ labels, backbone });
  const unreadable = [];
  let n = 0;
  const total = labels.reduce((s, l) => s + files[l].length, 0);
  for (const label of labels) {
    const r = await clf.addExamples(label, files[label]);
    n += files[label].length;
    status(`loading images ${bar(n / total)} ${n}/${total}`);
    for (const e of r.errors) {
      unreadable.push({ file: files[label][e.index], code: e.code, message: e.message });
      if (!values.json) process.stderr.write(`${isTTY ? '\r\x1b[K' : ''}webtune: skipping unreadable image ${files[label][e.index]}: ${e.message}\n`);
    }
  }
  const counts = clf.counts;
  const emptyAfter = labels.filter((l) => !counts[l]);
  if (emptyAfter.length) throw new UsageError(`no readable images in class folder${emptyAfter.length > 1 ? 's' : ''} ${emptyAfter.map((l) => `"${l}"`).join(', ')}`);

  const started = Date.now();
  const progress = (stage) => (p) => {
    if (p.phase === 'cache') status(`${stage}embedding images ${bar(p.cacheDone / p.cacheTotal)} ${p.cacheDone}/${p.cacheTotal}`);
    else status(`${stage}epoch ${p.epoch + 1}/${p.epochs} ${bar(p.step / p.totalSteps)} loss ${p.loss.toFixed(3)} ` +
      `${p.valAccuracy != null ? `val ${pct(p.valAccuracy)} ` : ''}${p.imagesPerSecond ? `${p.imagesPerSecond.toFixed(0)} img/s ` : ''}` +
      `${p.etaSeconds != null ? `ETA ${p.etaSeconds.toFixed(0)}s` : ''}`);
  };
  // With a validation split (the default), the CLI first trains with 15% of each class held out to
  // measure validation accuracy, then, unless --no-refit, trains again on every image for the model
  // it writes: a few dozen photos per class are too few to leave some out of the final model.
  const validated = await clf.train({ ...options, onProgress: progress(values['no-refit'] || !options.validationSplit ? '' : '1/2 ') });
  let result = validated;
  if (options.validationSplit && !values['no-refit']) {
    result = await clf.train({ ...options, validationSplit: 0, onProgress: progress('2/2 ') });
    result.valAccuracy = validated.valAccuracy;
    result.nVal = validated.nVal;
    result.bestEpoch = validated.bestEpoch;
  }
  status('');
  const bytes = await clf.save({ fp16: !!values.fp16 });
  writeFileSync(values.out, bytes);
  const summary = {
    out: values.out, labels, counts, n: Object.values(counts).reduce((s, x) => s + x, 0), skipped: [...skipped, ...unreadable.map((u) => u.file)],
    strategy: options.strategy ?? 'head', epochs: result.epochs, trainAccuracy: result.epochAccuracy, trainLoss: result.epochLoss,
    valAccuracy: result.valAccuracy, bestEpoch: result.bestEpoch, nTrain: result.nTrain, nVal: result.nVal, refit: result !== validated,
    seconds: (Date.now() - started) / 1000, imagesPerSecond: result.imagesPerSecond, backbone: clf.backbone,
    variant: webtune.capabilities().variant, threads: webtune.capabilities().threads, bytes: bytes.length,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(`trained ${labels.length} classes on ${summary.nTrain} images${summary.refit ? ` (validated with ${summary.nVal} held out, then refit on all)` : ` (${summary.nVal} held out)`} with ${summary.backbone}, ` +
      `strategy ${summary.strategy}, ${summary.epochs} epochs in ${summary.seconds.toFixed(1)}s\n` +
      `  training accuracy ${pct(summary.trainAccuracy)}, validation accuracy ${pct(summary.valAccuracy)}\n` +
      `  wrote ${values.out} (${(bytes.length / 1024).toFixed(0)} KiB)\n`);
  }
  await clf.dispose();
}

/** Options the user left out: js/src/defaults.js (docs/strategies.md shows why). */
function defaultsFor(o) {
  return { validationSplit: o.validationSplit ?? cliTrainOptions.validationSplit };
}

async function evaluate(argv) {
  const { values, positionals } = parse(argv, {});
  if (positionals.length !== 2) throw new UsageError('eval takes a model file and a folder');
  const [modelPath, dir] = positionals;
  const webtune = await api(values);
  const clf = await webtune.loadClassifier(readModel(modelPath));
  const { labels, files } = await readFolder(webtune, dir, values.json);
  const known = clf.trainedLabels;
  const unknown = labels.filter((l) => !known.includes(l));
  if (unknown.length) throw new UsageError(`folder${unknown.length > 1 ? 's' : ''} ${unknown.map((l) => `"${l}"`).join(', ')} in ${dir} ${unknown.length > 1 ? 'are not classes' : 'is not a class'} of the model (${known.join(', ')})`);
  const items = labels.flatMap((label) => files[label].map((image) => ({ image, label })));
  const r = await clf.evaluate(items);
  for (const e of r.errors) if (!values.json) process.stderr.write(`webtune: skipping unreadable image ${e.name}: ${e.message}\n`);
  const out = { accuracy: r.accuracy, perClass: r.perClass, confusion: r.confusion, labels: r.labels, n: r.n, skipped: r.errors.map((e) => e.name) };
  if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    process.stdout.write(`accuracy ${pct(r.accuracy)} on ${r.n} images\n`);
    const w = Math.max(...r.labels.map((l) => l.length), 8);
    for (const l of r.labels) process.stdout.write(`  ${l.padEnd(w)} ${pct(r.perClass[l])}\n`);
    process.stdout.write(`confusion (rows: true, columns: predicted)\n  ${''.padEnd(w)} ${r.labels.map((l) => l.slice(0, 6).padStart(6)).join(' ')}\n`);
    r.confusion.forEach((row, i) => process.stdout.write(`  ${r.labels[i].padEnd(w)} ${row.map((x) => String(x).padStart(6)).join(' ')}\n`));
  }
  await clf.dispose();
}

function readModel(p) {
  if (!existsSync(p)) throw new UsageError(`${p} does not exist`);
  return readFileSync(p);
}

async function predict(argv) {
  const { values, positionals } = parse(argv, { top: { type: 'string' } });
  if (positionals.length < 2) throw new UsageError('predict takes a model file and at least one image');
  const [modelPath, ...images] = positionals;
  const topK = number(values.top, 'top', { int: true, min: 1, max: 65536 }) ?? 3;
  const webtune = await api(values);
  const clf = await webtune.loadClassifier(readModel(modelPath));
  const results = [];
  for (const image of images) {
    try {
      results.push({ image, predictions: await clf.predict(image, { topK }) });
    } catch (e) {
      results.push({ image, error: { code: e.code, message: e.message } });
      if (!values.json) process.stderr.write(`webtune: ${image}: ${e.message.replace(/^webtune: /, "")}\n`);
    }
  }
  if (values.json) process.stdout.write(`${JSON.stringify({ results })}\n`);
  else {
    for (const r of results) {
      if (r.error) continue;
      process.stdout.write(`${r.image}: ${r.predictions.map((p) => `${p.label} ${(p.probability * 100).toFixed(1)}%`).join(', ')}\n`);
    }
  }
  await clf.dispose();
  if (results.every((r) => r.error)) process.exitCode = 1;
}

async function backbones(argv) {
  const { values } = parse(argv, {});
  const webtune = await api(values);
  const list = await webtune.listBackbones();
  if (values.json) process.stdout.write(`${JSON.stringify(list)}\n`);
  else for (const b of list.backbones) process.stdout.write(`${b.name}${b.name === list.default ? ' (default)' : ''}: ${b.embeddingDim}-d embedding, input ${b.inputSize.join('x')}, ${(b.bytes / 1024).toFixed(0)} KiB\n`);
}

async function convert(argv) {
  const { values, positionals } = parse(argv, {
    out: { type: 'string' }, fp16: { type: 'boolean' }, whole: { type: 'boolean' }, cut: { type: 'string' },
    name: { type: 'string' }, labels: { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError('convert takes one model.json');
  if (!values.out) throw new UsageError('convert needs --out <file.webtune>');
  if (values.whole && values.cut) throw new UsageError('--whole and --cut exclude each other');
  const { loadCoreNode } = await import('../src/core-node.js');
  const { readTfjsModel } = await import('../src/tfjs-files-node.js');
  const { convertTfjs } = await import('../src/convert.js');
  const core = await loadCoreNode('st');
  const model = readTfjsModel(core, positionals[0]);
  const { bytes, info } = convertTfjs(core, model, {
    cutLayer: values.whole ? '' : values.cut, fp16: values.fp16, name: values.name,
    labels: values.labels ? values.labels.split(',') : undefined,
  });
  writeFileSync(values.out, bytes);
  const summary = { out: values.out, bytes: bytes.length, fp16: !!values.fp16, input: [info.inH, info.inW, info.inC],
    embeddingDim: info.embeddingDim, outputs: info.nOutputs, layers: info.nLayers, weights: info.nWeights };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(`wrote ${values.out} (${(bytes.length / 1024).toFixed(0)} KiB, ${info.nLayers} layers, ` +
    `${info.logitsNode >= 0 ? `${info.nOutputs} outputs` : `${info.embeddingDim}-d embedding`})\n`);
}

const COMMANDS = { train, eval: evaluate, predict, convert, backbones };
const [command, ...rest] = process.argv.slice(2);
const json = rest.includes('--json');
try {
  if (!command || command === '--help' || command === 'help' || command === '-h') process.stdout.write(`${USAGE}\n`);
  else if (!COMMANDS[command]) throw new UsageError(`unknown command "${command}"`);
  else await COMMANDS[command](rest);
} catch (e) {
  status('');
  const usage = e instanceof UsageError;
  if (json) process.stdout.write(`${JSON.stringify({ error: { code: usage ? 'USAGE' : e.code ?? 'ERROR', message: e.message } })}\n`);
  process.stderr.write(`webtune: ${e.message.replace(/^webtune: /, "")}${e.code ? ` [${e.code}]` : ''}${usage ? `\n${USAGE}` : ''}\n`);
  process.exitCode = usage ? 2 : 1;
}
