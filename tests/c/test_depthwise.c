/* test_depthwise.c: the fast depthwise convolution against the scalar reference, over channel counts
 * and shapes that are not multiples of 4 or of any tile; bit-identical results for 1, 2 and 3
 * threads; accumulate semantics; NULL gradients; and finite-difference gradient checks of both. */
#include "ops.h"
#include "wt_test.h"

typedef struct shape {
    int h, w, kh, kw, stride, pt, pb, pl, pr;
} shape;

/* Spatial cases: ones, odd sizes, primes, strides 1/2/3, SAME on even input with stride 2
 * (pad_top 0, bottom 1), pads larger than the interior, 1x1, 5x5 and 3x1 kernels. */
static const shape SHAPES[] = {
    {1, 1, 3, 3, 1, 1, 1, 1, 1},   {5, 7, 3, 3, 1, 1, 1, 1, 1},   {7, 5, 3, 3, 2, 1, 1, 1, 1},
    {8, 8, 3, 3, 2, 0, 1, 0, 1},   {13, 11, 3, 3, 1, 0, 0, 0, 0}, {6, 9, 3, 3, 2, 0, 0, 0, 0},
    {11, 13, 1, 1, 1, 0, 0, 0, 0}, {9, 7, 1, 1, 2, 0, 0, 0, 0},   {9, 11, 5, 5, 1, 2, 2, 2, 2},
    {10, 9, 5, 5, 2, 1, 2, 2, 1},  {7, 6, 3, 1, 1, 1, 1, 0, 0},   {2, 3, 3, 3, 2, 1, 1, 1, 1},
    {17, 3, 3, 3, 1, 1, 1, 1, 1},  {1, 9, 3, 3, 2, 1, 1, 1, 1},   {3, 3, 3, 3, 1, 2, 2, 2, 2},
    {10, 11, 3, 3, 3, 1, 1, 1, 1}, {4, 4, 3, 3, 1, 1, 1, 1, 1},   {12, 14, 3, 3, 2, 0, 1, 0, 1},
};
static const int CHANNELS[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static wt_conv_dims make_dims(int n, int c, const shape* s) {
    wt_conv_dims d;
    d.n = n;
    d.in_h = s->h;
    d.in_w = s->w;
    d.in_c = c;
    d.out_c = c;
    d.k_h = s->kh;
    d.k_w = s->kw;
    d.stride = s->stride;
    d.pad_top = s->pt;
    d.pad_left = s->pl;
    d.out_h = (s->h + s->pt + s->pb - s->kh) / s->stride + 1;
    d.out_w = (s->w + s->pl + s->pr - s->kw) / s->stride + 1;
    return d;
}

static wt_pool* pools[4]; /* NULL, then 1, 2 and 3 threads */

static float* dup(const float* x, size_t n) {
    float* y = wt_test_alloc(n);
    memcpy(y, x, n * sizeof(float));
    return y;
}

static void fill_nan(float* x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = NAN;
}

/* Multiples of 1/16 in [-1, 1]: products are multiples of 1/256 and every sum here is exact in
 * float, so the fast kernels must match the reference to the bit whatever their summation order. */
static void fill_dyadic(wt_rng* rng, float* x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((int)(wt_rng_u32(rng) % 33u) - 16) / 16.0f;
}

/* Compares fast with reference results. Random data: sums of many O(1) terms in another order
 * differ by a few ulps of the terms, so near-zero results (typical after accumulating into a
 * pre-filled gradient) are compared with a floor of 1. Dyadic data: exact, floor 1e-3. */
static void check_case(const wt_conv_dims* d, wt_rng* rng, int dyadic) {
    const size_t n_in = (size_t)d->n * d->in_h * d->in_w * d->in_c;
    const size_t n_out = (size_t)d->n * d->out_h * d->out_w * d->in_c;
    const size_t n_w = (size_t)d->k_h * d->k_w * d->in_c, n_b = (size_t)d->in_c;
    const size_t n_ws = wt_depthwise_workspace_floats(d);
    char tag[160];
    snprintf(tag, sizeof tag, "%s n%d %dx%dx%d k%dx%d s%d pad t%d l%d -> %dx%d", dyadic ? "dyadic" : "random", d->n, d->in_h, d->in_w,
             d->in_c, d->k_h, d->k_w, d->stride, d->pad_top, d->pad_left, d->out_h, d->out_w);

    float *in = wt_test_alloc(n_in), *w = wt_test_alloc(n_w), *b = wt_test_alloc(n_b);
    float* g = wt_test_alloc(n_out);
    float *pre_in = wt_test_alloc(n_in), *pre_w = wt_test_alloc(n_w), *pre_b = wt_test_alloc(n_b);
    float* all[] = {in, w, b, g, pre_in, pre_w, pre_b};
    size_t sizes[] = {n_in, n_w, n_b, n_out, n_in, n_w, n_b};
    for (int i = 0; i < 7; i++) {
        if (dyadic)
            fill_dyadic(rng, all[i], sizes[i]);
        else
            wt_rng_fill(rng, all[i], sizes[i], -1, 1);
    }
    const double floor_ = dyadic ? 1e-3 : 1.0;
    float* ws = wt_test_alloc(n_ws); /* exact size: ASan catches overruns */
    fill_nan(ws, n_ws);               /* scratch: kernels must not rely on its contents */

    /* forward, with and without bias */
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        const float* bias = with_bias ? b : NULL;
        float *ref = wt_test_alloc(n_out), *fast = wt_test_alloc(n_out), *other = wt_test_alloc(n_out);
        wt_depthwise_forward_ref(ref, in, w, bias, d);
        fill_nan(fast, n_out);
        wt_depthwise_forward(NULL, ws, fast, in, w, bias, d);
        double e = wt_max_rel_err(fast, ref, n_out, 1e-3);
        CHECK(e < 1e-5, "%s bias=%d forward rel err %g", tag, with_bias, e);
        for (int p = 1; p < 4; p++) {
            fill_nan(other, n_out);
            wt_depthwise_forward(pools[p], ws, other, in, w, bias, d);
            CHECK(wt_bit_equal(other, fast, n_out), "%s bias=%d forward differs with %d threads", tag,
                  with_bias, p);
        }
        /* with the ReLU6 clamp (inference-mode folding): the bits of forward then relu6 */
        wt_relu6_forward_ref(fast, fast, n_out);
        for (int p = 0; p < 4; p++) {
            fill_nan(other, n_out);
            wt_depthwise_forward_relu6(pools[p], ws, other, in, w, bias, d);
            CHECK(wt_bit_equal(other, fast, n_out), "%s bias=%d forward+relu6 (pool %d) differs from forward then relu6",
                  tag, with_bias, p);
        }
        free(ref);
        free(fast);
        free(other);
    }

    /* backward accumulates into pre-filled gradients */
    float *r_in = dup(pre_in, n_in), *r_w = dup(pre_w, n_w), *r_b = dup(pre_b, n_b);
    wt_depthwise_backward_ref(r_in, r_w, r_b, g, in, w, d);
    float *f_in = dup(pre_in, n_in), *f_w = dup(pre_w, n_w), *f_b = dup(pre_b, n_b);
    wt_depthwise_backward(NULL, ws, f_in, f_w, f_b, g, in, w, d);
    double e_in = wt_max_rel_err(f_in, r_in, n_in, floor_);
    double e_w = wt_max_rel_err(f_w, r_w, n_w, floor_);
    double e_b = wt_max_rel_err(f_b, r_b, n_b, floor_);
    CHECK(e_in < 1e-5, "%s d_in rel err %g", tag, e_in);
    CHECK(e_w < 1e-5, "%s d_weight rel err %g", tag, e_w);
    CHECK(e_b < 1e-5, "%s d_bias rel err %g", tag, e_b);
    for (int p = 1; p < 4; p++) {
        float *o_in = dup(pre_in, n_in), *o_w = dup(pre_w, n_w), *o_b = dup(pre_b, n_b);
        wt_depthwise_backward(pools[p], ws, o_in, o_w, o_b, g, in, w, d);
        CHECK(wt_bit_equal(o_in, f_in, n_in) && wt_bit_equal(o_w, f_w, n_w) && wt_bit_equal(o_b, f_b, n_b),
              "%s backward differs with %d threads", tag, p);
        free(o_in);
        free(o_w);
        free(o_b);
    }

    /* NULL gradients are skipped; each remaining one is as in the full call */
    for (int mask = 0; mask < 8; mask++) {
        float *o_in = dup(pre_in, n_in), *o_w = dup(pre_w, n_w), *o_b = dup(pre_b, n_b);
        wt_pool* pool = pools[1 + mask % 3];
        wt_depthwise_backward(pool, ws, (mask & 1) ? o_in : NULL, (mask & 2) ? o_w : NULL,
                              (mask & 4) ? o_b : NULL, g, in, w, d);
        CHECK(wt_bit_equal(o_in, (mask & 1) ? f_in : pre_in, n_in) &&
                  wt_bit_equal(o_w, (mask & 2) ? f_w : pre_w, n_w) &&
                  wt_bit_equal(o_b, (mask & 4) ? f_b : pre_b, n_b),
              "%s fast backward with NULL mask %d", tag, mask);
        memcpy(o_in, pre_in, n_in * sizeof(float));
        memcpy(o_w, pre_w, n_w * sizeof(float));
        memcpy(o_b, pre_b, n_b * sizeof(float));
        wt_depthwise_backward_ref((mask & 1) ? o_in : NULL, (mask & 2) ? o_w : NULL,
                                  (mask & 4) ? o_b : NULL, g, in, w, d);
        CHECK(wt_bit_equal(o_in, (mask & 1) ? r_in : pre_in, n_in) &&
                  wt_bit_equal(o_w, (mask & 2) ? r_w : pre_w, n_w) &&
                  wt_bit_equal(o_b, (mask & 4) ? r_b : pre_b, n_b),
              "%s ref backward with NULL mask %d", tag, mask);
        free(o_in);
        free(o_w);
        free(o_b);
    }

    free(r_in); free(r_w); free(r_b);
    free(f_in); free(f_w); free(f_b);
    free(in); free(w); free(b); free(g);
    free(pre_in); free(pre_w); free(pre_b);
    free(ws);
}

/* ---- finite-difference gradient checks ---- */
typedef struct gc_ctx {
    const wt_conv_dims* d;
    int fast;
    float *in, *w, *b, *out, *ws;
    const float* g;
    size_t n_out;
} gc_ctx;

static double gc_loss(void* p) {
    gc_ctx* x = (gc_ctx*)p;
    if (x->fast)
        wt_depthwise_forward(pools[2], x->ws, x->out, x->in, x->w, x->b, x->d);
    else
        wt_depthwise_forward_ref(x->out, x->in, x->w, x->b, x->d);
    return wt_dot_loss(x->out, x->g, x->n_out);
}

static void gradcheck_case(const wt_conv_dims* d, int fast, wt_rng* rng) {
    const size_t n_in = (size_t)d->n * d->in_h * d->in_w * d->in_c;
    const size_t n_out = (size_t)d->n * d->out_h * d->out_w * d->in_c;
    const size_t n_w = (size_t)d->k_h * d->k_w * d->in_c, n_b = (size_t)d->in_c;
    gc_ctx x = {d, fast, wt_test_alloc(n_in), wt_test_alloc(n_w), wt_test_alloc(n_b),
                wt_test_alloc(n_out), wt_test_alloc(wt_depthwise_workspace_floats(d)),
                wt_test_alloc(n_out), n_out};
    wt_rng_fill(rng, x.in, n_in, -1, 1);
    wt_rng_fill(rng, x.w, n_w, -1, 1);
    wt_rng_fill(rng, x.b, n_b, -1, 1);
    wt_rng_fill(rng, (float*)x.g, n_out, -1, 1);
    float *a_in = wt_test_alloc(n_in), *a_w = wt_test_alloc(n_w), *a_b = wt_test_alloc(n_b);
    if (fast)
        wt_depthwise_backward(pools[2], x.ws, a_in, a_w, a_b, x.g, x.in, x.w, d);
    else
        wt_depthwise_backward_ref(a_in, a_w, a_b, x.g, x.in, x.w, d);
    double e_in = wt_gradcheck(x.in, a_in, n_in, 1e-2f, gc_loss, &x, 1e-2);
    double e_w = wt_gradcheck(x.w, a_w, n_w, 1e-2f, gc_loss, &x, 1e-2);
    double e_b = wt_gradcheck(x.b, a_b, n_b, 1e-2f, gc_loss, &x, 1e-2);
    const char* name = fast ? "fast" : "ref";
    CHECK(e_in < 1e-2, "%s gradcheck d_in %g (c%d k%dx%d s%d)", name, e_in, d->in_c, d->k_h, d->k_w, d->stride);
    CHECK(e_w < 1e-2, "%s gradcheck d_weight %g (c%d k%dx%d s%d)", name, e_w, d->in_c, d->k_h, d->k_w, d->stride);
    CHECK(e_b < 1e-2, "%s gradcheck d_bias %g (c%d k%dx%d s%d)", name, e_b, d->in_c, d->k_h, d->k_w, d->stride);
    free(x.in); free(x.w); free(x.b); free(x.out); free(x.ws); free((float*)x.g);
    free(a_in); free(a_w); free(a_b);
}

int main(void) {
    pools[0] = NULL;
    for (int p = 1; p < 4; p++) {
        pools[p] = wt_pool_create(p);
        CHECK(pools[p] != NULL, "pool of %d threads", p);
        if (!pools[p]) return wt_test_summary();
    }
    wt_rng rng = {12345};

    int batch = 1;
    for (size_t ci = 0; ci < NELEM(CHANNELS); ci++)
        for (size_t si = 0; si < NELEM(SHAPES); si++) {
            wt_conv_dims d = make_dims(batch, CHANNELS[ci], &SHAPES[si]);
            batch = batch % 3 + 1;
            check_case(&d, &rng, 0);
            check_case(&d, &rng, 1);
        }

    /* kernels with more taps than one tap list (7x7: 49, 6x5: 30 plus stride phases), and more
     * output rows than d_weight's row chunks (111 rows: several rows per chunk) */
    {
        static const struct { int n, c; shape s; } extra[] = {
            {2, 5, {9, 8, 7, 7, 1, 3, 3, 3, 3}},
            {1, 6, {11, 10, 7, 7, 2, 3, 2, 2, 3}},
            {2, 9, {8, 9, 6, 5, 1, 2, 3, 2, 2}},
            {3, 13, {37, 5, 3, 3, 1, 1, 1, 1, 1}},
            {2, 7, {40, 6, 3, 3, 2, 0, 1, 0, 1}},
        };
        for (size_t i = 0; i < NELEM(extra); i++) {
            wt_conv_dims d = make_dims(extra[i].n, extra[i].c, &extra[i].s);
            check_case(&d, &rng, 0);
            check_case(&d, &rng, 1);
        }
    }

    /* a MobileNet-like block: wide channels, stride 1 and 2 */
    {
        static const shape big[] = {{15, 15, 3, 3, 1, 1, 1, 1, 1}, {16, 16, 3, 3, 2, 0, 1, 0, 1}};
        for (size_t i = 0; i < NELEM(big); i++) {
            wt_conv_dims d = make_dims(2, 72, &big[i]);
            check_case(&d, &rng, 0);
            check_case(&d, &rng, 1);
        }
    }

    static const struct { int n, c; shape s; } gc[] = {
        {2, 5, {6, 5, 3, 3, 2, 0, 1, 0, 1}},
        {1, 3, {4, 4, 3, 3, 1, 1, 1, 1, 1}},
        {1, 6, {7, 5, 5, 5, 1, 2, 2, 2, 2}},
        {2, 4, {5, 5, 1, 1, 2, 0, 0, 0, 0}},
        {1, 9, {5, 4, 3, 1, 1, 1, 1, 0, 0}},
    };
    for (size_t i = 0; i < NELEM(gc); i++) {
        wt_conv_dims d = make_dims(gc[i].n, gc[i].c, &gc[i].s);
        gradcheck_case(&d, 0, &rng);
        gradcheck_case(&d, 1, &rng);
    }

    for (int p = 1; p < 4; p++) wt_pool_destroy(pools[p]);
    return wt_test_summary();
}
