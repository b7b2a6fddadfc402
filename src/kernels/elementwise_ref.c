/* elementwise_ref.c: the scalar reference activations (ReLU, ReLU6), add, axpy and global average
 * pooling. Obvious loops, single-threaded; elementwise_simd.c is tested against these.
 *
 * Activations propagate NaN (a diverging run stays visible downstream instead of being clamped to
 * 0); the sign of a zero result is unspecified (clang for wasm turns these selects into f32.max /
 * f32.min, which give +0 for -0). Their backward masks use the forward INPUT with strict
 * inequalities, so the gradient at the kinks (0, and 6 for ReLU6) is 0. */
#include "../ops.h"

/* out = max(in, 0), NaN passes through */
void wt_relu_forward_ref(float* out, const float* in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = in[i] < 0.0f ? 0.0f : in[i];
}

/* d_in += d_out * (in > 0) */
void wt_relu_backward_ref(float* d_in, const float* d_out, const float* in, size_t n) {
    if (!d_in) return;
    for (size_t i = 0; i < n; i++) d_in[i] += in[i] > 0.0f ? d_out[i] : 0.0f;
}

/* out = min(max(in, 0), 6), NaN passes through */
void wt_relu6_forward_ref(float* out, const float* in, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const float x = in[i];
        out[i] = x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
    }
}

/* d_in += d_out * (0 < in < 6) */
void wt_relu6_backward_ref(float* d_in, const float* d_out, const float* in, size_t n) {
    if (!d_in) return;
    for (size_t i = 0; i < n; i++) d_in[i] += (in[i] > 0.0f && in[i] < 6.0f) ? d_out[i] : 0.0f;
}

void wt_add_forward_ref(float* out, const float* a, const float* b, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void wt_axpy_ref(float* y, float alpha, const float* x, size_t n) {
    if (!y) return; /* a NULL gradient is skipped */
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

/* in [n, hw, c] -> out [n, c]: the mean over the hw positions (summed in order, then divided).
 * hw <= 0 has no mean and leaves out untouched. */
void wt_gap_forward_ref(float* out, const float* in, int n, int hw, int c) {
    if (n <= 0 || hw <= 0 || c <= 0) return;
    for (int b = 0; b < n; b++) {
        for (int ch = 0; ch < c; ch++) {
            float s = 0.0f;
            for (int i = 0; i < hw; i++) s += in[((size_t)b * hw + i) * c + ch];
            out[(size_t)b * c + ch] = s / (float)hw;
        }
    }
}

/* d_in [n, hw, c] += d_out [n, c] / hw */
void wt_gap_backward_ref(float* d_in, const float* d_out, int n, int hw, int c) {
    if (!d_in || n <= 0 || hw <= 0 || c <= 0) return;
    for (int b = 0; b < n; b++) {
        for (int i = 0; i < hw; i++) {
            for (int ch = 0; ch < c; ch++)
                d_in[((size_t)b * hw + i) * c + ch] += d_out[(size_t)b * c + ch] / (float)hw;
        }
    }
}
