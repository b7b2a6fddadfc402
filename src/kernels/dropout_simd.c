/* dropout_simd.c: the fast inverted dropout, split over n with the pool. Same results, bit for
 * bit, as dropout_ref.c for any thread count: the mask is a pure function of (seed, i).
 * Forward: the mask bits come from the scalar 64-bit hash (wasm SIMD's i64x2 multiply is no
 * faster than scalar); the threshold test is done on integers, and the scaling and masking are
 * f32x4. Backward: keep bytes are widened 16 at a time into lane masks. */
#include "../internal.h"
#include "../ops.h"
#include "../simd.h"

/* Elements per chunk: a multiple of 16 so every chunk but the last runs whole SIMD blocks. */
enum { DROPOUT_GRAIN = 4096 };

typedef struct dropout_args {
    float* out;
    uint8_t* keep;
    float* d_in;
    const float* in;
    const uint8_t* keep_in;
    float scale;
    uint32_t threshold; /* keep iff the top 24 hash bits >= threshold */
    uint64_t seed;
} dropout_args;

/* wt_uniform(seed, i) >= rate  <=>  u * 2^-24 >= rate  <=>  u >= rate * 2^24 (exact: u < 2^24 is an
 * integer and scaling by 2^24 is exact)  <=>  u >= ceil(rate * 2^24). */
static uint32_t keep_threshold(float rate) {
    const float r = rate * 16777216.0f;
    uint32_t t = (uint32_t)r;
    if ((float)t < r) t++;
    return t;
}

static inline int32_t keep_bit(uint64_t seed, size_t i, uint32_t threshold) {
    return (uint32_t)(wt_hash64(seed, i) >> 40) >= threshold;
}

static void forward_range(void* ctx, size_t begin, size_t end) {
    const dropout_args* a = (const dropout_args*)ctx;
    const v128_t vscale = wasm_f32x4_splat(a->scale);
    size_t i = begin;
    for (; i + 4 <= end; i += 4) {
        const int32_t k0 = keep_bit(a->seed, i, a->threshold), k1 = keep_bit(a->seed, i + 1, a->threshold),
                      k2 = keep_bit(a->seed, i + 2, a->threshold), k3 = keep_bit(a->seed, i + 3, a->threshold);
        a->keep[i] = (uint8_t)k0;
        a->keep[i + 1] = (uint8_t)k1;
        a->keep[i + 2] = (uint8_t)k2;
        a->keep[i + 3] = (uint8_t)k3;
        const v128_t mask = wasm_i32x4_make(-k0, -k1, -k2, -k3);
        const v128_t y = wasm_f32x4_mul(wasm_v128_load(a->in + i), vscale);
        wasm_v128_store(a->out + i, wasm_v128_and(y, mask));
    }
    for (; i < end; i++) {
        const int32_t k = keep_bit(a->seed, i, a->threshold);
        a->keep[i] = (uint8_t)k;
        a->out[i] = k ? a->in[i] * a->scale : 0.0f;
    }
}

static void identity_range(void* ctx, size_t begin, size_t end) {
    const dropout_args* a = (const dropout_args*)ctx;
    for (size_t i = begin; i < end; i++) {
        a->keep[i] = 1;
        a->out[i] = a->in[i];
    }
}

void wt_dropout_forward(wt_pool* pool, float* out, uint8_t* keep, const float* in, float rate,
                        uint64_t seed, size_t n) {
    WT_ASSERT(rate >= 0.0f && rate < 1.0f);
    dropout_args a = {out, keep, NULL, in, NULL, 1.0f / (1.0f - rate), keep_threshold(rate), seed};
    wt_parallel_for(pool, n, DROPOUT_GRAIN, rate == 0.0f ? identity_range : forward_range, &a);
}

static void backward_range(void* ctx, size_t begin, size_t end) {
    const dropout_args* a = (const dropout_args*)ctx;
    float* d_in = a->d_in;
    const float* d_out = a->in;
    const uint8_t* keep = a->keep_in;
    const v128_t vscale = wasm_f32x4_splat(a->scale), zero = wasm_i8x16_splat(0);
    size_t i = begin;
    for (; i + 16 <= end; i += 16) {
        /* 0xFF in every byte whose keep is non-zero, then sign-extended to four i32x4 masks. */
        const v128_t kb = wasm_i8x16_ne(wasm_v128_load(keep + i), zero);
        const v128_t lo = wasm_i16x8_extend_low_i8x16(kb), hi = wasm_i16x8_extend_high_i8x16(kb);
        const v128_t mask[4] = {wasm_i32x4_extend_low_i16x8(lo), wasm_i32x4_extend_high_i16x8(lo),
                                wasm_i32x4_extend_low_i16x8(hi), wasm_i32x4_extend_high_i16x8(hi)};
        for (int q = 0; q < 4; q++) {
            float* p = d_in + i + 4 * q;
            const v128_t old = wasm_v128_load(p);
            const v128_t sum = wasm_f32x4_add(old, wasm_f32x4_mul(wasm_v128_load(d_out + i + 4 * q), vscale));
            /* kept lanes take the sum; dropped lanes keep their old bits (even -0) */
            wasm_v128_store(p, wasm_v128_bitselect(sum, old, mask[q]));
        }
    }
    for (; i < end; i++)
        if (keep[i]) d_in[i] += d_out[i] * a->scale;
}

void wt_dropout_backward(wt_pool* pool, float* d_in, const float* d_out, const uint8_t* keep,
                         float rate, size_t n) {
    if (!d_in) return;
    WT_ASSERT(rate >= 0.0f && rate < 1.0f);
    dropout_args a = {NULL, NULL, d_in, d_out, keep, 1.0f / (1.0f - rate), 0, 0};
    wt_parallel_for(pool, n, DROPOUT_GRAIN, backward_range, &a);
}
