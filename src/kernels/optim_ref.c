/* optim_ref.c: the scalar reference optimizer updates. Obvious loops, single-threaded, float
 * arithmetic in the same order as the fast versions (optim_simd.c), which are tested against these.
 *
 * SGD (momentum):  g' = g + l2*w;  v = momentum*v + g';  w -= lr*v.
 *                  velocity may be NULL when momentum == 0 (plain SGD: w -= lr*g').
 * Adam / AdamW:    g' = g + l2*w;  m = b1*m + (1-b1)*g';  v = b2*v + (1-b2)*g'^2;
 *                  mhat = m/(1-b1^t);  vhat = v/(1-b2^t);
 *                  w = w*(1 - lr*decoupled_wd);            decoupled decay first, on the weight
 *                  w -= lr * mhat/(sqrt(vhat) + eps);      before the Adam step (AdamW/PyTorch)
 *                  so w_new = w - lr*decoupled_wd*w - lr*mhat/(sqrt(vhat)+eps), with the old w
 *                  in both terms (and in g'). */
#include <math.h>

#include "../internal.h"
#include "../ops.h"

void wt_sgd_update_ref(float* w, float* velocity, const float* g, size_t n, float lr, float momentum,
                       float l2) {
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + l2 * w[i];
        if (velocity) {
            gi = momentum * velocity[i] + gi;
            velocity[i] = gi;
        }
        w[i] = w[i] - lr * gi;
    }
}

/* Bias corrections 1 - beta^t, computed once per call in double. Shared with optim_simd.c by
 * recomputation (the same expression), so both paths see the same floats. */
static float bias_correction(float beta, int t) { return (float)(1.0 - pow((double)beta, (double)t)); }

void wt_adam_update_ref(float* w, float* m, float* v, const float* g, size_t n, float lr, float beta1,
                        float beta2, float eps, float l2, float decoupled_wd, int t) {
    WT_ASSERT(t >= 1);
    const float bc1 = bias_correction(beta1, t), bc2 = bias_correction(beta2, t);
    const float decay = 1.0f - lr * decoupled_wd;
    for (size_t i = 0; i < n; i++) {
        const float w0 = w[i];
        const float gi = g[i] + l2 * w0;
        const float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        const float vi = beta2 * v[i] + (1.0f - beta2) * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        const float mhat = mi / bc1, vhat = vi / bc2;
        w[i] = w0 * decay - lr * (mhat / (sqrtf(vhat) + eps));
    }
}
