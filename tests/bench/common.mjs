// common.mjs: small pieces the benchmark scripts share (compare_tfjs.mjs, scaling.mjs).

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** n floats uniform in [-1, 1) from a fixed LCG: the same input for every library and run. */
export function randomUniform(n, seed) {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 8) * (2 / 16777216) - 1;
  }
  return out;
}
