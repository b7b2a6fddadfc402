// convert.js: TF.js layers model -> webtune model file (used by the CLI and the package build).
import { importTfjs, saveModel, weightsSha256, Filter, Crop } from './models.js';

/**
 * @param {object} core  a wrapped module
 * @param {{ json: Uint8Array, files: Map<string, Uint8Array> }} model
 * @param {{ name?: string, cutLayer?: string|null, fp16?: boolean, labels?: string[] }} [options]
 *   cutLayer: undefined = default embedding cut (+ pooling); '' = the whole model with its head.
 * @returns {{ bytes: Uint8Array, info: object, sha256: Uint8Array }}
 */
export function convertTfjs(core, model, options = {}) {
  const ctx = core.callOutInt('wtjs_context_create', 1, 0);
  let net = 0;
  try {
    const imported = importTfjs(core, ctx, model.json, model.files, { cutLayer: options.cutLayer });
    net = imported.net;
    const { info } = imported;
    const sha256 = weightsSha256(core, net, info.embeddingNode >= 0 ? info.embeddingNode : -1);
    const whole = info.logitsNode >= 0;
    const labels = whole ? (options.labels ?? []) : [];
    if (whole && labels.length && labels.length !== info.nOutputs) {
      throw new Error(`webtune convert: ${labels.length} labels given for a model with ${info.nOutputs} outputs`);
    }
    const bytes = saveModel(core, net, {
      labels,
      // MobileNet preprocessing: bilinear resize covering the input, centre crop, [-1, 1]
      preprocess: { outH: info.inH, outW: info.inW, filter: Filter.BILINEAR, crop: Crop.CENTER, scale: 0, offset: 0 },
      backboneName: options.name ?? '',
      backboneSha256: sha256,
      embeddingNode: info.embeddingNode,
      logitsNode: info.logitsNode,
      outputSoftmax: info.outputSoftmax,
    }, { fp16: !!options.fp16 });
    return { bytes, info, sha256 };
  } finally {
    if (net) core.module._wt_net_destroy(net);
    core.module._wt_context_destroy(ctx);
  }
}
