/* optim_simd.c: the fast optimizer updates: f32x4 SIMD with a scalar tail, split over n with the
 * pool. Elementwise, so every thread count gives the same bits. Same float operations, in the same
 * order, as optim_ref.c (see there for the formulas); wasm SIMD has no FMA, and the scalar tails
 * are written so the compiler has no reason to contract them either. */
#include <math.h>
#include <string.h>

#include "../internal.h"
#include "../ops.h"
#include "../simd.h"

/* Parameters per chunk of a parallel loop: a multiple of 4, large enough that waking the pool pays. */
enum { OPTIM_GRAIN = 8192 };

typedef struct sgd_args {
    float* w;
    float* velocity;
    const float* g;
    float lr, momentum, l2;
} sgd_args;

static void sgd_range(void* ctx, size_t begin, size_t end) {
    const sgd_args* a = (const sgd_args*)ctx;
    float* w = a->w;
    float* vel = a->velocity;
    const float* g = a->g;
    const float lr = a->lr, momentum = a->momentum, l2 = a->l2;
    const v128_t vlr = wasm_f32x4_splat(lr), vmom = wasm_f32x4_splat(momentum),
                 vl2 = wasm_f32x4_splat(l2);
    size_t i = begin;
    if (vel) {
        for (; i + 4 <= end; i += 4) {
            v128_t wi = wasm_v128_load(w + i);
            v128_t gi = wasm_f32x4_add(wasm_v128_load(g + i), wasm_f32x4_mul(vl2, wi));
            gi = wasm_f32x4_add(wasm_f32x4_mul(vmom, wasm_v128_load(vel + i)), gi);
            wasm_v128_store(vel + i, gi);
            wasm_v128_store(w + i, wasm_f32x4_sub(wi, wasm_f32x4_mul(vlr, gi)));
        }
    } else {
        for (; i + 4 <= end; i += 4) {
            v128_t wi = wasm_v128_load(w + i);
            v128_t gi = wasm_f32x4_add(wasm_v128_load(g + i), wasm_f32x4_mul(vl2, wi));
            wasm_v128_store(w + i, wasm_f32x4_sub(wi, wasm_f32x4_mul(vlr, gi)));
        }
    }
    for (; i < end; i++) {
        float gi = g[i] + l2 * w[i];
        if (vel) {
            gi = momentum * vel[i] + gi;
            vel[i] = gi;
        }
        w[i] = w[i] - lr * gi;
    }
}

void wt_sgd_update(wt_pool* pool, float* w, float* velocity, const float* g, size_t n, float lr,
                   float momentum, float l2) {
    sgd_args a = {w, velocity, g, lr, momentum, l2};
    wt_parallel_for(pool, n, OPTIM_GRAIN, sgd_range, &a);
}

typedef struct adam_args {
    float* w;
    float* m;
    float* v;
    const float* g;
    float lr, beta1, beta2, eps, l2, decay, bc1, bc2;
} adam_args;

static void adam_range(void* ctx, size_t begin, size_t end) {
    const adam_args* a = (const adam_args*)ctx;
    float* w = a->w;
    float* m = a->m;
    float* v = a->v;
    const float* g = a->g;
    const float lr = a->lr, b1 = a->beta1, b2 = a->beta2, eps = a->eps, l2 = a->l2, decay = a->decay,
                bc1 = a->bc1, bc2 = a->bc2;
    const float c1 = 1.0f - b1, c2 = 1.0f - b2;
    const v128_t vlr = wasm_f32x4_splat(lr), vb1 = wasm_f32x4_splat(b1), vb2 = wasm_f32x4_splat(b2),
                 vc1 = wasm_f32x4_splat(c1), vc2 = wasm_f32x4_splat(c2), veps = wasm_f32x4_splat(eps),
                 vl2 = wasm_f32x4_splat(l2), vdecay = wasm_f32x4_splat(decay),
                 vbc1 = wasm_f32x4_splat(bc1), vbc2 = wasm_f32x4_splat(bc2);
    size_t i = begin;
    for (; i + 4 <= end; i += 4) {
        const v128_t w0 = wasm_v128_load(w + i);
        const v128_t gi = wasm_f32x4_add(wasm_v128_load(g + i), wasm_f32x4_mul(vl2, w0));
        const v128_t mi = wasm_f32x4_add(wasm_f32x4_mul(vb1, wasm_v128_load(m + i)), wasm_f32x4_mul(vc1, gi));
        const v128_t vi = wasm_f32x4_add(wasm_f32x4_mul(vb2, wasm_v128_load(v + i)),
                                         wasm_f32x4_mul(vc2, wasm_f32x4_mul(gi, gi)));
        wasm_v128_store(m + i, mi);
        wasm_v128_store(v + i, vi);
        const v128_t mhat = wasm_f32x4_div(mi, vbc1), vhat = wasm_f32x4_div(vi, vbc2);
        const v128_t step = wasm_f32x4_div(mhat, wasm_f32x4_add(wasm_f32x4_sqrt(vhat), veps));
        wasm_v128_store(w + i, wasm_f32x4_sub(wasm_f32x4_mul(w0, vdecay), wasm_f32x4_mul(vlr, step)));
    }
    for (; i < end; i++) {
        const float w0 = w[i];
        const float gi = g[i] + l2 * w0;
        const float mi = b1 * m[i] + c1 * gi;
        const float vi = b2 * v[i] + c2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        const float mhat = mi / bc1, vhat = vi / bc2;
        w[i] = w0 * decay - lr * (mhat / (sqrtf(vhat) + eps));
    }
}

void wt_adam_update(wt_pool* pool, float* w, float* m, float* v, const float* g, size_t n, float lr,
                    float beta1, float beta2, float eps, float l2, float decoupled_wd, int t) {
    WT_ASSERT(t >= 1);
    adam_args a = {w, m, v, g, lr, beta1, beta2, eps, l2, 1.0f - lr * decoupled_wd,
                   (float)(1.0 - pow((double)beta1, (double)t)), (float)(1.0 - pow((double)beta2, (double)t))};
    wt_parallel_for(pool, n, OPTIM_GRAIN / 2, adam_range, &a);
}

/* A float is non-finite iff its exponent bits are all ones: an integer test, immune to any
 * floating-point compiler flags. Blocks of 1024 floats are OR-reduced, then checked. */
int wt_all_finite(const float* x, size_t n) {
    const v128_t exp_mask = wasm_i32x4_splat(0x7F800000);
    size_t i = 0;
    while (i + 4 <= n) {
        const size_t block_end = (n - i >= 1024 + 4) ? i + 1024 : n;
        v128_t bad = wasm_i32x4_splat(0);
        for (; i + 4 <= block_end; i += 4) {
            const v128_t e = wasm_v128_and(wasm_v128_load(x + i), exp_mask);
            bad = wasm_v128_or(bad, wasm_i32x4_eq(e, exp_mask));
        }
        if (wasm_v128_any_true(bad)) return 0;
    }
    for (; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, x + i, sizeof bits);
        if ((bits & 0x7F800000u) == 0x7F800000u) return 0;
    }
    return 1;
}
