/* simd.h: the one place that maps 128-bit SIMD for webtune's kernels.
 * Under Emscripten (-msimd128) this is the real <wasm_simd128.h>; natively, SIMDe implements the same
 * wasm_* intrinsics on SSE/NEON/scalar, so each SIMD kernel is written once, tested natively with
 * sanitizers, and shipped as wasm. */
#ifndef WT_SIMD_H
#define WT_SIMD_H

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#else
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/wasm/simd128.h>
#endif

#endif /* WT_SIMD_H */
