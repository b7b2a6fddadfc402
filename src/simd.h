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

/* relu6 of each lane: x < 0 ? 0 : (x > 6 ? 6 : x), NaN passing through. Every kernel that clamps
 * (the ReLU6 op, batch norm + ReLU6, the GEMM and depthwise epilogues of folded convolutions) uses
 * this one, so their results agree to the bit. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline v128_t wt_f32x4_relu6(v128_t x) {
    const v128_t six = wasm_f32x4_splat(6.0f);
    const v128_t t = wasm_v128_andnot(x, wasm_f32x4_lt(x, wasm_f32x4_splat(0.0f)));
    return wasm_v128_bitselect(six, t, wasm_f32x4_gt(t, six));
}

#endif /* WT_SIMD_H */
