/* dropout_ref.c: the scalar reference inverted dropout. Obvious loops, single-threaded.
 *   keep[i] = wt_uniform(seed, i) >= rate;  out[i] = keep[i] ? in[i] * scale : 0;
 *   d_in[i] += keep[i] ? d_out[i] * scale : (nothing),  with scale = 1 / (1 - rate).
 * The scale is one float computed once, so dropout_simd.c gives the same bits. A dropped element
 * is exactly +0 even when its input is NaN or infinite. rate 0 keeps everything (out = in). */
#include "../internal.h"
#include "../ops.h"

void wt_dropout_forward_ref(float* out, uint8_t* keep, const float* in, float rate, uint64_t seed,
                            size_t n) {
    WT_ASSERT(rate >= 0.0f && rate < 1.0f);
    if (rate == 0.0f) { /* identity: keep everything, copy the input unchanged */
        for (size_t i = 0; i < n; i++) {
            keep[i] = 1;
            out[i] = in[i];
        }
        return;
    }
    const float scale = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < n; i++) {
        const int k = wt_uniform(seed, i) >= rate;
        keep[i] = (uint8_t)k;
        out[i] = k ? in[i] * scale : 0.0f;
    }
}

void wt_dropout_backward_ref(float* d_in, const float* d_out, const uint8_t* keep, float rate,
                             size_t n) {
    if (!d_in) return;
    WT_ASSERT(rate >= 0.0f && rate < 1.0f);
    const float scale = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < n; i++)
        if (keep[i]) d_in[i] += d_out[i] * scale;
}
