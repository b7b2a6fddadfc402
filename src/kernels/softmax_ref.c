/* softmax_ref.c: softmax cross-entropy over logits [n, k] (the reference; it is also what the net
 * calls: the work is O(n*k) on the classifier's output, negligible next to the convolutions).
 *
 *   p_ij   = exp(l_ij - max_j l_ij) / sum_j exp(l_ij - max_j l_ij)       (stable: subtract the max)
 *   t_ij   = (1 - smoothing) * [j == label_i] + smoothing / k
 *   loss_i = -sum_j t_ij log p_ij = lse_i - sum_j t_ij l_ij,   lse_i = max_i + log sum_j exp(l_ij - max_i)
 *   w_i    = class_weights[label_i] (1 if class_weights is NULL),  W = sum_i w_i
 *   loss   = sum_i w_i loss_i / W
 *   d_logits[i, j] += w_i / W * (p_ij - t_ij)
 * Everything is computed in double and rounded once on the way out. If W is 0 (every sample has
 * weight 0) the loss is NaN (0/0), which the caller reports as not finite, and d_logits is left
 * untouched. Labels outside [0, k) are a caller bug (the net validates them): asserted. */
#include <math.h>

#include "../internal.h"
#include "../ops.h"

float wt_softmax_xent_ref(float* probs, float* d_logits, const float* logits, const int* labels,
                          int n, int k, float smoothing, const float* class_weights) {
    WT_ASSERT(n > 0 && k > 0);
    double total_w = 0.0;
    for (int i = 0; i < n; i++) {
        WT_ASSERT(labels[i] >= 0 && labels[i] < k);
        total_w += class_weights ? (double)class_weights[labels[i]] : 1.0;
    }
    const double on = 1.0 - (double)smoothing, off = (double)smoothing / (double)k;
    const int grad = d_logits != NULL && total_w != 0.0;

    double loss = 0.0;
    for (int i = 0; i < n; i++) {
        const float* l = logits + (size_t)i * (size_t)k;
        const int label = labels[i];
        double mx = l[0];
        for (int j = 1; j < k; j++)
            if (l[j] > mx) mx = l[j];
        double sum = 0.0, tl = 0.0; /* sum_j exp(l - max), sum_j t_j (l_j - max) */
        for (int j = 0; j < k; j++) {
            const double z = (double)l[j] - mx;
            sum += exp(z);
            tl += (off + (j == label ? on : 0.0)) * z;
        }
        const double log_sum = log(sum);
        const double wi = class_weights ? (double)class_weights[label] : 1.0;
        loss += wi * (log_sum - tl); /* sum_j t_j = 1, so the max cancels */

        if (probs || grad) {
            const double inv_sum = 1.0 / sum, gscale = grad ? wi / total_w : 0.0;
            for (int j = 0; j < k; j++) {
                const double p = exp((double)l[j] - mx) * inv_sum;
                if (probs) probs[(size_t)i * (size_t)k + j] = (float)p;
                if (grad) {
                    const double t = off + (j == label ? on : 0.0);
                    d_logits[(size_t)i * (size_t)k + j] += (float)(gscale * (p - t));
                }
            }
        }
    }
    if (total_w == 0.0) return NAN;
    return (float)(loss / total_w);
}
