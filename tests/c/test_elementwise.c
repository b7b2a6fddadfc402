/* test_elementwise.c: ReLU, ReLU6, add, axpy and global average pooling.
 * - fast vs reference on sizes around and between SIMD widths and chunk boundaries (the ops are
 *   the same float operations, so the fast path must match the reference bit for bit, axpy to
 *   within rounding in case a native compiler contracts the reference into an FMA);
 * - bit-identical results for pools of 1, 2 and 3 threads (and no pool) on sizes that split;
 * - NaN propagation and the gradient masks at the kinks (0 and 6 give zero gradient);
 * - backward accumulates (+=) into pre-filled buffers, and NULL gradients are skipped;
 * - central finite differences for every backward (ref and fast), inputs kept off the kinks. */
#include "ops.h"
#include "wt_test.h"

static wt_pool* pools[4]; /* NULL, 1, 2, 3 threads */
static const int pool_threads[4] = {0, 1, 2, 3};

static const size_t sizes[] = {1, 2, 3, 5, 7, 13, 31, 1023, 4099};
static const int channels[] = {1, 3, 4, 5, 7, 8, 17, 33};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Uniform in [lo, hi), moved off the kinks at 0 and 6 by more than `gap`. */
static void fill_off_kinks(wt_rng* rng, float* x, size_t n, float lo, float hi, float gap) {
    for (size_t i = 0; i < n; i++) {
        float v;
        do v = wt_rng_uniform(rng, lo, hi);
        while (fabsf(v) <= gap || fabsf(v - 6.0f) <= gap);
        x[i] = v;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Forward and backward of the elementwise ops, fast vs reference, and across pools.
 * ------------------------------------------------------------------------------------------- */
enum { OP_RELU, OP_RELU6, OP_RELU_BWD, OP_RELU6_BWD, OP_ADD, OP_AXPY, OP_COUNT };
static const char* op_names[OP_COUNT] = {"relu", "relu6", "relu_bwd", "relu6_bwd", "add", "axpy"};

/* y is the output (forward) or the accumulator (backward, axpy); a, b the inputs. */
static void run_op(int op, int fast, wt_pool* pool, float* y, const float* a, const float* b, size_t n) {
    const float alpha = -0.375f;
    switch (op) {
    case OP_RELU: fast ? wt_relu_forward(pool, y, a, n) : wt_relu_forward_ref(y, a, n); break;
    case OP_RELU6: fast ? wt_relu6_forward(pool, y, a, n) : wt_relu6_forward_ref(y, a, n); break;
    case OP_RELU_BWD: fast ? wt_relu_backward(pool, y, a, b, n) : wt_relu_backward_ref(y, a, b, n); break;
    case OP_RELU6_BWD: fast ? wt_relu6_backward(pool, y, a, b, n) : wt_relu6_backward_ref(y, a, b, n); break;
    case OP_ADD: fast ? wt_add_forward(pool, y, a, b, n) : wt_add_forward_ref(y, a, b, n); break;
    case OP_AXPY: fast ? wt_axpy(pool, y, alpha, a, n) : wt_axpy_ref(y, alpha, a, n); break;
    }
}

static void test_elementwise_vs_ref(void) {
    static const size_t extra[] = {16383, 16384, 16385, 40000, 70001, 100003};
    wt_rng rng = {11};
    for (size_t si = 0; si < COUNT(sizes) + COUNT(extra); si++) {
        const size_t n = si < COUNT(sizes) ? sizes[si] : extra[si - COUNT(sizes)];
        float *a = wt_test_alloc(n), *b = wt_test_alloc(n), *y0 = wt_test_alloc(n);
        float *yr = wt_test_alloc(n), *yf = wt_test_alloc(n);
        wt_rng_fill(&rng, a, n, -3.0f, 3.0f);
        wt_rng_fill(&rng, b, n, -2.0f, 8.0f); /* as the forward input of relu6: both sides of 6 */
        wt_rng_fill(&rng, y0, n, -1.0f, 1.0f);
        for (int op = 0; op < OP_COUNT; op++) {
            const int tol = op == OP_AXPY; /* the others must be exact */
            memcpy(yr, y0, n * sizeof(float));
            run_op(op, 0, NULL, yr, a, b, n);
            for (int p = 0; p < 4; p++) {
                memcpy(yf, y0, n * sizeof(float));
                run_op(op, 1, pools[p], yf, a, b, n);
                if (tol) {
                    const double e = wt_max_rel_err(yf, yr, n, 1e-3);
                    CHECK(e <= 1e-6, "%s n=%zu threads=%d: fast vs ref rel err %g", op_names[op], n,
                          pool_threads[p], e);
                } else {
                    CHECK(wt_bit_equal(yf, yr, n), "%s n=%zu threads=%d: fast differs from ref", op_names[op],
                          n, pool_threads[p]);
                }
                if (p > 0) {
                    /* all pools against the serial fast path */
                    float* ys = wt_test_alloc(n);
                    memcpy(ys, y0, n * sizeof(float));
                    run_op(op, 1, NULL, ys, a, b, n);
                    CHECK(wt_bit_equal(yf, ys, n), "%s n=%zu: %d threads differ from serial", op_names[op], n,
                          pool_threads[p]);
                    free(ys);
                }
            }
        }
        free(a), free(b), free(y0), free(yr), free(yf);
    }
}

/* a[i] == b[i], or both NaN */
static int same_values(const float* a, const float* b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(a[i] == b[i] || (isnan(a[i]) && isnan(b[i])))) return 0;
    return 1;
}

/* Kinks, signed zeros, infinities and NaN: the documented semantics, the same in both paths. */
static void test_special_values(void) {
    const float nan = NAN, inf = INFINITY;
    const float in[] = {0.0f, -0.0f, 6.0f, -1e-30f, 1e-30f, 5.9999995f, 6.0000005f,
                        nan,  inf,   -inf, 3.0f,    -3.0f,  -nan};
    const size_t n = COUNT(in);
    float r[COUNT(in)], f[COUNT(in)];
    for (int fast = 0; fast < 2; fast++) {
        fast ? wt_relu_forward(pools[2], f, in, n) : wt_relu_forward_ref(f, in, n);
        CHECK(f[0] == 0.0f && f[2] == 6.0f && f[3] == 0.0f && f[4] == 1e-30f && isnan(f[7]) && f[8] == inf &&
                  f[9] == 0.0f && f[10] == 3.0f && f[11] == 0.0f && isnan(f[12]),
              "relu special values (fast=%d)", fast);
        fast ? wt_relu6_forward(pools[2], f, in, n) : wt_relu6_forward_ref(f, in, n);
        CHECK(f[0] == 0.0f && f[2] == 6.0f && f[3] == 0.0f && f[5] == 5.9999995f && f[6] == 6.0f &&
                  isnan(f[7]) && f[8] == 6.0f && f[9] == 0.0f && f[10] == 3.0f && f[11] == 0.0f,
              "relu6 special values (fast=%d)", fast);
        float g[COUNT(in)], d[COUNT(in)];
        for (size_t i = 0; i < n; i++) g[i] = 1.0f, d[i] = 0.5f;
        fast ? wt_relu_backward(pools[2], d, g, in, n) : wt_relu_backward_ref(d, g, in, n);
        CHECK(d[0] == 0.5f && d[1] == 0.5f && d[2] == 1.5f && d[3] == 0.5f && d[4] == 1.5f && d[7] == 0.5f &&
                  d[8] == 1.5f && d[9] == 0.5f,
              "relu backward mask at 0 / NaN / inf (fast=%d)", fast);
        for (size_t i = 0; i < n; i++) d[i] = 0.5f;
        fast ? wt_relu6_backward(pools[2], d, g, in, n) : wt_relu6_backward_ref(d, g, in, n);
        CHECK(d[0] == 0.5f && d[1] == 0.5f && d[2] == 0.5f && d[4] == 1.5f && d[5] == 1.5f && d[6] == 0.5f &&
                  d[7] == 0.5f && d[8] == 0.5f && d[10] == 1.5f && d[11] == 0.5f,
              "relu6 backward mask at 0 / 6 / NaN (fast=%d)", fast);
    }
    /* Same values in both paths. Not the same bits: the sign of a zero result is unspecified
     * (clang for wasm compiles the reference's `x < 0 ? 0 : x` to f32.max, which gives +0 for -0;
     * the SIMD path keeps -0). */
    wt_relu_forward_ref(r, in, n);
    wt_relu_forward(pools[3], f, in, n);
    CHECK(same_values(f, r, n), "relu special values: fast and ref differ");
    wt_relu6_forward_ref(r, in, n);
    wt_relu6_forward(pools[3], f, in, n);
    CHECK(same_values(f, r, n), "relu6 special values: fast and ref differ");
}

/* NULL gradient buffers are skipped (no crash, nothing else written). */
static void test_null_grads(void) {
    float x[9] = {1, -1, 2, -2, 3, 7, -4, 5, 0.5f}, g[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    wt_relu_backward(pools[2], NULL, g, x, 9);
    wt_relu6_backward(pools[2], NULL, g, x, 9);
    wt_axpy(pools[2], NULL, 1.0f, g, 9);
    wt_gap_backward(pools[2], NULL, g, 1, 3, 3);
    wt_relu_backward_ref(NULL, g, x, 9);
    wt_relu6_backward_ref(NULL, g, x, 9);
    wt_axpy_ref(NULL, 1.0f, g, 9);
    wt_gap_backward_ref(NULL, g, 1, 3, 3);
    /* n == 0 touches nothing either */
    wt_relu_forward(pools[2], NULL, NULL, 0);
    wt_add_forward(pools[2], NULL, NULL, NULL, 0);
    wt_axpy(pools[2], g, 2.0f, NULL, 0);
    CHECK(g[0] == 1.0f, "n == 0 wrote");
}

/* ---------------------------------------------------------------------------------------------
 * Finite differences: loss = sum w * f(x), the gradient from backward with d_out = w.
 * ------------------------------------------------------------------------------------------- */
typedef struct ew_loss {
    int op, fast;
    wt_pool* pool;
    float *x, *x2, *out, *w;
    size_t n;
    int gap_n, gap_hw, gap_c;
} ew_loss;

enum { L_RELU, L_RELU6, L_ADD_A, L_ADD_B, L_AXPY, L_GAP };

static double ew_loss_fn(void* ctx) {
    ew_loss* L = (ew_loss*)ctx;
    size_t nout = L->n;
    switch (L->op) {
    case L_RELU:
        L->fast ? wt_relu_forward(L->pool, L->out, L->x, L->n) : wt_relu_forward_ref(L->out, L->x, L->n);
        break;
    case L_RELU6:
        L->fast ? wt_relu6_forward(L->pool, L->out, L->x, L->n) : wt_relu6_forward_ref(L->out, L->x, L->n);
        break;
    case L_ADD_A:
        L->fast ? wt_add_forward(L->pool, L->out, L->x, L->x2, L->n)
                : wt_add_forward_ref(L->out, L->x, L->x2, L->n);
        break;
    case L_ADD_B:
        L->fast ? wt_add_forward(L->pool, L->out, L->x2, L->x, L->n)
                : wt_add_forward_ref(L->out, L->x2, L->x, L->n);
        break;
    case L_AXPY: /* out = x2 - 0.75 * x */
        memcpy(L->out, L->x2, L->n * sizeof(float));
        L->fast ? wt_axpy(L->pool, L->out, -0.75f, L->x, L->n) : wt_axpy_ref(L->out, -0.75f, L->x, L->n);
        break;
    case L_GAP:
        nout = (size_t)L->gap_n * L->gap_c;
        L->fast ? wt_gap_forward(L->pool, L->out, L->x, L->gap_n, L->gap_hw, L->gap_c)
                : wt_gap_forward_ref(L->out, L->x, L->gap_n, L->gap_hw, L->gap_c);
        break;
    }
    return wt_dot_loss(L->out, L->w, nout);
}

static void test_gradcheck(void) {
    static const char* names[] = {"relu", "relu6", "add(a)", "add(b)", "axpy", "gap"};
    wt_rng rng = {29};
    const float h = 1e-2f;
    for (int fast = 0; fast < 2; fast++) {
        for (int op = L_RELU; op <= L_GAP; op++) {
            ew_loss L = {op, fast, fast ? pools[2] : NULL, NULL, NULL, NULL, NULL, 0, 3, 5, 7};
            const size_t n = op == L_GAP ? (size_t)L.gap_n * L.gap_hw * L.gap_c : 37;
            const size_t nout = op == L_GAP ? (size_t)L.gap_n * L.gap_c : n;
            L.n = n;
            L.x = wt_test_alloc(n), L.x2 = wt_test_alloc(n), L.out = wt_test_alloc(n),
            L.w = wt_test_alloc(nout);
            float* grad = wt_test_alloc(n);
            fill_off_kinks(&rng, L.x, n, -3.0f, 9.0f, 4.0f * h);
            wt_rng_fill(&rng, L.x2, n, -1.0f, 1.0f);
            wt_rng_fill(&rng, L.w, nout, -1.0f, 1.0f);
            /* analytic gradient of sum w * f(x) wrt x: backward with d_out = w into zeros */
            switch (op) {
            case L_RELU:
                fast ? wt_relu_backward(L.pool, grad, L.w, L.x, n) : wt_relu_backward_ref(grad, L.w, L.x, n);
                break;
            case L_RELU6:
                fast ? wt_relu6_backward(L.pool, grad, L.w, L.x, n)
                     : wt_relu6_backward_ref(grad, L.w, L.x, n);
                break;
            case L_ADD_A:
            case L_ADD_B: /* add's backward is axpy with alpha 1 into each input */
                fast ? wt_axpy(L.pool, grad, 1.0f, L.w, n) : wt_axpy_ref(grad, 1.0f, L.w, n);
                break;
            case L_AXPY:
                fast ? wt_axpy(L.pool, grad, -0.75f, L.w, n) : wt_axpy_ref(grad, -0.75f, L.w, n);
                break;
            case L_GAP:
                fast ? wt_gap_backward(L.pool, grad, L.w, L.gap_n, L.gap_hw, L.gap_c)
                     : wt_gap_backward_ref(grad, L.w, L.gap_n, L.gap_hw, L.gap_c);
                break;
            }
            const double e = wt_gradcheck(L.x, grad, n, h, ew_loss_fn, &L, 1e-2);
            CHECK(e <= 1e-2, "gradcheck %s (fast=%d): rel err %g", names[op], fast, e);
            free(L.x), free(L.x2), free(L.out), free(L.w), free(grad);
        }
    }
}

/* Backward accumulates: with the buffer pre-filled with g0, the result is g0 + (result from zero). */
static void test_accumulate(void) {
    wt_rng rng = {5};
    const size_t n = 4099;
    float *x = wt_test_alloc(n), *g = wt_test_alloc(n), *g0 = wt_test_alloc(n);
    float *from0 = wt_test_alloc(n), *acc = wt_test_alloc(n), *expect = wt_test_alloc(n);
    wt_rng_fill(&rng, x, n, -2.0f, 8.0f);
    wt_rng_fill(&rng, g, n, -1.0f, 1.0f);
    wt_rng_fill(&rng, g0, n, -4.0f, 4.0f);
    for (int fast = 0; fast < 2; fast++) {
        for (int op = 0; op < 4; op++) {
            const char* name[] = {"relu_bwd", "relu6_bwd", "axpy", "gap_bwd"};
            const int gn = 3, ghw = 1366, gc = 1; /* 3 * 1366 * 1 = 4098 <= n */
            memset(from0, 0, n * sizeof(float));
            memcpy(acc, g0, n * sizeof(float));
            for (int pass = 0; pass < 2; pass++) {
                float* y = pass ? acc : from0;
                wt_pool* pool = fast ? pools[3] : NULL;
                switch (op) {
                case 0: fast ? wt_relu_backward(pool, y, g, x, n) : wt_relu_backward_ref(y, g, x, n); break;
                case 1: fast ? wt_relu6_backward(pool, y, g, x, n) : wt_relu6_backward_ref(y, g, x, n); break;
                case 2: fast ? wt_axpy(pool, y, 1.5f, g, n) : wt_axpy_ref(y, 1.5f, g, n); break;
                case 3:
                    fast ? wt_gap_backward(pool, y, g, gn, ghw, gc) : wt_gap_backward_ref(y, g, gn, ghw, gc);
                    break;
                }
            }
            for (size_t i = 0; i < n; i++) expect[i] = g0[i] + from0[i];
            const double e = wt_max_rel_err(acc, expect, n, 1e-3);
            CHECK(e <= 1e-6, "%s (fast=%d) does not accumulate: rel err %g", name[op], fast, e);
        }
    }
    free(x), free(g), free(g0), free(from0), free(acc), free(expect);
}

/* ---------------------------------------------------------------------------------------------
 * Global average pooling, fast vs reference and across pools.
 * ------------------------------------------------------------------------------------------- */
static void gap_case(wt_rng* rng, int n, int hw, int c) {
    const size_t nin = (size_t)n * hw * c, nout = (size_t)n * c;
    float *in = wt_test_alloc(nin), *dout = wt_test_alloc(nout), *g0 = wt_test_alloc(nin);
    float *outr = wt_test_alloc(nout), *outf = wt_test_alloc(nout);
    float *dr = wt_test_alloc(nin), *df = wt_test_alloc(nin);
    wt_rng_fill(rng, in, nin, -2.0f, 3.0f);
    wt_rng_fill(rng, dout, nout, -1.0f, 1.0f);
    wt_rng_fill(rng, g0, nin, -1.0f, 1.0f);
    wt_gap_forward_ref(outr, in, n, hw, c);
    memcpy(dr, g0, nin * sizeof(float));
    wt_gap_backward_ref(dr, dout, n, hw, c);
    for (int p = 0; p < 4; p++) {
        for (size_t i = 0; i < nout; i++) outf[i] = NAN;
        wt_gap_forward(pools[p], outf, in, n, hw, c);
        memcpy(df, g0, nin * sizeof(float));
        wt_gap_backward(pools[p], df, dout, n, hw, c);
        /* same sums in the same order: exact */
        CHECK(wt_bit_equal(outf, outr, nout),
              "gap forward n=%d hw=%d c=%d threads=%d differs from ref (rel %g)", n, hw, c, pool_threads[p],
              wt_max_rel_err(outf, outr, nout, 1e-3));
        CHECK(wt_bit_equal(df, dr, nin), "gap backward n=%d hw=%d c=%d threads=%d differs from ref (rel %g)",
              n, hw, c, pool_threads[p], wt_max_rel_err(df, dr, nin, 1e-3));
    }
    /* a hand check of one entry */
    double s = 0.0;
    for (int i = 0; i < hw; i++) s += in[((size_t)(n - 1) * hw + i) * c + (c - 1)];
    CHECK(fabs(outr[nout - 1] - s / hw) <= 1e-5 * (1.0 + fabs(s / hw)), "gap mean n=%d hw=%d c=%d", n, hw, c);
    free(in), free(dout), free(g0), free(outr), free(outf), free(dr), free(df);
}

static void test_gap(void) {
    wt_rng rng = {77};
    static const int ns[] = {1, 2, 3, 5};
    static const int hws[] = {1, 3, 7, 49};
    for (size_t a = 0; a < COUNT(ns); a++)
        for (size_t b = 0; b < COUNT(hws); b++)
            for (size_t k = 0; k < COUNT(channels); k++) gap_case(&rng, ns[a], hws[b], channels[k]);
    /* sizes that split over the pool, channel tiles with a partial last vector */
    gap_case(&rng, 7, 49, 1027);
    gap_case(&rng, 32, 49, 1024);
    gap_case(&rng, 3, 196, 67);
    gap_case(&rng, 2, 1000, 5);
}

int main(void) {
    for (int p = 1; p < 4; p++) {
        pools[p] = wt_pool_create(pool_threads[p]);
        CHECK(pools[p] != NULL, "pool of %d threads", pool_threads[p]);
        if (!pools[p]) return wt_test_summary();
    }
    test_elementwise_vs_ref();
    test_special_values();
    test_null_grads();
    test_gradcheck();
    test_accumulate();
    test_gap();
    for (int p = 1; p < 4; p++) wt_pool_destroy(pools[p]);
    return wt_test_summary();
}
