/* gemm_simd.c: the fast GEMMs (wasm SIMD 128; SIMDe natively), split over a thread pool.
 *
 * One micro-kernel serves nn, nt and tn: C[MR x NR] (+)= Apanel[kc][MR] * Bpanel[kc][NR], the
 * XNNPACK "splat" scheme: per k, load NR floats of B, splat each A[i,k], mul + add (no FMA in wasm
 * SIMD 1.0). MR x NR = 4 x 8 keeps 8 accumulators + 2 B vectors + a splat + a product = 12 live
 * v128 values, inside the 15 xmm registers V8 allocates on x86-64.
 *
 * Blocking and threads (see make_plan): K is cut into blocks of kc <= GEMM_KC; the output into
 * units (a range of MR-row tiles x a range of NR-column panels). A thread runs whole units; per k
 * block a unit packs its panels of B into its own slot of ws (zero-padded past N; the panel group
 * is at most ~L2/4), then for each of its row tiles packs A[MR x kc] into a stack buffer (zero rows
 * past M) and runs the micro-kernel across the panels (tn with narrow rows skips the packing and
 * reads A and B in place). Tiles that cross the M or N edge go through a small buffer. Units share
 * nothing, so one parallel loop covers the whole GEMM.
 * Every C element is a sum over k in the same order (block by block, k ascending) whatever the
 * tiling or the thread count, so results are bit-identical for any pool size. */
#include <string.h>

#include "../ops.h"
#include "../simd.h"

#define GEMM_MR 4
#define GEMM_NR 8
#define GEMM_KC 512            /* max k block: the A tile on the stack is GEMM_MR*GEMM_KC floats */
#define GEMM_NC_FLOATS 65536   /* max packed B block of a unit (256 KB: a quarter of L2) */

/* Fused-bias entries for wt_linear_forward(_relu6) (declared again there; not part of ops.h). The
 * relu6 one clamps C to [0, 6] as the last k block stores it: an inference-mode conv -> batch norm
 * -> ReLU6 folded into one GEMM (net.c) then writes its output once. */
void wt_gemm_nn_bias(wt_pool* pool, float* ws, int M, int N, int K, const float* A, int lda,
                     const float* B, int ldb, const float* bias, float* C, int ldc);
void wt_gemm_nn_bias_relu6(wt_pool* pool, float* ws, int M, int N, int K, const float* A, int lda,
                           const float* B, int ldb, const float* bias, float* C, int ldc);

static const float zero_row[GEMM_NR];

/* The plan. K is cut into nkb equal blocks of kc <= GEMM_KC: a function of K alone, so every C
 * element is the same sum in the same order whatever the rest of the plan or the thread count.
 * The n_ti row tiles (MR rows) form gr row groups and the n_panels B panels (NR columns) gc panel
 * groups; a unit is (row group, panel group). Each unit packs its own copy of its panels' B block
 * into its slot of ws (row group g owns ws[g*kc*npad ...]), so units share nothing and one parallel
 * loop runs the whole GEMM, with no barrier between k blocks.
 * The split decides who computes what, never how, so it may follow the thread count. It minimizes a
 * model of the time: a thread runs ceil(units/threads) units, a unit costs its flops plus
 * GEMM_FLOPS_PER_BYTE times the bytes it reads per k (its A rows and B columns; a strided row
 * segment of A (tn) or B (nn, tn) costs whole 64-byte lines). With few outputs and a huge K (weight
 * gradients) that keeps the units few, as each one streams its A and B columns through memory;
 * with a huge M it makes one unit per thread. A panel group's packed B block stays within
 * GEMM_NC_FLOATS (L2), and there are at most GEMM_MAX_UNITS units; the workspace covers the plans
 * of every thread count and variant. */
#define GEMM_MAX_UNITS 24
#define GEMM_FLOPS_PER_BYTE 2.5 /* ~ 40 GFLOP/s of micro-kernel per 16 GB/s of streaming, per core */

typedef struct gemm_plan {
    int kc, nkb;
    int n_ti, n_panels;
    int gr, gc;
} gemm_plan;

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

static double line_bytes(int floats) { return 64.0 * ceil_div(floats * 4, 64); }

static gemm_plan make_plan(int M, int N, int K, int trans_a, int trans_b, int threads) {
    gemm_plan p;
    if (threads < 1) threads = 1;
    p.nkb = K > 0 ? ceil_div(K, GEMM_KC) : 1;
    p.kc = K > 0 ? ceil_div(K, p.nkb) : 1;
    p.n_ti = M > 0 ? ceil_div(M, GEMM_MR) : 1;
    p.n_panels = N > 0 ? ceil_div(N, GEMM_NR) : 1;
    int nbp_max = GEMM_NC_FLOATS / (p.kc * GEMM_NR);
    if (nbp_max < 1) nbp_max = 1;
    const int gc_min = ceil_div(p.n_panels, nbp_max);
    double best = -1.0;
    p.gr = 1;
    p.gc = gc_min;
    for (int gr = 1; gr <= p.n_ti && gr <= GEMM_MAX_UNITS; gr++)
        for (int gc = gc_min; gc <= p.n_panels && gr * gc <= GEMM_MAX_UNITS; gc++) {
            const int mr = ceil_div(p.n_ti, gr) * GEMM_MR, nr = ceil_div(p.n_panels, gc) * GEMM_NR;
            const double a_bytes = trans_a ? line_bytes(mr) : 4.0 * mr;
            const double b_bytes = trans_b ? 4.0 * nr : line_bytes(nr);
            const double unit = 2.0 * mr * nr + GEMM_FLOPS_PER_BYTE * (a_bytes + b_bytes);
            const double t = ceil_div(gr * gc, threads) * unit;
            if (best < 0.0 || t < best) {
                best = t;
                p.gr = gr;
                p.gc = gc;
            }
        }
    if (gc_min > GEMM_MAX_UNITS && best < 0.0) p.gc = gc_min; /* very wide N: one row group */
    return p;
}

size_t wt_gemm_workspace_floats(int M, int N, int K) {
    size_t most = 0;
    for (int v = 0; v < 3; v++) /* nn, nt, tn */
        for (int t = 1; t <= GEMM_MAX_UNITS; t++) {
            gemm_plan p = make_plan(M, N, K, v == 2, v == 1, t);
            size_t f = (size_t)p.gr * p.kc * p.n_panels * GEMM_NR;
            if (f > most) most = f;
        }
    return most;
}

/* C[MR x NR] at c (row stride ldc) = init + sum_k a[k*sa + 0..MR) (x) b[k*sb + 0..NR): a and b are
 * packed panels (sa = MR, sb = NR) or, for tn, rows of A and B read in place (sa = lda, sb = ldb).
 * init = the row vector `row` broadcast to every row if row != NULL, else C's current values.
 * clamp6: store relu6 of the sums. */
static void ukernel_4x8(int kc, const float* a, int sa, const float* b, int sb, float* c, int ldc, const float* row,
                        int clamp6) {
    v128_t c00, c01, c10, c11, c20, c21, c30, c31;
    if (row) {
        c00 = c10 = c20 = c30 = wasm_v128_load(row);
        c01 = c11 = c21 = c31 = wasm_v128_load(row + 4);
    } else {
        c00 = wasm_v128_load(c + 0 * (size_t)ldc);
        c01 = wasm_v128_load(c + 0 * (size_t)ldc + 4);
        c10 = wasm_v128_load(c + 1 * (size_t)ldc);
        c11 = wasm_v128_load(c + 1 * (size_t)ldc + 4);
        c20 = wasm_v128_load(c + 2 * (size_t)ldc);
        c21 = wasm_v128_load(c + 2 * (size_t)ldc + 4);
        c30 = wasm_v128_load(c + 3 * (size_t)ldc);
        c31 = wasm_v128_load(c + 3 * (size_t)ldc + 4);
    }
    /* Not unrolled: for an unrolled body V8 (Node 20) allocates registers worse and the kernel runs
     * ~40% slower; one step per iteration is 2 loads, 4 splat-loads, 8 mul, 8 add (~95% of peak). */
    for (int k = 0; k < kc; k++) {
        const v128_t b0 = wasm_v128_load(b);
        const v128_t b1 = wasm_v128_load(b + 4);
        const v128_t a0 = wasm_v128_load32_splat(a + 0);
        c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(a0, b0));
        c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(a0, b1));
        const v128_t a1 = wasm_v128_load32_splat(a + 1);
        c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(a1, b0));
        c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(a1, b1));
        const v128_t a2 = wasm_v128_load32_splat(a + 2);
        c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(a2, b0));
        c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(a2, b1));
        const v128_t a3 = wasm_v128_load32_splat(a + 3);
        c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(a3, b0));
        c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(a3, b1));
        a += sa;
        b += sb;
    }
    if (clamp6) {
        c00 = wt_f32x4_relu6(c00); c01 = wt_f32x4_relu6(c01); c10 = wt_f32x4_relu6(c10); c11 = wt_f32x4_relu6(c11);
        c20 = wt_f32x4_relu6(c20); c21 = wt_f32x4_relu6(c21); c30 = wt_f32x4_relu6(c30); c31 = wt_f32x4_relu6(c31);
    }
    wasm_v128_store(c + 0 * (size_t)ldc, c00);
    wasm_v128_store(c + 0 * (size_t)ldc + 4, c01);
    wasm_v128_store(c + 1 * (size_t)ldc, c10);
    wasm_v128_store(c + 1 * (size_t)ldc + 4, c11);
    wasm_v128_store(c + 2 * (size_t)ldc, c20);
    wasm_v128_store(c + 2 * (size_t)ldc + 4, c21);
    wasm_v128_store(c + 3 * (size_t)ldc, c30);
    wasm_v128_store(c + 3 * (size_t)ldc + 4, c31);
}

typedef struct gemm_job {
    int M, N, K;
    const float* A;
    int lda;
    const float* B;
    int ldb;
    float* C;
    int ldc;
    const float* bias; /* added at initialization (first k block, !accumulate) or NULL */
    int accumulate;
    int relu6; /* clamp C to [0, 6] when the last k block stores it */
    int trans_a, trans_b;
    float* ws;
    gemm_plan p;
} gemm_job;

/* 4x4 transpose of rows r0..r3 (4 floats each) into columns. */
#define TRANSPOSE4(r0, r1, r2, r3)                                   \
    do {                                                             \
        const v128_t t0_ = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5);   \
        const v128_t t1_ = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);   \
        const v128_t t2_ = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5);   \
        const v128_t t3_ = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);   \
        r0 = wasm_i32x4_shuffle(t0_, t2_, 0, 1, 4, 5);               \
        r1 = wasm_i32x4_shuffle(t0_, t2_, 2, 3, 6, 7);               \
        r2 = wasm_i32x4_shuffle(t1_, t3_, 0, 1, 4, 5);               \
        r3 = wasm_i32x4_shuffle(t1_, t3_, 2, 3, 6, 7);               \
    } while (0)

/* Packs panels [p0, p1) of B[kb : kb+kc, :] into dst: panel p - p0 holds kc rows of NR floats,
 * zero past N. */
static void pack_b(const gemm_job* g, int kb, int kc, int p0, int p1, float* dst) {
    for (int p = p0; p < p1; p++, dst += (size_t)kc * GEMM_NR) {
        const int j0 = p * GEMM_NR;
        const int nr = g->N - j0 < GEMM_NR ? g->N - j0 : GEMM_NR;
        if (!g->trans_b) { /* B[k, j] at B[k*ldb + j] */
            const float* src = g->B + (size_t)kb * g->ldb + j0;
            float* d = dst;
            if (nr == GEMM_NR) {
                for (int k = 0; k < kc; k++, src += g->ldb, d += GEMM_NR) {
                    wasm_v128_store(d, wasm_v128_load(src));
                    wasm_v128_store(d + 4, wasm_v128_load(src + 4));
                }
            } else {
                for (int k = 0; k < kc; k++, src += g->ldb, d += GEMM_NR) {
                    int j = 0;
                    for (; j < nr; j++) d[j] = src[j];
                    for (; j < GEMM_NR; j++) d[j] = 0.0f;
                }
            }
        } else { /* B[k, j] at B[j*ldb + k]: transpose 8 rows of B into the panel */
            const float* src = g->B + (size_t)j0 * g->ldb + kb;
            const size_t ld = (size_t)g->ldb;
            int k = 0;
            if (nr == GEMM_NR) {
                for (; k + 4 <= kc; k += 4) {
                    v128_t a0 = wasm_v128_load(src + 0 * ld + k), a1 = wasm_v128_load(src + 1 * ld + k);
                    v128_t a2 = wasm_v128_load(src + 2 * ld + k), a3 = wasm_v128_load(src + 3 * ld + k);
                    v128_t b0 = wasm_v128_load(src + 4 * ld + k), b1 = wasm_v128_load(src + 5 * ld + k);
                    v128_t b2 = wasm_v128_load(src + 6 * ld + k), b3 = wasm_v128_load(src + 7 * ld + k);
                    TRANSPOSE4(a0, a1, a2, a3);
                    TRANSPOSE4(b0, b1, b2, b3);
                    float* d = dst + (size_t)k * GEMM_NR;
                    wasm_v128_store(d + 0, a0); wasm_v128_store(d + 4, b0);
                    wasm_v128_store(d + 8, a1); wasm_v128_store(d + 12, b1);
                    wasm_v128_store(d + 16, a2); wasm_v128_store(d + 20, b2);
                    wasm_v128_store(d + 24, a3); wasm_v128_store(d + 28, b3);
                }
            }
            for (; k < kc; k++) {
                float* d = dst + (size_t)k * GEMM_NR;
                int j = 0;
                for (; j < nr; j++) d[j] = src[j * ld + k];
                for (; j < GEMM_NR; j++) d[j] = 0.0f;
            }
        }
    }
}

/* Packs A[i0 : i0+mr, kb : kb+kc] as kc rows of MR floats (rows past mr zero). */
static void pack_a(const gemm_job* g, int kb, int kc, int i0, int mr, float* dst) {
    if (!g->trans_a) { /* A[i, k] at A[i*lda + k]: transpose MR rows */
        const float* src = g->A + (size_t)i0 * g->lda + kb;
        const size_t ld = (size_t)g->lda;
        int k = 0;
        if (mr == GEMM_MR) {
            for (; k + 4 <= kc; k += 4) {
                v128_t a0 = wasm_v128_load(src + 0 * ld + k), a1 = wasm_v128_load(src + 1 * ld + k);
                v128_t a2 = wasm_v128_load(src + 2 * ld + k), a3 = wasm_v128_load(src + 3 * ld + k);
                TRANSPOSE4(a0, a1, a2, a3);
                float* d = dst + (size_t)k * GEMM_MR;
                wasm_v128_store(d + 0, a0);
                wasm_v128_store(d + 4, a1);
                wasm_v128_store(d + 8, a2);
                wasm_v128_store(d + 12, a3);
            }
        }
        for (; k < kc; k++) {
            float* d = dst + (size_t)k * GEMM_MR;
            int r = 0;
            for (; r < mr; r++) d[r] = src[r * ld + k];
            for (; r < GEMM_MR; r++) d[r] = 0.0f;
        }
    } else { /* A[i, k] at A[k*lda + i] */
        const float* src = g->A + (size_t)kb * g->lda + i0;
        if (mr == GEMM_MR) {
            for (int k = 0; k < kc; k++, src += g->lda)
                wasm_v128_store(dst + (size_t)k * GEMM_MR, wasm_v128_load(src));
        } else {
            for (int k = 0; k < kc; k++, src += g->lda) {
                int r = 0;
                for (; r < mr; r++) dst[(size_t)k * GEMM_MR + r] = src[r];
                for (; r < GEMM_MR; r++) dst[(size_t)k * GEMM_MR + r] = 0.0f;
            }
        }
    }
}

/* Runs units [begin, end): unit u is row group u / gc, panel group u % gc. */
static void units_range(void* ctx, size_t begin, size_t end) {
    const gemm_job* g = (const gemm_job*)ctx;
    const gemm_plan* p = &g->p;
    float abuf[GEMM_MR * GEMM_KC];
    float tile[GEMM_MR * GEMM_NR];
    float brow[GEMM_NR];
    const size_t npad = (size_t)p->n_panels * GEMM_NR;
    for (size_t u = begin; u < end; u++) {
        const int rg = (int)(u / (size_t)p->gc), pg = (int)(u % (size_t)p->gc);
        /* near-equal contiguous ranges of row tiles and panels */
        const int t0 = (int)((long long)p->n_ti * rg / p->gr), t1 = (int)((long long)p->n_ti * (rg + 1) / p->gr);
        const int p0 = (int)((long long)p->n_panels * pg / p->gc), p1 = (int)((long long)p->n_panels * (pg + 1) / p->gc);
        if (t0 >= t1 || p0 >= p1) continue;
        /* tn may read full tiles of A and full panels of B in place (MR or NR consecutive floats per
         * k, stride lda or ldb): no packing, and the reads of the huge K stream overlap the
         * arithmetic. Measured faster for narrow rows; with wide rows the packed copies win (a
         * stride of 4 KB or more aliases in L1/L2, and B read in place costs more than packing it
         * once for many row tiles). */
        const int direct_a = g->trans_a && g->lda <= 256;
        const int direct_b = g->trans_a && !g->trans_b && g->ldb <= 48 && (long long)g->M * g->ldb <= 4096;
        for (int b = 0; b < p->nkb; b++) {
            const int kb = b * p->kc;
            const int kc = g->K - kb < p->kc ? g->K - kb : p->kc;
            /* this unit's copy of the B block: row group rg's slot, at its panels' offset */
            float* bpack = g->ws + ((size_t)rg * npad + (size_t)p0 * GEMM_NR) * p->kc;
            if (!direct_b) pack_b(g, kb, kc, p0, p1, bpack);
            else if (p1 * GEMM_NR > g->N) /* only the edge panel */
                pack_b(g, kb, kc, p1 - 1, p1, bpack + (size_t)(p1 - 1 - p0) * kc * GEMM_NR);
            const int first = b == 0 && !g->accumulate;
            const int clamp6 = g->relu6 && b == p->nkb - 1;
            for (int ti = t0; ti < t1; ti++) {
                const int i0 = ti * GEMM_MR;
                const int mr = g->M - i0 < GEMM_MR ? g->M - i0 : GEMM_MR;
                const float* ap = abuf;
                int sa = GEMM_MR;
                if (direct_a && mr == GEMM_MR) {
                    ap = g->A + (size_t)kb * g->lda + i0;
                    sa = g->lda;
                } else {
                    pack_a(g, kb, kc, i0, mr, abuf);
                }
                for (int pp = p0; pp < p1; pp++) {
                    const int j0 = pp * GEMM_NR;
                    const int nr = g->N - j0 < GEMM_NR ? g->N - j0 : GEMM_NR;
                    const float* bp = bpack + (size_t)(pp - p0) * kc * GEMM_NR;
                    int sb = GEMM_NR;
                    if (direct_b && nr == GEMM_NR) {
                        bp = g->B + (size_t)kb * g->ldb + j0;
                        sb = g->ldb;
                    }
                    float* c = g->C + (size_t)i0 * g->ldc + j0;
                    if (mr == GEMM_MR && nr == GEMM_NR) {
                        ukernel_4x8(kc, ap, sa, bp, sb, c, g->ldc, first ? (g->bias ? g->bias + j0 : zero_row) : NULL,
                                    clamp6);
                        continue;
                    }
                    /* edge tile: through a full-size buffer, same arithmetic */
                    const float* row = NULL;
                    if (first) {
                        for (int j = 0; j < GEMM_NR; j++) brow[j] = (g->bias && j < nr) ? g->bias[j0 + j] : 0.0f;
                        row = brow;
                    } else {
                        memset(tile, 0, sizeof tile);
                        for (int r = 0; r < mr; r++)
                            for (int j = 0; j < nr; j++) tile[r * GEMM_NR + j] = c[(size_t)r * g->ldc + j];
                    }
                    ukernel_4x8(kc, ap, sa, bp, sb, tile, GEMM_NR, row, clamp6);
                    for (int r = 0; r < mr; r++)
                        for (int j = 0; j < nr; j++) c[(size_t)r * g->ldc + j] = tile[r * GEMM_NR + j];
                }
            }
        }
    }
}

static void gemm_run(wt_pool* pool, float* ws, int M, int N, int K, const float* A, int lda, int trans_a,
                     const float* B, int ldb, int trans_b, const float* bias, float* C, int ldc,
                     int accumulate, int relu6) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (accumulate) return;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                const float v = bias ? bias[j] : 0.0f;
                C[(size_t)i * ldc + j] = relu6 ? (v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v) : v;
            }
        return;
    }
    gemm_job g;
    g.M = M; g.N = N; g.K = K;
    g.A = A; g.lda = lda; g.trans_a = trans_a;
    g.B = B; g.ldb = ldb; g.trans_b = trans_b;
    g.C = C; g.ldc = ldc;
    g.bias = bias;
    g.accumulate = accumulate;
    g.relu6 = relu6;
    g.ws = ws;
    int threads = wt_pool_threads(pool);
    g.p = make_plan(M, N, K, trans_a, trans_b, threads < GEMM_MAX_UNITS ? threads : GEMM_MAX_UNITS);
    wt_parallel_for(pool, (size_t)g.p.gr * g.p.gc, 1, units_range, &g);
}

void wt_gemm_nn(wt_pool* pool, float* ws, int M, int N, int K, const float* A, int lda, const float* B,
                int ldb, float* C, int ldc, int accumulate) {
    gemm_run(pool, ws, M, N, K, A, lda, 0, B, ldb, 0, NULL, C, ldc, accumulate, 0);
}

void wt_gemm_nt(wt_pool* pool, float* ws, int M, int N, int K, const float* A, int lda, const float* B,
                int ldb, float* C, int ldc, int accumulate) {
    gemm_run(pool, ws, M, N, K, A, lda, 0, B, ldb, 1, NULL, C, ldc, accumulate, 0);
}

void wt_gemm_tn(wt_pool* pool, float* ws, int M, int N, int K, const float* A, int lda, const float* B,
                int ldb, float* C, int ldc, int accumulate) {
    gemm_run(pool, ws, M, N, K, A, lda, 1, B, ldb, 0, NULL, C, ldc, accumulate, 0);
}

void wt_gemm_nn_bias(wt_pool* pool, float* ws, int M, int N, int K, const float* A, int lda,
                     const float* B, int ldb, const float* bias, float* C, int ldc) {
    gemm_run(pool, ws, M, N, K, A, lda, 0, B, ldb, 0, bias, C, ldc, 0, 0);
}

void wt_gemm_nn_bias_relu6(wt_pool* pool, float* ws, int M, int N, int K, const float* A, int lda,
                           const float* B, int ldb, const float* bias, float* C, int ldc) {
    gemm_run(pool, ws, M, N, K, A, lda, 0, B, ldb, 0, bias, C, ldc, 0, 1);
}
