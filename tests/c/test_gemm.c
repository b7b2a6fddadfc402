/* test_gemm.c: fast GEMMs (nn, nt, tn) and the linear op against the scalar references.
 *   - size sweeps that are not multiples of any tile (M, N, K in 1..127, primes, K over the k-block
 *     size), accumulate 0/1, leading dimensions wider than the matrices (padding must be untouched);
 *   - with accumulate = 0 the output starts as NaN: it must be written, never read;
 *   - bit-identical results with no pool and pools of 1, 2 and 3 threads;
 *   - linear forward/backward fast vs reference (bias, NULL gradients, += semantics);
 *   - finite-difference gradient checks of the reference and of the fast backward. */
#include "ops.h"
#include "wt_test.h"

enum { V_NN, V_NT, V_TN };
static const char* vname[] = {"nn", "nt", "tn"};
static const float SENTINEL = -12345.0f;

typedef struct mats {
    int M, N, K, lda, ldb, ldc;
    float *A, *B, *C0, *C_ref, *C_fast, *ws;
    size_t na, nb, nc;
} mats;

/* A and B in the variant's storage layout with leading dimensions wider than needed. */
static void mats_init(mats* m, wt_rng* rng, int var, int M, int N, int K, int pad) {
    m->M = M; m->N = N; m->K = K;
    int a_rows = var == V_TN ? K : M, a_cols = var == V_TN ? M : K;
    int b_rows = var == V_NT ? N : K, b_cols = var == V_NT ? K : N;
    m->lda = a_cols + pad;
    m->ldb = b_cols + (pad ? pad + 1 : 0);
    m->ldc = N + (pad ? pad + 2 : 0);
    m->na = (size_t)a_rows * m->lda;
    m->nb = (size_t)b_rows * m->ldb;
    m->nc = (size_t)M * m->ldc;
    m->A = wt_test_alloc(m->na);
    m->B = wt_test_alloc(m->nb);
    m->C0 = wt_test_alloc(m->nc);
    m->C_ref = wt_test_alloc(m->nc);
    m->C_fast = wt_test_alloc(m->nc);
    m->ws = wt_test_alloc(wt_gemm_workspace_floats(M, N, K));
    wt_rng_fill(rng, m->A, m->na, -1.0f, 1.0f);
    wt_rng_fill(rng, m->B, m->nb, -1.0f, 1.0f);
    wt_rng_fill(rng, m->C0, m->nc, -1.0f, 1.0f);
    for (int i = 0; i < M; i++) /* padding columns of C */
        for (int j = N; j < m->ldc; j++) m->C0[(size_t)i * m->ldc + j] = SENTINEL;
}

static void mats_free(mats* m) {
    free(m->A); free(m->B); free(m->C0); free(m->C_ref); free(m->C_fast); free(m->ws);
}

/* Output starts as C0 when accumulating, as NaN (padding kept) when not. */
static void start_c(const mats* m, float* C, int accumulate) {
    memcpy(C, m->C0, m->nc * sizeof(float));
    if (!accumulate)
        for (int i = 0; i < m->M; i++)
            for (int j = 0; j < m->N; j++) C[(size_t)i * m->ldc + j] = NAN;
}

static void run_ref(const mats* m, int var, float* C, int acc) {
    if (var == V_NN) wt_gemm_nn_ref(m->M, m->N, m->K, m->A, m->lda, m->B, m->ldb, C, m->ldc, acc);
    if (var == V_NT) wt_gemm_nt_ref(m->M, m->N, m->K, m->A, m->lda, m->B, m->ldb, C, m->ldc, acc);
    if (var == V_TN) wt_gemm_tn_ref(m->M, m->N, m->K, m->A, m->lda, m->B, m->ldb, C, m->ldc, acc);
}

static void run_fast(wt_pool* pool, const mats* m, int var, float* C, int acc) {
    if (var == V_NN) wt_gemm_nn(pool, m->ws, m->M, m->N, m->K, m->A, m->lda, m->B, m->ldb, C, m->ldc, acc);
    if (var == V_NT) wt_gemm_nt(pool, m->ws, m->M, m->N, m->K, m->A, m->lda, m->B, m->ldb, C, m->ldc, acc);
    if (var == V_TN) wt_gemm_tn(pool, m->ws, m->M, m->N, m->K, m->A, m->lda, m->B, m->ldb, C, m->ldc, acc);
}

static int padding_intact(const mats* m, const float* C) {
    for (int i = 0; i < m->M; i++)
        for (int j = m->N; j < m->ldc; j++)
            if (C[(size_t)i * m->ldc + j] != SENTINEL) return 0;
    return 1;
}

/* Rounding-aware error of a product: for C[i,j] = init[i,j] + sum_k A[i,k] B[k,j], any summation
 * order is within (K+1) eps * (|init| + sum_k |A[i,k] B[k,j]|) of the exact value, so two correct
 * implementations differ by at most twice that. Returns max |got - want| / that bound: < 1 passes,
 * while a lost or doubled term (~ the bound * 1e5 / K) fails clearly. Strides are in floats; A NULL
 * means A = 1 (column sums), init NULL means 0. */
typedef struct prod_desc {
    int M, N, K;
    const float* A;
    size_t a_si, a_sk;
    const float* B;
    size_t b_sk, b_sj;
    const float* init;
    size_t i_si, i_sj;
} prod_desc;

static double prod_err(const prod_desc* p, const float* got, const float* want, int ldc) {
    double worst = 0.0;
    for (int i = 0; i < p->M; i++)
        for (int j = 0; j < p->N; j++) {
            double mag = p->init ? fabs((double)p->init[i * p->i_si + j * p->i_sj]) : 0.0;
            for (int k = 0; k < p->K; k++) {
                double a = p->A ? (double)p->A[i * p->a_si + k * p->a_sk] : 1.0;
                mag += fabs(a * (double)p->B[k * p->b_sk + j * p->b_sj]);
            }
            double bound = 2.0 * (p->K + 1) * 6e-8 * mag + 1e-30;
            double d = fabs((double)got[(size_t)i * ldc + j] - (double)want[(size_t)i * ldc + j]);
            double e = d / bound;
            if (!(e <= worst)) worst = e;
        }
    return worst;
}

static double gemm_err(const mats* m, int var, int acc, const float* C, const float* R) {
    prod_desc p = {m->M, m->N, m->K, m->A, 0, 0, m->B, 0, 0, acc ? m->C0 : NULL, (size_t)m->ldc, 1};
    if (var == V_TN) { p.a_si = 1; p.a_sk = (size_t)m->lda; }
    else { p.a_si = (size_t)m->lda; p.a_sk = 1; }
    if (var == V_NT) { p.b_sk = 1; p.b_sj = (size_t)m->ldb; }
    else { p.b_sk = (size_t)m->ldb; p.b_sj = 1; }
    return prod_err(&p, C, R, m->ldc);
}

static void check_case(wt_rng* rng, int var, int M, int N, int K, int pad, int acc) {
    mats m;
    mats_init(&m, rng, var, M, N, K, pad);
    start_c(&m, m.C_ref, acc);
    start_c(&m, m.C_fast, acc);
    run_ref(&m, var, m.C_ref, acc);
    run_fast(NULL, &m, var, m.C_fast, acc);
    double e = gemm_err(&m, var, acc, m.C_fast, m.C_ref);
    CHECK(e < 1.0, "gemm_%s M=%d N=%d K=%d pad=%d acc=%d: err %g x bound", vname[var], M, N, K, pad, acc, e);
    CHECK(padding_intact(&m, m.C_fast), "gemm_%s M=%d N=%d K=%d pad=%d: wrote into C padding",
          vname[var], M, N, K, pad);
    mats_free(&m);
}

static void test_sweeps(void) {
    static const int mn[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33, 64, 127};
    static const int ks[] = {1, 2, 3, 5, 8, 13, 17, 64, 127};
    const int nmn = (int)(sizeof mn / sizeof mn[0]), nk = (int)(sizeof ks / sizeof ks[0]);
    wt_rng rng = {1};
    int cases = 0;
    for (int var = V_NN; var <= V_TN; var++)
        for (int a = 0; a < nmn; a++)
            for (int b = 0; b < nmn; b++)
                for (int c = 0; c < nk; c++) {
                    int M = mn[a], N = mn[b], K = ks[c];
                    /* the full cross product for acc=1; acc=0 and padding on a subset */
                    int pad = ((a + b + c) % 3 == 0) ? 3 : 0;
                    check_case(&rng, var, M, N, K, pad, 1);
                    if ((a + 2 * b + c) % 2 == 0) check_case(&rng, var, M, N, K, pad ? 0 : 5, 0);
                    cases++;
                }
    /* K across the k-block boundaries (512), odd widths; tn with rows wide enough to be packed */
    static const int big[][3] = {{5, 9, 1500}, {13, 300, 700}, {33, 17, 4500}, {7, 131, 513},
                                 {130, 45, 1031}, {3, 8, 2049}, {37, 19, 19}, {97, 251, 211},
                                 {300, 20, 50}, {261, 45, 70}, {9, 24, 3001}};
    for (int var = V_NN; var <= V_TN; var++)
        for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
            check_case(&rng, var, big[i][0], big[i][1], big[i][2], 0, 0);
            check_case(&rng, var, big[i][0], big[i][1], big[i][2], 2, 1);
        }
    printf("gemm sweeps: %d shapes x 3 variants\n", cases / 3);
}

/* Same bits with no pool and with pools of 1, 2, 3 threads. */
static void test_threads(void) {
    wt_pool* pools[4] = {NULL, wt_pool_create(1), wt_pool_create(2), wt_pool_create(3)};
    CHECK(pools[1] && pools[2] && pools[3], "wt_pool_create failed");
    static const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {67, 29, 41}, {200, 136, 96}, {45, 1000, 64},
                                    {13, 37, 3000}, {517, 24, 33}, {64, 64, 1100}, {300, 20, 700},
                                    {16, 8, 5000}};
    wt_rng rng = {2};
    for (int var = V_NN; var <= V_TN; var++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int acc = 0; acc <= 1; acc++) {
                mats m;
                mats_init(&m, &rng, var, shapes[s][0], shapes[s][1], shapes[s][2], acc ? 1 : 0);
                start_c(&m, m.C_ref, acc);
                run_fast(NULL, &m, var, m.C_ref, acc);
                for (int p = 1; p < 4; p++) {
                    if (!pools[p]) continue;
                    start_c(&m, m.C_fast, acc);
                    run_fast(pools[p], &m, var, m.C_fast, acc);
                    CHECK(wt_bit_equal(m.C_fast, m.C_ref, m.nc), "gemm_%s %dx%dx%d acc=%d: %d threads differ",
                          vname[var], m.M, m.N, m.K, acc, wt_pool_threads(pools[p]));
                }
                mats_free(&m);
            }
    for (int p = 1; p < 4; p++) wt_pool_destroy(pools[p]);
}

/* ---------------------------------------------------------------------------------------------
 * Linear op
 * ------------------------------------------------------------------------------------------- */
typedef struct lin {
    wt_linear_dims d;
    float *in, *w, *bias, *out, *dout, *ws;
} lin;

static void lin_init(lin* l, wt_rng* rng, int rows, int in_c, int out_c) {
    l->d.rows = rows; l->d.in_c = in_c; l->d.out_c = out_c;
    l->in = wt_test_alloc((size_t)rows * in_c);
    l->w = wt_test_alloc((size_t)in_c * out_c);
    l->bias = wt_test_alloc((size_t)out_c);
    l->out = wt_test_alloc((size_t)rows * out_c);
    l->dout = wt_test_alloc((size_t)rows * out_c);
    l->ws = wt_test_alloc(wt_linear_workspace_floats(&l->d));
    wt_rng_fill(rng, l->in, (size_t)rows * in_c, -1.0f, 1.0f);
    wt_rng_fill(rng, l->w, (size_t)in_c * out_c, -1.0f, 1.0f);
    wt_rng_fill(rng, l->bias, (size_t)out_c, -1.0f, 1.0f);
    wt_rng_fill(rng, l->dout, (size_t)rows * out_c, -1.0f, 1.0f);
}

static void lin_free(lin* l) {
    free(l->in); free(l->w); free(l->bias); free(l->out); free(l->dout); free(l->ws);
}

static void test_linear_vs_ref(void) {
    static const int shapes[][3] = {{1, 1, 1}, {5, 3, 7}, {17, 8, 48}, {33, 48, 8}, {64, 13, 31},
                                    {100, 32, 64}, {7, 1024, 10}, {16, 112, 1280}, {3000, 9, 5}};
    wt_rng rng = {3};
    wt_pool* pool = wt_pool_create(2);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        lin l;
        lin_init(&l, &rng, shapes[s][0], shapes[s][1], shapes[s][2]);
        const wt_linear_dims* d = &l.d;
        size_t n_in = (size_t)d->rows * d->in_c, n_w = (size_t)d->in_c * d->out_c, n_out = (size_t)d->rows * d->out_c;
        float* ref = wt_test_alloc(n_out);
        for (int use_bias = 0; use_bias <= 1; use_bias++) {
            const float* b = use_bias ? l.bias : NULL;
            wt_linear_forward_ref(ref, l.in, l.w, b, d);
            for (size_t i = 0; i < n_out; i++) l.out[i] = NAN;
            wt_linear_forward(pool, l.ws, l.out, l.in, l.w, b, d);
            prod_desc p = {d->rows, d->out_c, d->in_c, l.in, (size_t)d->in_c, 1, l.w, (size_t)d->out_c, 1, b, 0, 1};
            double e = prod_err(&p, l.out, ref, d->out_c);
            CHECK(e < 1.0, "linear fwd %dx%d->%d bias=%d: err %g x bound", d->rows, d->in_c, d->out_c, use_bias, e);
        }
        /* backward: all grads, prefilled (+=), then each alone (the others NULL) */
        float *din_r = wt_test_alloc(n_in), *dw_r = wt_test_alloc(n_w), *db_r = wt_test_alloc((size_t)d->out_c);
        float *din_f = wt_test_alloc(n_in), *dw_f = wt_test_alloc(n_w), *db_f = wt_test_alloc((size_t)d->out_c);
        float *din_0 = wt_test_alloc(n_in), *dw_0 = wt_test_alloc(n_w), *db_0 = wt_test_alloc((size_t)d->out_c);
        for (int mask = 1; mask < 8; mask++) {
            wt_rng r2 = {100 + (uint64_t)mask};
            wt_rng_fill(&r2, din_0, n_in, -1.0f, 1.0f);
            wt_rng_fill(&r2, dw_0, n_w, -1.0f, 1.0f);
            wt_rng_fill(&r2, db_0, (size_t)d->out_c, -1.0f, 1.0f);
            memcpy(din_r, din_0, n_in * sizeof(float));
            memcpy(dw_r, dw_0, n_w * sizeof(float));
            memcpy(db_r, db_0, (size_t)d->out_c * sizeof(float));
            memcpy(din_f, din_r, n_in * sizeof(float));
            memcpy(dw_f, dw_r, n_w * sizeof(float));
            memcpy(db_f, db_r, (size_t)d->out_c * sizeof(float));
            wt_linear_backward_ref(mask & 1 ? din_r : NULL, mask & 2 ? dw_r : NULL, mask & 4 ? db_r : NULL,
                                   l.dout, l.in, l.w, d);
            wt_linear_backward(pool, l.ws, mask & 1 ? din_f : NULL, mask & 2 ? dw_f : NULL,
                               mask & 4 ? db_f : NULL, l.dout, l.in, l.w, d);
            /* d_in[r,i] = d_in0 + sum_j d_out[r,j] w[i,j]; d_w[i,j] = d_w0 + sum_r in[r,i] d_out[r,j];
             * d_b[j] = d_b0 + sum_r d_out[r,j]. Untouched gradients must stay bit-equal. */
            prod_desc p_in = {d->rows, d->in_c, d->out_c, l.dout, (size_t)d->out_c, 1, l.w, 1, (size_t)d->out_c, din_0, (size_t)d->in_c, 1};
            prod_desc p_w = {d->in_c, d->out_c, d->rows, l.in, 1, (size_t)d->in_c, l.dout, (size_t)d->out_c, 1, dw_0, (size_t)d->out_c, 1};
            prod_desc p_b = {1, d->out_c, d->rows, NULL, 0, 0, l.dout, (size_t)d->out_c, 1, db_0, 0, 1};
            double e_in = mask & 1 ? prod_err(&p_in, din_f, din_r, d->in_c) : !wt_bit_equal(din_f, din_0, n_in);
            double e_w = mask & 2 ? prod_err(&p_w, dw_f, dw_r, d->out_c) : !wt_bit_equal(dw_f, dw_0, n_w);
            double e_b = mask & 4 ? prod_err(&p_b, db_f, db_r, d->out_c) : !wt_bit_equal(db_f, db_0, (size_t)d->out_c);
            CHECK(e_in < 1.0 && e_w < 1.0 && e_b < 1.0, "linear bwd %dx%d->%d mask=%d: err d_in %g d_w %g d_b %g (x bound)",
                  d->rows, d->in_c, d->out_c, mask, e_in, e_w, e_b);
        }
        /* thread-count independence of the whole op */
        wt_pool* p3 = wt_pool_create(3);
        float* out1 = wt_test_alloc(n_out);
        wt_linear_forward(NULL, l.ws, out1, l.in, l.w, l.bias, d);
        wt_linear_forward(p3, l.ws, l.out, l.in, l.w, l.bias, d);
        CHECK(wt_bit_equal(out1, l.out, n_out), "linear fwd %dx%d->%d: 3 threads differ from serial", d->rows, d->in_c, d->out_c);
        /* the ReLU6 epilogue (inference-mode folding): the bits of forward then relu6, any thread count,
         * also when K spans several k blocks (only the last one clamps) */
        wt_relu6_forward_ref(out1, out1, n_out);
        wt_pool* pools3[3] = {NULL, pool, p3};
        for (int t = 0; t < 3; t++) {
            for (size_t i = 0; i < n_out; i++) l.out[i] = NAN;
            wt_linear_forward_relu6(pools3[t], l.ws, l.out, l.in, l.w, l.bias, d);
            CHECK(wt_bit_equal(out1, l.out, n_out), "linear fwd+relu6 %dx%d->%d (pool %d) differs from forward then relu6",
                  d->rows, d->in_c, d->out_c, t);
        }
        memset(din_r, 0, n_in * sizeof(float)); memset(dw_r, 0, n_w * sizeof(float)); memset(db_r, 0, (size_t)d->out_c * sizeof(float));
        memset(din_f, 0, n_in * sizeof(float)); memset(dw_f, 0, n_w * sizeof(float)); memset(db_f, 0, (size_t)d->out_c * sizeof(float));
        wt_linear_backward(NULL, l.ws, din_r, dw_r, db_r, l.dout, l.in, l.w, d);
        wt_linear_backward(p3, l.ws, din_f, dw_f, db_f, l.dout, l.in, l.w, d);
        CHECK(wt_bit_equal(din_f, din_r, n_in) && wt_bit_equal(dw_f, dw_r, n_w) && wt_bit_equal(db_f, db_r, (size_t)d->out_c),
              "linear bwd %dx%d->%d: 3 threads differ from serial", d->rows, d->in_c, d->out_c);
        wt_pool_destroy(p3);
        free(out1);
        free(din_0); free(dw_0); free(db_0);
        free(din_r); free(dw_r); free(db_r); free(din_f); free(dw_f); free(db_f);
        free(ref);
        lin_free(&l);
    }
    wt_pool_destroy(pool);
}

/* Loss = sum(out * g) for a fixed random g, so d_out = g. */
typedef struct grad_ctx {
    lin* l;
    const float* g;
    int fast;
    wt_pool* pool;
} grad_ctx;

static double lin_loss(void* p) {
    grad_ctx* c = (grad_ctx*)p;
    lin* l = c->l;
    if (c->fast) wt_linear_forward(c->pool, l->ws, l->out, l->in, l->w, l->bias, &l->d);
    else wt_linear_forward_ref(l->out, l->in, l->w, l->bias, &l->d);
    return wt_dot_loss(l->out, c->g, (size_t)l->d.rows * l->d.out_c);
}

static void test_gradcheck(void) {
    static const int shapes[][3] = {{3, 4, 5}, {9, 13, 7}, {6, 2, 17}};
    wt_rng rng = {4};
    wt_pool* pool = wt_pool_create(2);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int fast = 0; fast <= 1; fast++) {
            lin l;
            lin_init(&l, &rng, shapes[s][0], shapes[s][1], shapes[s][2]);
            const wt_linear_dims* d = &l.d;
            size_t n_in = (size_t)d->rows * d->in_c, n_w = (size_t)d->in_c * d->out_c;
            float* din = wt_test_alloc(n_in);
            float* dw = wt_test_alloc(n_w);
            float* db = wt_test_alloc((size_t)d->out_c);
            /* l.dout plays g, the loss weights */
            if (fast) wt_linear_backward(pool, l.ws, din, dw, db, l.dout, l.in, l.w, d);
            else wt_linear_backward_ref(din, dw, db, l.dout, l.in, l.w, d);
            grad_ctx c = {&l, l.dout, fast, pool};
            double e_in = wt_gradcheck(l.in, din, n_in, 1e-2f, lin_loss, &c, 1e-2);
            double e_w = wt_gradcheck(l.w, dw, n_w, 1e-2f, lin_loss, &c, 1e-2);
            double e_b = wt_gradcheck(l.bias, db, (size_t)d->out_c, 1e-2f, lin_loss, &c, 1e-2);
            CHECK(e_in < 1e-2 && e_w < 1e-2 && e_b < 1e-2,
                  "linear %s gradcheck %dx%d->%d: d_in %g d_weight %g d_bias %g", fast ? "fast" : "ref",
                  d->rows, d->in_c, d->out_c, e_in, e_w, e_b);
            free(din); free(dw); free(db);
            lin_free(&l);
        }
    wt_pool_destroy(pool);
}

int main(void) {
    test_sweeps();
    test_threads();
    test_linear_vs_ref();
    test_gradcheck();
    return wt_test_summary();
}
