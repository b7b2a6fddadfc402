// domain-shift-data.mjs: a synthetic domain shift of real photos, for domain adaptation: the
// source domain is flower photos as taken; the target domain is other photos of the same classes
// under a strong orange colour cast and a 5x5 blur (a cheap webcam in warm light), labels withheld
// for training and kept only to score.

/** RGB 224x224 -> the target-domain look. */
export function shift(rgb, w, h) {
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        let k = 0;
        for (let dy = -2; dy <= 2; dy++) {
          for (let dx = -2; dx <= 2; dx++) {
            const yy = Math.min(h - 1, Math.max(0, y + dy));
            const xx = Math.min(w - 1, Math.max(0, x + dx));
            s += rgb[(yy * w + xx) * 3 + c];
            k++;
          }
        }
        const v = s / k;
        out[(y * w + x) * 3 + c] = c === 0 ? Math.min(255, v * 0.5 + 120) : c === 1 ? v * 0.8 : v * 0.4;
      }
    }
  }
  return { data: out, width: w, height: h };
}

/**
 * @param webtune  the package API
 * @param files  (split, class, n, from) -> image paths
 * @param classes
 * @param sizes  per class: `source` labelled photos (train/, from the first), `unlabelled` target
 *   photos (train/, from `unlabelledFrom`), `scored` target photos (test/, from the first): three
 *   disjoint sets of photos. Defaults: 16, 10 from 20, 12.
 * @returns {{ sourceExamples, targetTrain, targetTest }} source: labelled photos as taken; target:
 *   unlabelled shifted photos (for AdaBN / DANN) and labelled shifted photos (only to score)
 */
export async function domainShiftData(webtune, files, classes = ['daisy', 'roses', 'sunflowers'], sizes = {}) {
  const { source = 16, unlabelled = 10, unlabelledFrom = 20, scored = 12 } = sizes;
  if (unlabelledFrom < source) throw new Error('domainShiftData: the unlabelled photos must come after the source photos');
  const src = await webtune.createClassifier({ labels: classes }); // turns photos into 224x224 RGB
  for (const c of classes) await src.addExamples(c, files('train', c, source));
  const sourceExamples = (await src.exportExamples()).examples;
  await src.dispose();
  const tgt = await webtune.createClassifier({ labels: classes });
  for (const c of classes) await tgt.addExamples(c, [...files('train', c, unlabelled, unlabelledFrom), ...files('test', c, scored)]);
  const all = (await tgt.exportExamples()).examples;
  await tgt.dispose();
  const targetTrain = [];
  const targetTest = [];
  const seen = {};
  for (const e of all) {
    seen[e.label] = (seen[e.label] ?? 0) + 1;
    const img = shift(e.data, 224, 224);
    if (seen[e.label] <= unlabelled) targetTrain.push(img);
    else targetTest.push({ image: img, label: e.label });
  }
  return { sourceExamples, targetTrain, targetTest };
}
