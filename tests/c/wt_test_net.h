/* wt_test_net.h: parameter set-up for the C tests that build nets through the public API.
 *   wt_test_randomize_params(net, seed, ranges)  every parameter whose kind has a range in
 *       ranges[kind] (indexed by wt_param_kind) gets uniform values from it, one draw per value in
 *       parameter order; kinds whose range is {0, 0} keep their values and take no draws. */
#ifndef WT_TEST_NET_H
#define WT_TEST_NET_H

#include "webtune.h"
#include "wt_test.h"

typedef struct wt_test_range {
    float lo, hi;
} wt_test_range;

enum { WT_TEST_PARAM_KINDS = WT_PARAM_MOVING_VARIANCE + 1 };

static inline void wt_test_randomize_params(wt_net* net, uint64_t seed, const wt_test_range ranges[WT_TEST_PARAM_KINDS]) {
    wt_rng rng = { seed };
    for (int i = 0; i < wt_net_param_count(net); i++) {
        wt_param_info info;
        wt_net_param_info(net, i, &info);
        const wt_test_range r = ranges[info.kind];
        if (r.lo == 0.0f && r.hi == 0.0f) continue;
        float* v = wt_test_alloc(info.count);
        for (size_t j = 0; j < info.count; j++) v[j] = wt_rng_uniform(&rng, r.lo, r.hi);
        CHECK(wt_net_param_write(net, i, v, info.count) == WT_OK, "param_write: %s", wt_last_error());
        free(v);
    }
}

#endif /* WT_TEST_NET_H */
