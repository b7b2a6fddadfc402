/* batchnorm_ref.c: the scalar reference batch normalization over [rows, c] (rows = N*H*W).
 * Obvious loops, single-threaded, one channel at a time; batchnorm_simd.c is tested against these.
 * The arithmetic is double (rounded to float once per stored value), sums run over rows in order and
 * the batch statistics take two passes (mean, then the squared deviations from it), so the
 * reference is also the accuracy baseline.
 *
 *   xhat = (in - mean) * invstd,  invstd = 1 / sqrt(var + eps),  out = xhat * gamma + beta
 *   frozen backward: d_in += d_out * gamma * invstd, d_gamma += sum d_out * xhat, d_beta += sum d_out
 *   train backward (through the batch mean and variance):
 *     d_in += gamma * invstd / rows * (rows * d_out - sum d_out - xhat * sum d_out * xhat)
 * rows <= 0 or c <= 0 is an empty batch: nothing is read or written. */
#include <math.h>

#include "../ops.h"

void wt_batchnorm_forward_frozen_ref(float* out, const float* in, const float* gamma, const float* beta,
                                     const float* mean, const float* var, const wt_bn_dims* d) {
    const int rows = d->rows, c = d->c;
    if (rows <= 0 || c <= 0) return;
    for (int ch = 0; ch < c; ch++) {
        const double invstd = 1.0 / sqrt((double)var[ch] + d->eps);
        for (int r = 0; r < rows; r++) {
            const size_t i = (size_t)r * c + ch;
            out[i] = (float)(((double)in[i] - mean[ch]) * invstd * gamma[ch] + beta[ch]);
        }
    }
}

void wt_batchnorm_relu6_forward_frozen_ref(float* out, float* out6, const float* in, const float* gamma,
                                           const float* beta, const float* mean, const float* var,
                                           const wt_bn_dims* d) {
    const size_t n = (size_t)d->rows * (size_t)d->c;
    if (d->rows <= 0 || d->c <= 0) return;
    wt_batchnorm_forward_frozen_ref(out6, in, gamma, beta, mean, var, d);
    if (out && out != out6)
        for (size_t i = 0; i < n; i++) out[i] = out6[i];
    wt_relu6_forward_ref(out6, out6, n);
}

void wt_batchnorm_backward_frozen_ref(float* d_in, float* d_gamma, float* d_beta, const float* d_out,
                                      const float* in, const float* gamma, const float* mean,
                                      const float* var, const wt_bn_dims* d) {
    const int rows = d->rows, c = d->c;
    if (rows <= 0 || c <= 0) return;
    for (int ch = 0; ch < c; ch++) {
        const double invstd = 1.0 / sqrt((double)var[ch] + d->eps);
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int r = 0; r < rows; r++) {
            const size_t i = (size_t)r * c + ch;
            const double xhat = ((double)in[i] - mean[ch]) * invstd;
            sum_dy += d_out[i];
            sum_dy_xhat += d_out[i] * xhat;
            if (d_in) d_in[i] += (float)(d_out[i] * (gamma[ch] * invstd));
        }
        if (d_gamma) d_gamma[ch] += (float)sum_dy_xhat;
        if (d_beta) d_beta[ch] += (float)sum_dy;
    }
}

void wt_batchnorm_forward_train_ref(float* out, float* save_mean, float* save_invstd, float* running_mean,
                                    float* running_var, const float* in, const float* gamma,
                                    const float* beta, float momentum, const wt_bn_dims* d) {
    const int rows = d->rows, c = d->c;
    if (rows <= 0 || c <= 0) return;
    for (int ch = 0; ch < c; ch++) {
        double sum = 0.0;
        for (int r = 0; r < rows; r++) sum += in[(size_t)r * c + ch];
        const double mean = sum / rows;
        double sq = 0.0;
        for (int r = 0; r < rows; r++) {
            const double dx = in[(size_t)r * c + ch] - mean;
            sq += dx * dx;
        }
        const double var = sq / rows; /* biased: the batch's own variance normalizes it */
        const double invstd = 1.0 / sqrt(var + d->eps);
        const float m = (float)mean;
        save_mean[ch] = m;
        save_invstd[ch] = (float)invstd;
        for (int r = 0; r < rows; r++) {
            const size_t i = (size_t)r * c + ch;
            out[i] = (float)(((double)in[i] - mean) * invstd * gamma[ch] + beta[ch]);
        }
        /* the running variance estimates the population: unbiased (Keras); one row has no spread */
        const float unbiased = (float)(rows > 1 ? var * rows / (rows - 1) : var);
        if (running_mean) running_mean[ch] = momentum * running_mean[ch] + (1.0f - momentum) * m;
        if (running_var) running_var[ch] = momentum * running_var[ch] + (1.0f - momentum) * unbiased;
    }
}

void wt_batchnorm_backward_train_ref(float* d_in, float* d_gamma, float* d_beta, const float* d_out,
                                     const float* in, const float* gamma, const float* save_mean,
                                     const float* save_invstd, const wt_bn_dims* d) {
    const int rows = d->rows, c = d->c;
    if (rows <= 0 || c <= 0) return;
    for (int ch = 0; ch < c; ch++) {
        const double m = save_mean[ch], invstd = save_invstd[ch];
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int r = 0; r < rows; r++) {
            const size_t i = (size_t)r * c + ch;
            const double xhat = (in[i] - m) * invstd;
            sum_dy += d_out[i];
            sum_dy_xhat += d_out[i] * xhat;
        }
        if (d_gamma) d_gamma[ch] += (float)sum_dy_xhat;
        if (d_beta) d_beta[ch] += (float)sum_dy;
        if (d_in) {
            const double k = (double)gamma[ch] * invstd / rows;
            for (int r = 0; r < rows; r++) {
                const size_t i = (size_t)r * c + ch;
                const double xhat = (in[i] - m) * invstd;
                d_in[i] += (float)(k * ((double)rows * d_out[i] - sum_dy - xhat * sum_dy_xhat));
            }
        }
    }
}

void wt_batchnorm_backward_frozen_out_ref(float* d_in, float* d_gamma, float* d_beta, const float* d_out,
                                          const float* out, const float* gamma, const float* beta,
                                          const float* var, const wt_bn_dims* d) {
    const int rows = d->rows, c = d->c;
    if (rows <= 0 || c <= 0) return;
    for (int ch = 0; ch < c; ch++) {
        const double invstd = 1.0 / sqrt((double)var[ch] + d->eps);
        double sum_dy = 0.0, sum_dy_y = 0.0;
        for (int r = 0; r < rows; r++) {
            const size_t i = (size_t)r * c + ch;
            sum_dy += d_out[i];
            sum_dy_y += d_out[i] * ((double)out[i] - beta[ch]);
            if (d_in) d_in[i] += (float)(d_out[i] * (gamma[ch] * invstd));
        }
        if (d_gamma) d_gamma[ch] += gamma[ch] != 0.0f ? (float)(sum_dy_y / gamma[ch]) : 0.0f;
        if (d_beta) d_beta[ch] += (float)sum_dy;
    }
}
