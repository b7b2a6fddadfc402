/* wt_test.h: the tiny harness every C test uses. Header-only so each test is one file.
 *   CHECK(cond, fmt, ...)  records a failure (and goes on), printing file:line and the message.
 *   wt_test_summary()      prints "N passed, N failed" and returns the process exit code.
 *   wt_rng_*               a fixed-seed generator so failures reproduce.
 *   wt_max_rel_err         max |a-b| / max(|b|, floor) over arrays, for SIMD-vs-reference checks.
 *   wt_gradcheck           central finite differences of a scalar function vs an analytic gradient. */
#ifndef WT_TEST_H
#define WT_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int wt_checks_passed, wt_checks_failed;

#define CHECK(cond, ...)                                                                     \
    do {                                                                                     \
        if (cond) {                                                                          \
            wt_checks_passed++;                                                              \
        } else {                                                                             \
            wt_checks_failed++;                                                              \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                  \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
        }                                                                                    \
    } while (0)

static inline int wt_test_summary(void) {
    printf("%d passed, %d failed\n", wt_checks_passed, wt_checks_failed);
    return wt_checks_failed == 0 ? 0 : 1;
}

typedef struct { uint64_t s; } wt_rng;
static inline uint32_t wt_rng_u32(wt_rng* r) {
    r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t x = r->s;
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33;
    return (uint32_t)(x >> 32);
}
/* uniform in [lo, hi) */
static inline float wt_rng_uniform(wt_rng* r, float lo, float hi) {
    return lo + (hi - lo) * (float)(wt_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}
static inline void wt_rng_fill(wt_rng* r, float* x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = wt_rng_uniform(r, lo, hi);
}

static inline float* wt_test_alloc(size_t n) {
    float* p = (float*)calloc(n ? n : 1, sizeof(float));
    if (!p) { fprintf(stderr, "test: out of memory\n"); exit(2); }
    return p;
}

/* max over i of |a[i] - b[i]| / max(|b[i]|, floor) */
static inline double wt_max_rel_err(const float* a, const float* b, size_t n, double floor_) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double scale = fabs((double)b[i]);
        if (scale < floor_) scale = floor_;
        double e = d / scale;
        if (!(e <= worst)) worst = e; /* also catches NaN */
    }
    return worst;
}

static inline int wt_bit_equal(const float* a, const float* b, size_t n) {
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* Central finite differences: for each of the n entries of x (perturbed in place and restored),
 * numeric = (f(x+h) - f(x-h)) / 2h, compared with analytic[i]. Loss is evaluated in double by f.
 * Returns the worst relative error max|num - ana| / max(|num|, |ana|, floor). Entries where
 * skip(x[i]) is true (kinks such as ReLU6 at 0 and 6) are skipped when skip is non-NULL. */
typedef double (*wt_loss_fn)(void* ctx);
static inline double wt_gradcheck(float* x, const float* analytic, size_t n, float h, wt_loss_fn f,
                                  void* ctx, double floor_) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        float saved = x[i];
        x[i] = saved + h;
        double lp = f(ctx);
        x[i] = saved - h;
        double lm = f(ctx);
        x[i] = saved;
        double num = (lp - lm) / (2.0 * (double)h);
        double ana = analytic[i];
        double scale = fmax(fmax(fabs(num), fabs(ana)), floor_);
        double e = fabs(num - ana) / scale;
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

/* sum_i out[i] * w[i] in double: the scalar "loss" whose gradient wrt out is w. */
static inline double wt_dot_loss(const float* out, const float* w, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)out[i] * (double)w[i];
    return s;
}

#endif /* WT_TEST_H */
