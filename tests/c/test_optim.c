/* test_optim.c: optimizer update kernels, learning-rate schedules and wt_all_finite.
 *   - fast (SIMD + pool) vs reference on sizes that are not multiples of 4, for pools of 1..3 threads
 *     (and bit-identical across thread counts);
 *   - SGD / Adam / AdamW steps vs the formulas evaluated in double;
 *   - AdamW's decoupled decay vs Adam's L2 penalty;
 *   - schedule values at chosen steps, with and without warm-up;
 *   - wt_all_finite catches NaN / +-Inf at every position, tails included. */
#include <float.h>
#include <math.h>

#include "ops.h"
#include "webtune.h"
#include "wt_test.h"

static const size_t kSizes[] = {1, 3, 5, 7, 17, 1023, 4099, 40003};
enum { N_SIZES = sizeof kSizes / sizeof kSizes[0] };

static float* dup(const float* x, size_t n) {
    float* y = wt_test_alloc(n);
    memcpy(y, x, n * sizeof(float));
    return y;
}

/* ---- fast vs reference --------------------------------------------------------------------- */

static void test_sgd_fast_vs_ref(wt_pool** pools, int n_pools) {
    wt_rng rng = {11};
    for (int si = 0; si < N_SIZES; si++) {
        const size_t n = kSizes[si];
        float* w0 = wt_test_alloc(n);
        float* g = wt_test_alloc(n);
        wt_rng_fill(&rng, w0, n, -1.0f, 1.0f);
        for (int variant = 0; variant < 3; variant++) {
            const float momentum = variant == 0 ? 0.9f : 0.0f, l2 = variant == 2 ? 0.0f : 1e-3f;
            const int use_vel = variant != 2; /* variant 2: plain SGD, velocity NULL */
            float* w_ref = dup(w0, n);
            float* v_ref = wt_test_alloc(n);
            float* w_fast[4];
            float* v_fast[4];
            for (int p = 0; p < n_pools; p++) {
                w_fast[p] = dup(w0, n);
                v_fast[p] = wt_test_alloc(n);
            }
            for (int step = 0; step < 3; step++) {
                wt_rng_fill(&rng, g, n, -0.5f, 0.5f);
                wt_sgd_update_ref(w_ref, use_vel ? v_ref : NULL, g, n, 0.05f, momentum, l2);
                for (int p = 0; p < n_pools; p++)
                    wt_sgd_update(pools[p], w_fast[p], use_vel ? v_fast[p] : NULL, g, n, 0.05f, momentum, l2);
            }
            for (int p = 0; p < n_pools; p++) {
                double ew = wt_max_rel_err(w_fast[p], w_ref, n, 1e-3);
                double ev = wt_max_rel_err(v_fast[p], v_ref, n, 1e-3);
                CHECK(ew <= 1e-6 && ev <= 1e-6, "sgd n=%zu variant=%d pool=%d: err w %g v %g", n, variant, p, ew, ev);
                CHECK(wt_bit_equal(w_fast[p], w_fast[0], n) && wt_bit_equal(v_fast[p], v_fast[0], n),
                      "sgd n=%zu variant=%d: pool %d differs from pool 0", n, variant, p);
            }
            for (int p = 0; p < n_pools; p++) {
                free(w_fast[p]);
                free(v_fast[p]);
            }
            free(w_ref);
            free(v_ref);
        }
        free(w0);
        free(g);
    }
}

static void test_adam_fast_vs_ref(wt_pool** pools, int n_pools) {
    wt_rng rng = {12};
    for (int si = 0; si < N_SIZES; si++) {
        const size_t n = kSizes[si];
        float* w0 = wt_test_alloc(n);
        float* g = wt_test_alloc(n);
        wt_rng_fill(&rng, w0, n, -1.0f, 1.0f);
        for (int variant = 0; variant < 2; variant++) {
            const float l2 = variant == 0 ? 1e-3f : 0.0f, wd = variant == 1 ? 0.01f : 0.0f;
            float* w_ref = dup(w0, n);
            float* m_ref = wt_test_alloc(n);
            float* v_ref = wt_test_alloc(n);
            float *w_fast[4], *m_fast[4], *v_fast[4];
            for (int p = 0; p < n_pools; p++) {
                w_fast[p] = dup(w0, n);
                m_fast[p] = wt_test_alloc(n);
                v_fast[p] = wt_test_alloc(n);
            }
            for (int t = 1; t <= 4; t++) {
                wt_rng_fill(&rng, g, n, -0.5f, 0.5f);
                wt_adam_update_ref(w_ref, m_ref, v_ref, g, n, 1e-2f, 0.9f, 0.999f, 1e-7f, l2, wd, t);
                for (int p = 0; p < n_pools; p++)
                    wt_adam_update(pools[p], w_fast[p], m_fast[p], v_fast[p], g, n, 1e-2f, 0.9f, 0.999f,
                                   1e-7f, l2, wd, t);
            }
            for (int p = 0; p < n_pools; p++) {
                double ew = wt_max_rel_err(w_fast[p], w_ref, n, 1e-3);
                double em = wt_max_rel_err(m_fast[p], m_ref, n, 1e-3);
                double ev = wt_max_rel_err(v_fast[p], v_ref, n, 1e-6);
                CHECK(ew <= 1e-6 && em <= 1e-6 && ev <= 1e-6, "adam n=%zu variant=%d pool=%d: err w %g m %g v %g",
                      n, variant, p, ew, em, ev);
                CHECK(wt_bit_equal(w_fast[p], w_fast[0], n) && wt_bit_equal(m_fast[p], m_fast[0], n) &&
                          wt_bit_equal(v_fast[p], v_fast[0], n),
                      "adam n=%zu variant=%d: pool %d differs from pool 0", n, variant, p);
            }
            for (int p = 0; p < n_pools; p++) {
                free(w_fast[p]);
                free(m_fast[p]);
                free(v_fast[p]);
            }
            free(w_ref);
            free(m_ref);
            free(v_ref);
        }
        free(w0);
        free(g);
    }
}

/* ---- against the formulas in double -------------------------------------------------------- */

static void test_sgd_values(void) {
    /* w0 = 1, g = 0.5 every step, lr 0.1, momentum 0.9: v = 0.5, 0.95, 1.355; w = 0.95, 0.855, 0.7195 */
    float w = 1.0f, v = 0.0f;
    const float g = 0.5f;
    const double want_w[3] = {0.95, 0.855, 0.7195}, want_v[3] = {0.5, 0.95, 1.355};
    for (int s = 0; s < 3; s++) {
        wt_sgd_update_ref(&w, &v, &g, 1, 0.1f, 0.9f, 0.0f);
        CHECK(fabs(w - want_w[s]) < 1e-6 && fabs(v - want_v[s]) < 1e-6, "sgd step %d: w %.8f v %.8f", s, w, v);
    }
    /* plain SGD with L2: w -= lr * (g + l2 * w) */
    float w2 = 2.0f;
    wt_sgd_update_ref(&w2, NULL, &g, 1, 0.1f, 0.0f, 0.1f);
    CHECK(fabs(w2 - (2.0 - 0.1 * (0.5 + 0.1 * 2.0))) < 1e-6, "sgd l2: %.8f", w2);
    /* momentum 0 with a velocity buffer = plain SGD */
    float w3 = 2.0f, v3 = 0.0f;
    wt_sgd_update_ref(&w3, &v3, &g, 1, 0.1f, 0.0f, 0.1f);
    CHECK(w3 == w2, "sgd momentum 0 with velocity: %.8f vs %.8f", w3, w2);

    /* fast path, several steps with momentum and L2 against a double loop */
    enum { N = 37 };
    float wf[N], vf[N], gf[N];
    double wd_[N], vd[N];
    wt_rng rng = {3};
    for (int i = 0; i < N; i++) {
        wf[i] = wt_rng_uniform(&rng, -1, 1);
        vf[i] = 0.0f;
        wd_[i] = wf[i];
        vd[i] = 0.0;
    }
    for (int s = 0; s < 5; s++) {
        for (int i = 0; i < N; i++) gf[i] = wt_rng_uniform(&rng, -1, 1);
        wt_sgd_update(NULL, wf, vf, gf, N, 0.05f, 0.9f, 1e-2f);
        for (int i = 0; i < N; i++) {
            vd[i] = 0.9 * vd[i] + (gf[i] + 0.01 * wd_[i]);
            wd_[i] -= 0.05 * vd[i];
        }
    }
    double worst = 0;
    for (int i = 0; i < N; i++) worst = fmax(worst, fabs(wf[i] - wd_[i]));
    CHECK(worst < 1e-5, "sgd 5 steps vs double: %g", worst);
}

/* Adam in double, the formulas of ops.h / optim_ref.c. */
static void adam_double(double* w, double* m, double* v, const float* g, int n, double lr, double b1,
                        double b2, double eps, double l2, double wd, int t) {
    for (int i = 0; i < n; i++) {
        double gi = g[i] + l2 * w[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        double mhat = m[i] / (1 - pow(b1, t)), vhat = v[i] / (1 - pow(b2, t));
        w[i] = w[i] - lr * wd * w[i] - lr * mhat / (sqrt(vhat) + eps);
    }
}

static void test_adam_values(void) {
    enum { N = 21 };
    const float lr = 1e-2f;
    float w[N], m[N], v[N], g[N];
    wt_rng rng = {5};
    for (int i = 0; i < N; i++) {
        w[i] = wt_rng_uniform(&rng, -1, 1);
        m[i] = v[i] = 0.0f;
        g[i] = wt_rng_uniform(&rng, -1, 1);
        if (fabsf(g[i]) < 1e-3f) g[i] = 0.25f;
    }
    g[7] = 0.0f; /* a zero gradient does not move the weight */
    float w_before[N];
    memcpy(w_before, w, sizeof w);
    wt_adam_update(NULL, w, m, v, g, N, lr, 0.9f, 0.999f, 1e-7f, 0.0f, 0.0f, 1);
    /* first step: mhat = g, vhat = g^2, so each weight moves by lr * g / (|g| + eps) ~ lr * sign(g) */
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double sign = g[i] > 0 ? 1.0 : g[i] < 0 ? -1.0 : 0.0;
        worst = fmax(worst, fabs((w_before[i] - w[i]) - lr * sign));
    }
    CHECK(worst < 1e-6, "adam first step != lr*sign(g): worst %g", worst);
    CHECK(w[7] == w_before[7], "adam zero gradient moved the weight: %g -> %g", w_before[7], w[7]);

    /* several steps with changing gradients, each variant against double */
    for (int variant = 0; variant < 3; variant++) {
        const double l2 = variant == 1 ? 0.05 : 0.0, wd = variant == 2 ? 0.05 : 0.0;
        double wd_[N], md[N], vd[N];
        for (int i = 0; i < N; i++) {
            w[i] = wt_rng_uniform(&rng, -1, 1);
            m[i] = v[i] = 0.0f;
            wd_[i] = w[i];
            md[i] = vd[i] = 0.0;
        }
        for (int t = 1; t <= 6; t++) {
            for (int i = 0; i < N; i++) g[i] = wt_rng_uniform(&rng, -1, 1);
            wt_adam_update_ref(w, m, v, g, N, lr, 0.9f, 0.999f, 1e-7f, (float)l2, (float)wd, t);
            adam_double(wd_, md, vd, g, N, lr, 0.9f, 0.999f, 1e-7f, (float)l2, (float)wd, t);
        }
        worst = 0;
        for (int i = 0; i < N; i++) worst = fmax(worst, fabs(w[i] - wd_[i]));
        CHECK(worst < 1e-5, "adam variant %d, 6 steps vs double: %g", variant, worst);
    }
}

static void test_adamw_vs_l2(void) {
    /* With g = 0 the two decays differ completely:
     *   AdamW: m = v = 0, so only the decay acts: w1 = w0 * (1 - lr*wd), exactly proportional to w0.
     *   Adam + L2: g' = l2*w0 is normalised away: the first step moves w by ~lr*sign(w0). */
    const float lr = 0.01f, wd = 0.1f;
    const float w0[4] = {2.0f, -0.5f, 1e-3f, 0.0f}, zero[4] = {0};
    float wa[4], ma[4] = {0}, va[4] = {0}, wl[4], ml[4] = {0}, vl[4] = {0};
    memcpy(wa, w0, sizeof wa);
    memcpy(wl, w0, sizeof wl);
    wt_adam_update_ref(wa, ma, va, zero, 4, lr, 0.9f, 0.999f, 1e-7f, 0.0f, wd, 1);
    wt_adam_update_ref(wl, ml, vl, zero, 4, lr, 0.9f, 0.999f, 1e-7f, wd, 0.0f, 1);
    for (int i = 0; i < 4; i++) {
        CHECK(fabs(wa[i] - w0[i] * (1.0 - (double)lr * wd)) <= 1e-7 * fabs(w0[i]) + 1e-12,
              "adamw decay i=%d: %.9g", i, wa[i]);
        double sign = w0[i] > 0 ? 1.0 : w0[i] < 0 ? -1.0 : 0.0;
        CHECK(fabs((w0[i] - wl[i]) - lr * sign) < 1e-5, "adam l2 i=%d: moved %.9g", i, w0[i] - wl[i]);
    }
    /* decoupled decay uses the weight from before the Adam step: w1 = w0 - lr*wd*w0 - lr*g/(|g|+eps) */
    float w = 3.0f, m = 0.0f, v = 0.0f, g = -2.0f;
    wt_adam_update(NULL, &w, &m, &v, &g, 1, lr, 0.9f, 0.999f, 1e-7f, 0.0f, wd, 1);
    double want = 3.0 - (double)lr * wd * 3.0 - (double)lr * (-2.0 / (2.0 + 1e-7));
    CHECK(fabs(w - want) < 1e-6, "adamw step: %.9g want %.9g", w, want);
}

/* ---- schedules ----------------------------------------------------------------------------- */

static int near(float got, double want) { return fabs(got - want) <= 1e-6 * fmax(fabs(want), 1e-3); }

#define CHECK_LR(desc, step, want)                                                                 \
    do {                                                                                           \
        float got_ = wt_schedule_lr(&(desc), (step));                                              \
        CHECK(near(got_, (want)), "%s step %d: got %.9g want %.9g", #desc, (step), got_, (double)(want)); \
    } while (0)

static void test_schedule(void) {
    const double pi = 3.14159265358979323846;
    CHECK(wt_schedule_lr(NULL, 3) == 0.0f, "NULL desc");

    wt_optimizer_desc constant = {.learning_rate = 0.1f};
    CHECK_LR(constant, 0, 0.1);
    CHECK_LR(constant, 12345, 0.1);

    wt_optimizer_desc warm = {.learning_rate = 0.1f, .warmup_steps = 4};
    CHECK_LR(warm, 0, 0.025);
    CHECK_LR(warm, 1, 0.05);
    CHECK_LR(warm, 2, 0.075);
    CHECK_LR(warm, 3, 0.1);
    CHECK_LR(warm, 4, 0.1);
    CHECK_LR(warm, 1000, 0.1);

    wt_optimizer_desc step = {.learning_rate = 0.1f, .schedule = WT_SCHEDULE_STEP, .step_size = 10};
    CHECK_LR(step, 0, 0.1);
    CHECK_LR(step, 9, 0.1);
    CHECK_LR(step, 10, 0.01); /* gamma 0 means 0.1 */
    CHECK_LR(step, 19, 0.01);
    CHECK_LR(step, 25, 0.001);
    wt_optimizer_desc step_half = {.learning_rate = 0.1f, .schedule = WT_SCHEDULE_STEP, .step_size = 3,
                                   .gamma = 0.5f, .warmup_steps = 2};
    CHECK_LR(step_half, 0, 0.05);
    CHECK_LR(step_half, 1, 0.1);
    CHECK_LR(step_half, 2, 0.1);   /* s = 0 */
    CHECK_LR(step_half, 4, 0.1);   /* s = 2 */
    CHECK_LR(step_half, 5, 0.05);  /* s = 3 */
    CHECK_LR(step_half, 11, 0.0125); /* s = 9 */
    wt_optimizer_desc step_none = {.learning_rate = 0.1f, .schedule = WT_SCHEDULE_STEP, .step_size = 0};
    CHECK_LR(step_none, 500, 0.1);

    wt_optimizer_desc cosine = {.learning_rate = 0.1f, .schedule = WT_SCHEDULE_COSINE, .total_steps = 100,
                                .min_learning_rate = 0.001f};
    const double lo = (double)0.001f, hi = (double)0.1f;
    CHECK_LR(cosine, 0, hi);
    CHECK_LR(cosine, 25, lo + (hi - lo) * (1 + cos(pi * 0.25)) / 2);
    CHECK_LR(cosine, 50, (hi + lo) / 2);
    CHECK_LR(cosine, 100, lo);
    CHECK_LR(cosine, 250, lo);
    wt_optimizer_desc cosine_warm = cosine;
    cosine_warm.warmup_steps = 10;
    cosine_warm.min_learning_rate = 0.0f;
    CHECK_LR(cosine_warm, 0, 0.01);
    CHECK_LR(cosine_warm, 4, 0.05);
    CHECK_LR(cosine_warm, 9, 0.1);
    CHECK_LR(cosine_warm, 10, 0.1);
    CHECK_LR(cosine_warm, 60, 0.05);
    CHECK_LR(cosine_warm, 85, 0.1 * (1 + cos(pi * 0.75)) / 2);
    CHECK_LR(cosine_warm, 110, 0.0);
    wt_optimizer_desc cosine_none = {.learning_rate = 0.1f, .schedule = WT_SCHEDULE_COSINE};
    CHECK_LR(cosine_none, 77, 0.1);

    /* the cosine never goes below min_lr and never rises */
    float prev = wt_schedule_lr(&cosine, 0);
    int monotone = 1;
    for (int s = 1; s < 150; s++) {
        float cur = wt_schedule_lr(&cosine, s);
        if (cur > prev || cur < 0.001f) monotone = 0;
        prev = cur;
    }
    CHECK(monotone, "cosine schedule not monotone / below floor");
}

/* ---- wt_all_finite ------------------------------------------------------------------------- */

static void test_all_finite(void) {
    static const size_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 1023, 1024, 1027, 1028, 1029, 2100, 4099};
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    CHECK(wt_all_finite(NULL, 0) == 1, "empty");
    float* buf = wt_test_alloc(4099 + 2);
    wt_rng rng = {9};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const size_t n = sizes[s];
        for (int off = 0; off < 2; off++) { /* aligned and misaligned starts */
            float* x = buf + off;
            wt_rng_fill(&rng, x, n, -1e30f, 1e30f);
            x[0] = FLT_MAX;
            if (n > 1) x[n - 1] = -FLT_MAX;
            if (n > 2) x[1] = 1e-45f; /* denormal */
            if (n > 3) x[2] = -0.0f;
            CHECK(wt_all_finite(x, n) == 1, "n=%zu off=%d: finite data reported non-finite", n, off);
            int missed = 0;
            for (size_t i = 0; i < n; i++) {
                const float saved = x[i];
                for (int b = 0; b < 3; b++) {
                    x[i] = bad[b];
                    if (wt_all_finite(x, n) != 0) missed++;
                }
                x[i] = saved;
            }
            CHECK(missed == 0, "n=%zu off=%d: %d non-finite values missed", n, off, missed);
            /* a non-finite value just past the end is not read */
            x[n] = NAN;
            CHECK(wt_all_finite(x, n) == 1, "n=%zu off=%d: read past the end", n, off);
            x[n] = 0.0f;
        }
    }
    free(buf);
}

int main(void) {
    wt_pool* pools[3] = {NULL, wt_pool_create(2), wt_pool_create(3)};
    CHECK(pools[1] && pools[2], "pool creation failed");
    if (pools[1] && pools[2]) {
        test_sgd_fast_vs_ref(pools, 3);
        test_adam_fast_vs_ref(pools, 3);
    }
    test_sgd_values();
    test_adam_values();
    test_adamw_vs_l2();
    test_schedule();
    test_all_finite();
    wt_pool_destroy(pools[1]);
    wt_pool_destroy(pools[2]);
    return wt_test_summary();
}
