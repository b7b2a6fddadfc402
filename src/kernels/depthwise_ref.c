/* depthwise_ref.c: the scalar reference depthwise convolution (channel multiplier 1).
 * Obvious loops, single-threaded; the fast kernels in depthwise_simd.c are tested against these.
 *   in [n, in_h, in_w, c], out [n, out_h, out_w, c], weight [k_h][k_w][c], bias [c] or NULL.
 *   out[n,oy,ox,ch] = bias[ch] + sum_{ky,kx} in[n, oy*stride - pad_top + ky, ox*stride - pad_left + kx, ch]
 *                                            * weight[ky][kx][ch], taps outside the input reading zero. */
#include "../ops.h"

void wt_depthwise_forward_ref(float* out, const float* in, const float* weight, const float* bias,
                              const wt_conv_dims* d) {
    const int C = d->in_c;
    for (int n = 0; n < d->n; n++) {
        for (int oy = 0; oy < d->out_h; oy++) {
            for (int ox = 0; ox < d->out_w; ox++) {
                for (int c = 0; c < C; c++) {
                    float acc = bias ? bias[c] : 0.0f;
                    for (int ky = 0; ky < d->k_h; ky++) {
                        int iy = oy * d->stride - d->pad_top + ky;
                        if (iy < 0 || iy >= d->in_h) continue;
                        for (int kx = 0; kx < d->k_w; kx++) {
                            int ix = ox * d->stride - d->pad_left + kx;
                            if (ix < 0 || ix >= d->in_w) continue;
                            acc += in[(((size_t)n * d->in_h + iy) * d->in_w + ix) * C + c] *
                                   weight[((size_t)ky * d->k_w + kx) * C + c];
                        }
                    }
                    out[(((size_t)n * d->out_h + oy) * d->out_w + ox) * C + c] = acc;
                }
            }
        }
    }
}

/* The transpose of the forward: every output pixel hands d_out * weight back to the input taps it
 * read (d_in), and d_out * input to the weights (d_weight); d_bias sums d_out. All accumulate. */
void wt_depthwise_backward_ref(float* d_in, float* d_weight, float* d_bias, const float* d_out,
                               const float* in, const float* weight, const wt_conv_dims* d) {
    const int C = d->in_c;
    for (int n = 0; n < d->n; n++) {
        for (int oy = 0; oy < d->out_h; oy++) {
            for (int ox = 0; ox < d->out_w; ox++) {
                const float* g = &d_out[(((size_t)n * d->out_h + oy) * d->out_w + ox) * C];
                if (d_bias)
                    for (int c = 0; c < C; c++) d_bias[c] += g[c];
                for (int ky = 0; ky < d->k_h; ky++) {
                    int iy = oy * d->stride - d->pad_top + ky;
                    if (iy < 0 || iy >= d->in_h) continue;
                    for (int kx = 0; kx < d->k_w; kx++) {
                        int ix = ox * d->stride - d->pad_left + kx;
                        if (ix < 0 || ix >= d->in_w) continue;
                        size_t pix = (((size_t)n * d->in_h + iy) * d->in_w + ix) * C;
                        size_t tap = ((size_t)ky * d->k_w + kx) * C;
                        for (int c = 0; c < C; c++) {
                            if (d_in) d_in[pix + c] += g[c] * weight[tap + c];
                            if (d_weight) d_weight[tap + c] += g[c] * in[pix + c];
                        }
                    }
                }
            }
        }
    }
}
