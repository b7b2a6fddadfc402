/* test_batchnorm.c: batch normalization, frozen and train mode, reference and fast.
 * - fast vs reference for rows x channels over sizes that are not multiples of 4, plus sizes that
 *   split over the pool, cross the stack tiles (256 channels) and the gradient groups (1024);
 * - bit-identical results for pools of 1, 2 and 3 threads (and no pool);
 * - backward accumulates (+=) into pre-filled gradients; NULL gradients are skipped and do not
 *   change the others; frozen BN leaves mean/var alone; running statistics against a hand
 *   computation (unbiased variance, rows == 1, NULL running buffers);
 * - batch statistics stay accurate when the mean dwarfs the spread;
 * - central finite differences for every gradient: train (d_in, d_gamma, d_beta through the batch
 *   statistics) and frozen, reference and fast;
 * - batch norm + ReLU6 fused: the bits of the two kernels one after the other, in place or not. */
#include "ops.h"
#include "wt_test.h"

static wt_pool* pools[4]; /* NULL, 1, 2, 3 threads */
static const int pool_threads[4] = {0, 1, 2, 3};

static const int row_sizes[] = {1, 2, 3, 5, 7, 13, 31, 1023, 4099};
static const int channels[] = {1, 3, 4, 5, 7, 8, 17, 33};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const float EPS = 1e-3f;

/* One problem's buffers. Channel ch of `in` has its own offset and spread, as real activations do. */
typedef struct bn_case {
    int rows, c;
    wt_bn_dims d;
    float *in, *d_out, *gamma, *beta, *mean, *var; /* inputs (mean/var: frozen statistics) */
    float *d_in0, *d_gamma0, *d_beta0;             /* pre-filled gradients */
    float *run_mean0, *run_var0;                   /* running statistics before a train step */
} bn_case;

/* offset_max/spread range: how far channel means sit from 0, and their spreads. `stratified` puts
 * row r of a channel in the r-th of `rows` equal slices of the spread, so no two rows nearly
 * coincide (a batch of 2 close values is so curved that central differences with h = 1e-2 are off
 * by more than the tolerance). */
static void case_init_ranges(bn_case* k, wt_rng* rng, int rows, int c, float offset_max, float spread_lo,
                             float spread_hi, int stratified) {
    const size_t n = (size_t)rows * c;
    k->rows = rows, k->c = c;
    k->d = (wt_bn_dims){rows, c, EPS};
    k->in = wt_test_alloc(n), k->d_out = wt_test_alloc(n), k->d_in0 = wt_test_alloc(n);
    k->gamma = wt_test_alloc(c), k->beta = wt_test_alloc(c), k->mean = wt_test_alloc(c),
    k->var = wt_test_alloc(c);
    k->d_gamma0 = wt_test_alloc(c), k->d_beta0 = wt_test_alloc(c);
    k->run_mean0 = wt_test_alloc(c), k->run_var0 = wt_test_alloc(c);
    for (int ch = 0; ch < c; ch++) {
        const float offset = wt_rng_uniform(rng, -offset_max, offset_max);
        const float spread = wt_rng_uniform(rng, spread_lo, spread_hi);
        for (int r = 0; r < rows; r++) {
            const float u = stratified
                                ? 2.0f * ((float)r + wt_rng_uniform(rng, 0.25f, 0.75f)) / (float)rows - 1.0f
                                : wt_rng_uniform(rng, -1.0f, 1.0f);
            k->in[(size_t)r * c + ch] = offset + spread * u;
        }
        k->gamma[ch] = wt_rng_uniform(rng, 0.5f, 1.5f) * (ch % 3 == 2 ? -1.0f : 1.0f);
        k->beta[ch] = wt_rng_uniform(rng, -1.0f, 1.0f);
        k->mean[ch] = offset + wt_rng_uniform(rng, -0.3f, 0.3f);
        k->var[ch] = spread * spread * wt_rng_uniform(rng, 0.2f, 0.5f);
        k->run_mean0[ch] = wt_rng_uniform(rng, -1.0f, 1.0f);
        k->run_var0[ch] = wt_rng_uniform(rng, 0.5f, 2.0f);
    }
    wt_rng_fill(rng, k->d_out, n, -1.0f, 1.0f);
    wt_rng_fill(rng, k->d_in0, n, -1.0f, 1.0f);
    wt_rng_fill(rng, k->d_gamma0, c, -1.0f, 1.0f);
    wt_rng_fill(rng, k->d_beta0, c, -1.0f, 1.0f);
}

static void case_init(bn_case* k, wt_rng* rng, int rows, int c) {
    case_init_ranges(k, rng, rows, c, 4.0f, 0.2f, 3.0f, 0);
}

static void case_free(bn_case* k) {
    free(k->in), free(k->d_out), free(k->d_in0), free(k->gamma), free(k->beta), free(k->mean), free(k->var);
    free(k->d_gamma0), free(k->d_beta0), free(k->run_mean0), free(k->run_var0);
}

static float* copy_of(const float* x, size_t n) {
    float* y = wt_test_alloc(n);
    memcpy(y, x, n * sizeof(float));
    return y;
}

/* Every output of one implementation (ref: pool index -1) on one case. */
typedef struct bn_results {
    float *f_out, *t_out, *save_mean, *save_invstd, *run_mean, *run_var;
    float *f_din, *f_dgamma, *f_dbeta, *t_din, *t_dgamma, *t_dbeta;
} bn_results;

static void results_free(bn_results* r) {
    free(r->f_out), free(r->t_out), free(r->save_mean), free(r->save_invstd), free(r->run_mean),
        free(r->run_var);
    free(r->f_din), free(r->f_dgamma), free(r->f_dbeta), free(r->t_din), free(r->t_dgamma), free(r->t_dbeta);
}

/* Runs all four kernels. The train backward gets `saved_mean/saved_invstd` (the reference's) so it
 * is compared on the same inputs. */
static bn_results run_all(const bn_case* k, int p, const float* saved_mean, const float* saved_invstd) {
    const size_t n = (size_t)k->rows * k->c, c = (size_t)k->c;
    bn_results r;
    r.f_out = wt_test_alloc(n), r.t_out = wt_test_alloc(n);
    r.save_mean = wt_test_alloc(c), r.save_invstd = wt_test_alloc(c);
    r.run_mean = copy_of(k->run_mean0, c), r.run_var = copy_of(k->run_var0, c);
    r.f_din = copy_of(k->d_in0, n), r.f_dgamma = copy_of(k->d_gamma0, c), r.f_dbeta = copy_of(k->d_beta0, c);
    r.t_din = copy_of(k->d_in0, n), r.t_dgamma = copy_of(k->d_gamma0, c), r.t_dbeta = copy_of(k->d_beta0, c);
    const float momentum = 0.9f;
    if (p < 0) {
        wt_batchnorm_forward_frozen_ref(r.f_out, k->in, k->gamma, k->beta, k->mean, k->var, &k->d);
        wt_batchnorm_forward_train_ref(r.t_out, r.save_mean, r.save_invstd, r.run_mean, r.run_var, k->in,
                                       k->gamma, k->beta, momentum, &k->d);
        wt_batchnorm_backward_frozen_ref(r.f_din, r.f_dgamma, r.f_dbeta, k->d_out, k->in, k->gamma, k->mean,
                                         k->var, &k->d);
        wt_batchnorm_backward_train_ref(r.t_din, r.t_dgamma, r.t_dbeta, k->d_out, k->in, k->gamma,
                                        saved_mean ? saved_mean : r.save_mean,
                                        saved_invstd ? saved_invstd : r.save_invstd, &k->d);
    } else {
        wt_pool* pool = pools[p];
        wt_batchnorm_forward_frozen(pool, r.f_out, k->in, k->gamma, k->beta, k->mean, k->var, &k->d);
        wt_batchnorm_forward_train(pool, r.t_out, r.save_mean, r.save_invstd, r.run_mean, r.run_var, k->in,
                                   k->gamma, k->beta, momentum, &k->d);
        wt_batchnorm_backward_frozen(pool, r.f_din, r.f_dgamma, r.f_dbeta, k->d_out, k->in, k->gamma, k->mean,
                                     k->var, &k->d);
        wt_batchnorm_backward_train(pool, r.t_din, r.t_dgamma, r.t_dbeta, k->d_out, k->in, k->gamma,
                                    saved_mean ? saved_mean : r.save_mean,
                                    saved_invstd ? saved_invstd : r.save_invstd, &k->d);
    }
    return r;
}

static double worst_seen[16];
static const char* worst_names[16] = {"frozen out",    "train out",   "save_mean",     "save_invstd",
                                      "running_mean",  "running_var", "frozen d_in",   "frozen d_gamma",
                                      "frozen d_beta", "train d_in",  "train d_gamma", "train d_beta"};

/* fast (pool p) vs reference within tolerance; fast across pools bit for bit. */
static void check_case(int rows, int c, wt_rng* rng) {
    bn_case k;
    case_init(&k, rng, rows, c);
    const size_t n = (size_t)rows * c;
    float *mean_copy = copy_of(k.mean, (size_t)c), *var_copy = copy_of(k.var, (size_t)c);
    bn_results ref = run_all(&k, -1, NULL, NULL);
    bn_results first = {0};
    for (int p = 0; p < 4; p++) {
        bn_results f = run_all(&k, p, ref.save_mean, ref.save_invstd);
        /* tolerance: floors at the scale of the values (outputs and d_in are O(1); d_gamma and d_beta
         * are sums over rows, so their floor grows with sqrt(rows)) */
        const double sum_floor = sqrt((double)rows);
        const struct {
            const float *a, *b;
            size_t len;
            double floor_, tol;
        } cmp[12] = {
            {f.f_out, ref.f_out, n, 1.0, 2e-6},
            {f.t_out, ref.t_out, n, 1.0, 2e-5},
            {f.save_mean, ref.save_mean, (size_t)c, 1.0, 2e-6},
            {f.save_invstd, ref.save_invstd, (size_t)c, 1e-3, 2e-5},
            {f.run_mean, ref.run_mean, (size_t)c, 1.0, 2e-6},
            {f.run_var, ref.run_var, (size_t)c, 1e-3, 2e-5},
            {f.f_din, ref.f_din, n, 1.0, 2e-6},
            {f.f_dgamma, ref.f_dgamma, (size_t)c, sum_floor, 2e-5},
            {f.f_dbeta, ref.f_dbeta, (size_t)c, sum_floor, 2e-6},
            {f.t_din, ref.t_din, n, 1.0, 2e-5},
            {f.t_dgamma, ref.t_dgamma, (size_t)c, sum_floor, 2e-5},
            {f.t_dbeta, ref.t_dbeta, (size_t)c, sum_floor, 2e-6},
        };
        for (int i = 0; i < 12; i++) {
            const double e = wt_max_rel_err(cmp[i].a, cmp[i].b, cmp[i].len, cmp[i].floor_);
            if (e > worst_seen[i] || e != e) worst_seen[i] = e;
            CHECK(e <= cmp[i].tol, "rows=%d c=%d threads=%d: %s fast vs ref rel err %g", rows, c,
                  pool_threads[p], worst_names[i], e);
        }
        if (p == 0) {
            first = f;
            continue;
        }
        const struct {
            const float *a, *b;
            size_t len;
        } same[12] = {
            {f.f_out, first.f_out, n},
            {f.t_out, first.t_out, n},
            {f.save_mean, first.save_mean, (size_t)c},
            {f.save_invstd, first.save_invstd, (size_t)c},
            {f.run_mean, first.run_mean, (size_t)c},
            {f.run_var, first.run_var, (size_t)c},
            {f.f_din, first.f_din, n},
            {f.f_dgamma, first.f_dgamma, (size_t)c},
            {f.f_dbeta, first.f_dbeta, (size_t)c},
            {f.t_din, first.t_din, n},
            {f.t_dgamma, first.t_dgamma, (size_t)c},
            {f.t_dbeta, first.t_dbeta, (size_t)c},
        };
        for (int i = 0; i < 12; i++)
            CHECK(wt_bit_equal(same[i].a, same[i].b, same[i].len),
                  "rows=%d c=%d: %s with %d threads differs from serial", rows, c, worst_names[i],
                  pool_threads[p]);
        results_free(&f);
    }
    CHECK(wt_bit_equal(mean_copy, k.mean, (size_t)c) && wt_bit_equal(var_copy, k.var, (size_t)c),
          "rows=%d c=%d: frozen statistics were modified", rows, c);
    results_free(&first);
    results_free(&ref);
    free(mean_copy), free(var_copy);
    case_free(&k);
}

static void test_vs_ref(void) {
    wt_rng rng = {2024};
    for (size_t a = 0; a < COUNT(row_sizes); a++)
        for (size_t b = 0; b < COUNT(channels); b++) check_case(row_sizes[a], channels[b], &rng);
    /* splits over rows and channels; several 4096-row levels; apply tiles (256) and groups (1024) */
    check_case(9001, 21, &rng);
    /* few channels over several 4096-row levels: the gradient sums split over rows for 2+ threads */
    check_case(17000, 8, &rng);
    check_case(8200, 48, &rng);
    check_case(4097, 3, &rng);
    check_case(2053, 70, &rng);
    check_case(129, 301, &rng);
    check_case(67, 1030, &rng);
    check_case(33, 2051, &rng);
    for (int i = 0; i < 12; i++) printf("  worst fast vs ref %-15s %.3g\n", worst_names[i], worst_seen[i]);
}

/* ---------------------------------------------------------------------------------------------
 * Accumulation and NULL gradients.
 * ------------------------------------------------------------------------------------------- */
static void test_accumulate_and_null(void) {
    wt_rng rng = {99};
    bn_case k;
    case_init(&k, &rng, 1023, 33);
    const size_t n = (size_t)k.rows * k.c, c = (size_t)k.c;
    float *sm = wt_test_alloc(c), *si = wt_test_alloc(c), *out = wt_test_alloc(n);
    wt_batchnorm_forward_train_ref(out, sm, si, NULL, NULL, k.in, k.gamma, k.beta, 0.9f, &k.d);
    for (int fast = 0; fast < 2; fast++) {
        for (int train = 0; train < 2; train++) {
            wt_pool* pool = pools[2];
#define BACKWARD(DI, DG, DB)                                                                                 \
    do {                                                                                                     \
        if (train)                                                                                           \
            fast ? wt_batchnorm_backward_train(pool, DI, DG, DB, k.d_out, k.in, k.gamma, sm, si, &k.d)       \
                 : wt_batchnorm_backward_train_ref(DI, DG, DB, k.d_out, k.in, k.gamma, sm, si, &k.d);        \
        else                                                                                                 \
            fast                                                                                             \
                ? wt_batchnorm_backward_frozen(pool, DI, DG, DB, k.d_out, k.in, k.gamma, k.mean, k.var,      \
                                               &k.d)                                                         \
                : wt_batchnorm_backward_frozen_ref(DI, DG, DB, k.d_out, k.in, k.gamma, k.mean, k.var, &k.d); \
    } while (0)
            /* from zero */
            float *di = wt_test_alloc(n), *dg = wt_test_alloc(c), *db = wt_test_alloc(c);
            BACKWARD(di, dg, db);
            /* pre-filled: g0 + (from zero) */
            float *ai = copy_of(k.d_in0, n), *ag = copy_of(k.d_gamma0, c), *ab = copy_of(k.d_beta0, c);
            BACKWARD(ai, ag, ab);
            float *ei = wt_test_alloc(n), *eg = wt_test_alloc(c), *eb = wt_test_alloc(c);
            for (size_t i = 0; i < n; i++) ei[i] = k.d_in0[i] + di[i];
            for (size_t i = 0; i < c; i++) eg[i] = k.d_gamma0[i] + dg[i], eb[i] = k.d_beta0[i] + db[i];
            CHECK(wt_max_rel_err(ai, ei, n, 1e-3) <= 1e-6, "fast=%d train=%d: d_in does not accumulate", fast,
                  train);
            CHECK(wt_max_rel_err(ag, eg, c, 1e-3) <= 1e-6, "fast=%d train=%d: d_gamma does not accumulate",
                  fast, train);
            CHECK(wt_max_rel_err(ab, eb, c, 1e-3) <= 1e-6, "fast=%d train=%d: d_beta does not accumulate",
                  fast, train);
            /* one gradient at a time: each equals the all-gradients result, bit for bit */
            float *oi = wt_test_alloc(n), *og = wt_test_alloc(c), *ob = wt_test_alloc(c);
            BACKWARD(oi, NULL, NULL);
            BACKWARD(NULL, og, NULL);
            BACKWARD(NULL, NULL, ob);
            BACKWARD(NULL, NULL, NULL);
            CHECK(wt_bit_equal(oi, di, n), "fast=%d train=%d: d_in alone differs", fast, train);
            CHECK(wt_bit_equal(og, dg, c), "fast=%d train=%d: d_gamma alone differs", fast, train);
            CHECK(wt_bit_equal(ob, db, c), "fast=%d train=%d: d_beta alone differs", fast, train);
#undef BACKWARD
            free(di), free(dg), free(db), free(ai), free(ag), free(ab), free(ei), free(eg), free(eb);
            free(oi), free(og), free(ob);
        }
    }
    free(sm), free(si), free(out);
    case_free(&k);
}

/* ---------------------------------------------------------------------------------------------
 * Running statistics against a hand computation.
 * ------------------------------------------------------------------------------------------- */
static void check_running(int rows, int c, wt_rng* rng) {
    bn_case k;
    case_init(&k, rng, rows, c);
    const float momentum = 0.875f;
    const size_t n = (size_t)rows * c;
    for (int p = -1; p < 4; p++) {
        float *rm = copy_of(k.run_mean0, (size_t)c), *rv = copy_of(k.run_var0, (size_t)c);
        float *sm = wt_test_alloc((size_t)c), *si = wt_test_alloc((size_t)c), *out = wt_test_alloc(n);
        if (p < 0)
            wt_batchnorm_forward_train_ref(out, sm, si, rm, rv, k.in, k.gamma, k.beta, momentum, &k.d);
        else
            wt_batchnorm_forward_train(pools[p], out, sm, si, rm, rv, k.in, k.gamma, k.beta, momentum, &k.d);
        for (int ch = 0; ch < c; ch++) {
            double s = 0.0, q = 0.0;
            for (int r = 0; r < rows; r++) s += k.in[(size_t)r * c + ch];
            const double mean = s / rows;
            for (int r = 0; r < rows; r++)
                q += (k.in[(size_t)r * c + ch] - mean) * (k.in[(size_t)r * c + ch] - mean);
            const double var = q / rows, unbiased = rows > 1 ? q / (rows - 1) : var;
            const double em = momentum * (double)k.run_mean0[ch] + (1.0 - momentum) * mean;
            const double ev = momentum * (double)k.run_var0[ch] + (1.0 - momentum) * unbiased;
            CHECK(fabs(rm[ch] - em) <= 1e-5 * (1.0 + fabs(em)),
                  "rows=%d p=%d ch=%d running mean %g, expected %g", rows, p, ch, rm[ch], em);
            CHECK(fabs(rv[ch] - ev) <= 1e-5 * fabs(ev), "rows=%d p=%d ch=%d running var %g, expected %g",
                  rows, p, ch, rv[ch], ev);
            CHECK(fabs(sm[ch] - mean) <= 1e-5 * (1.0 + fabs(mean)), "rows=%d p=%d ch=%d save_mean", rows, p,
                  ch);
            const double einv = 1.0 / sqrt(var + EPS);
            CHECK(fabs(si[ch] - einv) <= 1e-5 * einv, "rows=%d p=%d ch=%d save_invstd %g, expected %g", rows,
                  p, ch, si[ch], einv);
        }
        /* NULL running buffers: nothing updated, same outputs; each may be NULL on its own */
        float *out2 = wt_test_alloc(n), *sm2 = wt_test_alloc((size_t)c), *si2 = wt_test_alloc((size_t)c);
        float *rm2 = copy_of(k.run_mean0, (size_t)c), *rv2 = copy_of(k.run_var0, (size_t)c);
        for (int which = 0; which < 3; which++) {
            float* m_arg = which == 1 ? rm2 : NULL;
            float* v_arg = which == 2 ? rv2 : NULL;
            if (p < 0)
                wt_batchnorm_forward_train_ref(out2, sm2, si2, m_arg, v_arg, k.in, k.gamma, k.beta, momentum,
                                               &k.d);
            else
                wt_batchnorm_forward_train(pools[p], out2, sm2, si2, m_arg, v_arg, k.in, k.gamma, k.beta,
                                           momentum, &k.d);
            CHECK(wt_bit_equal(out2, out, n) && wt_bit_equal(sm2, sm, (size_t)c) &&
                      wt_bit_equal(si2, si, (size_t)c),
                  "rows=%d p=%d: outputs depend on the running buffers (%d)", rows, p, which);
        }
        CHECK(wt_bit_equal(rm2, rm, (size_t)c) && wt_bit_equal(rv2, rv, (size_t)c),
              "rows=%d p=%d: a lone running buffer is not updated like a pair", rows, p);
        free(rm), free(rv), free(sm), free(si), free(out), free(out2), free(sm2), free(si2), free(rm2),
            free(rv2);
    }
    case_free(&k);
}

static void test_running_stats(void) {
    wt_rng rng = {7};
    check_running(7, 5, &rng);
    check_running(1, 6, &rng); /* one row: the variance is 0 and stays unscaled */
    check_running(2, 3, &rng);
    check_running(5000, 37, &rng);
    /* fully by hand: one channel, rows {1, 2, 3, 6}: mean 3, biased var 3.5, unbiased 14/3 */
    const float in[4] = {1.0f, 2.0f, 3.0f, 6.0f}, gamma = 1.0f, beta = 0.0f;
    const wt_bn_dims d = {4, 1, 0.0f};
    for (int p = -1; p < 4; p++) {
        float out[4], sm, si, rm = 1.0f, rv = 2.0f;
        if (p < 0)
            wt_batchnorm_forward_train_ref(out, &sm, &si, &rm, &rv, in, &gamma, &beta, 0.5f, &d);
        else
            wt_batchnorm_forward_train(pools[p], out, &sm, &si, &rm, &rv, in, &gamma, &beta, 0.5f, &d);
        CHECK(sm == 3.0f && fabsf(si - 1.0f / sqrtf(3.5f)) <= 1e-6f, "by hand (p=%d): mean %g invstd %g", p,
              sm, si);
        CHECK(rm == 2.0f, "by hand (p=%d): running mean %g, expected 2", p, rm);
        CHECK(fabsf(rv - (1.0f + 7.0f / 3.0f)) <= 1e-6f, "by hand (p=%d): running var %g, expected %g", p, rv,
              1.0 + 7.0 / 3.0);
        CHECK(fabsf(out[3] - 3.0f / sqrtf(3.5f)) <= 1e-6f, "by hand (p=%d): out[3] %g", p, out[3]);
    }
}

/* The mean sits 1.7e5 standard deviations from zero, where float spacing is 1% of the spread: sums
 * of squares about zero would lose everything, and merging block means rounded at that magnitude
 * loses about 1e-3 of the variance; statistics taken about a shift in the data keep ~1e-7. */
static void test_large_offset(void) {
    wt_rng rng = {3};
    const int rows = 20011, c = 9;
    const wt_bn_dims d = {rows, c, 1e-8f};
    const size_t n = (size_t)rows * c;
    float *in = wt_test_alloc(n), *out = wt_test_alloc(n), *gamma = wt_test_alloc(c),
          *beta = wt_test_alloc(c);
    float *smr = wt_test_alloc(c), *sir = wt_test_alloc(c), *smf = wt_test_alloc(c), *sif = wt_test_alloc(c);
    for (size_t i = 0; i < n; i++)
        in[i] = 1000.0f + 0.2f * (float)(i % (size_t)c) + wt_rng_uniform(&rng, -0.01f, 0.01f);
    for (int ch = 0; ch < c; ch++) gamma[ch] = 1.0f, beta[ch] = 0.0f;
    wt_batchnorm_forward_train_ref(out, smr, sir, NULL, NULL, in, gamma, beta, 0.9f, &d);
    wt_batchnorm_forward_train(pools[2], out, smf, sif, NULL, NULL, in, gamma, beta, 0.9f, &d);
    const double e = wt_max_rel_err(sif, sir, (size_t)c, 0.0);
    CHECK(e <= 1e-5, "large offset: invstd rel err %g (ref %g fast %g)", e, sir[0], sif[0]);
    CHECK(wt_max_rel_err(smf, smr, (size_t)c, 0.0) <= 1e-6, "large offset: mean");
    printf("  large offset: invstd rel err %.3g\n", e);
    free(in), free(out), free(gamma), free(beta), free(smr), free(sir), free(smf), free(sif);
}

/* ---------------------------------------------------------------------------------------------
 * Finite differences. loss = sum w * bn(in; gamma, beta), the train forward recomputing the batch
 * statistics at every perturbation (no running buffers), the frozen one with fixed mean/var.
 * ------------------------------------------------------------------------------------------- */
typedef struct bn_loss {
    int train, fast;
    wt_pool* pool;
    bn_case* k;
    float *out, *sm, *si;
} bn_loss;

static double bn_loss_fn(void* ctx) {
    bn_loss* L = (bn_loss*)ctx;
    bn_case* k = L->k;
    if (L->train) {
        if (L->fast)
            wt_batchnorm_forward_train(L->pool, L->out, L->sm, L->si, NULL, NULL, k->in, k->gamma, k->beta,
                                       0.9f, &k->d);
        else
            wt_batchnorm_forward_train_ref(L->out, L->sm, L->si, NULL, NULL, k->in, k->gamma, k->beta, 0.9f,
                                           &k->d);
    } else {
        if (L->fast)
            wt_batchnorm_forward_frozen(L->pool, L->out, k->in, k->gamma, k->beta, k->mean, k->var, &k->d);
        else
            wt_batchnorm_forward_frozen_ref(L->out, k->in, k->gamma, k->beta, k->mean, k->var, &k->d);
    }
    return wt_dot_loss(L->out, k->d_out, (size_t)k->rows * k->c);
}

static void test_gradcheck(void) {
    static const int rows_list[] = {2, 3, 6, 13, 40};
    static const int c_list[] = {3, 5};
    wt_rng rng = {31};
    double worst[2][3] = {{0}};
    for (size_t a = 0; a < COUNT(rows_list); a++) {
        for (size_t b = 0; b < COUNT(c_list); b++) {
            for (int train = 0; train < 2; train++) {
                for (int fast = 0; fast < 2; fast++) {
                    /* Moderate offsets: finite differences of the float forward see the rounding of
                     * the batch mean (eps * |mean| * invstd per output, correlated over a channel),
                     * which with means of 4 spreads is as large as the tolerance. */
                    bn_case k;
                    case_init_ranges(&k, &rng, rows_list[a], c_list[b], 1.0f, 0.5f, 2.0f, 1);
                    const size_t n = (size_t)k.rows * k.c, c = (size_t)k.c;
                    bn_loss L = {train,           fast, pools[2], &k, wt_test_alloc(n), wt_test_alloc(c),
                                 wt_test_alloc(c)};
                    float *di = wt_test_alloc(n), *dg = wt_test_alloc(c), *db = wt_test_alloc(c);
                    bn_loss_fn(&L); /* forward at the unperturbed point: the saved statistics */
                    if (train) {
                        fast ? wt_batchnorm_backward_train(L.pool, di, dg, db, k.d_out, k.in, k.gamma, L.sm,
                                                           L.si, &k.d)
                             : wt_batchnorm_backward_train_ref(di, dg, db, k.d_out, k.in, k.gamma, L.sm, L.si,
                                                               &k.d);
                    } else {
                        fast ? wt_batchnorm_backward_frozen(L.pool, di, dg, db, k.d_out, k.in, k.gamma,
                                                            k.mean, k.var, &k.d)
                             : wt_batchnorm_backward_frozen_ref(di, dg, db, k.d_out, k.in, k.gamma, k.mean,
                                                                k.var, &k.d);
                    }
                    const double e_in = wt_gradcheck(k.in, di, n, 1e-2f, bn_loss_fn, &L, 5e-2);
                    const double e_g = wt_gradcheck(k.gamma, dg, c, 1e-2f, bn_loss_fn, &L, 5e-2);
                    const double e_b = wt_gradcheck(k.beta, db, c, 1e-2f, bn_loss_fn, &L, 5e-2);
                    const char* mode = train ? "train" : "frozen";
                    CHECK(e_in <= 1e-2, "gradcheck %s d_in rows=%d c=%d fast=%d: %g", mode, k.rows, k.c, fast,
                          e_in);
                    CHECK(e_g <= 1e-2, "gradcheck %s d_gamma rows=%d c=%d fast=%d: %g", mode, k.rows, k.c,
                          fast, e_g);
                    CHECK(e_b <= 1e-2, "gradcheck %s d_beta rows=%d c=%d fast=%d: %g", mode, k.rows, k.c,
                          fast, e_b);
                    if (e_in > worst[train][0]) worst[train][0] = e_in;
                    if (e_g > worst[train][1]) worst[train][1] = e_g;
                    if (e_b > worst[train][2]) worst[train][2] = e_b;
                    free(L.out), free(L.sm), free(L.si), free(di), free(dg), free(db);
                    case_free(&k);
                }
            }
        }
    }
    printf(
        "  gradcheck worst: frozen d_in %.3g d_gamma %.3g d_beta %.3g; train d_in %.3g d_gamma %.3g d_beta "
        "%.3g\n",
        worst[0][0], worst[0][1], worst[0][2], worst[1][0], worst[1][1], worst[1][2]);
}

/* ---------------------------------------------------------------------------------------------
 * Batch norm + ReLU6 in one pass (frozen statistics): the bits of batch norm then ReLU6, for every
 * pool, out of place, in place over the input (memory saving: conv -> BN -> ReLU6 in one buffer),
 * and with or without the batch norm's own output; the reference against the two references.
 * ------------------------------------------------------------------------------------------- */
static void test_fused_relu6(void) {
    wt_rng rng = {77};
    const int shapes[][2] = {{1, 1}, {3, 5}, {7, 8}, {31, 17}, {1023, 33}, {4099, 8}, {2053, 70}, {129, 301}};
    double worst = 0.0;
    for (size_t s = 0; s < COUNT(shapes); s++) {
        bn_case k;
        case_init(&k, &rng, shapes[s][0], shapes[s][1]);
        const size_t n = (size_t)k.rows * k.c;
        for (int ch = 0; ch < k.c; ch++) k.gamma[ch] *= 3.0f; /* outputs on both sides of 0 and 6 */
        float *bn = wt_test_alloc(n), *want = wt_test_alloc(n), *bn_ref = wt_test_alloc(n), *want_ref = wt_test_alloc(n);
        wt_batchnorm_forward_frozen_ref(bn_ref, k.in, k.gamma, k.beta, k.mean, k.var, &k.d);
        wt_relu6_forward_ref(want_ref, bn_ref, n);
        float *f_ref = wt_test_alloc(n), *f6_ref = wt_test_alloc(n);
        wt_batchnorm_relu6_forward_frozen_ref(f_ref, f6_ref, k.in, k.gamma, k.beta, k.mean, k.var, &k.d);
        CHECK(wt_bit_equal(f_ref, bn_ref, n) && wt_bit_equal(f6_ref, want_ref, n), "rows=%d c=%d: fused reference",
              k.rows, k.c);
        int clipped = 0;
        for (size_t i = 0; i < n; i++) clipped += want_ref[i] == 6.0f;
        for (int p = 0; p < 4; p++) {
            wt_batchnorm_forward_frozen(pools[p], bn, k.in, k.gamma, k.beta, k.mean, k.var, &k.d);
            wt_relu6_forward(pools[p], want, bn, n);
            const double e = wt_max_rel_err(want, want_ref, n, 1.0);
            if (e > worst) worst = e;
            CHECK(e <= 2e-6, "rows=%d c=%d threads=%d: fused fast vs ref %g", k.rows, k.c, pool_threads[p], e);
            /* out of place, both outputs */
            float *out = wt_test_alloc(n), *out6 = wt_test_alloc(n);
            wt_batchnorm_relu6_forward_frozen(pools[p], out, out6, k.in, k.gamma, k.beta, k.mean, k.var, &k.d);
            CHECK(wt_bit_equal(out, bn, n) && wt_bit_equal(out6, want, n), "rows=%d c=%d threads=%d: fused != unfused",
                  k.rows, k.c, pool_threads[p]);
            /* out6 only (out NULL, or out == out6) */
            float* only = wt_test_alloc(n);
            wt_batchnorm_relu6_forward_frozen(pools[p], NULL, only, k.in, k.gamma, k.beta, k.mean, k.var, &k.d);
            CHECK(wt_bit_equal(only, want, n), "rows=%d c=%d threads=%d: fused, no bn output", k.rows, k.c,
                  pool_threads[p]);
            /* in place: one buffer holds the input, then relu6(bn) */
            float* buf = copy_of(k.in, n);
            wt_batchnorm_relu6_forward_frozen(pools[p], buf, buf, buf, k.gamma, k.beta, k.mean, k.var, &k.d);
            CHECK(wt_bit_equal(buf, want, n), "rows=%d c=%d threads=%d: fused in place", k.rows, k.c, pool_threads[p]);
            /* in place batch norm, ReLU6 elsewhere */
            float* buf2 = copy_of(k.in, n);
            wt_batchnorm_relu6_forward_frozen(pools[p], buf2, out6, buf2, k.gamma, k.beta, k.mean, k.var, &k.d);
            CHECK(wt_bit_equal(buf2, bn, n) && wt_bit_equal(out6, want, n), "rows=%d c=%d threads=%d: bn in place",
                  k.rows, k.c, pool_threads[p]);
            free(out), free(out6), free(only), free(buf), free(buf2);
        }
        CHECK(k.rows * k.c < 1000 || clipped > 0, "rows=%d c=%d: no output reached 6", k.rows, k.c);
        free(bn), free(want), free(bn_ref), free(want_ref), free(f_ref), free(f6_ref);
        case_free(&k);
    }
    printf("  batch norm + relu6 fused: worst fast vs ref %.3g\n", worst);
}

int main(void) {
    for (int p = 1; p < 4; p++) {
        pools[p] = wt_pool_create(pool_threads[p]);
        CHECK(pools[p] != NULL, "pool of %d threads", pool_threads[p]);
        if (!pools[p]) return wt_test_summary();
    }
    test_vs_ref();
    test_accumulate_and_null();
    test_running_stats();
    test_large_offset();
    test_gradcheck();
    test_fused_relu6();
    for (int p = 1; p < 4; p++) wt_pool_destroy(pools[p]);
    return wt_test_summary();
}
