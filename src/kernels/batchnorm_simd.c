/* batchnorm_simd.c: the fast batch normalization over [rows, c]: f32x4 SIMD across channels, split
 * over the pool. Formulas as in batchnorm_ref.c; float arithmetic throughout.
 *
 * Two kinds of pass:
 * - Reductions over rows (batch statistics, the sums behind d_gamma/d_beta) are split over
 *   CHANNELS: a thread owns a channel range and walks every row for it, so each channel's sum runs
 *   in one fixed order whatever the thread count. Rows go in blocks of BN_BLOCK for a tile of
 *   BN_TILE channels (the block stays in L1 while the tile's vectors take turns), 16 channels (one
 *   cache line of a row, 4 independent add chains) at a time. Float sums are blocked on three
 *   levels (block, BN_SUPER rows, total), so rounding grows with about 64 + 64 + rows/4096
 *   additions rather than with rows.
 *   Batch statistics: each block's exact two-pass moments (its mean, then the squared deviations
 *   from it, re-read from L1) are folded together with Chan et al.'s pairwise update, all on
 *   x - x[row 0] so that a mean far from zero costs no precision. As robust as two passes over the
 *   batch, while the batch is read from memory once.
 * - Elementwise passes (normalize, d_in) are split over ROWS; per-channel coefficients are
 *   computed per chunk into a stack tile of BN_APPLY_TILE channels.
 * Every channel gets the same float operations in the same order whichever way it is reached (in a
 * group of 4 vectors, alone, or in the zero-padded partial vector at the end of the channels), so
 * the results are bit-identical for every pool.
 *
 * ops.h gives these kernels no workspace: the backward passes keep their per-channel gradient sums
 * for BN_GROUP channels at a time on the caller's stack (8 KB) and loop over channel groups. With
 * fewer than 64 channels over several BN_SUPER blocks of rows (one to three units of a channel split
 * for two threads), the gradient sums split over super-blocks of rows instead, keeping each block's
 * sums on the caller's stack (32 KB) and adding them in the same order (gradient_sums). */
#include <math.h>

#include "../ops.h"
#include "../simd.h"

#if defined(__GNUC__)
#define BN_INLINE static inline __attribute__((always_inline))
#else
#define BN_INLINE static inline
#endif

enum {
    BN_TILE = 64,           /* channels per reduction tile (16 vectors) */
    BN_BLOCK = 64,          /* rows per innermost block of a reduction */
    BN_SUPER = 4096,        /* rows per middle level of a reduction (64 blocks) */
    BN_APPLY_TILE = 256,    /* channels of coefficients an elementwise pass keeps on the stack */
    BN_GROUP = 1024,        /* channels of gradient sums backward keeps on the caller's stack */
    BN_PART_FLOATS = 4096,  /* per-super-block gradient sums a row split keeps there (2 x 16 KB) */
    BN_CH_GRAIN = 16,       /* channels per unit of a channel split (one 64-byte line of a row) */
    BN_ROW_WORK = 16384,    /* floats per unit of a row split */
    BN_SERIAL_BELOW = 32768 /* passes over fewer floats than this run on the caller */
};

/* ---------------------------------------------------------------------------------------------
 * k-lane vectors: k == 4 is a plain load/store; k < 4 (the end of a channel window) goes through a
 * zero-padded copy. Callers pass k as a constant 4 in hot loops so the test folds away.
 * ------------------------------------------------------------------------------------------- */
BN_INLINE v128_t ld(const float* p, int k) {
    if (k == 4) return wasm_v128_load(p);
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < k; i++) t[i] = p[i];
    return wasm_v128_load(t);
}

BN_INLINE void st(float* p, v128_t v, int k) {
    if (k == 4) {
        wasm_v128_store(p, v);
        return;
    }
    float t[4];
    wasm_v128_store(t, v);
    for (int i = 0; i < k; i++) p[i] = t[i];
}

BN_INLINE v128_t splat(float x) {
    return wasm_f32x4_splat(x);
}
BN_INLINE v128_t vadd(v128_t a, v128_t b) {
    return wasm_f32x4_add(a, b);
}
BN_INLINE v128_t vsub(v128_t a, v128_t b) {
    return wasm_f32x4_sub(a, b);
}
BN_INLINE v128_t vmul(v128_t a, v128_t b) {
    return wasm_f32x4_mul(a, b);
}

static int imin(int a, int b) {
    return a < b ? a : b;
}

/* Grains: small passes run serially; channel splits go by whole cache lines; row splits by about
 * BN_ROW_WORK floats. */
static size_t channel_grain(int rows, int channels) {
    return (size_t)rows * (size_t)channels < BN_SERIAL_BELOW ? (size_t)channels : BN_CH_GRAIN;
}
static size_t row_grain(int rows, int channels) {
    if ((size_t)rows * (size_t)channels < BN_SERIAL_BELOW) return (size_t)rows;
    const size_t g = BN_ROW_WORK / (size_t)channels;
    return g ? g : 1;
}

/* ---------------------------------------------------------------------------------------------
 * Batch statistics (train forward), split over channels.
 * ------------------------------------------------------------------------------------------- */
typedef struct stats_args {
    float *save_mean, *save_invstd, *running_mean, *running_var;
    const float* in;
    float momentum, eps;
    int rows, c;
} stats_args;

/* Mean (as an offset from `shift`) and sum of squared deviations of rows [r0, r1) of the k channels
 * at x (row stride c): two passes over a block that is in L1 after the first. */
BN_INLINE void block_moments(const float* x, size_t c, int r0, int r1, int k, v128_t shift, v128_t* mean,
                             v128_t* m2) {
    v128_t s = splat(0.0f);
    for (int r = r0; r < r1; r++) s = vadd(s, vsub(ld(x + (size_t)r * c, k), shift));
    const v128_t off = wasm_f32x4_div(s, splat((float)(r1 - r0)));
    v128_t q = splat(0.0f);
    for (int r = r0; r < r1; r++) {
        const v128_t dx = vsub(vsub(ld(x + (size_t)r * c, k), shift), off);
        q = vadd(q, vmul(dx, dx));
    }
    *mean = off;
    *m2 = q;
}

/* block_moments for 4 full vectors (16 channels, one cache line of a row) at once: the same
 * per-channel arithmetic, with 4 independent add chains instead of 1 to hide the add latency. */
BN_INLINE void block_moments4(const float* x, size_t c, int r0, int r1, const v128_t* shift, v128_t* mean,
                              v128_t* m2) {
    v128_t s0 = splat(0.0f), s1 = s0, s2 = s0, s3 = s0;
    for (int r = r0; r < r1; r++) {
        const float* p = x + (size_t)r * c;
        s0 = vadd(s0, vsub(wasm_v128_load(p), shift[0]));
        s1 = vadd(s1, vsub(wasm_v128_load(p + 4), shift[1]));
        s2 = vadd(s2, vsub(wasm_v128_load(p + 8), shift[2]));
        s3 = vadd(s3, vsub(wasm_v128_load(p + 12), shift[3]));
    }
    const v128_t n = splat((float)(r1 - r0));
    const v128_t o0 = wasm_f32x4_div(s0, n), o1 = wasm_f32x4_div(s1, n), o2 = wasm_f32x4_div(s2, n),
                 o3 = wasm_f32x4_div(s3, n);
    v128_t q0 = splat(0.0f), q1 = q0, q2 = q0, q3 = q0;
    for (int r = r0; r < r1; r++) {
        const float* p = x + (size_t)r * c;
        const v128_t d0 = vsub(vsub(wasm_v128_load(p), shift[0]), o0);
        const v128_t d1 = vsub(vsub(wasm_v128_load(p + 4), shift[1]), o1);
        const v128_t d2 = vsub(vsub(wasm_v128_load(p + 8), shift[2]), o2);
        const v128_t d3 = vsub(vsub(wasm_v128_load(p + 12), shift[3]), o3);
        q0 = vadd(q0, vmul(d0, d0));
        q1 = vadd(q1, vmul(d1, d1));
        q2 = vadd(q2, vmul(d2, d2));
        q3 = vadd(q3, vmul(d3, d3));
    }
    mean[0] = o0, mean[1] = o1, mean[2] = o2, mean[3] = o3;
    m2[0] = q0, m2[1] = q1, m2[2] = q2, m2[3] = q3;
}

/* Folds a group of nb rows (mean mb, squared deviations Mb) into one of na rows (ma, Ma), Chan et
 * al.: d = mb - ma; ma += d * nb/n; Ma += Mb + d^2 * na*nb/n. An empty (na == 0) side is replaced
 * outright, so huge values never meet a 0 * inf. */
typedef struct merge_w {
    int first;
    v128_t wb, wab; /* nb/n, na*nb/n */
} merge_w;

static merge_w merge_weights(double na, double nb) {
    merge_w w;
    w.first = na == 0.0;
    w.wb = splat((float)(nb / (na + nb)));
    w.wab = splat((float)(na * nb / (na + nb)));
    return w;
}

BN_INLINE void chan_merge(v128_t* ma, v128_t* Ma, v128_t mb, v128_t Mb, const merge_w* w) {
    if (w->first) {
        *ma = mb;
        *Ma = Mb;
        return;
    }
    const v128_t d = vsub(mb, *ma);
    *ma = vadd(*ma, vmul(d, w->wb));
    *Ma = vadd(vadd(*Ma, Mb), vmul(vmul(d, d), w->wab));
}

/* Statistics of channels [c0, c0 + cw) (cw <= BN_TILE; cw % 4 != 0 only at the last channel).
 * Everything is computed on x - x[row 0]: for a mean far from zero relative to the spread the
 * differences are exact (or nearly) and the means being merged are small offsets, so the float
 * rounding of a mean of magnitude |mean| (eps * |mean|, which can be a sizable part of the spread)
 * enters once, at the end, instead of at every merge. */
static void stats_tile(const stats_args* a, int c0, int cw) {
    const size_t c = (size_t)a->c;
    const int rows = a->rows, nv = (cw + 3) / 4;
    const float* x = a->in + c0;
    v128_t shift[BN_TILE / 4], tm[BN_TILE / 4], tM[BN_TILE / 4], sm[BN_TILE / 4], sM[BN_TILE / 4];
    for (int j = 0; j < nv; j++) shift[j] = ld(x + 4 * j, imin(4, cw - 4 * j));
    double tn = 0.0;
    for (int s0 = 0; s0 < rows; s0 += BN_SUPER) {
        const int s1 = imin(s0 + BN_SUPER, rows);
        double sn = 0.0;
        for (int b0 = s0; b0 < s1; b0 += BN_BLOCK) {
            const int b1 = imin(b0 + BN_BLOCK, s1);
            const merge_w w = merge_weights(sn, (double)(b1 - b0));
            int j = 0;
            for (; j + 4 <= cw / 4; j += 4) {
                v128_t bm[4], bM[4];
                block_moments4(x + 4 * j, c, b0, b1, shift + j, bm, bM);
                for (int u = 0; u < 4; u++) chan_merge(&sm[j + u], &sM[j + u], bm[u], bM[u], &w);
            }
            for (; j < nv; j++) {
                const int k = imin(4, cw - 4 * j);
                v128_t bm, bM;
                if (k == 4)
                    block_moments(x + 4 * j, c, b0, b1, 4, shift[j], &bm, &bM);
                else
                    block_moments(x + 4 * j, c, b0, b1, k, shift[j], &bm, &bM);
                chan_merge(&sm[j], &sM[j], bm, bM, &w);
            }
            sn += b1 - b0;
        }
        const merge_w w = merge_weights(tn, sn);
        for (int j = 0; j < nv; j++) chan_merge(&tm[j], &tM[j], sm[j], sM[j], &w);
        tn += sn;
    }

    const v128_t vrows = splat((float)rows), veps = splat(a->eps), one = splat(1.0f);
    const v128_t mom = splat(a->momentum), keep = splat(1.0f - a->momentum);
    const v128_t unbias = splat(rows > 1 ? (float)((double)rows / (rows - 1)) : 1.0f);
    for (int j = 0; j < nv; j++) {
        const int k = imin(4, cw - 4 * j);
        const size_t ch = (size_t)c0 + 4 * (size_t)j;
        const v128_t mean = vadd(shift[j], tm[j]);
        const v128_t var = wasm_f32x4_div(tM[j], vrows); /* biased */
        st(a->save_mean + ch, mean, k);
        st(a->save_invstd + ch, wasm_f32x4_div(one, wasm_f32x4_sqrt(vadd(var, veps))), k);
        if (a->running_mean)
            st(a->running_mean + ch, vadd(vmul(mom, ld(a->running_mean + ch, k)), vmul(keep, mean)), k);
        if (a->running_var)
            st(a->running_var + ch,
               vadd(vmul(mom, ld(a->running_var + ch, k)), vmul(keep, vmul(var, unbias))), k);
    }
}

static void stats_range(void* ctx, size_t begin, size_t end) {
    const stats_args* a = (const stats_args*)ctx;
    for (size_t c0 = begin; c0 < end; c0 += BN_TILE)
        stats_tile(a, (int)c0, (int)(end - c0 < BN_TILE ? end - c0 : BN_TILE));
}

/* ---------------------------------------------------------------------------------------------
 * Gradient sums (backward), split over the channels of a window [c_lo, c_lo + range):
 * s1 = sum d_out, s2 = sum d_out * (in - mean), stored at window-relative indices.
 * ------------------------------------------------------------------------------------------- */
typedef struct dsum_args {
    float *s1, *s2;
    const float *d_out, *in, *mean;
    int rows, c, c_lo;
} dsum_args;

BN_INLINE void block_dsums(const float* dy, const float* x, size_t c, int r0, int r1, v128_t m, int k,
                           v128_t* s1, v128_t* s2) {
    v128_t a1 = splat(0.0f), a2 = splat(0.0f);
    for (int r = r0; r < r1; r++) {
        const v128_t g = ld(dy + (size_t)r * c, k);
        a1 = vadd(a1, g);
        a2 = vadd(a2, vmul(g, vsub(ld(x + (size_t)r * c, k), m)));
    }
    *s1 = a1;
    *s2 = a2;
}

/* block_dsums for 4 full vectors at once (independent add chains, same per-channel arithmetic). */
BN_INLINE void block_dsums4(const float* dy, const float* x, size_t c, int r0, int r1, const v128_t* m,
                            v128_t* s1, v128_t* s2) {
    v128_t a0 = splat(0.0f), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (int r = r0; r < r1; r++) {
        const float *g = dy + (size_t)r * c, *p = x + (size_t)r * c;
        const v128_t g0 = wasm_v128_load(g), g1 = wasm_v128_load(g + 4), g2 = wasm_v128_load(g + 8),
                     g3 = wasm_v128_load(g + 12);
        a0 = vadd(a0, g0);
        a1 = vadd(a1, g1);
        a2 = vadd(a2, g2);
        a3 = vadd(a3, g3);
        b0 = vadd(b0, vmul(g0, vsub(wasm_v128_load(p), m[0])));
        b1 = vadd(b1, vmul(g1, vsub(wasm_v128_load(p + 4), m[1])));
        b2 = vadd(b2, vmul(g2, vsub(wasm_v128_load(p + 8), m[2])));
        b3 = vadd(b3, vmul(g3, vsub(wasm_v128_load(p + 12), m[3])));
    }
    s1[0] = a0, s1[1] = a1, s1[2] = a2, s1[3] = a3;
    s2[0] = b0, s2[1] = b1, s2[2] = b2, s2[3] = b3;
}

/* The sums of the super-block of rows [s0, s0 + BN_SUPER) for the window-relative channels
 * [w0, w0 + cw) (cw <= BN_TILE) into u1, u2: its blocks' sums added in row order. */
static void dsum_super(const dsum_args* a, int w0, int cw, int s0, v128_t* u1, v128_t* u2) {
    const size_t c = (size_t)a->c;
    const int nv = (cw + 3) / 4, c0 = a->c_lo + w0;
    const int s1 = imin(s0 + BN_SUPER, a->rows);
    const float *dy = a->d_out + c0, *x = a->in + c0;
    v128_t m[BN_TILE / 4];
    for (int j = 0; j < nv; j++) {
        m[j] = ld(a->mean + c0 + 4 * j, imin(4, cw - 4 * j));
        u1[j] = u2[j] = splat(0.0f);
    }
    for (int b0 = s0; b0 < s1; b0 += BN_BLOCK) {
        const int b1 = imin(b0 + BN_BLOCK, s1);
        int j = 0;
        for (; j + 4 <= cw / 4; j += 4) {
            v128_t p1[4], p2[4];
            block_dsums4(dy + 4 * j, x + 4 * j, c, b0, b1, m + j, p1, p2);
            for (int u = 0; u < 4; u++) {
                u1[j + u] = vadd(u1[j + u], p1[u]);
                u2[j + u] = vadd(u2[j + u], p2[u]);
            }
        }
        for (; j < nv; j++) {
            const int k = imin(4, cw - 4 * j);
            v128_t p1, p2;
            if (k == 4)
                block_dsums(dy + 4 * j, x + 4 * j, c, b0, b1, m[j], 4, &p1, &p2);
            else
                block_dsums(dy + 4 * j, x + 4 * j, c, b0, b1, m[j], k, &p1, &p2);
            u1[j] = vadd(u1[j], p1);
            u2[j] = vadd(u2[j], p2);
        }
    }
}

/* A tile of channels over every row: the super-blocks' sums added in row order. */
static void dsum_tile(const dsum_args* a, int w0, int cw) {
    const int nv = (cw + 3) / 4;
    v128_t t1[BN_TILE / 4], t2[BN_TILE / 4], u1[BN_TILE / 4], u2[BN_TILE / 4];
    for (int j = 0; j < nv; j++) t1[j] = t2[j] = splat(0.0f);
    for (int s0 = 0; s0 < a->rows; s0 += BN_SUPER) {
        dsum_super(a, w0, cw, s0, u1, u2);
        for (int j = 0; j < nv; j++) {
            t1[j] = vadd(t1[j], u1[j]);
            t2[j] = vadd(t2[j], u2[j]);
        }
    }
    for (int j = 0; j < nv; j++) {
        const int k = imin(4, cw - 4 * j);
        st(a->s1 + w0 + 4 * j, t1[j], k);
        st(a->s2 + w0 + 4 * j, t2[j], k);
    }
}

static void dsum_range(void* ctx, size_t begin, size_t end) {
    const dsum_args* a = (const dsum_args*)ctx;
    for (size_t w0 = begin; w0 < end; w0 += BN_TILE)
        dsum_tile(a, (int)w0, (int)(end - w0 < BN_TILE ? end - w0 : BN_TILE));
}

/* Split over rows instead, for few channels over many rows (the 112x112 and 56x56 layers of small
 * MobileNets have 8-48 channels: one to three units of a channel split). Item i is super-block
 * i / n_tiles of tile i % n_tiles; it stores its sums in part1/part2 [super][cn]; the totals then
 * add them up in row order, the very additions dsum_tile makes, so the results are identical. */
typedef struct dsum_rows_args {
    const dsum_args* a;
    float *part1, *part2;
    int cn, n_tiles;
} dsum_rows_args;

static void dsum_rows_range(void* ctx, size_t begin, size_t end) {
    const dsum_rows_args* r = (const dsum_rows_args*)ctx;
    v128_t u1[BN_TILE / 4], u2[BN_TILE / 4];
    for (size_t i = begin; i < end; i++) {
        const int sb = (int)(i / (size_t)r->n_tiles), w0 = (int)(i % (size_t)r->n_tiles) * BN_TILE;
        const int cw = imin(BN_TILE, r->cn - w0);
        dsum_super(r->a, w0, cw, sb * BN_SUPER, u1, u2);
        for (int j = 0; j < (cw + 3) / 4; j++) {
            const int k = imin(4, cw - 4 * j);
            st(r->part1 + (size_t)sb * r->cn + w0 + 4 * j, u1[j], k);
            st(r->part2 + (size_t)sb * r->cn + w0 + 4 * j, u2[j], k);
        }
    }
}

/* s1, s2 of the window [c_lo, c_lo + cn) into s1[0..cn), s2[0..cn). */
static void gradient_sums(wt_pool* pool, float* s1, float* s2, const float* d_out, const float* in,
                          const float* mean, int rows, int c, int c_lo, int cn) {
    dsum_args a = {s1, s2, d_out, in, mean, rows, c, c_lo};
    const int n_super = (rows + BN_SUPER - 1) / BN_SUPER;
    const int units = (cn + BN_CH_GRAIN - 1) / BN_CH_GRAIN;
    if (wt_pool_threads(pool) > 1 && units < 4 && n_super >= 2 && (size_t)n_super * cn <= BN_PART_FLOATS &&
        (size_t)rows * (size_t)cn >= BN_SERIAL_BELOW) {
        float part1[BN_PART_FLOATS], part2[BN_PART_FLOATS];
        dsum_rows_args r = {&a, part1, part2, cn, (cn + BN_TILE - 1) / BN_TILE};
        wt_parallel_for(pool, (size_t)n_super * r.n_tiles, 1, dsum_rows_range, &r);
        for (int j = 0; j < cn; j += 4) {
            const int k = imin(4, cn - j);
            v128_t t1 = splat(0.0f), t2 = splat(0.0f);
            for (int sb = 0; sb < n_super; sb++) {
                t1 = vadd(t1, ld(part1 + (size_t)sb * cn + j, k));
                t2 = vadd(t2, ld(part2 + (size_t)sb * cn + j, k));
            }
            st(s1 + j, t1, k);
            st(s2 + j, t2, k);
        }
        return;
    }
    wt_parallel_for(pool, (size_t)cn, channel_grain(rows, cn), dsum_range, &a);
}

/* ---------------------------------------------------------------------------------------------
 * Elementwise passes, split over rows, over the channel window [c_lo, c_hi) of each row.
 *   FORWARD:     y = (x - mean) * scale + beta                      (y = out)
 *   FORWARD_RELU6: the same, and y6 = relu6(y) (y stored only if non-NULL)
 *   D_FROZEN:    y += dy * scale                                    (y = d_in)
 *   D_TRAIN:     y += (dy * scale - p * (x - mean)) - q             (y = d_in)
 * scale = gamma * invstd, with invstd = 1/sqrt(var + eps) when var is given, else from invstd[].
 * p and q are window-relative.
 * ------------------------------------------------------------------------------------------- */
enum { FORWARD, FORWARD_RELU6, D_FROZEN, D_TRAIN };

typedef struct apply_args {
    float* y;
    float* y6; /* FORWARD_RELU6: relu6(y); y may then be NULL (not stored) */
    const float *x, *dy;
    const float *mean, *var, *invstd, *gamma, *beta;
    const float *p, *q;
    float eps;
    int c, c_lo, c_hi;
} apply_args;

BN_INLINE void forward_vec(float* y, const float* x, const float* mean, const float* scale, const float* beta,
                           int k) {
    st(y, vadd(vmul(vsub(ld(x, k), ld(mean, k)), ld(scale, k)), ld(beta, k)), k);
}

BN_INLINE void forward_relu6_vec(float* y, float* y6, const float* x, const float* mean, const float* scale,
                                 const float* beta, int k) {
    const v128_t v = vadd(vmul(vsub(ld(x, k), ld(mean, k)), ld(scale, k)), ld(beta, k));
    if (y) st(y, v, k);
    st(y6, wt_f32x4_relu6(v), k); /* simd.h's clamp: the bits of batch norm then wt_relu6_forward */
}

BN_INLINE void d_frozen_vec(float* y, const float* dy, const float* scale, int k) {
    st(y, vadd(ld(y, k), vmul(ld(dy, k), ld(scale, k))), k);
}

BN_INLINE void d_train_vec(float* y, const float* dy, const float* x, const float* mean, const float* scale,
                           const float* p, const float* q, int k) {
    const v128_t t = vsub(vmul(ld(dy, k), ld(scale, k)), vmul(ld(p, k), vsub(ld(x, k), ld(mean, k))));
    st(y, vadd(ld(y, k), vsub(t, ld(q, k))), k);
}

/* One pass mode over rows [r0, r1) and channels [c0, c0 + cw) given the tile's scale. */
#define APPLY_ROWS(CALL)                     \
    for (size_t r = r0; r < r1; r++) {       \
        const size_t o = r * c + (size_t)c0; \
        int i = 0;                           \
        for (; i + 4 <= cw; i += 4) CALL(4); \
        if (i < cw) CALL(cw - i);            \
    }

static void apply_range(const apply_args* a, int mode, size_t r0, size_t r1) {
    /* locals, so the compiler need not reload them after every store through y */
    float* const y = a->y;
    float* const y6 = a->y6;
    const float *const x = a->x, *const dy = a->dy, *const mean = a->mean, *const beta = a->beta;
    const size_t c = (size_t)a->c;
    const int c_lo = a->c_lo, c_hi = a->c_hi;
    float scale[BN_APPLY_TILE];
    for (int c0 = c_lo; c0 < c_hi; c0 += BN_APPLY_TILE) {
        const int cw = imin(BN_APPLY_TILE, c_hi - c0);
        for (int i = 0; i < cw; i++) {
            const int ch = c0 + i;
            const float invstd = a->var ? 1.0f / sqrtf(a->var[ch] + a->eps) : a->invstd[ch];
            scale[i] = a->gamma[ch] * invstd;
        }
        if (mode == FORWARD) {
#define CALL(k) forward_vec(y + o + i, x + o + i, mean + c0 + i, scale + i, beta + c0 + i, k)
            APPLY_ROWS(CALL)
#undef CALL
        } else if (mode == FORWARD_RELU6) {
#define CALL(k) forward_relu6_vec(y ? y + o + i : NULL, y6 + o + i, x + o + i, mean + c0 + i, scale + i, beta + c0 + i, k)
            APPLY_ROWS(CALL)
#undef CALL
        } else if (mode == D_FROZEN) {
#define CALL(k) d_frozen_vec(y + o + i, dy + o + i, scale + i, k)
            APPLY_ROWS(CALL)
#undef CALL
        } else {
            const float *const p = a->p + (c0 - c_lo), *const q = a->q + (c0 - c_lo);
#define CALL(k) d_train_vec(y + o + i, dy + o + i, x + o + i, mean + c0 + i, scale + i, p + i, q + i, k)
            APPLY_ROWS(CALL)
#undef CALL
        }
    }
}

static void forward_range(void* ctx, size_t r0, size_t r1) {
    apply_range((const apply_args*)ctx, FORWARD, r0, r1);
}
static void forward_relu6_range(void* ctx, size_t r0, size_t r1) {
    apply_range((const apply_args*)ctx, FORWARD_RELU6, r0, r1);
}
static void d_frozen_range(void* ctx, size_t r0, size_t r1) {
    apply_range((const apply_args*)ctx, D_FROZEN, r0, r1);
}
static void d_train_range(void* ctx, size_t r0, size_t r1) {
    apply_range((const apply_args*)ctx, D_TRAIN, r0, r1);
}

/* ---------------------------------------------------------------------------------------------
 * The four kernels.
 * ------------------------------------------------------------------------------------------- */
void wt_batchnorm_forward_frozen(wt_pool* pool, float* out, const float* in, const float* gamma,
                                 const float* beta, const float* mean, const float* var,
                                 const wt_bn_dims* d) {
    const int rows = d->rows, c = d->c;
    if (rows <= 0 || c <= 0) return;
    apply_args a = {out, NULL, in, NULL, mean, var, NULL, gamma, beta, NULL, NULL, d->eps, c, 0, c};
    wt_parallel_for(pool, (size_t)rows, row_grain(rows, c), forward_range, &a);
}

void wt_batchnorm_relu6_forward_frozen(wt_pool* pool, float* out, float* out6, const float* in,
                                       const float* gamma, const float* beta, const float* mean,
                                       const float* var, const wt_bn_dims* d) {
    const int rows = d->rows, c = d->c;
    if (rows <= 0 || c <= 0) return;
    apply_args a = {out == out6 ? NULL : out, out6, in, NULL, mean, var, NULL, gamma, beta, NULL, NULL, d->eps, c, 0, c};
    wt_parallel_for(pool, (size_t)rows, row_grain(rows, c), forward_relu6_range, &a);
}

void wt_batchnorm_forward_train(wt_pool* pool, float* out, float* save_mean, float* save_invstd,
                                float* running_mean, float* running_var, const float* in, const float* gamma,
                                const float* beta, float momentum, const wt_bn_dims* d) {
    const int rows = d->rows, c = d->c;
    if (rows <= 0 || c <= 0) return;
    stats_args s = {save_mean, save_invstd, running_mean, running_var, in, momentum, d->eps, rows, c};
    wt_parallel_for(pool, (size_t)c, channel_grain(rows, c), stats_range, &s);
    apply_args a = {out, NULL, in, NULL, save_mean, NULL, save_invstd, gamma, beta, NULL, NULL, d->eps, c, 0, c};
    wt_parallel_for(pool, (size_t)rows, row_grain(rows, c), forward_range, &a);
}

void wt_batchnorm_backward_frozen(wt_pool* pool, float* d_in, float* d_gamma, float* d_beta,
                                  const float* d_out, const float* in, const float* gamma, const float* mean,
                                  const float* var, const wt_bn_dims* d) {
    const int rows = d->rows, c = d->c;
    if (rows <= 0 || c <= 0) return;
    if (d_in) {
        apply_args a = {d_in, NULL, NULL, d_out, mean, var, NULL, gamma, NULL, NULL, NULL, d->eps, c, 0, c};
        wt_parallel_for(pool, (size_t)rows, row_grain(rows, c), d_frozen_range, &a);
    }
    if (!d_gamma && !d_beta) return;
    float s1[BN_GROUP], s2[BN_GROUP];
    for (int g0 = 0; g0 < c; g0 += BN_GROUP) {
        const int gn = imin(BN_GROUP, c - g0);
        gradient_sums(pool, s1, s2, d_out, in, mean, rows, c, g0, gn);
        for (int i = 0; i < gn; i++) {
            const int ch = g0 + i;
            const float invstd = 1.0f / sqrtf(var[ch] + d->eps);
            if (d_gamma) d_gamma[ch] += s2[i] * invstd;
            if (d_beta) d_beta[ch] += s1[i];
        }
    }
}

void wt_batchnorm_backward_train(wt_pool* pool, float* d_in, float* d_gamma, float* d_beta,
                                 const float* d_out, const float* in, const float* gamma,
                                 const float* save_mean, const float* save_invstd, const wt_bn_dims* d) {
    const int rows = d->rows, c = d->c;
    if (rows <= 0 || c <= 0 || (!d_in && !d_gamma && !d_beta)) return;
    float s1[BN_GROUP], s2[BN_GROUP];
    for (int g0 = 0; g0 < c; g0 += BN_GROUP) {
        const int gn = imin(BN_GROUP, c - g0);
        gradient_sums(pool, s1, s2, d_out, in, save_mean, rows, c, g0, gn);
        /* sum d_out * xhat = invstd * s2. d_in += a*dy - p*(x - mean) - q with a = gamma * invstd,
         * p = a * invstd * sum(dy * xhat) / rows, q = a * sum(dy) / rows; p, q replace s2, s1. */
        for (int i = 0; i < gn; i++) {
            const int ch = g0 + i;
            const float invstd = save_invstd[ch];
            const float sum_dy = s1[i], sum_dy_xhat = s2[i] * invstd;
            if (d_gamma) d_gamma[ch] += sum_dy_xhat;
            if (d_beta) d_beta[ch] += sum_dy;
            const double a = (double)gamma[ch] * invstd;
            s2[i] = (float)(a * invstd * sum_dy_xhat / rows);
            s1[i] = (float)(a * sum_dy / rows);
        }
        if (d_in) {
            apply_args a = {d_in, NULL, in, d_out, save_mean, NULL, save_invstd, gamma,
                            NULL, s2, s1,    d->eps,    c,    g0,          g0 + gn};
            wt_parallel_for(pool, (size_t)rows, row_grain(rows, gn), d_train_range, &a);
        }
    }
}

/* Frozen-statistics backward from the layer's output y = (x - mean)*gamma*invstd + beta instead of
 * its input, so the layer can run in place over its input (net.c's memory saving): sum dy*xhat =
 * sum dy*(y - beta) / gamma. Positions a following ReLU clipped may hold the clipped value: their
 * dy is 0. gamma must be non-zero. */
void wt_batchnorm_backward_frozen_out(wt_pool* pool, float* d_in, float* d_gamma, float* d_beta,
                                      const float* d_out, const float* out, const float* gamma,
                                      const float* beta, const float* var, const wt_bn_dims* d) {
    const int rows = d->rows, c = d->c;
    if (rows <= 0 || c <= 0) return;
    if (d_in) {
        apply_args a = {d_in, NULL, NULL, d_out, beta, var, NULL, gamma, NULL, NULL, NULL, d->eps, c, 0, c};
        wt_parallel_for(pool, (size_t)rows, row_grain(rows, c), d_frozen_range, &a);
    }
    if (!d_gamma && !d_beta) return;
    float s1[BN_GROUP], s2[BN_GROUP];
    for (int g0 = 0; g0 < c; g0 += BN_GROUP) {
        const int gn = imin(BN_GROUP, c - g0);
        gradient_sums(pool, s1, s2, d_out, out, beta, rows, c, g0, gn);
        for (int i = 0; i < gn; i++) {
            const int ch = g0 + i;
            if (d_gamma) d_gamma[ch] += gamma[ch] != 0.0f ? s2[i] / gamma[ch] : 0.0f;
            if (d_beta) d_beta[ch] += s1[i];
        }
    }
}
