/* linear_ref.c: the reference linear op (pointwise 1x1 convolution and dense layers).
 *   in [rows, in_c], weight [in_c, out_c] (Keras layout), bias [out_c] or NULL, out [rows, out_c].
 *   forward:  out = in * weight + bias
 *   backward: d_in += d_out * weight^T;  d_weight += in^T * d_out;  d_bias += column sums of d_out.
 * Built on the reference GEMMs and plain loops; single-threaded. */
#include "../ops.h"

void wt_linear_forward_ref(float* out, const float* in, const float* weight, const float* bias,
                           const wt_linear_dims* d) {
    wt_gemm_nn_ref(d->rows, d->out_c, d->in_c, in, d->in_c, weight, d->out_c, out, d->out_c, 0);
    if (bias) {
        for (int r = 0; r < d->rows; r++)
            for (int j = 0; j < d->out_c; j++) out[(size_t)r * d->out_c + j] += bias[j];
    }
}

void wt_linear_backward_ref(float* d_in, float* d_weight, float* d_bias, const float* d_out,
                            const float* in, const float* weight, const wt_linear_dims* d) {
    if (d_in) /* [rows, in_c] += [rows, out_c] * [in_c, out_c]^T */
        wt_gemm_nt_ref(d->rows, d->in_c, d->out_c, d_out, d->out_c, weight, d->out_c, d_in, d->in_c, 1);
    if (d_weight) /* [in_c, out_c] += [rows, in_c]^T * [rows, out_c] */
        wt_gemm_tn_ref(d->in_c, d->out_c, d->rows, in, d->in_c, d_out, d->out_c, d_weight, d->out_c, 1);
    if (d_bias) {
        for (int j = 0; j < d->out_c; j++) {
            float acc = 0.0f;
            for (int r = 0; r < d->rows; r++) acc += d_out[(size_t)r * d->out_c + j];
            d_bias[j] += acc;
        }
    }
}
