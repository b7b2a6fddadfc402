/* test_dropout_softmax.c: counter-based random numbers, inverted dropout and softmax cross-entropy.
 *   random:   pinned hash values (the same on every platform), uniform range and mean.
 *   dropout:  keep rate ~ 1 - rate and E[out] = in on a large n; mask identical for pools of 1..3
 *             threads and independent of n; fast == ref bit for bit; rate 0 is the identity;
 *             backward by central finite differences.
 *   softmax:  probs sum to 1; loss vs hand-computed values (smoothing, class weights); gradient vs
 *             central finite differences of an independent double-precision loss and of the
 *             kernel's own loss; += accumulation; logits of 1e4 stay finite. */
#include <float.h>
#include <math.h>

#include "ops.h"
#include "wt_test.h"

/* ---- random -------------------------------------------------------------------------------- */

static void test_random(void) {
    /* Pinned outputs: any platform, compiler or wasm build must give exactly these. */
    static const uint64_t pinned[][3] = {
        {0x0000000000000000ULL, 0x0000000000000000ULL, 0x93118a61ed9e9e14ULL},
        {0x0000000000000000ULL, 0x0000000000000001ULL, 0xd94259df0d440a18ULL},
        {0x0000000000000001ULL, 0x0000000000000000ULL, 0x90287996c3e2222aULL},
        {0x0000000000003039ULL, 0x00000000000002a6ULL, 0x2ff87431e7da5d6fULL},
        {0xffffffffffffffffULL, 0xfffffffffffffffeULL, 0x16950af42f95cb9cULL},
    };
    for (size_t i = 0; i < sizeof pinned / sizeof pinned[0]; i++) {
        uint64_t h = wt_hash64(pinned[i][0], pinned[i][1]);
        CHECK(h == pinned[i][2], "wt_hash64 #%zu = 0x%016llx", i, (unsigned long long)h);
        float u = wt_uniform(pinned[i][0], pinned[i][1]);
        CHECK(u == (float)(pinned[i][2] >> 40) / 16777216.0f, "wt_uniform #%zu = %.9g", i, u);
    }
    const size_t n = 1 << 18;
    double sum = 0;
    int in_range = 1;
    for (uint64_t seed = 0; seed < 3; seed++)
        for (size_t i = 0; i < n; i++) {
            float u = wt_uniform(seed, i);
            if (!(u >= 0.0f && u < 1.0f)) in_range = 0;
            sum += u;
        }
    const double mean = sum / (3.0 * n);
    CHECK(in_range, "wt_uniform out of [0, 1)");
    CHECK(fabs(mean - 0.5) < 5 * sqrt(1.0 / 12 / (3.0 * n)), "wt_uniform mean %g", mean);
    /* adjacent seeds are not shifted copies of one another */
    int shifted = 0;
    for (uint64_t i = 0; i < 64; i++) shifted += wt_hash64(1, i) == wt_hash64(0, i + 1);
    CHECK(shifted == 0, "seed 1 is seed 0 shifted (%d)", shifted);
}

/* ---- dropout ------------------------------------------------------------------------------- */

static void test_dropout_statistics(wt_pool* pool) {
    const size_t n = (1 << 20) + 3;
    float* in = wt_test_alloc(n);
    float* out = wt_test_alloc(n);
    uint8_t* keep = (uint8_t*)malloc(n);
    for (size_t i = 0; i < n; i++) in[i] = 1.0f;
    const float rates[] = {0.1f, 0.3f, 0.5f, 0.9f};
    for (int r = 0; r < 4; r++) {
        const float rate = rates[r];
        wt_dropout_forward(pool, out, keep, in, rate, 42 + r, n);
        size_t kept = 0;
        double sum = 0;
        int consistent = 1;
        for (size_t i = 0; i < n; i++) {
            kept += keep[i];
            sum += out[i];
            if (keep[i] > 1 || (keep[i] ? out[i] != 1.0f / (1.0f - rate) : out[i] != 0.0f)) consistent = 0;
        }
        const double p = 1.0 - rate, frac = (double)kept / n, mean = sum / n;
        const double sd_frac = sqrt(p * (1 - p) / n), sd_mean = sqrt((1 - p) / p / n);
        CHECK(fabs(frac - p) < 5 * sd_frac, "rate %g: kept fraction %g", rate, frac);
        CHECK(fabs(mean - 1.0) < 5 * sd_mean, "rate %g: E[out] = %g, want 1", rate, mean);
        CHECK(consistent, "rate %g: out does not match keep", rate);
    }
    free(in);
    free(out);
    free(keep);
}

static void test_dropout_determinism(wt_pool** pools, int n_pools) {
    static const size_t sizes[] = {1, 3, 5, 15, 16, 17, 1023, 4099, 70001};
    wt_rng rng = {21};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const size_t n = sizes[s];
        float* in = wt_test_alloc(n);
        float* out_ref = wt_test_alloc(n);
        uint8_t* keep_ref = (uint8_t*)malloc(n);
        float* d_out = wt_test_alloc(n);
        float* d_in0 = wt_test_alloc(n);
        float* d_ref = wt_test_alloc(n);
        wt_rng_fill(&rng, in, n, -2.0f, 2.0f);
        wt_rng_fill(&rng, d_out, n, -1.0f, 1.0f);
        wt_rng_fill(&rng, d_in0, n, -1.0f, 1.0f);
        for (size_t i = 0; i < n; i += 3) d_in0[i] = -0.0f; /* a dropped -0 must stay -0 */
        if (n > 2) in[2] = NAN; /* dropped or scaled, never spreads */
        for (int r = 0; r < 3; r++) {
            const float rate = r == 0 ? 0.0f : r == 1 ? 0.25f : 0.5f;
            const uint64_t seed = 1000 + s * 7 + r;
            wt_dropout_forward_ref(out_ref, keep_ref, in, rate, seed, n);
            memcpy(d_ref, d_in0, n * sizeof(float));
            wt_dropout_backward_ref(d_ref, d_out, keep_ref, rate, n);
            for (int p = 0; p < n_pools; p++) {
                float* out = wt_test_alloc(n);
                uint8_t* keep = (uint8_t*)malloc(n);
                float* d = wt_test_alloc(n);
                wt_dropout_forward(pools[p], out, keep, in, rate, seed, n);
                memcpy(d, d_in0, n * sizeof(float));
                wt_dropout_backward(pools[p], d, d_out, keep, rate, n);
                CHECK(memcmp(keep, keep_ref, n) == 0, "n=%zu rate=%g pool=%d: mask differs", n, rate, p);
                CHECK(wt_bit_equal(out, out_ref, n), "n=%zu rate=%g pool=%d: forward differs", n, rate, p);
                CHECK(wt_bit_equal(d, d_ref, n), "n=%zu rate=%g pool=%d: backward differs", n, rate, p);
                free(out);
                free(keep);
                free(d);
            }
            if (rate == 0.0f) {
                int ident = 1;
                for (size_t i = 0; i < n; i++) ident &= keep_ref[i] == 1;
                CHECK(ident && wt_bit_equal(out_ref, in, n), "n=%zu: rate 0 is not the identity", n);
            } else {
                for (size_t i = 0; i < n; i++)
                    if (keep_ref[i] != (wt_uniform(seed, i) >= rate)) {
                        CHECK(0, "n=%zu rate=%g: keep[%zu] != (wt_uniform >= rate)", n, rate, i);
                        break;
                    }
            }
        }
        free(in);
        free(out_ref);
        free(keep_ref);
        free(d_out);
        free(d_in0);
        free(d_ref);
    }
    /* the mask is a function of (seed, i) alone: a shorter tensor sees a prefix of a longer one's mask */
    enum { BIG = 20000, SMALL = 777 };
    float* in = wt_test_alloc(BIG);
    float* out = wt_test_alloc(BIG);
    uint8_t* kb = (uint8_t*)malloc(BIG);
    uint8_t* ks = (uint8_t*)malloc(SMALL);
    wt_dropout_forward(pools[n_pools - 1], out, kb, in, 0.5f, 99, BIG);
    wt_dropout_forward(NULL, out, ks, in, 0.5f, 99, SMALL);
    CHECK(memcmp(kb, ks, SMALL) == 0, "mask depends on n");
    wt_dropout_forward(NULL, out, ks, in, 0.5f, 100, SMALL);
    CHECK(memcmp(kb, ks, SMALL) != 0, "seeds 99 and 100 give the same mask");
    free(in);
    free(out);
    free(kb);
    free(ks);
}

typedef struct dropout_fd {
    float* out;
    uint8_t* keep;
    const float* in;
    const float* w;
    float rate;
    uint64_t seed;
    size_t n;
} dropout_fd;

static double dropout_loss(void* ctx) {
    dropout_fd* c = (dropout_fd*)ctx;
    wt_dropout_forward(NULL, c->out, c->keep, c->in, c->rate, c->seed, c->n);
    return wt_dot_loss(c->out, c->w, c->n);
}

static void test_dropout_gradcheck(wt_pool* pool) {
    enum { N = 203 };
    float in[N], w[N], out[N], grad[N];
    uint8_t keep[N];
    wt_rng rng = {31};
    wt_rng_fill(&rng, in, N, -1.0f, 1.0f);
    wt_rng_fill(&rng, w, N, -1.0f, 1.0f);
    const float rates[] = {0.0f, 0.2f, 0.7f};
    for (int r = 0; r < 3; r++) {
        wt_dropout_forward(pool, out, keep, in, rates[r], 5, N);
        memset(grad, 0, sizeof grad);
        wt_dropout_backward(pool, grad, w, keep, rates[r], N); /* d_out = w for loss = sum out*w */
        dropout_fd c = {out, keep, in, w, rates[r], 5, N};
        double e = wt_gradcheck(in, grad, N, 1.0f / 64, dropout_loss, &c, 1e-3);
        CHECK(e < 1e-4, "dropout rate %g: gradcheck error %g", rates[r], e);
    }
    /* NULL d_in is skipped */
    wt_dropout_backward(pool, NULL, w, keep, 0.5f, N);
    wt_dropout_backward_ref(NULL, w, keep, 0.5f, N);
}

/* ---- softmax cross-entropy ----------------------------------------------------------------- */

/* Independent double-precision loss (the definition written directly, log of the probability). */
static double xent_double(const float* logits, const int* labels, int n, int k, double smoothing,
                          const float* cw) {
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) {
        const float* l = logits + (size_t)i * k;
        double mx = -INFINITY;
        for (int j = 0; j < k; j++) mx = fmax(mx, l[j]);
        double s = 0;
        for (int j = 0; j < k; j++) s += exp(l[j] - mx);
        double li = 0;
        for (int j = 0; j < k; j++) {
            double t = (j == labels[i] ? 1 - smoothing : 0) + smoothing / k;
            li -= t * (l[j] - mx - log(s));
        }
        double wi = cw ? cw[labels[i]] : 1.0;
        num += wi * li;
        den += wi;
    }
    return num / den;
}

typedef struct xent_fd {
    float* logits;
    const int* labels;
    int n, k;
    float smoothing;
    const float* cw;
    int use_kernel;
} xent_fd;

static double xent_loss(void* ctx) {
    xent_fd* c = (xent_fd*)ctx;
    if (c->use_kernel)
        return wt_softmax_xent_ref(NULL, NULL, c->logits, c->labels, c->n, c->k, c->smoothing, c->cw);
    return xent_double(c->logits, c->labels, c->n, c->k, c->smoothing, c->cw);
}

static void test_softmax_values(void) {
    /* logits [1, 2, 3], label 2: loss = log(e + e^2 + e^3) - 3 */
    const float l1[3] = {1, 2, 3};
    const int lab2 = 2;
    const double lse = log(exp(1.0) + exp(2.0) + exp(3.0));
    float probs[3];
    float loss = wt_softmax_xent_ref(probs, NULL, l1, &lab2, 1, 3, 0.0f, NULL);
    CHECK(fabs(loss - (lse - 3)) < 1e-6, "loss %.9g want %.9g", loss, lse - 3);
    for (int j = 0; j < 3; j++)
        CHECK(fabs(probs[j] - exp(j + 1 - lse)) < 1e-7, "prob %d = %.9g", j, probs[j]);
    /* smoothing 0.1: t = [1/30, 1/30, 0.9 + 1/30]; loss = lse - sum t*l = lse - 2.9 */
    loss = wt_softmax_xent_ref(NULL, NULL, l1, &lab2, 1, 3, 0.1f, NULL);
    CHECK(fabs(loss - (lse - (1.0 / 30 + 2.0 / 30 + 3 * (0.9 + 1.0 / 30)))) < 1e-6, "smoothed loss %.9g", loss);
    /* weights: sample 0 is the one above (class 2, weight 2), sample 1 logits 0 with class 0 (weight 0.5) */
    const float l2[6] = {1, 2, 3, 0, 0, 0};
    const int labs[2] = {2, 0};
    const float cw[3] = {0.5f, 7.0f, 2.0f};
    loss = wt_softmax_xent_ref(NULL, NULL, l2, labs, 2, 3, 0.0f, cw);
    const double want = (2.0 * (lse - 3) + 0.5 * log(3.0)) / 2.5;
    CHECK(fabs(loss - want) < 1e-6, "weighted loss %.9g want %.9g", loss, want);
    /* every weight 0: the weighted mean is undefined, the loss is not finite and no gradient is written */
    const float zw[3] = {0, 0, 0};
    float d[6] = {0};
    loss = wt_softmax_xent_ref(NULL, d, l2, labs, 2, 3, 0.0f, zw);
    int untouched = 1;
    for (int j = 0; j < 6; j++) untouched &= d[j] == 0.0f;
    CHECK(!isfinite(loss) && untouched, "zero weights: loss %g", loss);
}

static void test_softmax_random(void) {
    enum { N = 7, K = 13 };
    float logits[N * K], probs[N * K], grad[N * K], grad2[N * K];
    int labels[N];
    float cw[K];
    wt_rng rng = {41};
    wt_rng_fill(&rng, logits, N * K, -3.0f, 3.0f);
    wt_rng_fill(&rng, cw, K, 0.2f, 3.0f);
    for (int i = 0; i < N; i++) labels[i] = (int)(wt_rng_u32(&rng) % K);
    labels[3] = K - 1;
    for (int variant = 0; variant < 4; variant++) {
        const float smoothing = (variant & 1) ? 0.1f : 0.0f;
        const float* w = (variant & 2) ? cw : NULL;
        memset(grad, 0, sizeof grad);
        float loss = wt_softmax_xent_ref(probs, grad, logits, labels, N, K, smoothing, w);
        const double want = xent_double(logits, labels, N, K, smoothing, w);
        CHECK(fabs(loss - want) <= 1e-6 * fabs(want), "variant %d: loss %.9g want %.9g", variant, loss, want);
        double worst_sum = 0, worst_gsum = 0;
        for (int i = 0; i < N; i++) {
            double s = 0, gs = 0;
            for (int j = 0; j < K; j++) {
                s += probs[i * K + j];
                gs += grad[i * K + j];
            }
            worst_sum = fmax(worst_sum, fabs(s - 1));
            worst_gsum = fmax(worst_gsum, fabs(gs));
        }
        CHECK(worst_sum < 1e-6, "variant %d: probs sum off by %g", variant, worst_sum);
        CHECK(worst_gsum < 1e-6, "variant %d: gradient rows do not sum to 0 (%g)", variant, worst_gsum);
        /* h = 2^-10 is exact on logits in [-4, 4], so the difference quotient sees the intended step */
        xent_fd c = {logits, labels, N, K, smoothing, w, 0};
        double e = wt_gradcheck(logits, grad, N * K, 1.0f / 1024, xent_loss, &c, 1e-4);
        CHECK(e < 1e-4, "variant %d: gradient vs double finite differences: %g", variant, e);
        c.use_kernel = 1;
        e = wt_gradcheck(logits, grad, N * K, 1.0f / 64, xent_loss, &c, 1e-3);
        CHECK(e < 2e-2, "variant %d: gradient vs the kernel's own loss: %g", variant, e);
        /* the gradient accumulates, and probs/d_logits are optional */
        for (int j = 0; j < N * K; j++) grad2[j] = 0.5f;
        float loss2 = wt_softmax_xent_ref(NULL, grad2, logits, labels, N, K, smoothing, w);
        float loss3 = wt_softmax_xent_ref(NULL, NULL, logits, labels, N, K, smoothing, w);
        double worst = 0;
        for (int j = 0; j < N * K; j++) worst = fmax(worst, fabs((grad2[j] - 0.5f) - grad[j]));
        CHECK(worst < 1e-7 && loss2 == loss && loss3 == loss, "variant %d: accumulate %g", variant, worst);
    }
}

static void test_softmax_large(void) {
    enum { N = 4, K = 5 };
    float logits[N * K], probs[N * K], grad[N * K] = {0};
    const int labels[N] = {0, 1, 4, 2};
    wt_rng rng = {51};
    wt_rng_fill(&rng, logits, N * K, -1e4f, 1e4f);
    logits[0] = 1e4f;         /* sample 0: its label is the (unique) max, loss ~ 0 */
    logits[K + 1] = -1e4f;    /* sample 1: its label is far below the max, loss ~ 1e4 */
    for (int variant = 0; variant < 2; variant++) {
        const float smoothing = variant ? 0.2f : 0.0f;
        float loss = wt_softmax_xent_ref(probs, grad, logits, labels, N, K, smoothing, NULL);
        const double want = xent_double(logits, labels, N, K, smoothing, NULL);
        CHECK(isfinite(loss) && fabs(loss - want) <= 1e-6 * fabs(want), "large logits: loss %g want %g", loss, want);
        CHECK(wt_all_finite(probs, N * K) && wt_all_finite(grad, N * K), "large logits: non-finite probs/grad");
    }
    const float one[K] = {1e4f, 0, 0, 0, -1e4f};
    const int lab0 = 0;
    float loss = wt_softmax_xent_ref(probs, NULL, one, &lab0, 1, K, 0.0f, NULL);
    CHECK(loss >= 0.0f && loss < 1e-6f && probs[0] == 1.0f, "confident sample: loss %g p %g", loss, probs[0]);
}

int main(void) {
    wt_pool* pools[4] = {NULL, wt_pool_create(1), wt_pool_create(2), wt_pool_create(3)};
    CHECK(pools[1] && pools[2] && pools[3], "pool creation failed");
    test_random();
    if (pools[1] && pools[2] && pools[3]) {
        test_dropout_statistics(pools[2]);
        test_dropout_determinism(pools, 4);
        test_dropout_gradcheck(pools[3]);
    }
    test_softmax_values();
    test_softmax_random();
    test_softmax_large();
    for (int p = 1; p < 4; p++) wt_pool_destroy(pools[p]);
    return wt_test_summary();
}
