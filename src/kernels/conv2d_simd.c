/* conv2d_simd.c: the fast dense convolution as im2col + the fast GEMMs, split over `pool`.
 * Tested against conv2d_ref.c.
 *   in [n, in_h, in_w, in_c], out [n, out_h, out_w, out_c], weight HWIO [k_h][k_w][in_c][out_c]
 *   (= a [K, out_c] matrix with K = k_h*k_w*in_c), bias [out_c] or NULL.
 *
 * The n*out_h output rows are processed in chunks of whole rows so the im2col matrix
 * col[P, K] (P = chunk pixels, row = [ky][kx][in_c], zero where the tap is outside) stays within
 * CONV_COL_BUDGET floats of `ws`; the GEMM's own workspace follows it.
 *   forward   out[P, out_c] = bias + col * W                       (gemm_nn, bias pre-filled)
 *   d_weight  dW[K, out_c] += col^T * d_out                        (gemm_tn, accumulate)
 *   d_in      dcol[P, K] = d_out * W^T (gemm_nt), then col2im: every input pixel adds the dcol
 *             entries of the taps that read it, split over input rows (no two threads write a pixel)
 *   d_bias    sums of d_out, split over blocks of 4 output channels (each channel owned by one thread)
 * A 1x1, stride-1, unpadded convolution is a plain GEMM on the input (no im2col). A short K (a
 * network's first layer, 3x3 over RGB: K = 27) runs forward as a direct kernel: the GEMM's 4x8
 * register tile fed from the input rows, split over output rows.
 * Chunks depend only on the dims, and the GEMMs are bit-identical for any thread count, so is this. */
#include <string.h>

#include "../ops.h"
#include "../simd.h"

enum { CONV_COL_BUDGET = 1 << 18 }; /* im2col floats per chunk (1 MB): stays in L2 for the GEMM */
enum { CONV_DIRECT_MAX_K = 48 };     /* no im2col up to this K (see direct_rows, wdir_chunks) */
enum { CONV_WGRAD_CHUNKS = 32 };     /* row chunks of the direct d_weight */

typedef struct conv_plan {
    int K;         /* k_h * k_w * in_c */
    int rows;      /* n * out_h */
    int chunk;     /* output rows per chunk */
    int pointwise; /* the input is its own im2col */
    int direct;    /* forward without im2col (short K) */
} conv_plan;

#if defined(__GNUC__)
#define CONV_INLINE static inline __attribute__((always_inline))
#else
#define CONV_INLINE static inline
#endif

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }
static inline size_t zmax(size_t a, size_t b) { return a > b ? a : b; }

static conv_plan conv_make_plan(const wt_conv_dims* d) {
    conv_plan p;
    p.K = d->k_h * d->k_w * d->in_c;
    p.rows = d->n * d->out_h;
    p.pointwise = d->k_h == 1 && d->k_w == 1 && d->stride == 1 && d->pad_top == 0 && d->pad_left == 0 &&
                  d->out_h == d->in_h && d->out_w == d->in_w;
    p.direct = !p.pointwise && p.K <= CONV_DIRECT_MAX_K;
    size_t per_row = (size_t)d->out_w * p.K;
    size_t c = per_row ? CONV_COL_BUDGET / per_row : (size_t)p.rows;
    if (c < 1) c = 1;
    if (c > (size_t)p.rows) c = (size_t)p.rows;
    p.chunk = (int)c;
    return p;
}

/* chunks of output rows of the direct d_weight (see wdir_chunks) */
static size_t wdir_n_chunks(const wt_conv_dims* d) {
    size_t rows = (size_t)d->n * d->out_h;
    return rows < CONV_WGRAD_CHUNKS ? rows : CONV_WGRAD_CHUNKS;
}

static size_t conv_col_floats(const wt_conv_dims* d, const conv_plan* p) {
    return p->pointwise ? 0 : (size_t)p->chunk * d->out_w * p->K;
}

size_t wt_conv2d_workspace_floats(const wt_conv_dims* d) {
    conv_plan p = conv_make_plan(d);
    int P = p.pointwise ? p.rows * d->out_w : p.chunk * d->out_w;
    size_t g = wt_gemm_workspace_floats(P, d->out_c, p.K);         /* forward */
    g = zmax(g, wt_gemm_workspace_floats(p.K, d->out_c, P));       /* d_weight */
    g = zmax(g, wt_gemm_workspace_floats(P, p.K, d->out_c));       /* d_in */
    size_t need = conv_col_floats(d, &p) + g;
    if (p.direct) need = zmax(need, wdir_n_chunks(d) * (size_t)p.K * d->out_c); /* d_weight partials */
    return need;
}

/* ---------------------------------------------------------------------------------------------
 * im2col for output rows [r0 + begin, r0 + end); optionally fills the same rows of `out` with bias.
 * ------------------------------------------------------------------------------------------- */
typedef struct conv_ctx {
    const wt_conv_dims* d;
    int K, r0, r1; /* chunk of output rows */
    int ri0;       /* first input row (global, n*in_h + iy) of the chunk's col2im */
    float* col;
    const float* in;
    float* out;        /* forward: bias rows */
    const float* bias; /* forward */
    float* d_in;
    float* d_bias;
    const float* d_out;
} conv_ctx;

/* Short copies and fills inline: a libc call per 9-float run would cost more than the copy. */
static inline void copy_floats(float* dst, const float* src, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(dst + i, wasm_v128_load(src + i));
    for (; i < n; i++) dst[i] = src[i];
}

static inline void zero_floats(float* dst, size_t n) {
    const v128_t z = wasm_f32x4_splat(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(dst + i, z);
    for (; i < n; i++) dst[i] = 0.0f;
}

static void im2col_rows(void* arg, size_t begin, size_t end) {
    const conv_ctx* x = (const conv_ctx*)arg;
    const wt_conv_dims* d = x->d;
    const int C = d->in_c, k_w = d->k_w, K = x->K, s = d->stride;
    const size_t tap_row = (size_t)k_w * C; /* floats of one ky row of a col row */
    for (size_t r = begin; r < end; r++) {
        const int g = x->r0 + (int)r;
        const int n = g / d->out_h, oy = g % d->out_h;
        float* dst = x->col + r * (size_t)d->out_w * K;
        for (int ox = 0; ox < d->out_w; ox++, dst += K) {
            const int ix0 = ox * s - d->pad_left;
            const int kx0 = imin(k_w, imax(0, -ix0)), kx1 = imax(kx0, imin(k_w, d->in_w - ix0));
            for (int ky = 0; ky < d->k_h; ky++) {
                float* t = dst + (size_t)ky * tap_row;
                const int iy = oy * s - d->pad_top + ky;
                if (iy < 0 || iy >= d->in_h || kx1 == kx0) {
                    zero_floats(t, tap_row);
                    continue;
                }
                zero_floats(t, (size_t)kx0 * C);
                copy_floats(t + (size_t)kx0 * C,
                            x->in + (((size_t)n * d->in_h + iy) * d->in_w + (size_t)(ix0 + kx0)) * C,
                            (size_t)(kx1 - kx0) * C);
                zero_floats(t + (size_t)kx1 * C, (size_t)(k_w - kx1) * C);
            }
        }
        if (x->bias) { /* forward: the GEMM accumulates onto the bias */
            float* o = x->out + r * (size_t)d->out_w * d->out_c;
            for (int ox = 0; ox < d->out_w; ox++, o += d->out_c) copy_floats(o, x->bias, (size_t)d->out_c);
        }
    }
}

/* out rows [begin, end) (pixels) = bias */
static void bias_rows(void* arg, size_t begin, size_t end) {
    const conv_ctx* x = (const conv_ctx*)arg;
    const int oc = x->d->out_c;
    for (size_t p = begin; p < end; p++) copy_floats(x->out + p * oc, x->bias, (size_t)oc);
}

/* ---------------------------------------------------------------------------------------------
 * Direct forward for a short K (a network's first layer: 3x3 over 3 channels, K = 27): the GEMM's
 * 4x8 register tile fed straight from the input, no im2col. For a pixel the taps of one kernel row
 * are a contiguous run of k_w*in_c input floats, matching k_w*in_c consecutive weight rows. Each
 * output sums bias, then its in-range taps in (ky, kx, in_c) order.
 * ------------------------------------------------------------------------------------------- */
/* 8 output channels [o, o+8) of NP pixels (NP <= 4) whose run of kernel row ky starts at run_q
 * (kernel rows [ky0, ky1), run floats [j0, j1) of each). */
static inline void direct_tile8(float* out, size_t out_step, const float* const* run, size_t row_step, int NP,
                                const float* w, int OC, int o, const float* bias, int ky0, int ky1,
                                size_t KW, int j0, int j1) {
    v128_t a0[4], a1[4];
    const v128_t b0 = bias ? wasm_v128_load(bias + o) : wasm_f32x4_splat(0.0f);
    const v128_t b1 = bias ? wasm_v128_load(bias + o + 4) : wasm_f32x4_splat(0.0f);
    for (int q = 0; q < 4; q++) {
        a0[q] = b0;
        a1[q] = b1;
    }
    for (int ky = ky0; ky < ky1; ky++) {
        const size_t ro = (size_t)(ky - ky0) * row_step;
        const float* wr = w + ((size_t)ky * KW) * OC + o;
        if (NP == 4) {
            const float *p0 = run[0] + ro, *p1 = run[1] + ro, *p2 = run[2] + ro, *p3 = run[3] + ro;
            for (int j = j0; j < j1; j++) {
                const v128_t w0 = wasm_v128_load(wr + (size_t)j * OC), w1 = wasm_v128_load(wr + (size_t)j * OC + 4);
                v128_t x = wasm_v128_load32_splat(p0 + j);
                a0[0] = wasm_f32x4_add(a0[0], wasm_f32x4_mul(x, w0));
                a1[0] = wasm_f32x4_add(a1[0], wasm_f32x4_mul(x, w1));
                x = wasm_v128_load32_splat(p1 + j);
                a0[1] = wasm_f32x4_add(a0[1], wasm_f32x4_mul(x, w0));
                a1[1] = wasm_f32x4_add(a1[1], wasm_f32x4_mul(x, w1));
                x = wasm_v128_load32_splat(p2 + j);
                a0[2] = wasm_f32x4_add(a0[2], wasm_f32x4_mul(x, w0));
                a1[2] = wasm_f32x4_add(a1[2], wasm_f32x4_mul(x, w1));
                x = wasm_v128_load32_splat(p3 + j);
                a0[3] = wasm_f32x4_add(a0[3], wasm_f32x4_mul(x, w0));
                a1[3] = wasm_f32x4_add(a1[3], wasm_f32x4_mul(x, w1));
            }
        } else {
            for (int q = 0; q < NP; q++) {
                const float* pq = run[q] + ro;
                for (int j = j0; j < j1; j++) {
                    const v128_t x = wasm_v128_load32_splat(pq + j);
                    a0[q] = wasm_f32x4_add(a0[q], wasm_f32x4_mul(x, wasm_v128_load(wr + (size_t)j * OC)));
                    a1[q] = wasm_f32x4_add(a1[q], wasm_f32x4_mul(x, wasm_v128_load(wr + (size_t)j * OC + 4)));
                }
            }
        }
    }
    for (int q = 0; q < NP; q++) {
        wasm_v128_store(out + (size_t)q * out_step + o, a0[q]);
        wasm_v128_store(out + (size_t)q * out_step + o + 4, a1[q]);
    }
}

/* All output channels of NP pixels (see direct_tile8): tiles of 8, then 4, then single channels. */
static void direct_pixels(float* out, size_t out_step, const float* const* run, size_t row_step, int NP,
                          const float* w, int OC, const float* bias, int ky0, int ky1, size_t KW, int j0, int j1) {
    int o = 0;
    for (; o + 8 <= OC; o += 8) direct_tile8(out, out_step, run, row_step, NP, w, OC, o, bias, ky0, ky1, KW, j0, j1);
    for (; o + 4 <= OC; o += 4)
        for (int q = 0; q < NP; q++) {
            v128_t a = bias ? wasm_v128_load(bias + o) : wasm_f32x4_splat(0.0f);
            for (int ky = ky0; ky < ky1; ky++) {
                const float* pq = run[q] + (size_t)(ky - ky0) * row_step;
                const float* wr = w + ((size_t)ky * KW) * OC + o;
                for (int j = j0; j < j1; j++)
                    a = wasm_f32x4_add(a, wasm_f32x4_mul(wasm_v128_load32_splat(pq + j), wasm_v128_load(wr + (size_t)j * OC)));
            }
            wasm_v128_store(out + (size_t)q * out_step + o, a);
        }
    for (; o < OC; o++)
        for (int q = 0; q < NP; q++) {
            float a = bias ? bias[o] : 0.0f;
            for (int ky = ky0; ky < ky1; ky++) {
                const float* pq = run[q] + (size_t)(ky - ky0) * row_step;
                const float* wr = w + ((size_t)ky * KW) * OC + o;
                for (int j = j0; j < j1; j++) a += pq[j] * wr[(size_t)j * OC];
            }
            out[(size_t)q * out_step + o] = a;
        }
}

typedef struct direct_ctx {
    const wt_conv_dims* d;
    float* out;
    const float* in;
    const float* weight;
    const float* bias;
    int ox_lo, ox_hi; /* columns whose taps are all inside */
} direct_ctx;

static void direct_rows(void* arg, size_t begin, size_t end) {
    /* Private copies of the context and the dims: the originals sit on the calling thread's stack
     * (under wasm, the shadow stack in linear memory), next to the locals that thread keeps writing
     * (run[] below, the chunk bounds); reading them per pixel from another thread shares their cache
     * line with those writes and stalls both threads. */
    const direct_ctx xc = *(const direct_ctx*)arg;
    const wt_conv_dims dc = *xc.d;
    const direct_ctx* x = &xc;
    const wt_conv_dims* d = &dc;
    const int C = d->in_c, OC = d->out_c, s = d->stride, k_w = d->k_w;
    const size_t KW = (size_t)k_w * C, row_step = (size_t)d->in_w * C;
    for (size_t r = begin; r < end; r++) {
        const int n = (int)(r / (size_t)d->out_h), oy = (int)(r % (size_t)d->out_h);
        const int iy_base = oy * s - d->pad_top;
        const int ky0 = imax(0, -iy_base);
        const int ky1 = imax(ky0, imin(d->k_h, d->in_h - iy_base));
        /* first valid input row (any row if none is valid: nothing is read then) */
        const float* img = x->in + ((size_t)n * d->in_h + (size_t)imax(0, imin(d->in_h - 1, iy_base + ky0))) * row_step;
        float* orow = x->out + r * (size_t)d->out_w * OC;
        const float* run[4];
        for (int ox = 0; ox < d->out_w;) {
            const int ix = ox * s - d->pad_left;
            if (ox >= x->ox_lo && ox + 4 <= x->ox_hi) {
                for (int q = 0; q < 4; q++) run[q] = img + (size_t)(ix + q * s) * C;
                direct_pixels(orow + (size_t)ox * OC, (size_t)OC, run, row_step, 4, x->weight, OC, x->bias, ky0,
                              ky1, KW, 0, (int)KW);
                ox += 4;
                continue;
            }
            /* one pixel, its kernel columns clipped to [kx0, kx1): the run starts at column ix + kx0,
             * the weights at kernel column kx0 */
            const int kx0 = imin(k_w, imax(0, -ix)), kx1 = imax(kx0, imin(k_w, d->in_w - ix));
            run[0] = kx1 > kx0 ? img + (size_t)(ix + kx0) * C : img;
            direct_pixels(orow + (size_t)ox * OC, (size_t)OC, run, row_step, 1, x->weight + (size_t)kx0 * C * OC, OC,
                          x->bias, ky0, ky1, KW, 0, (kx1 - kx0) * C);
            ox++;
        }
    }
}

void wt_conv2d_forward(wt_pool* pool, float* ws, float* out, const float* in, const float* weight,
                       const float* bias, const wt_conv_dims* d) {
    const conv_plan p = conv_make_plan(d);
    const int oc = d->out_c;
    if (p.direct) {
        direct_ctx x = {d, out, in, weight, bias, 0, 0};
        x.ox_lo = d->pad_left > 0 ? (d->pad_left + d->stride - 1) / d->stride : 0;
        const int last = d->in_w - d->k_w + d->pad_left;
        x.ox_hi = last >= 0 ? imin(d->out_w, last / d->stride + 1) : 0;
        wt_parallel_for(pool, (size_t)p.rows, 1, direct_rows, &x);
        return;
    }
    conv_ctx x;
    memset(&x, 0, sizeof x);
    x.d = d;
    x.K = p.K;
    x.in = in;
    x.bias = bias;
    if (p.pointwise) {
        const int P = p.rows * d->out_w;
        x.out = out;
        if (bias) wt_parallel_for(pool, (size_t)P, 64, bias_rows, &x);
        wt_gemm_nn(pool, ws, P, oc, p.K, in, p.K, weight, oc, out, oc, bias != NULL);
        return;
    }
    float* gws = ws + conv_col_floats(d, &p);
    x.col = ws;
    for (int r0 = 0; r0 < p.rows; r0 += p.chunk) {
        const int r1 = imin(p.rows, r0 + p.chunk), P = (r1 - r0) * d->out_w;
        x.r0 = r0;
        x.r1 = r1;
        x.out = out + (size_t)r0 * d->out_w * oc;
        wt_parallel_for(pool, (size_t)(r1 - r0), 1, im2col_rows, &x);
        wt_gemm_nn(pool, gws, P, oc, p.K, x.col, p.K, weight, oc, x.out, oc, bias != NULL);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Backward
 * ------------------------------------------------------------------------------------------- */

/* d_bias for channel blocks [b0, b1): per output row a register sum, added to d_bias. */
static void bias_grad_blocks(void* arg, size_t b0, size_t b1) {
    const conv_ctx* x = (const conv_ctx*)arg;
    const wt_conv_dims* d = x->d;
    const int oc = d->out_c, c0 = (int)b0 * 4, c1 = imin(oc, (int)b1 * 4);
    const size_t rows = (size_t)d->n * d->out_h;
    for (size_t r = 0; r < rows; r++) {
        const float* g = x->d_out + r * (size_t)d->out_w * oc;
        int c = c0;
        for (; c + 4 <= c1; c += 4) {
            v128_t a = wasm_f32x4_splat(0.0f);
            for (int ox = 0; ox < d->out_w; ox++) a = wasm_f32x4_add(a, wasm_v128_load(g + (size_t)ox * oc + c));
            wasm_v128_store(x->d_bias + c, wasm_f32x4_add(wasm_v128_load(x->d_bias + c), a));
        }
        for (; c < c1; c++) {
            float a = 0.0f;
            for (int ox = 0; ox < d->out_w; ox++) a += g[(size_t)ox * oc + c];
            x->d_bias[c] += a;
        }
    }
}

/* col2im for input rows [ri0 + begin, ri0 + end): d_in[pixel] += dcol entries of the taps (from
 * output rows [r0, r1) of the chunk) that read the pixel, in (ky, kx) order. */
static void col2im_rows(void* arg, size_t begin, size_t end) {
    const conv_ctx* x = (const conv_ctx*)arg;
    const wt_conv_dims* d = x->d;
    const int C = d->in_c, s = d->stride, K = x->K, k_w = d->k_w;
    for (size_t r = begin; r < end; r++) {
        const int gi = x->ri0 + (int)r;
        const int n = gi / d->in_h, iy = gi % d->in_h;
        float* drow = x->d_in + (size_t)gi * d->in_w * C;
        for (int ky = 0; ky < d->k_h; ky++) {
            const int u = iy + d->pad_top - ky;
            if (u < 0 || u % s != 0 || u / s >= d->out_h) continue;
            const int go = n * d->out_h + u / s;
            if (go < x->r0 || go >= x->r1) continue;
            const float* crow = x->col + (size_t)(go - x->r0) * d->out_w * K + (size_t)ky * k_w * C;
            for (int ix = 0; ix < d->in_w; ix++) {
                float* o = drow + (size_t)ix * C;
                for (int kx = 0; kx < k_w; kx++) {
                    const int v = ix + d->pad_left - kx;
                    if (v < 0 || v % s != 0 || v / s >= d->out_w) continue;
                    const float* src = crow + (size_t)(v / s) * K + (size_t)kx * C;
                    int c = 0;
                    for (; c + 4 <= C; c += 4)
                        wasm_v128_store(o + c, wasm_f32x4_add(wasm_v128_load(o + c), wasm_v128_load(src + c)));
                    for (; c < C; c++) o[c] += src[c];
                }
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * Direct d_weight for a short K: dW[k, o] += sum_p x_k(p) * d_out[p, o], with x_k(p) the input tap k
 * of output pixel p. The sum is cut into fixed chunks of output rows (they depend on the dims only);
 * each chunk sums into its own partial dW in ws (4 taps x 8 output channels in registers, per output
 * row), and a second pass adds the partials in chunk order. Same bits for any thread count.
 * ------------------------------------------------------------------------------------------- */
typedef struct wdir_ctx {
    const wt_conv_dims* d;
    const float* in;
    const float* d_out;
    float* d_weight;
    float* part; /* n_chunks x K x out_c */
    size_t n_chunks;
    int K, ox_lo, ox_hi;
} wdir_ctx;

/* Taps off[0..KN) (input offsets at column 0 of the row) x output channels [o, o+W) of the pixels
 * [lo, hi) of a row: P[t][o..] += sum_ox x * g. W = 8 or 4 (vector tiles) or 1. */
CONV_INLINE void wdir_tile(float* P, int OC, const float* in, const size_t* off, const int KN, const float* grow,
                           int o, const int W, int lo, int hi, size_t px_step, int first_col) {
    if (W == 8) {
        v128_t a0[4], a1[4];
        for (int t = 0; t < KN; t++) {
            a0[t] = wasm_v128_load(P + (size_t)t * OC + o);
            a1[t] = wasm_v128_load(P + (size_t)t * OC + o + 4);
        }
        size_t col = (size_t)first_col;
        for (int ox = lo; ox < hi; ox++, col += px_step) {
            const v128_t g0 = wasm_v128_load(grow + (size_t)ox * OC + o);
            const v128_t g1 = wasm_v128_load(grow + (size_t)ox * OC + o + 4);
            for (int t = 0; t < KN; t++) {
                const v128_t xv = wasm_v128_load32_splat(in + off[t] + col);
                a0[t] = wasm_f32x4_add(a0[t], wasm_f32x4_mul(xv, g0));
                a1[t] = wasm_f32x4_add(a1[t], wasm_f32x4_mul(xv, g1));
            }
        }
        for (int t = 0; t < KN; t++) {
            wasm_v128_store(P + (size_t)t * OC + o, a0[t]);
            wasm_v128_store(P + (size_t)t * OC + o + 4, a1[t]);
        }
    } else if (W == 4) {
        v128_t a[4];
        for (int t = 0; t < KN; t++) a[t] = wasm_v128_load(P + (size_t)t * OC + o);
        size_t col = (size_t)first_col;
        for (int ox = lo; ox < hi; ox++, col += px_step) {
            const v128_t g = wasm_v128_load(grow + (size_t)ox * OC + o);
            for (int t = 0; t < KN; t++)
                a[t] = wasm_f32x4_add(a[t], wasm_f32x4_mul(wasm_v128_load32_splat(in + off[t] + col), g));
        }
        for (int t = 0; t < KN; t++) wasm_v128_store(P + (size_t)t * OC + o, a[t]);
    } else {
        float a[4];
        for (int t = 0; t < KN; t++) a[t] = P[(size_t)t * OC + o];
        size_t col = (size_t)first_col;
        for (int ox = lo; ox < hi; ox++, col += px_step) {
            const float g = grow[(size_t)ox * OC + o];
            for (int t = 0; t < KN; t++) a[t] += in[off[t] + col] * g;
        }
        for (int t = 0; t < KN; t++) P[(size_t)t * OC + o] = a[t];
    }
}

/* All output channels of the taps off[0..KN) (KN a constant: the accumulators stay in registers). */
CONV_INLINE void wdir_taps(float* Pk, int OC, const float* in, const size_t* off, const int KN, const float* grow,
                           int lo, int hi, size_t px_step, int first_col) {
    int o = 0;
    for (; o + 8 <= OC; o += 8) wdir_tile(Pk, OC, in, off, KN, grow, o, 8, lo, hi, px_step, first_col);
    for (; o + 4 <= OC; o += 4) wdir_tile(Pk, OC, in, off, KN, grow, o, 4, lo, hi, px_step, first_col);
    for (; o < OC; o++) wdir_tile(Pk, OC, in, off, KN, grow, o, 1, lo, hi, px_step, first_col);
}

static void wdir_taps_any(float* Pk, int OC, const float* in, const size_t* off, int kn, const float* grow,
                          int lo, int hi, size_t px_step, int first_col) {
    switch (kn) {
    case 4: wdir_taps(Pk, OC, in, off, 4, grow, lo, hi, px_step, first_col); break;
    case 3: wdir_taps(Pk, OC, in, off, 3, grow, lo, hi, px_step, first_col); break;
    case 2: wdir_taps(Pk, OC, in, off, 2, grow, lo, hi, px_step, first_col); break;
    default: wdir_taps(Pk, OC, in, off, 1, grow, lo, hi, px_step, first_col); break;
    }
}

static void wdir_chunks(void* arg, size_t begin, size_t end) {
    const wdir_ctx xc = *(const wdir_ctx*)arg; /* private copies: see direct_rows */
    const wt_conv_dims dc = *xc.d;
    const wdir_ctx* x = &xc;
    const wt_conv_dims* d = &dc;
    const int C = d->in_c, OC = d->out_c, s = d->stride, k_w = d->k_w, K = x->K;
    const size_t rows = (size_t)d->n * d->out_h, KW = (size_t)k_w * C;
    for (size_t ch = begin; ch < end; ch++) {
        float* P = x->part + ch * (size_t)K * OC;
        memset(P, 0, (size_t)K * OC * sizeof(float));
        for (size_t r = ch * rows / x->n_chunks; r < (ch + 1) * rows / x->n_chunks; r++) {
            const int n = (int)(r / (size_t)d->out_h), oy = (int)(r % (size_t)d->out_h);
            const int iy_base = oy * s - d->pad_top;
            const int ky0 = imax(0, -iy_base);
            const int ky1 = imax(ky0, imin(d->k_h, d->in_h - iy_base));
            const float* grow = x->d_out + r * (size_t)d->out_w * OC;
            const size_t img = (size_t)n * d->in_h * d->in_w * C;
            /* interior pixels of a row with every kernel row inside: 4 taps x 8 channels at a time */
            int lo = x->ox_lo, hi = x->ox_hi;
            if (ky0 != 0 || ky1 != d->k_h) lo = hi = d->out_w;
            if (hi > lo) {
                const int first_col = (lo * s - d->pad_left) * C;
                for (int k0 = 0; k0 < K; k0 += 4) {
                    const int kn = imin(4, K - k0);
                    size_t off[4];
                    for (int t = 0; t < kn; t++) {
                        const int k = k0 + t, ky = k / (int)KW, j = k % (int)KW;
                        off[t] = img + (size_t)(iy_base + ky) * d->in_w * C + (size_t)j;
                    }
                    wdir_taps_any(P + (size_t)k0 * OC, OC, x->in, off, kn, grow, lo, hi, (size_t)s * C, first_col);
                }
            }
            /* the other pixels: every in-range tap, one at a time */
            for (int ox = 0; ox < d->out_w; ox++) {
                if (ox == lo && hi > lo) {
                    ox = hi - 1;
                    continue;
                }
                const int ix = ox * s - d->pad_left;
                const int kx0 = imin(k_w, imax(0, -ix)), kx1 = imax(kx0, imin(k_w, d->in_w - ix));
                const float* g = grow + (size_t)ox * OC;
                for (int ky = ky0; ky < ky1 && kx1 > kx0; ky++) {
                    const float* src = x->in + img + ((size_t)(iy_base + ky) * d->in_w + (size_t)(ix + kx0)) * C;
                    for (int j = 0; j < (kx1 - kx0) * C; j++) {
                        const float xv = src[j];
                        float* Pk = P + ((size_t)ky * KW + (size_t)(kx0 * C + j)) * OC;
                        const v128_t xs = wasm_f32x4_splat(xv);
                        int o = 0;
                        for (; o + 4 <= OC; o += 4)
                            wasm_v128_store(Pk + o, wasm_f32x4_add(wasm_v128_load(Pk + o), wasm_f32x4_mul(xs, wasm_v128_load(g + o))));
                        for (; o < OC; o++) Pk[o] += xv * g[o];
                    }
                }
            }
        }
    }
}

/* d_weight[e] += sum over chunks (in order) of part[chunk][e], for elements [begin, end) in blocks of 4. */
static void wdir_reduce(void* arg, size_t begin, size_t end) {
    const wdir_ctx* x = (const wdir_ctx*)arg;
    const size_t total = (size_t)x->K * x->d->out_c, stride = total;
    for (size_t b = begin; b < end; b++) {
        const size_t e = b * 4;
        if (e + 4 <= total) {
            v128_t v = wasm_v128_load(x->part + e);
            for (size_t ch = 1; ch < x->n_chunks; ch++) v = wasm_f32x4_add(v, wasm_v128_load(x->part + ch * stride + e));
            wasm_v128_store(x->d_weight + e, wasm_f32x4_add(wasm_v128_load(x->d_weight + e), v));
        } else {
            for (size_t i = e; i < total; i++) {
                float v = x->part[i];
                for (size_t ch = 1; ch < x->n_chunks; ch++) v += x->part[ch * stride + i];
                x->d_weight[i] += v;
            }
        }
    }
}

void wt_conv2d_backward(wt_pool* pool, float* ws, float* d_in, float* d_weight, float* d_bias,
                        const float* d_out, const float* in, const float* weight,
                        const wt_conv_dims* d) {
    const conv_plan p = conv_make_plan(d);
    const int oc = d->out_c;
    conv_ctx x;
    memset(&x, 0, sizeof x);
    x.d = d;
    x.K = p.K;
    x.in = in;
    x.d_in = d_in;
    x.d_bias = d_bias;
    x.d_out = d_out;
    if (d_bias) wt_parallel_for(pool, ((size_t)oc + 3) / 4, 1, bias_grad_blocks, &x);
    if (p.direct && d_weight && p.rows > 0) {
        wdir_ctx w = {d, in, d_out, d_weight, ws, wdir_n_chunks(d), p.K, 0, 0};
        w.ox_lo = d->pad_left > 0 ? (d->pad_left + d->stride - 1) / d->stride : 0;
        const int last = d->in_w - d->k_w + d->pad_left;
        w.ox_hi = last >= 0 ? imin(d->out_w, last / d->stride + 1) : 0;
        if (w.ox_hi < w.ox_lo) w.ox_hi = w.ox_lo;
        wt_parallel_for(pool, w.n_chunks, 1, wdir_chunks, &w);
        wt_parallel_for(pool, ((size_t)p.K * oc + 3) / 4, 16, wdir_reduce, &w);
        d_weight = NULL; /* done */
    }
    if (!d_in && !d_weight) return;
    if (p.pointwise) {
        const int P = p.rows * d->out_w;
        if (d_weight) wt_gemm_tn(pool, ws, p.K, oc, P, in, p.K, d_out, oc, d_weight, oc, 1);
        if (d_in) wt_gemm_nt(pool, ws, P, p.K, oc, d_out, oc, weight, oc, d_in, p.K, 1);
        return;
    }
    float* gws = ws + conv_col_floats(d, &p);
    x.col = ws;
    for (int r0 = 0; r0 < p.rows; r0 += p.chunk) {
        const int r1 = imin(p.rows, r0 + p.chunk), P = (r1 - r0) * d->out_w;
        const float* g = d_out + (size_t)r0 * d->out_w * oc;
        x.r0 = r0;
        x.r1 = r1;
        if (d_weight) {
            wt_parallel_for(pool, (size_t)(r1 - r0), 1, im2col_rows, &x);
            wt_gemm_tn(pool, gws, p.K, oc, P, x.col, p.K, g, oc, d_weight, oc, 1);
        }
        if (d_in) {
            wt_gemm_nt(pool, gws, P, p.K, oc, g, oc, weight, oc, x.col, p.K, 0);
            /* input rows the chunk's taps can reach */
            const int n0 = r0 / d->out_h, oy0 = r0 % d->out_h;
            const int n1 = (r1 - 1) / d->out_h, oy1 = (r1 - 1) % d->out_h;
            const int iy0 = imin(d->in_h - 1, imax(0, oy0 * d->stride - d->pad_top));
            const int iy1 = imin(d->in_h - 1, imax(0, oy1 * d->stride - d->pad_top + d->k_h - 1));
            const int ri0 = n0 * d->in_h + iy0, ri1 = n1 * d->in_h + iy1 + 1;
            if (ri1 > ri0) {
                x.ri0 = ri0;
                wt_parallel_for(pool, (size_t)(ri1 - ri0), 1, col2im_rows, &x);
            }
        }
    }
}
