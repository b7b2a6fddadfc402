/* fuzz_common.h: helpers shared by the libFuzzer targets in tests/fuzz (docs/fuzzing.md).
 *
 * The targets are built two ways: with -fsanitize=fuzzer by scripts/fuzz.sh, and as plain
 * executables with tests/fuzz/replay_main.c, which the CTest suite runs over the regression corpus
 * (tests/fuzz/regressions/<target>/). Nothing here depends on libFuzzer. */
#ifndef WT_FUZZ_COMMON_H
#define WT_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "webtune.h"

/* An oracle violated: print it and abort, which libFuzzer (and CTest) report as a crash. */
#define FUZZ_CHECK(cond, ...)                                                                        \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond);        \
            fprintf(stderr, __VA_ARGS__);                                                            \
            fprintf(stderr, "\n  last error: %s\n", wt_last_error());                               \
            abort();                                                                                 \
        }                                                                                            \
    } while (0)

/* WT_FUZZ_VERBOSE=1 in the environment: print what each call returned (to see how far an input
 * gets, e.g. that a seed really imports). */
static inline int wt_fuzz_verbose(void) {
    static int v = -1;
    if (v < 0) {
        const char* e = getenv("WT_FUZZ_VERBOSE");
        v = e && e[0] && e[0] != '0';
    }
    return v;
}
#define FUZZ_LOG(what, st)                                                                           \
    do {                                                                                             \
        if (wt_fuzz_verbose())                                                                       \
            fprintf(stderr, "  %s: %s%s%s\n", (what), wt_status_name(st), (st) ? ": " : "",            \
                    (st) ? wt_last_error() : "");                                                    \
    } while (0)

/* One single-threaded context for every input (creating a pool per input would only slow the
 * fuzzer down); it stays reachable, so LeakSanitizer does not report it. */
static inline wt_context* wt_fuzz_context(void) {
    static wt_context* ctx;
    if (!ctx) {
        wt_status st = wt_context_create(&(wt_context_desc){ .n_threads = 1, .seed = 1 }, &ctx);
        FUZZ_CHECK(st == WT_OK, "wt_context_create: %s", wt_status_name(st));
    }
    return ctx;
}

/* What planning the net at batch 1 and one forward pass would cost, estimated from the public
 * API: activation floats (every node's output plus the largest convolution workspace, an upper
 * bound of what wt_net_plan allocates without memory saving) and multiply-adds. The targets plan
 * and run only small nets: a model file or model.json may legitimately describe a net of many
 * gigabytes, and planning one is the caller's decision (it fails with WT_ERR_OUT_OF_MEMORY, which
 * under ASan is an abort rather than a NULL from malloc). */
static inline void wt_fuzz_net_cost(const wt_net* net, uint64_t* floats, uint64_t* macs) {
    uint64_t f = 0, m = 0, ws = 0;
    int n = wt_net_node_count(net);
    for (int i = 0; i < n; i++) {
        int h = 0, w = 0, c = 0;
        wt_net_node_shape(net, i, &h, &w, &c);
        uint64_t out = (uint64_t)h * (uint64_t)w * (uint64_t)c;
        f += out;
        if (i == 0) continue;
        wt_layer_desc d;
        if (wt_net_node_desc(net, i, &d) != WT_OK) continue;
        int ih = 0, iw = 0, ic = 0;
        wt_net_node_shape(net, d.input, &ih, &iw, &ic);
        uint64_t k = (uint64_t)(d.kernel_h > 0 ? d.kernel_h : 3) * (uint64_t)(d.kernel_w > 0 ? d.kernel_w : 3);
        switch (d.type) {
        case WT_LAYER_CONV2D: {
            m += out * k * (uint64_t)ic;
            uint64_t col = (uint64_t)h * (uint64_t)w * k * (uint64_t)ic;
            if (col > ws) ws = col;
            break;
        }
        case WT_LAYER_DEPTHWISE: m += out * k; break;
        case WT_LAYER_DENSE: m += out * (uint64_t)ic; break;
        case WT_LAYER_GLOBAL_AVG_POOL: m += (uint64_t)ih * (uint64_t)iw * (uint64_t)ic; break;
        default: m += out; break;
        }
    }
    *floats = f + ws;
    *macs = m;
}

/* Limits under which a target plans and runs a net (about 32 MB of activations and well under a
 * second of forward pass under ASan). */
#define WT_FUZZ_MAX_FLOATS ((uint64_t)8 << 20)
#define WT_FUZZ_MAX_MACS ((uint64_t)30 << 20)

static inline int wt_fuzz_net_is_small(const wt_net* net) {
    uint64_t f, m;
    wt_fuzz_net_cost(net, &f, &m);
    return f <= WT_FUZZ_MAX_FLOATS && m <= WT_FUZZ_MAX_MACS;
}

/* Plans net at batch 1 and runs one inference pass over zeros if it is small; frees nothing.
 * Planning and forward must not fail on a net that loaded (except for memory). */
static inline void wt_fuzz_plan_and_forward(wt_net* net) {
    if (!wt_fuzz_net_is_small(net)) return;
    wt_status st = wt_net_plan(net, 1);
    if (st == WT_ERR_OUT_OF_MEMORY) return;
    FUZZ_CHECK(st == WT_OK, "wt_net_plan(batch 1) of a loaded net: %s", wt_status_name(st));
    int h = 0, w = 0, c = 0;
    wt_net_node_shape(net, 0, &h, &w, &c);
    float* zeros = (float*)calloc((size_t)h * (size_t)w * (size_t)c, sizeof(float));
    if (!zeros) return;
    st = wt_net_forward(net, zeros, 1, 0);
    FUZZ_CHECK(st == WT_OK, "wt_net_forward of a planned net over zeros: %s", wt_status_name(st));
    free(zeros);
}

#endif /* WT_FUZZ_COMMON_H */
