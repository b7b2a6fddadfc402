// mobilenets.mjs: MobileNet v1 and v2 as TF.js Keras-style models with the real Keras layer names,
// random weights, for timing comparisons (tests/bench/compare_tfjs.mjs).
//
// v1 follows the MobileNet v1 models TensorFlow.js published (the one in
// /work/shared/backbones/mobilenet_v1_0.25_224 is such an export): conv1 / conv1_bn / conv1_relu,
// then 13 blocks conv_dw_K, conv_dw_K_bn, conv_dw_K_relu, conv_pw_K, conv_pw_K_bn, conv_pw_K_relu;
// "same" padding everywhere (also for stride 2), Activation('relu6'), batch-norm momentum 0.99,
// channels int(c * alpha).
// v2 follows keras.applications.MobileNetV2 (the Teachable Machine export in
// /work/shared/backbones/teachable_machine_mobilenet_v2_0.35_224 is one): Conv1_pad, Conv1, bn_Conv1,
// Conv1_relu, expanded_conv_{depthwise,project}..., block_K_{expand,pad,depthwise,project,add},
// Conv_1, Conv_1_bn, out_relu; ZeroPadding2D ((0,1),(0,1)) + "valid" for stride 2; ReLU(6.);
// momentum 0.999; channels _make_divisible(int(c * alpha), 8); last conv 1280 for alpha <= 1.
//
// Both end in GlobalAveragePooling2D (the pooled embedding); withHead adds Dense(nClasses) logits.
import * as tf from '@tensorflow/tfjs';

/** keras.applications' _make_divisible(v, 8). */
export function makeDivisible(v, divisor = 8, minValue = divisor) {
  let nv = Math.max(minValue, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (nv < 0.9 * v) nv += divisor;
  return nv;
}

const V1_BLOCKS = [[64, 1], [128, 2], [128, 1], [256, 2], [256, 1], [512, 2], [512, 1], [512, 1], [512, 1],
  [512, 1], [512, 1], [1024, 2], [1024, 1]];

function mobilenetV1(x, alpha) {
  const bn = (name) => tf.layers.batchNormalization({ name, epsilon: 1e-3, momentum: 0.99 });
  const relu6 = (name) => tf.layers.activation({ name, activation: 'relu6' });
  let c = Math.floor(32 * alpha);
  x = tf.layers.conv2d({ name: 'conv1', filters: c, kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(x);
  x = relu6('conv1_relu').apply(bn('conv1_bn').apply(x));
  V1_BLOCKS.forEach(([f, s], i) => {
    const k = i + 1;
    x = tf.layers.depthwiseConv2d({ name: `conv_dw_${k}`, kernelSize: 3, strides: s, padding: 'same', useBias: false }).apply(x);
    x = relu6(`conv_dw_${k}_relu`).apply(bn(`conv_dw_${k}_bn`).apply(x));
    c = Math.floor(f * alpha);
    x = tf.layers.conv2d({ name: `conv_pw_${k}`, filters: c, kernelSize: 1, strides: 1, padding: 'same', useBias: false }).apply(x);
    x = relu6(`conv_pw_${k}_relu`).apply(bn(`conv_pw_${k}_bn`).apply(x));
  });
  return x;
}

// [t, c, n, s] of the MobileNet v2 paper; block ids run 0..16.
const V2_GROUPS = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]];

function mobilenetV2(x, alpha) {
  const bn = (name) => tf.layers.batchNormalization({ name, epsilon: 1e-3, momentum: 0.999 });
  const relu6 = (name) => tf.layers.reLU({ name, maxValue: 6 });
  const pad = (name) => tf.layers.zeroPadding2d({ name, padding: [[0, 1], [0, 1]] });
  x = pad('Conv1_pad').apply(x);
  x = tf.layers.conv2d({ name: 'Conv1', filters: makeDivisible(32 * alpha), kernelSize: 3, strides: 2, padding: 'valid', useBias: false }).apply(x);
  x = relu6('Conv1_relu').apply(bn('bn_Conv1').apply(x));
  let id = 0;
  for (const [t, c, n, s] of V2_GROUPS) {
    for (let r = 0; r < n; r++, id++) {
      const stride = r === 0 ? s : 1;
      const inC = x.shape[x.shape.length - 1];
      const outC = makeDivisible(Math.floor(c * alpha));
      const p = id ? `block_${id}_` : 'expanded_conv_';
      const input = x;
      if (id) {
        x = tf.layers.conv2d({ name: `${p}expand`, filters: t * inC, kernelSize: 1, padding: 'same', useBias: false }).apply(x);
        x = relu6(`${p}expand_relu`).apply(bn(`${p}expand_BN`).apply(x));
      }
      if (stride === 2) x = pad(`${p}pad`).apply(x);
      x = tf.layers.depthwiseConv2d({ name: `${p}depthwise`, kernelSize: 3, strides: stride, padding: stride === 1 ? 'same' : 'valid', useBias: false }).apply(x);
      x = relu6(`${p}depthwise_relu`).apply(bn(`${p}depthwise_BN`).apply(x));
      x = tf.layers.conv2d({ name: `${p}project`, filters: outC, kernelSize: 1, padding: 'same', useBias: false }).apply(x);
      x = bn(`${p}project_BN`).apply(x);
      if (inC === outC && stride === 1) x = tf.layers.add({ name: `${p}add` }).apply([input, x]);
    }
  }
  const last = alpha > 1.0 ? makeDivisible(1280 * alpha) : 1280;
  x = tf.layers.conv2d({ name: 'Conv_1', filters: last, kernelSize: 1, useBias: false }).apply(x);
  return relu6('out_relu').apply(bn('Conv_1_bn').apply(x));
}

/** The three architectures of issue 7. */
export const ARCHS = [
  { id: 'v1_0.25', label: 'MobileNet v1 0.25 @224', version: 1, alpha: 0.25 },
  { id: 'v2_0.35', label: 'MobileNet v2 0.35 @224', version: 2, alpha: 0.35 },
  { id: 'v1_1.0', label: 'MobileNet v1 1.0 @224', version: 1, alpha: 1.0 },
];

/**
 * Builds the model: input [224,224,3] -> backbone -> GlobalAveragePooling2D ("embedding")
 * [-> Dense(nClasses) "logits" when nClasses > 0]. Weights: TF.js's default initialisers (random).
 */
export function buildMobilenet(arch, { size = 224, nClasses = 0 } = {}) {
  const input = tf.input({ shape: [size, size, 3], name: 'input_1' });
  let x = arch.version === 1 ? mobilenetV1(input, arch.alpha) : mobilenetV2(input, arch.alpha);
  x = tf.layers.globalAveragePooling2d({ name: 'embedding' }).apply(x);
  if (nClasses > 0) x = tf.layers.dense({ name: 'logits', units: nClasses }).apply(x);
  return tf.model({ inputs: input, outputs: x, name: `mobilenet_${arch.id}` });
}

/**
 * Serialises a model in memory as the TF.js layers format: { modelJson (string), weights (Map path ->
 * bytes) }, the same model.json + shard a converter or model.save('file://...') would write.
 */
export async function toLayersFormat(model) {
  let artifacts;
  await model.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const modelJson = JSON.stringify({
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
  });
  const data = artifacts.weightData instanceof ArrayBuffer ? artifacts.weightData
    : tf.io.concatenateArrayBuffers(artifacts.weightData);
  return { modelJson, weights: new Map([['weights.bin', new Uint8Array(data)]]) };
}

/**
 * The MobileNet block a layer belongs to, as webtune's trainer numbers them (src/train.c block_key):
 * "block_5_expand" -> "block_5", "conv_dw_7"/"conv_pw_7_bn" -> "conv_7", "bn_Conv1" -> "Conv1",
 * "expanded_conv_*" -> "expanded_conv", others their own name without a _bn/_BN suffix.
 */
export function blockKey(name) {
  let s = name.startsWith('bn_') ? name.slice(3) : name;
  let m = /^block_\d+/.exec(s);
  if (m) return m[0];
  m = /^conv_(?:dw|pw)_(\d+)/.exec(s);
  if (m) return `conv_${m[1]}`;
  if (s.startsWith('expanded_conv')) return 'expanded_conv';
  for (const suf of ['_bn', '_BN', '/bn']) if (s.length > suf.length && s.endsWith(suf)) s = s.slice(0, -suf.length);
  return s;
}

/** Names of the backbone layers with weights in the last `n` blocks (the `top:n` strategy). */
export function topBlockLayers(model, n) {
  const keys = [];
  const byKey = new Map();
  for (const l of model.layers) {
    if (l.name === 'logits' || l.trainableWeights.length === 0) continue;
    const k = blockKey(l.name);
    if (!byKey.has(k)) { byKey.set(k, []); keys.push(k); }
    byKey.get(k).push(l.name);
  }
  return keys.slice(-n).flatMap((k) => byKey.get(k));
}

/**
 * Multiply-adds per image of every Conv2D / DepthwiseConv2D / Dense layer, with the layer's class
 * ('conv', 'pw' for 1x1 convolutions, 'dw', 'dense'). Backward costs about 2x the forward of a
 * layer whose input gradient is needed (d_input + d_weight), 1x for the lowest trainable one.
 */
export function layerMacs(model) {
  const out = [];
  for (const l of model.layers) {
    const cls = l.getClassName();
    if (cls !== 'Conv2D' && cls !== 'DepthwiseConv2D' && cls !== 'Dense') continue;
    const os = l.outputShape;
    const inC = l.input.shape[l.input.shape.length - 1];
    if (cls === 'Dense') {
      out.push({ name: l.name, cls: 'dense', macs: inC * os[os.length - 1] });
    } else {
      const [kh, kw] = l.kernelSize;
      const pix = os[1] * os[2];
      if (cls === 'DepthwiseConv2D') out.push({ name: l.name, cls: 'dw', macs: pix * kh * kw * inC });
      else out.push({ name: l.name, cls: kh === 1 && kw === 1 ? 'pw' : 'conv', macs: pix * kh * kw * inC * os[3] });
    }
  }
  return out;
}

/**
 * The same backbone as buildMobilenet for inference only, the way a converted TF.js graph model
 * runs it (tfjs-models/mobilenet, TF Hub exports): batch norms folded into the convolutions
 * (weights + bias) and ReLU6 fused into them, i.e. tf.fused.conv2d / tf.fused.depthwiseConv2d with
 * activation 'relu6', which the wasm backend runs as XNNPACK convolutions with a clamp. Random
 * weights. Returns { predict(x) -> pooled [n, C] embedding tensor, dispose() }.
 */
export function fusedMobilenet(arch) {
  const vars = [];
  const w = (shape) => {
    const fanIn = shape.length === 4 ? shape[0] * shape[1] * shape[2] : shape[0];
    const t = tf.randomUniform(shape, -Math.sqrt(3 / fanIn), Math.sqrt(3 / fanIn));
    vars.push(t);
    return t;
  };
  const b = (n) => {
    const t = tf.randomUniform([n], -0.1, 0.1);
    vars.push(t);
    return t;
  };
  const ops = []; // functions x -> x (or [x, residual] handling below)
  const conv = (inC, outC, k, s, pad, act) => {
    const filter = w([k, k, inC, outC]);
    const bias = b(outC);
    ops.push((x) => tf.fused.conv2d({ x, filter, bias, strides: s, pad, activation: act }));
  };
  const dw = (c, s, pad) => {
    const filter = w([3, 3, c, 1]);
    const bias = b(c);
    ops.push((x) => tf.fused.depthwiseConv2d({ x, filter, bias, strides: s, pad, activation: 'relu6' }));
  };
  const zeroPad = () => ops.push((x) => tf.pad(x, [[0, 0], [0, 1], [0, 1], [0, 0]]));
  if (arch.version === 1) {
    let c = Math.floor(32 * arch.alpha);
    conv(3, c, 3, 2, 'same', 'relu6');
    for (const [f, s] of V1_BLOCKS) {
      dw(c, s, 'same');
      const oc = Math.floor(f * arch.alpha);
      conv(c, oc, 1, 1, 'same', 'relu6');
      c = oc;
    }
  } else {
    let c = makeDivisible(32 * arch.alpha);
    zeroPad();
    conv(3, c, 3, 2, 'valid', 'relu6');
    let id = 0;
    for (const [t, f, n, s] of V2_GROUPS) {
      for (let r = 0; r < n; r++, id++) {
        const stride = r === 0 ? s : 1;
        const outC = makeDivisible(Math.floor(f * arch.alpha));
        const residual = c === outC && stride === 1;
        const first = ops.length;
        if (id) conv(c, t * c, 1, 1, 'same', 'relu6');
        if (stride === 2) zeroPad();
        dw(id ? t * c : c, stride, stride === 1 ? 'same' : 'valid');
        conv(id ? t * c : c, outC, 1, 1, 'same', 'linear');
        if (residual) {
          const block = ops.splice(first);
          ops.push((x) => tf.add(x, block.reduce((y, op) => op(y), x)));
        }
        c = outC;
      }
    }
    conv(c, arch.alpha > 1.0 ? makeDivisible(1280 * arch.alpha) : 1280, 1, 1, 'valid', 'relu6');
  }
  return {
    predict: (x) => tf.tidy(() => tf.mean(ops.reduce((y, op) => op(y), x), [1, 2])),
    dispose: () => vars.forEach((t) => t.dispose()),
  };
}
