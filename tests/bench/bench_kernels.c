/* bench_kernels.c: GFLOP/s of the fast kernels on the real layer shapes of MobileNet v1 1.0,
 * v1 0.25 and v2 0.35 at 224x224, forward and backward, on 1 and 2 threads, against the measured
 * wasm SIMD mul+add peak of the same thread count.
 *
 *   bench_kernels [--batch N] [--ms T] [--runs R] [--only pw,dw,conv,bn] [--quick]
 *
 * Peak: 13 independent f32x4 accumulators, each x = x*m + a (mul then add; wasm SIMD 1.0 has no
 * FMA), counted as 2 flops per lane. 13 chains cover the mul+add latency on this class of core
 * (fewer chains measure latency, not throughput); 2 threads run one loop each through the pool.
 * Kernel timing (monotonic clock): warm-up calls for >= 10 ms (so V8 tiers the code up to TurboFan),
 * then the best of many samples (batches of calls of >= 0.5 ms), for >= T ms and >= R samples.
 * The "cores" column of 2-thread rows is a short 2-thread peak sample taken right after the row,
 * over the 1-thread peak: ~2.0 when both cores were free, ~1.0 when another process held one; the
 * summary also gives the speed-up over the rows measured with both cores free (cores >= 1.8).
 * Shapes that occur several times (e.g. v1's five 14x14 512->512 blocks) are measured once and
 * weighted by their count in the FLOP-weighted summary (= total flops / total time per class).
 * FLOPs: pointwise 2*rows*in*out per direction; depthwise 2*k*k per output element forward, twice
 * that backward (d_in and d_weight); conv 2*pixels*out_c*k*k*in_c per GEMM (backward: d_weight only,
 * as for a network's first layer); batchnorm (train mode) nominally 6 flops per element forward and
 * 10 backward: it is memory-bound, and its GB/s column is the number to read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops.h"
#include "simd.h"

/* ---------------------------------------------------------------------------------------------
 * Clock, options
 * ------------------------------------------------------------------------------------------- */
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static struct {
    int batch;
    double min_s; /* each timed run lasts at least this */
    int runs;
    char only[64];
} opt = {16, 0.15, 5, ""};

static int enabled(const char* cls) {
    if (!opt.only[0]) return 1;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", opt.only);
    for (char* tok = strtok(buf, ","); tok; tok = strtok(NULL, ","))
        if (strcmp(tok, cls) == 0) return 1;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Peak: register-blocked f32x4 mul+add
 * ------------------------------------------------------------------------------------------- */
#include "simd_peak.h"

static double measure_peak(wt_pool* pool, int threads) {
    peak_iters = 20000;
    for (int w = 0; w < 50; w++) wt_parallel_for(pool, (size_t)threads, 1, peak_range, NULL);
    peak_iters = 1000000; /* ~2 ms: short samples, best of many */
    double best = 0.0;
    for (int r = 0; r < 60; r++) {
        double t = now_s();
        wt_parallel_for(pool, (size_t)threads, 1, peak_range, NULL);
        t = now_s() - t;
        double g = threads * peak_iters * PEAK_FLOPS_PER_ITER / t * 1e-9;
        if (g > best) best = g;
    }
    return best;
}

/* ---------------------------------------------------------------------------------------------
 * Layer tables
 * ------------------------------------------------------------------------------------------- */
enum { L_CONV, L_DW, L_PW };

typedef struct layer {
    int kind;
    const char* model;
    char name[16];
    int h, w;          /* input spatial */
    int in_c, out_c;   /* depthwise: out_c == in_c */
    int k, stride, pad; /* pad = top/left padding */
} layer;

#define MAX_LAYERS 160
static layer layers[MAX_LAYERS];
static int n_layers;

static void add_layer(int kind, const char* model, const char* name, int h, int in_c, int out_c, int k,
                      int stride) {
    layer* l = &layers[n_layers++];
    l->kind = kind;
    l->model = model;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->h = l->w = h;
    l->in_c = in_c;
    l->out_c = out_c;
    l->k = k;
    l->stride = stride;
    /* Keras: stride 2 pads ((0,1),(0,1)) on even inputs; stride 1 is "same" */
    l->pad = stride == 1 ? k / 2 : 0;
}

static int out_size(const layer* l) { return (l->h + (l->stride == 1 ? 2 * l->pad : 1) - l->k) / l->stride + 1; }

static void mobilenet_v1(const char* model, double alpha) {
    static const int spec[][2] = {{64, 1}, {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2}, {512, 1},
                                  {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}};
    int c = (int)(32 * alpha), h = 224;
    char name[16];
    add_layer(L_CONV, model, "conv1", h, 3, c, 3, 2);
    h = 112;
    for (int i = 0; i < 13; i++) {
        int oc = (int)(spec[i][0] * alpha), s = spec[i][1];
        snprintf(name, sizeof name, "dw%d", i + 1);
        add_layer(L_DW, model, name, h, c, c, 3, s);
        h = out_size(&layers[n_layers - 1]);
        snprintf(name, sizeof name, "pw%d", i + 1);
        add_layer(L_PW, model, name, h, c, oc, 1, 1);
        c = oc;
    }
}

static int make_divisible(double v, int divisor) {
    int nv = ((int)(v + divisor / 2.0) / divisor) * divisor;
    if (nv < divisor) nv = divisor;
    if (nv < 0.9 * v) nv += divisor;
    return nv;
}

static void mobilenet_v2(const char* model, double alpha) {
    static const int spec[][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                  {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    int c = make_divisible(32 * alpha, 8), h = 224, block = 0;
    char name[16];
    add_layer(L_CONV, model, "conv1", h, 3, c, 3, 2);
    h = 112;
    for (int g = 0; g < 7; g++)
        for (int r = 0; r < spec[g][2]; r++, block++) {
            int t = spec[g][0], s = r == 0 ? spec[g][3] : 1;
            int oc = make_divisible((int)(spec[g][1] * alpha), 8), ec = c * t;
            if (block > 0) {
                snprintf(name, sizeof name, "b%d_exp", block);
                add_layer(L_PW, model, name, h, c, ec, 1, 1);
            }
            snprintf(name, sizeof name, "b%d_dw", block);
            add_layer(L_DW, model, name, h, ec, ec, 3, s);
            h = out_size(&layers[n_layers - 1]);
            snprintf(name, sizeof name, "b%d_proj", block);
            add_layer(L_PW, model, name, h, ec, oc, 1, 1);
            c = oc;
        }
    add_layer(L_PW, model, "conv_last", h, c, alpha > 1.0 ? make_divisible(1280 * alpha, 8) : 1280, 1, 1);
}

/* ---------------------------------------------------------------------------------------------
 * Benchmark cases: a unique (kind, shape) with the number of layers that share it
 * ------------------------------------------------------------------------------------------- */
enum { C_PW_FWD, C_PW_BWD_DATA, C_PW_BWD_WEIGHT, C_DW_FWD, C_DW_BWD, C_CONV_FWD, C_CONV_BWD, C_BN_FWD,
       C_BN_BWD, N_CLASSES };
static const char* class_name[N_CLASSES] = {"pointwise fwd", "pointwise bwd-data", "pointwise bwd-weight",
                                            "depthwise fwd", "depthwise bwd", "conv3x3 fwd",
                                            "conv3x3 bwd", "batchnorm fwd", "batchnorm bwd"};
static double class_flops[N_CLASSES][2], class_time[N_CLASSES][2];

typedef struct bufs {
    float *x, *y, *dy, *dx, *w, *dw, *b, *db, *ws, *v1, *v2, *v3, *v4;
} bufs;
static bufs B;

static void fill(float* p, size_t n, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)(s >> 8) * (2.0f / 16777216.0f) - 1.0f;
    }
}

typedef void (*op_fn)(wt_pool* pool, const void* dims);

/* Seconds per call: the best of many short samples (a sample = a batch of calls lasting >= 0.5 ms),
 * taken for at least opt.min_s in total and at least opt.runs samples. The minimum of short
 * samples filters out the moments the OS gave the cores to someone else. */
static double time_op(op_fn fn, wt_pool* pool, const void* dims) {
    double t0 = now_s();
    fn(pool, dims); /* warm-up; a short first call gets a few more so V8 tiers up */
    double first = now_s() - t0;
    int n_warm = 1;
    while (now_s() - t0 < 0.01 && n_warm < 50) {
        fn(pool, dims);
        n_warm++;
    }
    double per = (now_s() - t0) / n_warm;
    if (first < per) per = first;
    int batch = per >= 5e-4 ? 1 : (int)(5e-4 / per) + 1;
    double best = 1e30, total = 0.0;
    for (int samples = 0; samples < opt.runs || total < opt.min_s; samples++) {
        double t = now_s();
        for (int i = 0; i < batch; i++) fn(pool, dims);
        double el = now_s() - t;
        total += el;
        if (el / batch < best) best = el / batch;
    }
    return best;
}

/* kernels under test, one signature */
static void op_pw_fwd(wt_pool* p, const void* d) { wt_linear_forward(p, B.ws, B.y, B.x, B.w, NULL, (const wt_linear_dims*)d); }
static void op_pw_bwd_data(wt_pool* p, const void* d) {
    wt_linear_backward(p, B.ws, B.dx, NULL, NULL, B.dy, B.x, B.w, (const wt_linear_dims*)d);
}
static void op_pw_bwd_weight(wt_pool* p, const void* d) {
    wt_linear_backward(p, B.ws, NULL, B.dw, NULL, B.dy, B.x, B.w, (const wt_linear_dims*)d);
}
static void op_dw_fwd(wt_pool* p, const void* d) { wt_depthwise_forward(p, B.ws, B.y, B.x, B.w, NULL, (const wt_conv_dims*)d); }
static void op_dw_bwd(wt_pool* p, const void* d) {
    wt_depthwise_backward(p, B.ws, B.dx, B.dw, NULL, B.dy, B.x, B.w, (const wt_conv_dims*)d);
}
static void op_conv_fwd(wt_pool* p, const void* d) { wt_conv2d_forward(p, B.ws, B.y, B.x, B.w, NULL, (const wt_conv_dims*)d); }
static void op_conv_bwd(wt_pool* p, const void* d) {
    wt_conv2d_backward(p, B.ws, NULL, B.dw, NULL, B.dy, B.x, B.w, (const wt_conv_dims*)d);
}
static void op_bn_fwd(wt_pool* p, const void* d) {
    wt_batchnorm_forward_train(p, B.y, B.v1, B.v2, B.v3, B.v4, B.x, B.w, B.b, 0.99f, (const wt_bn_dims*)d);
}
static void op_bn_bwd(wt_pool* p, const void* d) {
    wt_batchnorm_backward_train(p, B.dx, B.dw, B.db, B.dy, B.x, B.w, B.v1, B.v2, (const wt_bn_dims*)d);
}

static double peak[3];      /* [threads], measured at the start */
static double peak2_seen;   /* best 2-thread peak sample of the whole run */
static wt_pool* pool2;

/* How many cores two threads really get right now: a short 2-thread peak sample over the 1-thread
 * peak (~2.0 on an idle 2-core machine, ~1.0 when something else holds the second core). Printed
 * next to every 2-thread row, since other processes can take a core for minutes at a time. */
static double cores_now(void) {
    if (!pool2) return 1.0;
    peak_iters = 250000; /* ~0.5 ms */
    double best = 0.0;
    for (int r = 0; r < 8; r++) {
        double t = now_s();
        wt_parallel_for(pool2, 2, 1, peak_range, NULL);
        t = now_s() - t;
        double g = 2.0 * peak_iters * PEAK_FLOPS_PER_ITER / t * 1e-9;
        if (g > best) best = g;
    }
    if (best > peak2_seen) peak2_seen = best;
    return best / peak[1];
}
/* per class: flops and 1T/2T time over the rows measured with both cores free (cores >= 1.8) */
static double clean_flops[N_CLASSES], clean_time[N_CLASSES][2];

static void print_header(void) {
    printf("%-10s %-8s %-12s %-24s %-11s %2s %9s %8s %6s %7s %6s %5s\n", "kernel", "model", "layer", "shape",
           "direction", "T", "ms", "GFLOP/s", "%peak", "GB/s", "2T/1T", "cores");
}

/* Measures one case on 1 and 2 threads and prints two rows. bytes = minimal memory traffic. */
static void run_case(int cls, const char* kernel, const layer* l, const char* shape, const char* dir, int count,
                     double flops, double bytes, op_fn fn, const void* dims) {
    double t1 = time_op(fn, NULL, dims);
    double t2 = pool2 ? time_op(fn, pool2, dims) : 0.0;
    double cores = pool2 ? cores_now() : 1.0;
    for (int th = 1; th <= (pool2 ? 2 : 1); th++) {
        double t = th == 1 ? t1 : t2, g = flops / t * 1e-9;
        char sp[16] = "", co[16] = "";
        if (th == 2) {
            snprintf(sp, sizeof sp, "%.2f", t1 / t2);
            snprintf(co, sizeof co, "%.2f", cores);
        }
        char nm[24];
        if (count > 1) snprintf(nm, sizeof nm, "%s(x%d)", l->name, count);
        else snprintf(nm, sizeof nm, "%s", l->name);
        printf("%-10s %-8s %-12s %-24s %-11s %2d %9.3f %8.2f %5.0f%% %7.1f %6s %5s\n", kernel, l->model, nm, shape,
               dir, th, t * 1e3, g, 100.0 * g / peak[th], bytes / t * 1e-9, sp, co);
        class_flops[cls][th - 1] += count * flops;
        class_time[cls][th - 1] += count * t;
    }
    if (pool2 && cores >= 1.8) {
        clean_flops[cls] += count * flops;
        clean_time[cls][0] += count * t1;
        clean_time[cls][1] += count * t2;
    }
    fflush(stdout);
}

static int same_shape(const layer* a, const layer* b) {
    return a->kind == b->kind && a->h == b->h && a->in_c == b->in_c && a->out_c == b->out_c && a->k == b->k &&
           a->stride == b->stride && a->pad == b->pad;
}

static void conv_dims_of(const layer* l, wt_conv_dims* d) {
    memset(d, 0, sizeof *d);
    d->n = opt.batch;
    d->in_h = l->h; d->in_w = l->w; d->in_c = l->in_c;
    d->out_h = d->out_w = out_size(l);
    d->out_c = l->out_c;
    d->k_h = d->k_w = l->k;
    d->stride = l->stride;
    d->pad_top = d->pad_left = l->pad;
}

/* BN shapes: the output of every conv layer */
typedef struct bn_case { int rows, c, count; const layer* first; } bn_case;

int main(int argc, char** argv) {
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) opt.batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ms") && i + 1 < argc) opt.min_s = atof(argv[++i]) * 1e-3;
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) opt.runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) snprintf(opt.only, sizeof opt.only, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else {
            fprintf(stderr, "usage: bench_kernels [--batch N] [--ms T] [--runs R] [--only pw,dw,conv,bn] [--quick]\n");
            return 2;
        }
    }
    if (quick) { opt.min_s = 0.03; opt.runs = 2; }
    if (opt.batch < 1) opt.batch = 1;

    mobilenet_v1("v1_1.0", 1.0);
    mobilenet_v1("v1_0.25", 0.25);
    mobilenet_v2("v2_0.35", 0.35);

    pool2 = wt_pool_create(2);
    if (!pool2) printf("note: no thread pool (threads unavailable): 1-thread numbers only\n");
#if defined(__EMSCRIPTEN__)
    const char* target = "wasm SIMD128";
#else
    const char* target = "native (SIMDe)";
#endif
    peak[1] = measure_peak(NULL, 1);
    peak[2] = pool2 ? measure_peak(pool2, 2) : 0.0;
    printf("webtune kernel bench: %s, batch %d, best sample of >= %d samples and >= %.0f ms per case\n", target,
           opt.batch, opt.runs, opt.min_s * 1e3);
    printf("peak f32x4 mul+add: 1 thread %.1f GFLOP/s, 2 threads %.1f GFLOP/s (%.2fx)\n\n", peak[1], peak[2],
           peak[1] > 0 ? peak[2] / peak[1] : 0.0);

    /* buffers sized for the largest case */
    size_t act = 0, wts = 0, ws = 0, chans = 0;
    for (int i = 0; i < n_layers; i++) {
        const layer* l = &layers[i];
        wt_conv_dims cd;
        conv_dims_of(l, &cd);
        size_t in_n = (size_t)opt.batch * l->h * l->w * l->in_c;
        size_t out_n = (size_t)opt.batch * cd.out_h * cd.out_w * l->out_c;
        if (in_n > act) act = in_n;
        if (out_n > act) act = out_n;
        size_t wn = (size_t)l->k * l->k * (l->kind == L_DW ? 1 : l->in_c) * l->out_c;
        if (wn > wts) wts = wn;
        if ((size_t)l->out_c > chans) chans = (size_t)l->out_c;
        size_t w = 0;
        if (l->kind == L_PW) {
            wt_linear_dims ld = {opt.batch * l->h * l->w, l->in_c, l->out_c};
            w = wt_linear_workspace_floats(&ld);
        } else if (l->kind == L_DW) {
            w = wt_depthwise_workspace_floats(&cd);
        } else {
            w = wt_conv2d_workspace_floats(&cd);
        }
        if (w > ws) ws = w;
    }
    if (chans > wts) wts = chans;
    B.x = (float*)malloc(act * sizeof(float));
    B.y = (float*)malloc(act * sizeof(float));
    B.dy = (float*)malloc(act * sizeof(float));
    B.dx = (float*)malloc(act * sizeof(float));
    B.w = (float*)malloc(wts * sizeof(float));
    B.dw = (float*)malloc(wts * sizeof(float));
    B.b = (float*)malloc(chans * sizeof(float));
    B.db = (float*)malloc(chans * sizeof(float));
    B.v1 = (float*)malloc(chans * sizeof(float));
    B.v2 = (float*)malloc(chans * sizeof(float));
    B.v3 = (float*)malloc(chans * sizeof(float));
    B.v4 = (float*)malloc(chans * sizeof(float));
    B.ws = (float*)malloc((ws ? ws : 1) * sizeof(float));
    if (!B.x || !B.y || !B.dy || !B.dx || !B.w || !B.dw || !B.b || !B.db || !B.v1 || !B.v2 || !B.v3 || !B.v4 || !B.ws) {
        fprintf(stderr, "bench: out of memory (%zu floats per activation)\n", act);
        return 1;
    }
    fill(B.x, act, 1); fill(B.y, act, 2); fill(B.dy, act, 3); fill(B.dx, act, 4);
    fill(B.w, wts, 5); fill(B.dw, wts, 6); fill(B.b, chans, 7); fill(B.db, chans, 8);
    for (size_t i = 0; i < chans; i++) { B.v1[i] = 0.0f; B.v2[i] = 1.0f; B.v3[i] = 0.0f; B.v4[i] = 1.0f; }

    double t_start = now_s();
    print_header();
    for (int kind = L_PW; kind >= L_CONV; kind--) {
        const char* cls = kind == L_PW ? "pw" : kind == L_DW ? "dw" : "conv";
        if (!enabled(cls)) continue;
        for (int i = 0; i < n_layers; i++) {
            const layer* l = &layers[i];
            if (l->kind != kind) continue;
            int seen = 0, count = 0;
            for (int j = 0; j < n_layers; j++) {
                if (!same_shape(&layers[j], l)) continue;
                if (j < i) seen = 1;
                count++;
            }
            if (seen) continue;
            wt_conv_dims cd;
            conv_dims_of(l, &cd);
            const double pix_out = (double)opt.batch * cd.out_h * cd.out_w;
            const double pix_in = (double)opt.batch * l->h * l->w;
            char shape[40];
            if (kind == L_PW) {
                wt_linear_dims ld = {opt.batch * l->h * l->w, l->in_c, l->out_c};
                snprintf(shape, sizeof shape, "%dx%dx%d %d->%d", opt.batch, l->h, l->w, l->in_c, l->out_c);
                double fl = 2.0 * ld.rows * (double)l->in_c * l->out_c;
                double io = 4.0 * ld.rows * (double)(l->in_c + l->out_c);
                run_case(C_PW_FWD, "pointwise", l, shape, "fwd", count, fl, io, op_pw_fwd, &ld);
                run_case(C_PW_BWD_DATA, "pointwise", l, shape, "bwd-data", count, fl, io + 4.0 * ld.rows * l->in_c,
                         op_pw_bwd_data, &ld);
                run_case(C_PW_BWD_WEIGHT, "pointwise", l, shape, "bwd-weight", count, fl, io, op_pw_bwd_weight, &ld);
            } else if (kind == L_DW) {
                snprintf(shape, sizeof shape, "%dx%dx%dx%d k3 s%d", opt.batch, l->h, l->w, l->in_c, l->stride);
                double fl = 2.0 * 9.0 * pix_out * l->in_c;
                double io = 4.0 * (pix_in + pix_out) * l->in_c;
                run_case(C_DW_FWD, "depthwise", l, shape, "fwd", count, fl, io, op_dw_fwd, &cd);
                run_case(C_DW_BWD, "depthwise", l, shape, "bwd", count, 2.0 * fl, 2.0 * io + 4.0 * pix_in * l->in_c,
                         op_dw_bwd, &cd);
            } else {
                snprintf(shape, sizeof shape, "%dx%dx%dx%d->%d k3 s%d", opt.batch, l->h, l->w, l->in_c, l->out_c,
                         l->stride);
                double fl = 2.0 * pix_out * l->out_c * 9.0 * l->in_c;
                double io = 4.0 * (pix_in * l->in_c + pix_out * l->out_c);
                run_case(C_CONV_FWD, "conv2d", l, shape, "fwd", count, fl, io, op_conv_fwd, &cd);
                run_case(C_CONV_BWD, "conv2d", l, shape, "bwd-weight", count, fl, io, op_conv_bwd, &cd);
            }
        }
    }
    if (enabled("bn")) {
        /* every conv output is batch-normalized */
        bn_case cases[MAX_LAYERS];
        int n_cases = 0;
        for (int i = 0; i < n_layers; i++) {
            wt_conv_dims cd;
            conv_dims_of(&layers[i], &cd);
            int rows = opt.batch * cd.out_h * cd.out_w, c = layers[i].out_c, k = 0;
            for (; k < n_cases; k++)
                if (cases[k].rows == rows && cases[k].c == c) break;
            if (k == n_cases) cases[n_cases++] = (bn_case){rows, c, 0, &layers[i]};
            cases[k].count++;
        }
        for (int k = 0; k < n_cases; k++) {
            wt_bn_dims bd = {cases[k].rows, cases[k].c, 1e-3f};
            char shape[40];
            snprintf(shape, sizeof shape, "%d x %d", bd.rows, bd.c);
            double el = (double)bd.rows * bd.c;
            run_case(C_BN_FWD, "batchnorm", cases[k].first, shape, "fwd-train", cases[k].count, 6.0 * el,
                     4.0 * 3.0 * el, op_bn_fwd, &bd);
            run_case(C_BN_BWD, "batchnorm", cases[k].first, shape, "bwd-train", cases[k].count, 10.0 * el,
                     4.0 * 5.0 * el, op_bn_bwd, &bd);
        }
    }

    /* the peak again at the end: the best of both is the ceiling (clocks drift on a shared machine) */
    double p1 = measure_peak(NULL, 1), p2 = pool2 ? measure_peak(pool2, 2) : 0.0;
    printf("\npeak f32x4 mul+add re-measured at the end: 1 thread %.1f, 2 threads %.1f GFLOP/s", p1, p2);
    if (p1 > peak[1] * 1.05 || p2 > peak[2] * 1.05)
        printf(" (higher than at the start: the %%peak columns above are relative to the start values)");
    printf("\n");
    if (p1 > peak[1]) peak[1] = p1;
    if (p2 > peak[2]) peak[2] = p2;
    if (peak2_seen > peak[2]) peak[2] = peak2_seen;

    printf("\nFLOP-weighted summary (total flops / total time over every layer of the three models)\n");
    printf("(%%peak against the best peak measured during the run: 1T %.1f, 2T %.1f GFLOP/s)\n", peak[1], peak[2]);
    printf("%-22s %9s %6s %9s %6s %6s   %s\n", "class", "1T GF/s", "%peak", "2T GF/s", "%peak", "2T/1T",
           "2T/1T with both cores free (share of the class's flops)");
    for (int c = 0; c < N_CLASSES; c++) {
        if (class_time[c][0] <= 0.0) continue;
        double g1 = class_flops[c][0] / class_time[c][0] * 1e-9;
        double g2 = class_time[c][1] > 0 ? class_flops[c][1] / class_time[c][1] * 1e-9 : 0.0;
        char clean[48] = "   -";
        if (clean_time[c][1] > 0.0)
            snprintf(clean, sizeof clean, "%6.2f (%3.0f%%)", clean_time[c][0] / clean_time[c][1],
                     100.0 * clean_flops[c] / class_flops[c][0]);
        printf("%-22s %9.2f %5.0f%% %9.2f %5.0f%% %6.2f   %s\n", class_name[c], g1, 100.0 * g1 / peak[1], g2,
               peak[2] > 0 ? 100.0 * g2 / peak[2] : 0.0, g2 > 0 ? g2 / g1 : 0.0, clean);
    }
    printf("\nbench time %.1f s\n", now_s() - t_start);

    wt_pool_destroy(pool2);
    free(B.x); free(B.y); free(B.dy); free(B.dx); free(B.w); free(B.dw); free(B.b); free(B.db);
    free(B.v1); free(B.v2); free(B.v3); free(B.v4); free(B.ws);
    return 0;
}
