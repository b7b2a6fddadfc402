/* simd_peak.h: the wasm SIMD compute ceiling, a register-blocked f32x4 mul+add loop: 13
 * independent accumulators, x = x*m + a, 2 flops per lane (wasm SIMD 1.0 has no FMA). Shared by
 * tests/bench/bench_kernels.c and web/bench_peak.c (the benchmark against TF.js), so both measure
 * the same loop. peak_range runs peak_loop(peak_iters) once per index, for wt_parallel_for. */
#ifndef WT_SIMD_PEAK_H
#define WT_SIMD_PEAK_H

#include <stddef.h>

#include "simd.h"

static volatile float peak_sink[64];

#define PEAK_STEP(x) x = wasm_f32x4_add(wasm_f32x4_mul(x, m), a)
__attribute__((noinline)) static void peak_loop(long iters, int slot) {
    const v128_t m = wasm_f32x4_splat(0.999f), a = wasm_f32x4_splat(0.001f);
    v128_t x0 = a, x1 = a, x2 = a, x3 = a, x4 = a, x5 = a, x6 = a, x7 = a, x8 = a, x9 = a, x10 = a,
           x11 = a, x12 = a;
    for (long i = 0; i < iters; i++) {
        PEAK_STEP(x0); PEAK_STEP(x1); PEAK_STEP(x2); PEAK_STEP(x3); PEAK_STEP(x4);
        PEAK_STEP(x5); PEAK_STEP(x6); PEAK_STEP(x7); PEAK_STEP(x8); PEAK_STEP(x9);
        PEAK_STEP(x10); PEAK_STEP(x11); PEAK_STEP(x12);
    }
    v128_t s = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(x0, x1), wasm_f32x4_add(x2, x3)),
                              wasm_f32x4_add(wasm_f32x4_add(x4, x5), wasm_f32x4_add(x6, x7)));
    s = wasm_f32x4_add(s, wasm_f32x4_add(wasm_f32x4_add(x8, x9), wasm_f32x4_add(wasm_f32x4_add(x10, x11), x12)));
    peak_sink[slot * 16] = wasm_f32x4_extract_lane(s, 0); /* a side effect: the loop cannot move */
}
#define PEAK_FLOPS_PER_ITER (13.0 * 8.0)

static long peak_iters;
static void peak_range(void* ctx, size_t b, size_t e) {
    (void)ctx;
    for (size_t i = b; i < e; i++) peak_loop(peak_iters, (int)i);
}

#endif
