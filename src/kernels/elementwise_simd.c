/* elementwise_simd.c: the fast activations, add, axpy and global average pooling: f32x4 SIMD, split
 * over the pool. Every output element is computed by the same float operations as in
 * elementwise_ref.c (wasm SIMD has no FMA), so the results match the reference and do not depend
 * on the thread count.
 *
 * Elementwise ops split [0, n) in chunks of EW_GRAIN elements (a multiple of 4: only the last chunk
 * has a scalar tail, so the same elements take the same path for any thread count). GAP splits over
 * (image, channel tile) items and runs SIMD across channels; a partial vector at the end of a row
 * goes through a zero-padded stack copy, so it takes the same vector operations as the rest. */
#include "../ops.h"
#include "../simd.h"

#if defined(__GNUC__)
#define EW_INLINE static inline __attribute__((always_inline))
#else
#define EW_INLINE static inline
#endif

enum {
    EW_GRAIN = 16384,    /* elements per parallel chunk (64 KB of floats); smaller n runs serially */
    GAP_TILE = 64,       /* channels per GAP work item (16 vectors) */
    GAP_MIN_WORK = 16384 /* input floats per GAP chunk */
};

/* ---------------------------------------------------------------------------------------------
 * Elementwise ops. One vector function per op, used by the main loop and the tail alike.
 * ------------------------------------------------------------------------------------------- */

/* x < 0 ? 0 : x (NaN passes) */
EW_INLINE v128_t relu_v(v128_t x) {
    return wasm_v128_andnot(x, wasm_f32x4_lt(x, wasm_f32x4_splat(0.0f)));
}

/* x < 0 ? 0 : (x > 6 ? 6 : x) (NaN passes): simd.h's, which every clamping kernel shares */
EW_INLINE v128_t relu6_v(v128_t x) { return wt_f32x4_relu6(x); }

/* the mask lanes (in > 0) or (0 < in < 6) as all-ones */
EW_INLINE v128_t relu_mask(v128_t x) {
    return wasm_f32x4_gt(x, wasm_f32x4_splat(0.0f));
}
EW_INLINE v128_t relu6_mask(v128_t x) {
    return wasm_v128_and(wasm_f32x4_gt(x, wasm_f32x4_splat(0.0f)), wasm_f32x4_lt(x, wasm_f32x4_splat(6.0f)));
}

/* k < 4 lanes at p, the rest zero */
EW_INLINE v128_t load_part(const float* p, size_t k) {
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (size_t i = 0; i < k; i++) t[i] = p[i];
    return wasm_v128_load(t);
}
EW_INLINE void store_part(float* p, v128_t v, size_t k) {
    float t[4];
    wasm_v128_store(t, v);
    for (size_t i = 0; i < k; i++) p[i] = t[i];
}

typedef struct ew_args {
    float* y;       /* out, or d_in / y accumulated into */
    const float* a; /* in, d_out or x */
    const float* b; /* second operand: b for add, the forward input for activation backward */
    float alpha;
} ew_args;

/* Defines name(ctx, begin, end) storing EXPR at y[i], where EXPR may use the vectors a (args->a),
 * b (args->b, loaded when USE_B), y (the old y, loaded when USE_Y) and the splat alpha. USE_B and
 * USE_Y are constants, so forward ops never read their output. */
#define EW_RANGE_FN(name, USE_B, USE_Y, EXPR)                        \
    static void name(void* ctx, size_t begin, size_t end) {          \
        const ew_args* args = (const ew_args*)ctx;                   \
        float* Y = args->y;                                          \
        const float* A = args->a;                                    \
        const float* B = args->b;                                    \
        const v128_t zero = wasm_f32x4_splat(0.0f);                  \
        const v128_t alpha = wasm_f32x4_splat(args->alpha);          \
        (void)B;                                                     \
        (void)zero;                                                  \
        (void)alpha;                                                 \
        size_t i = begin;                                            \
        for (; i + 4 <= end; i += 4) {                               \
            const v128_t a = wasm_v128_load(A + i);                  \
            const v128_t b = (USE_B) ? wasm_v128_load(B + i) : zero; \
            const v128_t y = (USE_Y) ? wasm_v128_load(Y + i) : zero; \
            (void)b;                                                 \
            (void)y;                                                 \
            wasm_v128_store(Y + i, (EXPR));                          \
        }                                                            \
        if (i < end) {                                               \
            const size_t k = end - i;                                \
            const v128_t a = load_part(A + i, k);                    \
            const v128_t b = (USE_B) ? load_part(B + i, k) : zero;   \
            const v128_t y = (USE_Y) ? load_part(Y + i, k) : zero;   \
            (void)b;                                                 \
            (void)y;                                                 \
            store_part(Y + i, (EXPR), k);                            \
        }                                                            \
    }

EW_RANGE_FN(relu_fwd_range, 0, 0, relu_v(a))
EW_RANGE_FN(relu6_fwd_range, 0, 0, relu6_v(a))
EW_RANGE_FN(relu_bwd_range, 1, 1, wasm_f32x4_add(y, wasm_v128_and(a, relu_mask(b))))
EW_RANGE_FN(relu6_bwd_range, 1, 1, wasm_f32x4_add(y, wasm_v128_and(a, relu6_mask(b))))
EW_RANGE_FN(add_range, 1, 0, wasm_f32x4_add(a, b))
EW_RANGE_FN(axpy_range, 0, 1, wasm_f32x4_add(y, wasm_f32x4_mul(alpha, a)))

void wt_relu_forward(wt_pool* pool, float* out, const float* in, size_t n) {
    ew_args args = {out, in, NULL, 0.0f};
    wt_parallel_for(pool, n, EW_GRAIN, relu_fwd_range, &args);
}

void wt_relu_backward(wt_pool* pool, float* d_in, const float* d_out, const float* in, size_t n) {
    if (!d_in) return;
    ew_args args = {d_in, d_out, in, 0.0f};
    wt_parallel_for(pool, n, EW_GRAIN, relu_bwd_range, &args);
}

void wt_relu6_forward(wt_pool* pool, float* out, const float* in, size_t n) {
    ew_args args = {out, in, NULL, 0.0f};
    wt_parallel_for(pool, n, EW_GRAIN, relu6_fwd_range, &args);
}

void wt_relu6_backward(wt_pool* pool, float* d_in, const float* d_out, const float* in, size_t n) {
    if (!d_in) return;
    ew_args args = {d_in, d_out, in, 0.0f};
    wt_parallel_for(pool, n, EW_GRAIN, relu6_bwd_range, &args);
}

void wt_add_forward(wt_pool* pool, float* out, const float* a, const float* b, size_t n) {
    ew_args args = {out, a, b, 0.0f};
    wt_parallel_for(pool, n, EW_GRAIN, add_range, &args);
}

void wt_axpy(wt_pool* pool, float* y, float alpha, const float* x, size_t n) {
    if (!y) return;
    ew_args args = {y, x, NULL, alpha};
    wt_parallel_for(pool, n, EW_GRAIN, axpy_range, &args);
}

/* ---------------------------------------------------------------------------------------------
 * Global average pooling. Item it = image b * tiles + channel tile t. Each channel's sum runs over
 * the hw positions in order, exactly as in the reference.
 * ------------------------------------------------------------------------------------------- */
typedef struct gap_args {
    float* y;       /* out [n, c] (forward) or d_in [n, hw, c] (backward) */
    const float* x; /* in [n, hw, c] (forward) or d_out [n, c] (backward) */
    int hw, c, tiles;
} gap_args;

EW_INLINE v128_t load_k(const float* p, size_t k) {
    return k == 4 ? wasm_v128_load(p) : load_part(p, k);
}
EW_INLINE void store_k(float* p, v128_t v, size_t k) {
    if (k == 4)
        wasm_v128_store(p, v);
    else
        store_part(p, v, k);
}

static void gap_fwd_range(void* ctx, size_t begin, size_t end) {
    const gap_args* g = (const gap_args*)ctx;
    const size_t c = (size_t)g->c, hw = (size_t)g->hw;
    const v128_t vhw = wasm_f32x4_splat((float)g->hw);
    for (size_t it = begin; it < end; it++) {
        const size_t b = it / (size_t)g->tiles, c0 = (it % (size_t)g->tiles) * GAP_TILE;
        const size_t cw = c - c0 < GAP_TILE ? c - c0 : GAP_TILE;
        const size_t full = cw / 4 * 4;
        const float* x = g->x + b * hw * c + c0;
        v128_t acc[GAP_TILE / 4];
        for (size_t j = 0; j < (cw + 3) / 4; j++) acc[j] = wasm_f32x4_splat(0.0f);
        for (size_t i = 0; i < hw; i++) {
            const float* row = x + i * c;
            for (size_t j = 0; j < full; j += 4)
                acc[j / 4] = wasm_f32x4_add(acc[j / 4], wasm_v128_load(row + j));
            if (full < cw) acc[full / 4] = wasm_f32x4_add(acc[full / 4], load_part(row + full, cw - full));
        }
        float* y = g->y + b * c + c0;
        for (size_t j = 0; j < cw; j += 4)
            store_k(y + j, wasm_f32x4_div(acc[j / 4], vhw), cw - j < 4 ? cw - j : 4);
    }
}

static void gap_bwd_range(void* ctx, size_t begin, size_t end) {
    const gap_args* g = (const gap_args*)ctx;
    const size_t c = (size_t)g->c, hw = (size_t)g->hw;
    const v128_t vhw = wasm_f32x4_splat((float)g->hw);
    for (size_t it = begin; it < end; it++) {
        const size_t b = it / (size_t)g->tiles, c0 = (it % (size_t)g->tiles) * GAP_TILE;
        const size_t cw = c - c0 < GAP_TILE ? c - c0 : GAP_TILE;
        const size_t full = cw / 4 * 4;
        v128_t grad[GAP_TILE / 4];
        for (size_t j = 0; j < cw; j += 4)
            grad[j / 4] = wasm_f32x4_div(load_k(g->x + b * c + c0 + j, cw - j < 4 ? cw - j : 4), vhw);
        float* y = g->y + b * hw * c + c0;
        for (size_t i = 0; i < hw; i++) {
            float* row = y + i * c;
            for (size_t j = 0; j < full; j += 4)
                wasm_v128_store(row + j, wasm_f32x4_add(wasm_v128_load(row + j), grad[j / 4]));
            if (full < cw)
                store_part(row + full, wasm_f32x4_add(load_part(row + full, cw - full), grad[full / 4]),
                           cw - full);
        }
    }
}

static size_t gap_grain(int hw) {
    const size_t per_item = (size_t)hw * GAP_TILE;
    return per_item >= GAP_MIN_WORK ? 1 : GAP_MIN_WORK / per_item;
}

void wt_gap_forward(wt_pool* pool, float* out, const float* in, int n, int hw, int c) {
    if (n <= 0 || hw <= 0 || c <= 0) return;
    gap_args g = {out, in, hw, c, (c + GAP_TILE - 1) / GAP_TILE};
    wt_parallel_for(pool, (size_t)n * (size_t)g.tiles, gap_grain(hw), gap_fwd_range, &g);
}

void wt_gap_backward(wt_pool* pool, float* d_in, const float* d_out, int n, int hw, int c) {
    if (!d_in || n <= 0 || hw <= 0 || c <= 0) return;
    gap_args g = {d_in, d_out, hw, c, (c + GAP_TILE - 1) / GAP_TILE};
    wt_parallel_for(pool, (size_t)n * (size_t)g.tiles, gap_grain(hw), gap_bwd_range, &g);
}
