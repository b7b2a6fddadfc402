/* depthwise_simd.c: the fast depthwise convolution (channel multiplier 1), NHWC, f32x4 over channels
 * with a scalar tail for c % 4, split over `pool`. Tested against depthwise_ref.c.
 *   in [n, in_h, in_w, c], out [n, out_h, out_w, c], weight [k_h][k_w][c], bias [c] or NULL.
 *
 * Loop order: pixels outside, channels inside. Each pixel's channels are contiguous, so every pass
 * streams through memory; the other order (a channel block across a whole row) strides by c*4 bytes,
 * which for c = 64..1024 maps every pixel to the same few L1 sets and thrashes.
 *
 * Every row splits into a left border, an interior and a right border. In the interior every tap is
 * inside the input, so a fixed tap list (source offset, weight) serves all its pixels without a
 * branch; a border pixel gets its own list with the outside taps left out. The 3x3 interior (stride 1
 * and 2, the MobileNet case) has its own kernels (forward, d_in at stride 1 as a forward with the
 * kernel flipped, d_weight): 4 output pixels at a time share the input columns they overlap on and
 * each weight load.
 *
 * Determinism (any thread count gives the same bits):
 *   forward   split over output rows (n*out_h); each output is one thread's.
 *   d_in      gather over input rows (n*in_h): every input pixel adds up the taps that read it in a
 *             fixed order; no two threads write one pixel.
 *   d_weight, d_bias   summed per fixed chunk of output rows (chunks depend on the dims only) into
 *             `ws`, then the chunk totals are added in chunk order, split over channels.
 */
#include <string.h>

#include "../ops.h"
#include "../simd.h"

#if defined(__GNUC__)
#define DW_INLINE static inline __attribute__((always_inline))
#else
#define DW_INLINE static inline
#endif

/* Taps per list; a larger kernel's taps go in several lists, each adding onto the running sum. */
enum { DW_MAX_TAPS = 32 };

typedef struct dw_taps {
    int n;
    size_t off[DW_MAX_TAPS];     /* source element offset at pixel 0 */
    const float* w[DW_MAX_TAPS]; /* forward, d_in: weight[ky][kx] (channel 0) */
    int idx[DW_MAX_TAPS];        /* d_weight: ky * k_w + kx */
} dw_taps;

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }

/* Interior range [lo, hi) of positions p whose taps p*stride - pad + [0, k) all lie in [0, size). */
static void interior_range(int size, int k, int stride, int pad, int n_out, int* lo, int* hi) {
    int l = pad > 0 ? (pad + stride - 1) / stride : 0;
    int last = size - k + pad; /* p*stride <= last */
    int h = last >= 0 ? last / stride + 1 : 0;
    l = imin(l, n_out);
    h = imin(h, n_out);
    if (h < l) h = l;
    *lo = l;
    *hi = h;
}

/* ---------------------------------------------------------------------------------------------
 * Gather: dst[p] (+)= bias + sum_k src[off_k + p*src_step] * w_k for p in [0, npix), all channels.
 * The taps are added in list order onto the bias (store; zero without bias) or onto dst itself
 * (accumulate; bias must be NULL), so a list cut in two sums exactly as one list would.
 * Pixels go in pairs so each weight load serves two outputs.
 * ------------------------------------------------------------------------------------------- */
DW_INLINE void dw_gather_px(float* o, size_t dst_step, const float* s, size_t src_step,
                            const size_t* off, const float* const* wp, const int nt,
                            const float* bias, int C, const int PX, const int accumulate) {
    int c = 0;
    for (; c + 4 <= C; c += 4) {
        v128_t a[2];
        const v128_t b = bias ? wasm_v128_load(bias + c) : wasm_f32x4_splat(0.0f);
        for (int q = 0; q < PX; q++) a[q] = accumulate ? wasm_v128_load(o + (size_t)q * dst_step + c) : b;
        for (int k = 0; k < nt; k++) {
            const v128_t w = wasm_v128_load(wp[k] + c);
            for (int q = 0; q < PX; q++)
                a[q] = wasm_f32x4_add(a[q], wasm_f32x4_mul(wasm_v128_load(s + (size_t)q * src_step + off[k] + c), w));
        }
        for (int q = 0; q < PX; q++) wasm_v128_store(o + (size_t)q * dst_step + c, a[q]);
    }
    for (; c < C; c++) {
        float a[2];
        for (int q = 0; q < PX; q++) a[q] = accumulate ? o[(size_t)q * dst_step + c] : bias ? bias[c] : 0.0f;
        for (int k = 0; k < nt; k++)
            for (int q = 0; q < PX; q++) a[q] += s[(size_t)q * src_step + off[k] + c] * wp[k][c];
        for (int q = 0; q < PX; q++) o[(size_t)q * dst_step + c] = a[q];
    }
}

DW_INLINE void dw_gather(float* dst, size_t dst_step, const float* src, size_t src_step, int npix,
                         const dw_taps* t, const int nt, const float* bias, int C, const int accumulate) {
    size_t off[DW_MAX_TAPS];
    const float* wp[DW_MAX_TAPS];
    for (int k = 0; k < nt; k++) {
        off[k] = t->off[k];
        wp[k] = t->w[k];
    }
    int p = 0;
    for (; p + 2 <= npix; p += 2)
        dw_gather_px(dst + (size_t)p * dst_step, dst_step, src + (size_t)p * src_step, src_step, off, wp, nt,
                     bias, C, 2, accumulate);
    if (p < npix)
        dw_gather_px(dst + (size_t)p * dst_step, dst_step, src + (size_t)p * src_step, src_step, off, wp, nt,
                     bias, C, 1, accumulate);
}

#define DW_GATHER_DISPATCH(name, ACC)                                                                \
    static void name(float* dst, size_t dst_step, const float* src, size_t src_step, int npix,     \
                     const dw_taps* t, const float* bias, int C) {                                  \
        switch (t->n) {                                                                              \
        case 9: dw_gather(dst, dst_step, src, src_step, npix, t, 9, bias, C, ACC); break;           \
        case 6: dw_gather(dst, dst_step, src, src_step, npix, t, 6, bias, C, ACC); break;           \
        case 4: dw_gather(dst, dst_step, src, src_step, npix, t, 4, bias, C, ACC); break;           \
        case 3: dw_gather(dst, dst_step, src, src_step, npix, t, 3, bias, C, ACC); break;           \
        case 2: dw_gather(dst, dst_step, src, src_step, npix, t, 2, bias, C, ACC); break;           \
        case 1: dw_gather(dst, dst_step, src, src_step, npix, t, 1, bias, C, ACC); break;           \
        default: dw_gather(dst, dst_step, src, src_step, npix, t, t->n, bias, C, ACC); break;       \
        }                                                                                            \
    }
DW_GATHER_DISPATCH(dw_gather_store, 0)
DW_GATHER_DISPATCH(dw_gather_add, 1)

/* Collects taps for one gather and runs it when the list is full or done: the first run stores
 * (with the bias) unless accumulating, later runs add. */
typedef struct dw_sink {
    dw_taps t;
    float* dst;
    size_t dst_step, src_step;
    const float* src;
    const float* bias;
    int npix, C, accumulate, started;
} dw_sink;

static void sink_init(dw_sink* k, float* dst, size_t dst_step, const float* src, size_t src_step,
                      int npix, const float* bias, int C, int accumulate) {
    k->t.n = 0;
    k->dst = dst;
    k->dst_step = dst_step;
    k->src = src;
    k->src_step = src_step;
    k->npix = npix;
    k->bias = bias;
    k->C = C;
    k->accumulate = accumulate;
    k->started = 0;
}

static void sink_flush(dw_sink* k) {
    if (k->t.n == 0 && (k->accumulate || k->started)) return; /* nothing to add */
    if (k->accumulate)
        dw_gather_add(k->dst, k->dst_step, k->src, k->src_step, k->npix, &k->t, k->bias, k->C);
    else
        dw_gather_store(k->dst, k->dst_step, k->src, k->src_step, k->npix, &k->t, k->bias, k->C);
    k->accumulate = 1;
    k->bias = NULL;
    k->started = 1;
    k->t.n = 0;
}

static inline void sink_add(dw_sink* k, size_t off, const float* w) {
    if (k->t.n == DW_MAX_TAPS) sink_flush(k);
    k->t.off[k->t.n] = off;
    k->t.w[k->t.n] = w;
    k->t.n++;
}

/* ---------------------------------------------------------------------------------------------
 * 3x3 interior: dst[p] (+)= bias + sum_{a, kx} r_a[(p*S + kx) * C] * w[3a + kx], p in [0, npix).
 * PX output pixels at a time: per row a, the (PX-1)*S + 3 input columns they cover are loaded once
 * and each feeds every output it belongs to. Each output sums its taps in (a, kx) order.
 * ------------------------------------------------------------------------------------------- */
DW_INLINE void dw3x3_px(float* o, const float* r0, const float* r1, const float* r2,
                        const float* const* w, const float* bias, int C, const int S, const int PX,
                        const int accumulate) {
    const float* rows[3] = {r0, r1, r2};
    const int ncol = (PX - 1) * S + 3;
    int c = 0;
    for (; c + 4 <= C; c += 4) {
        v128_t acc[4];
        const v128_t b = bias ? wasm_v128_load(bias + c) : wasm_f32x4_splat(0.0f);
        for (int q = 0; q < PX; q++) acc[q] = b;
        for (int a = 0; a < 3; a++) {
            const v128_t w0 = wasm_v128_load(w[3 * a] + c);
            const v128_t w1 = wasm_v128_load(w[3 * a + 1] + c);
            const v128_t w2 = wasm_v128_load(w[3 * a + 2] + c);
            const float* r = rows[a] + c;
            for (int j = 0; j < ncol; j++) {
                const v128_t x = wasm_v128_load(r + (size_t)j * C);
                for (int q = 0; q < PX; q++) {
                    const int kx = j - q * S;
                    if (kx == 0) acc[q] = wasm_f32x4_add(acc[q], wasm_f32x4_mul(x, w0));
                    else if (kx == 1) acc[q] = wasm_f32x4_add(acc[q], wasm_f32x4_mul(x, w1));
                    else if (kx == 2) acc[q] = wasm_f32x4_add(acc[q], wasm_f32x4_mul(x, w2));
                }
            }
        }
        for (int q = 0; q < PX; q++) {
            float* d = o + (size_t)q * C + c;
            wasm_v128_store(d, accumulate ? wasm_f32x4_add(wasm_v128_load(d), acc[q]) : acc[q]);
        }
    }
    for (; c < C; c++) {
        float acc[4];
        for (int q = 0; q < PX; q++) acc[q] = bias ? bias[c] : 0.0f;
        for (int a = 0; a < 3; a++)
            for (int j = 0; j < ncol; j++) {
                const float x = rows[a][(size_t)j * C + c];
                for (int q = 0; q < PX; q++) {
                    const int kx = j - q * S;
                    if (kx >= 0 && kx < 3) acc[q] += x * w[3 * a + kx][c];
                }
            }
        for (int q = 0; q < PX; q++) {
            float* d = o + (size_t)q * C + c;
            *d = accumulate ? *d + acc[q] : acc[q];
        }
    }
}

DW_INLINE void dw3x3_run(float* dst, const float* r0, const float* r1, const float* r2,
                         const float* const* w, int npix, const float* bias, int C, const int S,
                         const int accumulate) {
    int p = 0;
    for (; p + 4 <= npix; p += 4) {
        const size_t i = (size_t)p * S * C;
        dw3x3_px(dst + (size_t)p * C, r0 + i, r1 + i, r2 + i, w, bias, C, S, 4, accumulate);
    }
    if (p + 2 <= npix) {
        const size_t i = (size_t)p * S * C;
        dw3x3_px(dst + (size_t)p * C, r0 + i, r1 + i, r2 + i, w, bias, C, S, 2, accumulate);
        p += 2;
    }
    if (p < npix) {
        const size_t i = (size_t)p * S * C;
        dw3x3_px(dst + (size_t)p * C, r0 + i, r1 + i, r2 + i, w, bias, C, S, 1, accumulate);
    }
}

static void dw3x3_interior(float* dst, const float* r0, const float* r1, const float* r2,
                           const float* const* w, int npix, int stride, const float* bias, int C,
                           int accumulate) {
    if (stride == 1) {
        if (accumulate) dw3x3_run(dst, r0, r1, r2, w, npix, bias, C, 1, 1);
        else dw3x3_run(dst, r0, r1, r2, w, npix, bias, C, 1, 0);
    } else {
        if (accumulate) dw3x3_run(dst, r0, r1, r2, w, npix, bias, C, 2, 1);
        else dw3x3_run(dst, r0, r1, r2, w, npix, bias, C, 2, 0);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Forward
 * ------------------------------------------------------------------------------------------- */
typedef struct dw_fwd_ctx {
    const wt_conv_dims* d;
    float* out;
    const float* in;
    const float* weight;
    const float* bias;
    int ox_lo, ox_hi;
    int relu6; /* clamp each output row to [0, 6] while it is still in cache */
} dw_fwd_ctx;

/* y = relu6(y) in place, with the lane ops of wt_relu6_forward, so the bits match it */
static void relu6_row(float* y, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wt_f32x4_relu6(wasm_v128_load(y + i)));
    for (; i < n; i++) {
        const float t = y[i] < 0.0f ? 0.0f : y[i];
        y[i] = t > 6.0f ? 6.0f : t;
    }
}

/* Output pixels [ox0, ox1) of a row whose taps are rows [ky0, ky1) and columns [kx0, kx1), the
 * same for all of them. */
static void dw_fwd_span(const dw_fwd_ctx* x, float* out_row, const float* in_img, int iy_base, int ky0,
                        int ky1, int ox0, int ox1, int kx0, int kx1) {
    const wt_conv_dims* d = x->d;
    const int C = d->in_c, s = d->stride, k_w = d->k_w;
    const int ix0 = ox0 * s - d->pad_left; /* input column of tap kx = 0 at pixel ox0 */
    if (d->k_h == 3 && k_w == 3 && ky1 - ky0 == 3 && kx0 == 0 && kx1 == 3 && (s == 1 || s == 2)) {
        const float* w[9];
        for (int k = 0; k < 9; k++) w[k] = x->weight + (size_t)k * C;
        const float* r0 = in_img + ((size_t)iy_base * d->in_w + (size_t)ix0) * C;
        const size_t row = (size_t)d->in_w * C;
        dw3x3_interior(out_row + (size_t)ox0 * C, r0, r0 + row, r0 + 2 * row, w, ox1 - ox0, s, x->bias, C, 0);
        return;
    }
    dw_sink k;
    sink_init(&k, out_row + (size_t)ox0 * C, (size_t)C, in_img, (size_t)s * C, ox1 - ox0, x->bias, C, 0);
    for (int ky = ky0; ky < ky1; ky++)
        for (int kx = kx0; kx < kx1; kx++)
            sink_add(&k, ((size_t)(iy_base + ky) * d->in_w + (size_t)(ix0 + kx)) * C,
                     x->weight + ((size_t)ky * k_w + kx) * C);
    sink_flush(&k);
}

static void dw_fwd_rows(void* arg, size_t begin, size_t end) {
    /* Private copies of the context and the dims: the originals sit on the calling thread's stack
     * (under wasm, the shadow stack in linear memory) next to locals that thread keeps writing;
     * reading them per pixel from another thread would share a cache line with those writes. */
    dw_fwd_ctx xc = *(const dw_fwd_ctx*)arg;
    const wt_conv_dims dc = *xc.d;
    xc.d = &dc;
    const dw_fwd_ctx* x = &xc;
    const wt_conv_dims* d = &dc;
    const int C = d->in_c, s = d->stride, k_w = d->k_w;
    for (size_t r = begin; r < end; r++) {
        const int n = (int)(r / (size_t)d->out_h), oy = (int)(r % (size_t)d->out_h);
        const int iy_base = oy * s - d->pad_top;
        const int ky0 = imax(0, -iy_base);
        const int ky1 = imax(ky0, imin(d->k_h, d->in_h - iy_base));
        const float* in_img = x->in + (size_t)n * d->in_h * d->in_w * C;
        float* out_row = x->out + r * (size_t)d->out_w * C;
        for (int ox = 0; ox < d->out_w; ox++) {
            if (ox == x->ox_lo && x->ox_hi > x->ox_lo) {
                dw_fwd_span(x, out_row, in_img, iy_base, ky0, ky1, x->ox_lo, x->ox_hi, 0, k_w);
                ox = x->ox_hi - 1;
                continue;
            }
            const int ix = ox * s - d->pad_left;
            const int kx0 = imin(k_w, imax(0, -ix)), kx1 = imax(kx0, imin(k_w, d->in_w - ix));
            dw_fwd_span(x, out_row, in_img, iy_base, ky0, ky1, ox, ox + 1, kx0, kx1);
        }
        if (x->relu6) relu6_row(out_row, (size_t)d->out_w * C);
    }
}

/* d_weight and d_bias are summed per chunk of output rows, then over the chunks in order. The chunks
 * depend only on the dims, so the sums do not depend on the thread count; each thread streams whole
 * rows (all channels) and a small channel count still splits over all threads. */
enum { DW_WGRAD_CHUNKS = 32 };

static size_t dw_wgrad_n_chunks(const wt_conv_dims* d) {
    size_t rows = (size_t)d->n * d->out_h;
    return rows < DW_WGRAD_CHUNKS ? rows : DW_WGRAD_CHUNKS;
}

/* per chunk, per block of 4 channels: totals of the k_h*k_w taps, then of the bias */
static size_t dw_wgrad_chunk_floats(const wt_conv_dims* d) {
    return ((size_t)d->in_c + 3) / 4 * 4 * ((size_t)d->k_h * d->k_w + 1);
}

size_t wt_depthwise_workspace_floats(const wt_conv_dims* d) {
    return dw_wgrad_n_chunks(d) * dw_wgrad_chunk_floats(d);
}

static void dw_forward(wt_pool* pool, float* out, const float* in, const float* weight, const float* bias,
                       const wt_conv_dims* d, int relu6) {
    dw_fwd_ctx x = {d, out, in, weight, bias, 0, 0, relu6};
    interior_range(d->in_w, d->k_w, d->stride, d->pad_left, d->out_w, &x.ox_lo, &x.ox_hi);
    wt_parallel_for(pool, (size_t)d->n * d->out_h, 1, dw_fwd_rows, &x);
}

void wt_depthwise_forward(wt_pool* pool, float* ws, float* out, const float* in, const float* weight,
                          const float* bias, const wt_conv_dims* d) {
    (void)ws;
    dw_forward(pool, out, in, weight, bias, d, 0);
}

void wt_depthwise_forward_relu6(wt_pool* pool, float* ws, float* out, const float* in, const float* weight,
                                const float* bias, const wt_conv_dims* d) {
    (void)ws;
    dw_forward(pool, out, in, weight, bias, d, 1);
}

/* ---------------------------------------------------------------------------------------------
 * Backward, d_in: input pixel (iy, ix) gathers d_out[oy, ox] * w[ky, kx] over the taps with
 * oy*stride - pad_top + ky == iy and ox*stride - pad_left + kx == ix. In a row the valid ky are
 * fixed; the columns split into `stride` phases (ix mod stride), each with a fixed kx set, whose
 * pixels ix = ph + j*stride read ox = j + q(kx), q(kx) = (ph + pad_left - kx) / stride.
 * ------------------------------------------------------------------------------------------- */
typedef struct dw_din_ctx {
    const wt_conv_dims* d;
    float* d_in;
    const float* d_out;
    const float* weight;
} dw_din_ctx;

static inline int dw_row_tap(const wt_conv_dims* d, int iy, int ky, int* oy) {
    const int u = iy + d->pad_top - ky;
    if (u < 0 || u % d->stride != 0 || u / d->stride >= d->out_h) return 0;
    *oy = u / d->stride;
    return 1;
}

/* Input pixels j in [j0, j1) of phase ph of input row iy: taps whose ox = j + q lies in the
 * output for every j of the span. */
static void dw_din_span(const dw_din_ctx* x, float* din_row, const float* dout_img, int iy, int ph, int j0,
                        int j1) {
    const wt_conv_dims* d = x->d;
    const int C = d->in_c, s = d->stride, k_w = d->k_w, out_w = d->out_w;
    dw_sink k;
    sink_init(&k, din_row + (size_t)(ph + j0 * s) * C, (size_t)s * C, dout_img, (size_t)C, j1 - j0, NULL, C, 1);
    for (int ky = 0; ky < d->k_h; ky++) {
        int oy;
        if (!dw_row_tap(d, iy, ky, &oy)) continue;
        for (int kx = 0; kx < k_w; kx++) {
            const int u = ph + d->pad_left - kx;
            if (((u % s) + s) % s != 0) continue;
            const int q = u / s; /* exact */
            if (j0 + q < 0 || j1 - 1 + q >= out_w) continue;
            sink_add(&k, ((size_t)oy * out_w + (size_t)(j0 + q)) * C, x->weight + ((size_t)ky * k_w + kx) * C);
        }
    }
    sink_flush(&k);
}

static void dw_din_rows(void* arg, size_t begin, size_t end) {
    /* Private copies of the context and the dims: the originals sit on the calling thread's stack
     * (under wasm, the shadow stack in linear memory) next to locals that thread keeps writing;
     * reading them per pixel from another thread would share a cache line with those writes. */
    dw_din_ctx xc = *(const dw_din_ctx*)arg;
    const wt_conv_dims dc = *xc.d;
    xc.d = &dc;
    const dw_din_ctx* x = &xc;
    const wt_conv_dims* d = &dc;
    const int C = d->in_c, s = d->stride, k_w = d->k_w;
    const int out_w = d->out_w, in_w = d->in_w;
    for (size_t r = begin; r < end; r++) {
        const int n = (int)(r / (size_t)d->in_h), iy = (int)(r % (size_t)d->in_h);
        int nky = 0, oys[3];
        for (int ky = 0; ky < d->k_h; ky++) {
            int oy;
            if (dw_row_tap(d, iy, ky, &oy)) {
                if (nky < 3) oys[nky] = oy;
                nky++;
            }
        }
        if (nky == 0) continue;
        float* din_row = x->d_in + r * (size_t)in_w * C;
        const float* dout_img = x->d_out + (size_t)n * d->out_h * out_w * C;
        for (int ph = 0; ph < s && ph < in_w; ph++) {
            const int nj = (in_w - ph + s - 1) / s;
            int nkx = 0, qmin = 0, qmax = 0;
            for (int kx = 0; kx < k_w; kx++) {
                const int u = ph + d->pad_left - kx;
                if (((u % s) + s) % s != 0) continue;
                const int q = u / s;
                if (nkx == 0 || q < qmin) qmin = q;
                if (nkx == 0 || q > qmax) qmax = q;
                nkx++;
            }
            if (nkx == 0) continue;
            const int j_lo = imin(imax(0, -qmin), nj);
            const int j_hi = imax(j_lo, imin(nj, out_w - qmax));
            for (int j = 0; j < nj; j++) {
                if (j == j_lo && j_hi > j_lo) {
                    if (s == 1 && d->k_h == 3 && k_w == 3 && nky == 3) {
                        /* d_in[ix] += sum_{a,b} d_out[oy(ky=2-a)][ix + pad_left - 2 + b] * w[2-a][2-b] */
                        const float* w[9];
                        for (int k = 0; k < 9; k++) w[k] = x->weight + (size_t)(8 - k) * C;
                        const size_t col = (size_t)(j_lo + d->pad_left - 2) * C;
                        dw3x3_interior(din_row + (size_t)j_lo * C,
                                       dout_img + (size_t)oys[2] * out_w * C + col,
                                       dout_img + (size_t)oys[1] * out_w * C + col,
                                       dout_img + (size_t)oys[0] * out_w * C + col, w, j_hi - j_lo, 1, NULL, C, 1);
                    } else {
                        dw_din_span(x, din_row, dout_img, iy, ph, j_lo, j_hi);
                    }
                    j = j_hi - 1;
                    continue;
                }
                dw_din_span(x, din_row, dout_img, iy, ph, j, j + 1);
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * Backward, d_weight and d_bias. Pass 1 over fixed chunks of output rows: a chunk walks its pixels
 * in order; per group of pixels and block of 4 channels it sums g * x over the group in registers
 * and adds that to the chunk's totals tot[block][tap][4] (tot[block][k_h*k_w][4]: the bias).
 * Pass 2 over channel blocks adds the chunks' totals in chunk order to d_weight and d_bias.
 * ------------------------------------------------------------------------------------------- */
typedef struct dw_wgrad_ctx {
    const wt_conv_dims* d;
    float* d_weight;
    float* d_bias;
    const float* d_out;
    const float* in;
    float* tot; /* n_chunks x chunk_floats */
    size_t n_chunks, chunk_floats;
    int ox_lo, ox_hi;
} dw_wgrad_ctx;

DW_INLINE void dw_wgrad_px(float* tot, int T, const float* g, const float* s, size_t src_step,
                           const size_t* off, const int* idx, const int nt, int count_bias, int C,
                           int c0, int c1, const int PX) {
    int c = c0;
    for (; c + 4 <= c1; c += 4) {
        float* A = tot + (size_t)c * (T + 1);
        v128_t gv[4];
        for (int q = 0; q < PX; q++) gv[q] = wasm_v128_load(g + (size_t)q * C + c);
        if (count_bias) {
            v128_t sb = gv[0];
            for (int q = 1; q < PX; q++) sb = wasm_f32x4_add(sb, gv[q]);
            wasm_v128_store(A + (size_t)T * 4, wasm_f32x4_add(wasm_v128_load(A + (size_t)T * 4), sb));
        }
        for (int k = 0; k < nt; k++) {
            v128_t t = wasm_f32x4_mul(gv[0], wasm_v128_load(s + off[k] + c));
            for (int q = 1; q < PX; q++)
                t = wasm_f32x4_add(t, wasm_f32x4_mul(gv[q], wasm_v128_load(s + (size_t)q * src_step + off[k] + c)));
            float* a = A + (size_t)idx[k] * 4;
            wasm_v128_store(a, wasm_f32x4_add(wasm_v128_load(a), t));
        }
    }
    for (; c < c1; c++) {
        float* A = tot + (size_t)(c & ~3) * (T + 1) + (c & 3);
        float gs[4];
        for (int q = 0; q < PX; q++) gs[q] = g[(size_t)q * C + c];
        if (count_bias) {
            float sb = gs[0];
            for (int q = 1; q < PX; q++) sb += gs[q];
            A[(size_t)T * 4] += sb;
        }
        for (int k = 0; k < nt; k++) {
            float t = gs[0] * s[off[k] + c];
            for (int q = 1; q < PX; q++) t += gs[q] * s[(size_t)q * src_step + off[k] + c];
            A[(size_t)idx[k] * 4] += t;
        }
    }
}

DW_INLINE void dw_wgrad_run(float* tot, int T, const float* g, const float* src, size_t src_step,
                            int npix, const dw_taps* t, const int nt, int count_bias, int C, int c0,
                            int c1) {
    size_t off[DW_MAX_TAPS];
    int idx[DW_MAX_TAPS];
    for (int k = 0; k < nt; k++) {
        off[k] = t->off[k];
        idx[k] = t->idx[k];
    }
    int p = 0;
    for (; p + 4 <= npix; p += 4)
        dw_wgrad_px(tot, T, g + (size_t)p * C, src + (size_t)p * src_step, src_step, off, idx, nt, count_bias,
                    C, c0, c1, 4);
    if (p + 2 <= npix) {
        dw_wgrad_px(tot, T, g + (size_t)p * C, src + (size_t)p * src_step, src_step, off, idx, nt, count_bias,
                    C, c0, c1, 2);
        p += 2;
    }
    if (p < npix)
        dw_wgrad_px(tot, T, g + (size_t)p * C, src + (size_t)p * src_step, src_step, off, idx, nt, count_bias,
                    C, c0, c1, 1);
}

/* 3x3 interior of d_weight: like dw_wgrad_px with the 9 taps of full rows r0..r2 (tap (a, kx) of
 * pixel q at r_a[(q*S + kx) * C]), loading each input column of the PX pixels once. Same sums in the
 * same order as the generic path. */
DW_INLINE void dw3x3_wgrad_px(float* tot, const float* g, const float* r0, const float* r1, const float* r2,
                              int count_bias, int C, int c0, int c1, const int S, const int PX) {
    const float* rows[3] = {r0, r1, r2};
    const int ncol = (PX - 1) * S + 3;
    int c = c0;
    for (; c + 4 <= c1; c += 4) {
        float* A = tot + (size_t)c * 10;
        v128_t gv[4];
        for (int q = 0; q < PX; q++) gv[q] = wasm_v128_load(g + (size_t)q * C + c);
        if (count_bias) {
            v128_t sb = gv[0];
            for (int q = 1; q < PX; q++) sb = wasm_f32x4_add(sb, gv[q]);
            wasm_v128_store(A + 36, wasm_f32x4_add(wasm_v128_load(A + 36), sb));
        }
        for (int a = 0; a < 3; a++) {
            v128_t t[3];
            const float* r = rows[a] + c;
            for (int j = 0; j < ncol; j++) {
                const v128_t x = wasm_v128_load(r + (size_t)j * C);
                for (int q = 0; q < PX; q++) {
                    const int kx = j - q * S;
                    if (kx < 0 || kx > 2) continue;
                    const v128_t m = wasm_f32x4_mul(gv[q], x);
                    t[kx] = q == 0 ? m : wasm_f32x4_add(t[kx], m);
                }
            }
            for (int kx = 0; kx < 3; kx++) {
                float* acc = A + (size_t)(3 * a + kx) * 4;
                wasm_v128_store(acc, wasm_f32x4_add(wasm_v128_load(acc), t[kx]));
            }
        }
    }
    for (; c < c1; c++) {
        float* A = tot + (size_t)(c & ~3) * 10 + (c & 3);
        float gs[4];
        for (int q = 0; q < PX; q++) gs[q] = g[(size_t)q * C + c];
        if (count_bias) {
            float sb = gs[0];
            for (int q = 1; q < PX; q++) sb += gs[q];
            A[36] += sb;
        }
        for (int a = 0; a < 3; a++)
            for (int kx = 0; kx < 3; kx++) {
                float t = gs[0] * rows[a][(size_t)kx * C + c];
                for (int q = 1; q < PX; q++) t += gs[q] * rows[a][(size_t)(q * S + kx) * C + c];
                A[(size_t)(3 * a + kx) * 4] += t;
            }
    }
}

DW_INLINE void dw3x3_wgrad_run(float* tot, const float* g, const float* r0, const float* r1, const float* r2,
                               int npix, int count_bias, int C, int c0, int c1, const int S) {
    int p = 0;
    for (; p + 4 <= npix; p += 4) {
        const size_t i = (size_t)p * S * C;
        dw3x3_wgrad_px(tot, g + (size_t)p * C, r0 + i, r1 + i, r2 + i, count_bias, C, c0, c1, S, 4);
    }
    if (p + 2 <= npix) {
        const size_t i = (size_t)p * S * C;
        dw3x3_wgrad_px(tot, g + (size_t)p * C, r0 + i, r1 + i, r2 + i, count_bias, C, c0, c1, S, 2);
        p += 2;
    }
    if (p < npix) {
        const size_t i = (size_t)p * S * C;
        dw3x3_wgrad_px(tot, g + (size_t)p * C, r0 + i, r1 + i, r2 + i, count_bias, C, c0, c1, S, 1);
    }
}

static void dw_wgrad_dispatch(float* tot, int T, const float* g, const float* src, size_t src_step, int npix,
                              const dw_taps* t, int count_bias, int C, int c0, int c1) {
    switch (t->n) {
    case 9: dw_wgrad_run(tot, T, g, src, src_step, npix, t, 9, count_bias, C, c0, c1); break;
    case 6: dw_wgrad_run(tot, T, g, src, src_step, npix, t, 6, count_bias, C, c0, c1); break;
    case 4: dw_wgrad_run(tot, T, g, src, src_step, npix, t, 4, count_bias, C, c0, c1); break;
    case 1: dw_wgrad_run(tot, T, g, src, src_step, npix, t, 1, count_bias, C, c0, c1); break;
    case 0: dw_wgrad_run(tot, T, g, src, src_step, npix, t, 0, count_bias, C, c0, c1); break;
    default: dw_wgrad_run(tot, T, g, src, src_step, npix, t, t->n, count_bias, C, c0, c1); break;
    }
}

/* Output pixels [ox0, ox1) of a row with taps rows [ky0, ky1), columns [kx0, kx1); the bias total is
 * counted with the first tap list only. */
static void dw_wgrad_span(const dw_wgrad_ctx* x, float* tot, const float* grow, const float* in_img,
                          int iy_base, int ky0, int ky1, int ox0, int ox1, int kx0, int kx1, int c0, int c1) {
    const wt_conv_dims* d = x->d;
    const int C = d->in_c, s = d->stride, k_w = d->k_w, T = d->k_h * k_w;
    const int ix0 = ox0 * s - d->pad_left;
    const float* g = grow + (size_t)ox0 * C;
    const size_t step = (size_t)s * C;
    int count_bias = x->d_bias != NULL;
    if (x->d_weight && d->k_h == 3 && k_w == 3 && ky1 - ky0 == 3 && kx0 == 0 && kx1 == 3 && (s == 1 || s == 2)) {
        const float* r0 = in_img + ((size_t)iy_base * d->in_w + (size_t)ix0) * C;
        const size_t row = (size_t)d->in_w * C;
        if (s == 1) dw3x3_wgrad_run(tot, g, r0, r0 + row, r0 + 2 * row, ox1 - ox0, count_bias, C, c0, c1, 1);
        else dw3x3_wgrad_run(tot, g, r0, r0 + row, r0 + 2 * row, ox1 - ox0, count_bias, C, c0, c1, 2);
        return;
    }
    dw_taps t;
    t.n = 0;
    if (x->d_weight) {
        for (int ky = ky0; ky < ky1; ky++)
            for (int kx = kx0; kx < kx1; kx++) {
                if (t.n == DW_MAX_TAPS) {
                    dw_wgrad_dispatch(tot, T, g, in_img, step, ox1 - ox0, &t, count_bias, C, c0, c1);
                    count_bias = 0;
                    t.n = 0;
                }
                t.off[t.n] = ((size_t)(iy_base + ky) * d->in_w + (size_t)(ix0 + kx)) * C;
                t.idx[t.n] = ky * k_w + kx;
                t.n++;
            }
    }
    if (t.n > 0 || count_bias) dw_wgrad_dispatch(tot, T, g, in_img, step, ox1 - ox0, &t, count_bias, C, c0, c1);
}

/* Pass 1: chunk ch of the output rows sums into its own totals tot + ch * chunk_floats. */
static void dw_wgrad_chunks(void* arg, size_t begin, size_t end) {
    /* Private copies of the context and the dims: the originals sit on the calling thread's stack
     * (under wasm, the shadow stack in linear memory) next to locals that thread keeps writing;
     * reading them per pixel from another thread would share a cache line with those writes. */
    dw_wgrad_ctx xc = *(const dw_wgrad_ctx*)arg;
    const wt_conv_dims dc = *xc.d;
    xc.d = &dc;
    const dw_wgrad_ctx* x = &xc;
    const wt_conv_dims* d = &dc;
    const int C = d->in_c, s = d->stride, k_w = d->k_w;
    const size_t rows = (size_t)d->n * d->out_h;
    for (size_t ch = begin; ch < end; ch++) {
        float* tot = x->tot + ch * x->chunk_floats;
        memset(tot, 0, x->chunk_floats * sizeof(float));
        for (size_t r = ch * rows / x->n_chunks; r < (ch + 1) * rows / x->n_chunks; r++) {
            const int n = (int)(r / (size_t)d->out_h), oy = (int)(r % (size_t)d->out_h);
            const int iy_base = oy * s - d->pad_top;
            const int ky0 = imax(0, -iy_base);
            const int ky1 = imax(ky0, imin(d->k_h, d->in_h - iy_base));
            const float* in_img = x->in + (size_t)n * d->in_h * d->in_w * C;
            const float* grow = x->d_out + r * (size_t)d->out_w * C;
            for (int ox = 0; ox < d->out_w; ox++) {
                if (ox == x->ox_lo && x->ox_hi > x->ox_lo) {
                    dw_wgrad_span(x, tot, grow, in_img, iy_base, ky0, ky1, x->ox_lo, x->ox_hi, 0, k_w, 0, C);
                    ox = x->ox_hi - 1;
                    continue;
                }
                const int ix = ox * s - d->pad_left;
                const int kx0 = imin(k_w, imax(0, -ix)), kx1 = imax(kx0, imin(k_w, d->in_w - ix));
                dw_wgrad_span(x, tot, grow, in_img, iy_base, ky0, ky1, ox, ox + 1, kx0, kx1, 0, C);
            }
        }
    }
}

/* Pass 2, over channel blocks: the chunks' totals summed in chunk order, added to the gradients. */
static void dw_wgrad_reduce(void* arg, size_t b0, size_t b1) {
    const dw_wgrad_ctx* x = (const dw_wgrad_ctx*)arg;
    const int C = x->d->in_c, T = x->d->k_h * x->d->k_w;
    for (size_t b = b0; b < b1; b++) {
        const int c = (int)b * 4;
        const float* A = x->tot + (size_t)c * (T + 1);
        for (int k = 0; k <= T; k++) {
            float* dst;
            if (k < T) {
                if (!x->d_weight) continue;
                dst = x->d_weight + (size_t)k * C + c;
            } else {
                if (!x->d_bias) continue;
                dst = x->d_bias + c;
            }
            v128_t v = wasm_v128_load(A + (size_t)k * 4);
            for (size_t ch = 1; ch < x->n_chunks; ch++)
                v = wasm_f32x4_add(v, wasm_v128_load(A + ch * x->chunk_floats + (size_t)k * 4));
            if (c + 4 <= C) {
                wasm_v128_store(dst, wasm_f32x4_add(wasm_v128_load(dst), v));
            } else {
                float lanes[4];
                wasm_v128_store(lanes, v);
                for (int l = 0; l < C - c; l++) dst[l] += lanes[l];
            }
        }
    }
}

void wt_depthwise_backward(wt_pool* pool, float* ws, float* d_in, float* d_weight, float* d_bias,
                           const float* d_out, const float* in, const float* weight,
                           const wt_conv_dims* d) {
    if (d_in) {
        dw_din_ctx x = {d, d_in, d_out, weight};
        wt_parallel_for(pool, (size_t)d->n * d->in_h, 1, dw_din_rows, &x);
    }
    const size_t n_chunks = dw_wgrad_n_chunks(d);
    if ((d_weight || d_bias) && n_chunks > 0) {
        dw_wgrad_ctx x = {d, d_weight, d_bias, d_out, in, ws, n_chunks, dw_wgrad_chunk_floats(d), 0, 0};
        interior_range(d->in_w, d->k_w, d->stride, d->pad_left, d->out_w, &x.ox_lo, &x.ox_hi);
        wt_parallel_for(pool, n_chunks, 1, dw_wgrad_chunks, &x);
        wt_parallel_for(pool, ((size_t)d->in_c + 3) / 4, 1, dw_wgrad_reduce, &x);
    }
}
