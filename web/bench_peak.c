/* bench_peak.c: measurement helpers for tests/bench/compare_tfjs.mjs, exported from both wasm
 * modules so the benchmark measures the compute ceiling and single kernels inside the very module
 * (and process) it times the networks in. Nothing in the library calls them.
 *
 *   wtjs_bench_peak(threads, seconds)  GFLOP/s of the register-blocked f32x4 mul+add loop of
 *       tests/bench/simd_peak.h (which bench_kernels.c measures too), best of ~2 ms samples taken
 *       for `seconds`.
 *   wtjs_bench_kernel(op, threads, n, in_h, in_w, in_c, out_h, out_w, out_c, k, stride, pad_top,
 *       pad_left, seconds)  seconds per call of one fast kernel (src/ops.h) on that shape, best of
 *       samples taken for `seconds`, on buffers it allocates (0 if memory runs out). For a per-layer
 *       profile of a net and the pointwise GEMM's GFLOP/s. ops: see enum below.
 *
 * threads: 1 = the calling thread alone; 2 = a 2-thread pool kept for these calls (the module's
 * pre-started workers; a single-thread build runs everything on the caller). */
#include <emscripten/emscripten.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "simd.h"
#include "threadpool.h"

static wt_pool* bench_pool2;

static wt_pool* pool_for(int threads) {
    if (threads <= 1) return NULL;
    if (!bench_pool2) bench_pool2 = wt_pool_create(2);
    return bench_pool2;
}

/* ---- peak ---------------------------------------------------------------------------------- */
#include "../tests/bench/simd_peak.h"

EMSCRIPTEN_KEEPALIVE double wtjs_bench_peak(int threads, double seconds) {
    wt_pool* pool = pool_for(threads);
    int n = wt_pool_threads(pool);
    peak_iters = 20000;
    for (int w = 0; w < 50; w++) wt_parallel_for(pool, (size_t)n, 1, peak_range, NULL);
    peak_iters = 1000000; /* ~2 ms per sample */
    double best = 0.0, t_end = emscripten_get_now() + seconds * 1e3;
    do {
        double t = emscripten_get_now();
        wt_parallel_for(pool, (size_t)n, 1, peak_range, NULL);
        t = (emscripten_get_now() - t) * 1e-3;
        double g = n * peak_iters * PEAK_FLOPS_PER_ITER / t * 1e-9;
        if (g > best) best = g;
    } while (emscripten_get_now() < t_end);
    return best;
}

/* ---- single kernels ------------------------------------------------------------------------ */
enum {
    OP_LINEAR_FWD = 0, OP_LINEAR_BWD_DATA = 1, OP_LINEAR_BWD_WEIGHT = 2,
    OP_DW_FWD = 3, OP_DW_BWD = 4, OP_DW_BWD_WEIGHT = 5,
    OP_CONV_FWD = 6, OP_CONV_BWD = 7, OP_CONV_BWD_WEIGHT = 8,
    OP_BN_FROZEN_FWD = 9, OP_BN_FROZEN_BWD = 10, OP_BN_TRAIN_FWD = 11, OP_BN_TRAIN_BWD = 12,
    OP_RELU6_FWD = 13, OP_RELU6_BWD = 14, OP_ADD = 15, OP_AXPY = 16, OP_MEMSET = 17,
    OP_BN_RELU6_FWD = 18, OP_ZERO = 19, /* fused frozen BN + ReLU6 forward; zeroing split over the pool */
    OP_LINEAR_FWD_RELU6 = 20, OP_DW_FWD_RELU6 = 21 /* folded conv -> BN -> ReLU6 (net.c plan_folds) */
};

static void zero_range(void* ctx, size_t begin, size_t end) {
    memset((float*)ctx + begin, 0, (end - begin) * sizeof(float));
}

typedef struct kbufs {
    float *x, *y, *dx, *dy, *w, *dw, *g, *b, *m, *v, *sm, *sv, *ws;
    wt_conv_dims cd;
    wt_linear_dims ld;
    wt_bn_dims bd;
    size_t n_in, n_out;
} kbufs;

static void run_op(int op, wt_pool* p, kbufs* k) {
    switch (op) {
    case OP_LINEAR_FWD: wt_linear_forward(p, k->ws, k->y, k->x, k->w, NULL, &k->ld); break;
    case OP_LINEAR_BWD_DATA: wt_linear_backward(p, k->ws, k->dx, NULL, NULL, k->dy, k->x, k->w, &k->ld); break;
    case OP_LINEAR_BWD_WEIGHT: wt_linear_backward(p, k->ws, NULL, k->dw, NULL, k->dy, k->x, k->w, &k->ld); break;
    case OP_DW_FWD: wt_depthwise_forward(p, k->ws, k->y, k->x, k->w, NULL, &k->cd); break;
    case OP_DW_BWD: wt_depthwise_backward(p, k->ws, k->dx, k->dw, NULL, k->dy, k->x, k->w, &k->cd); break;
    case OP_DW_BWD_WEIGHT: wt_depthwise_backward(p, k->ws, NULL, k->dw, NULL, k->dy, k->x, k->w, &k->cd); break;
    case OP_CONV_FWD: wt_conv2d_forward(p, k->ws, k->y, k->x, k->w, NULL, &k->cd); break;
    case OP_CONV_BWD: wt_conv2d_backward(p, k->ws, k->dx, k->dw, NULL, k->dy, k->x, k->w, &k->cd); break;
    case OP_CONV_BWD_WEIGHT: wt_conv2d_backward(p, k->ws, NULL, k->dw, NULL, k->dy, k->x, k->w, &k->cd); break;
    case OP_BN_FROZEN_FWD: wt_batchnorm_forward_frozen(p, k->y, k->x, k->g, k->b, k->m, k->v, &k->bd); break;
    case OP_BN_FROZEN_BWD:
        wt_batchnorm_backward_frozen(p, k->dx, k->dw, k->dw + k->bd.c, k->dy, k->x, k->g, k->m, k->v, &k->bd);
        break;
    case OP_BN_TRAIN_FWD:
        wt_batchnorm_forward_train(p, k->y, k->sm, k->sv, k->m, k->v, k->x, k->g, k->b, 0.99f, &k->bd);
        break;
    case OP_BN_TRAIN_BWD:
        wt_batchnorm_backward_train(p, k->dx, k->dw, k->dw + k->bd.c, k->dy, k->x, k->g, k->sm, k->sv, &k->bd);
        break;
    case OP_RELU6_FWD: wt_relu6_forward(p, k->y, k->x, k->n_out); break;
    case OP_RELU6_BWD: wt_relu6_backward(p, k->dx, k->dy, k->x, k->n_out); break;
    case OP_ADD: wt_add_forward(p, k->y, k->x, k->dx, k->n_out); break;
    case OP_AXPY: wt_axpy(p, k->dx, 1.0f, k->dy, k->n_out); break;
    case OP_MEMSET: memset(k->dy, 0, k->n_out * sizeof(float)); break;
    case OP_BN_RELU6_FWD: wt_batchnorm_relu6_forward_frozen(p, k->y, k->y, k->x, k->g, k->b, k->m, k->v, &k->bd); break;
    case OP_ZERO: wt_parallel_for(p, k->n_out, 16384, zero_range, k->dy); break; /* as net.c zeroes */
    case OP_LINEAR_FWD_RELU6: wt_linear_forward_relu6(p, k->ws, k->y, k->x, k->w, k->b, &k->ld); break;
    case OP_DW_FWD_RELU6: wt_depthwise_forward_relu6(p, k->ws, k->y, k->x, k->w, k->b, &k->cd); break;
    }
}

static float* fill_new(size_t n, uint32_t seed, float lo, float hi) {
    float* p = (float*)malloc((n ? n : 1) * sizeof(float));
    if (!p) return NULL;
    uint32_t s = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = lo + (hi - lo) * (float)(s >> 8) * (1.0f / 16777216.0f);
    }
    return p;
}

EMSCRIPTEN_KEEPALIVE double wtjs_bench_kernel(int op, int threads, int n, int in_h, int in_w, int in_c, int out_h,
                                              int out_w, int out_c, int k, int stride, int pad_top, int pad_left,
                                              double seconds) {
    if (op < 0 || op > OP_DW_FWD_RELU6 || n < 1 || in_h < 1 || in_w < 1 || in_c < 1 || out_h < 1 || out_w < 1 || out_c < 1)
        return -1.0;
    wt_pool* pool = pool_for(threads);
    kbufs b;
    memset(&b, 0, sizeof b);
    b.cd = (wt_conv_dims){ .n = n, .in_h = in_h, .in_w = in_w, .in_c = in_c, .out_h = out_h, .out_w = out_w,
                           .out_c = out_c, .k_h = k, .k_w = k, .stride = stride, .pad_top = pad_top,
                           .pad_left = pad_left };
    b.ld = (wt_linear_dims){ .rows = n * in_h * in_w, .in_c = in_c, .out_c = out_c };
    b.bd = (wt_bn_dims){ .rows = n * out_h * out_w, .c = out_c, .eps = 1e-3f };
    b.n_in = (size_t)n * in_h * in_w * in_c;
    b.n_out = (size_t)n * out_h * out_w * out_c;
    size_t n_w = 0, n_ws = 0;
    if (op <= OP_LINEAR_BWD_WEIGHT || op == OP_LINEAR_FWD_RELU6) {
        n_w = (size_t)in_c * out_c;
        n_ws = wt_linear_workspace_floats(&b.ld);
    } else if (op <= OP_DW_BWD_WEIGHT || op == OP_DW_FWD_RELU6) {
        n_w = (size_t)k * k * in_c;
        n_ws = wt_depthwise_workspace_floats(&b.cd);
    } else if (op <= OP_CONV_BWD_WEIGHT) {
        n_w = (size_t)k * k * in_c * out_c;
        n_ws = wt_conv2d_workspace_floats(&b.cd);
    } else {
        n_w = 2 * (size_t)out_c;
        if (b.n_in < b.n_out) b.n_in = b.n_out;
    }
    size_t c = (size_t)(out_c > in_c ? out_c : in_c);
    double result = 0.0;
    b.x = fill_new(b.n_in, 1, -1.0f, 1.0f);
    b.dx = fill_new(b.n_in, 2, -1.0f, 1.0f);
    b.y = fill_new(b.n_out, 3, -1.0f, 1.0f);
    b.dy = fill_new(b.n_out, 4, -1.0f, 1.0f);
    b.w = fill_new(n_w, 5, -0.1f, 0.1f);
    b.dw = fill_new(n_w, 6, -0.1f, 0.1f);
    b.g = fill_new(c, 7, 0.5f, 1.5f);
    b.b = fill_new(c, 8, -0.1f, 0.1f);
    b.m = fill_new(c, 9, -0.1f, 0.1f);
    b.v = fill_new(c, 10, 0.5f, 1.5f);
    b.sm = fill_new(c, 11, -0.1f, 0.1f);
    b.sv = fill_new(c, 12, 0.5f, 1.5f);
    b.ws = (float*)malloc((n_ws ? n_ws : 1) * sizeof(float));
    if (b.x && b.dx && b.y && b.dy && b.w && b.dw && b.g && b.b && b.m && b.v && b.sm && b.sv && b.ws) {
        /* warm-up (>= 10 ms, so the code is tiered up), then batches of calls lasting >= 0.5 ms */
        double t0 = emscripten_get_now(), per;
        int calls = 0;
        do {
            run_op(op, pool, &b);
            calls++;
        } while (emscripten_get_now() - t0 < 10.0 && calls < 50);
        per = (emscripten_get_now() - t0) / calls;
        int batch = per >= 0.5 ? 1 : (int)(0.5 / per) + 1;
        double best = 1e30, t_end = emscripten_get_now() + seconds * 1e3;
        int samples = 0;
        do {
            double t = emscripten_get_now();
            for (int i = 0; i < batch; i++) run_op(op, pool, &b);
            t = (emscripten_get_now() - t) / batch;
            if (t < best) best = t;
            samples++;
        } while (samples < 3 || emscripten_get_now() < t_end);
        result = best * 1e-3;
    }
    free(b.x); free(b.dx); free(b.y); free(b.dy); free(b.w); free(b.dw); free(b.g); free(b.b);
    free(b.m); free(b.v); free(b.sm); free(b.sv); free(b.ws);
    return result;
}

/* ---- scaling model (threadpool.h) ------------------------------------------------------------ */
EMSCRIPTEN_KEEPALIVE void wtjs_pool_model_begin(int threads) { wt_pool_model_begin(threads); }

/* out[0..4]: loop_seconds, critical_seconds, serial_loop_seconds, loops, serial_loops */
EMSCRIPTEN_KEEPALIVE void wtjs_pool_model_end(double* out) {
    wt_pool_model_stats s;
    wt_pool_model_end(&s);
    out[0] = s.loop_seconds;
    out[1] = s.critical_seconds;
    out[2] = s.serial_loop_seconds;
    out[3] = (double)s.loops;
    out[4] = (double)s.serial_loops;
}

/* ---- fork/join ------------------------------------------------------------------------------ */
static volatile float forkjoin_sink[64];
static void forkjoin_range(void* ctx, size_t begin, size_t end) {
    (void)ctx;
    for (size_t i = begin; i < end; i++) forkjoin_sink[i * 16 % 64] += 1.0f;
}

/* Microseconds per parallel loop of trivial work (one item per thread) on `threads` threads, with
 * `gap_us` of serial work on the caller between loops (the gap's own time subtracted): what one
 * fork/join costs while the workers spin (small gaps) or after they went to sleep (long gaps). */
EMSCRIPTEN_KEEPALIVE double wtjs_bench_forkjoin(int threads, double gap_us, int iters) {
    wt_pool* pool = pool_for(threads);
    int n = wt_pool_threads(pool);
    double gaps = 0.0, t0 = emscripten_get_now();
    for (int it = 0; it < iters; it++) {
        double g = emscripten_get_now();
        while (emscripten_get_now() - g < gap_us * 1e-3) {
        }
        gaps += emscripten_get_now() - g;
        wt_parallel_for(pool, (size_t)n, 1, forkjoin_range, NULL);
    }
    return ((emscripten_get_now() - t0) - gaps) * 1e3 / iters;
}
