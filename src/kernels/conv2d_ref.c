/* conv2d_ref.c: the scalar reference dense convolution. Obvious loops, single-threaded; the fast
 * kernels in conv2d_simd.c are tested against these.
 *   in [n, in_h, in_w, in_c], out [n, out_h, out_w, out_c], weight HWIO [k_h][k_w][in_c][out_c],
 *   bias [out_c] or NULL.
 *   out[n,oy,ox,o] = bias[o] + sum_{ky,kx,i} in[n, oy*stride - pad_top + ky, ox*stride - pad_left + kx, i]
 *                                            * weight[ky][kx][i][o], taps outside the input reading zero. */
#include "../ops.h"

void wt_conv2d_forward_ref(float* out, const float* in, const float* weight, const float* bias,
                           const wt_conv_dims* d) {
    for (int n = 0; n < d->n; n++) {
        for (int oy = 0; oy < d->out_h; oy++) {
            for (int ox = 0; ox < d->out_w; ox++) {
                for (int o = 0; o < d->out_c; o++) {
                    float acc = bias ? bias[o] : 0.0f;
                    for (int ky = 0; ky < d->k_h; ky++) {
                        int iy = oy * d->stride - d->pad_top + ky;
                        if (iy < 0 || iy >= d->in_h) continue;
                        for (int kx = 0; kx < d->k_w; kx++) {
                            int ix = ox * d->stride - d->pad_left + kx;
                            if (ix < 0 || ix >= d->in_w) continue;
                            const float* x = &in[(((size_t)n * d->in_h + iy) * d->in_w + ix) * d->in_c];
                            const float* w = &weight[((size_t)ky * d->k_w + kx) * d->in_c * d->out_c + o];
                            for (int i = 0; i < d->in_c; i++) acc += x[i] * w[(size_t)i * d->out_c];
                        }
                    }
                    out[(((size_t)n * d->out_h + oy) * d->out_w + ox) * d->out_c + o] = acc;
                }
            }
        }
    }
}

/* The transpose of the forward: every output pixel hands d_out * weight back to the input taps it
 * read (d_in), and d_out * input to the weights (d_weight); d_bias sums d_out. All accumulate. */
void wt_conv2d_backward_ref(float* d_in, float* d_weight, float* d_bias, const float* d_out,
                            const float* in, const float* weight, const wt_conv_dims* d) {
    for (int n = 0; n < d->n; n++) {
        for (int oy = 0; oy < d->out_h; oy++) {
            for (int ox = 0; ox < d->out_w; ox++) {
                const float* g = &d_out[(((size_t)n * d->out_h + oy) * d->out_w + ox) * d->out_c];
                if (d_bias)
                    for (int o = 0; o < d->out_c; o++) d_bias[o] += g[o];
                for (int ky = 0; ky < d->k_h; ky++) {
                    int iy = oy * d->stride - d->pad_top + ky;
                    if (iy < 0 || iy >= d->in_h) continue;
                    for (int kx = 0; kx < d->k_w; kx++) {
                        int ix = ox * d->stride - d->pad_left + kx;
                        if (ix < 0 || ix >= d->in_w) continue;
                        size_t pix = (((size_t)n * d->in_h + iy) * d->in_w + ix) * d->in_c;
                        size_t tap = ((size_t)ky * d->k_w + kx) * d->in_c * d->out_c;
                        for (int i = 0; i < d->in_c; i++) {
                            const float* w = &weight[tap + (size_t)i * d->out_c];
                            float* dw = d_weight ? &d_weight[tap + (size_t)i * d->out_c] : NULL;
                            float acc = 0.0f;
                            for (int o = 0; o < d->out_c; o++) {
                                acc += g[o] * w[o];
                                if (dw) dw[o] += g[o] * in[pix + i];
                            }
                            if (d_in) d_in[pix + i] += acc;
                        }
                    }
                }
            }
        }
    }
}
