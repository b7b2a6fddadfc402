/* ops.h: the compute kernels of every layer, forward and backward (internal).
 *
 * Conventions (all kernels)
 * - Tensors are NHWC float32, densely packed; `rows` means N*H*W for per-pixel ops.
 * - Outputs first, then inputs, then sizes.
 * - Forward writes its output (=). Backward ACCUMULATES (+=) into every gradient it is given
 *   (d_in, d_weight, d_bias, ...). A NULL gradient pointer means "not needed" and is skipped
 *   (frozen weights, or a layer with nothing trainable below it).
 * - `*_ref` is the plain scalar reference: single-threaded, obvious loops, in src/kernels/<op>_ref.c.
 *   The unsuffixed function is the fast path (wasm SIMD 128, SIMDe natively) split over `pool`
 *   (NULL = serial), in src/kernels/<op>_simd.c. The fast path must give bit-identical results for any
 *   thread count: work is split over outputs, never over a reduction.
 * - `ws` is scratch of at least *_workspace_floats() floats, planned by the caller up front.
 *   Kernels never allocate.
 */
#ifndef WT_OPS_H
#define WT_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "threadpool.h"

/* ---------------------------------------------------------------------------------------------
 * GEMM, row-major with leading dimensions. accumulate = 0: C = A*B; accumulate = 1: C += A*B.
 * ------------------------------------------------------------------------------------------- */
/* C[M,N] (+)= A[M,K] * B[K,N] */
void wt_gemm_nn_ref(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
                    int ldc, int accumulate);
/* C[M,N] (+)= A[M,K] * B[N,K]^T */
void wt_gemm_nt_ref(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
                    int ldc, int accumulate);
/* C[M,N] (+)= A[K,M]^T * B[K,N] */
void wt_gemm_tn_ref(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
                    int ldc, int accumulate);

/* Fast GEMMs. ws holds wt_gemm_workspace_floats(M,N,K) floats (for packed panels). */
size_t wt_gemm_workspace_floats(int M, int N, int K);
void wt_gemm_nn(wt_pool* pool, float* ws, int M, int N, int K, const float* A, int lda, const float* B,
                int ldb, float* C, int ldc, int accumulate);
void wt_gemm_nt(wt_pool* pool, float* ws, int M, int N, int K, const float* A, int lda, const float* B,
                int ldb, float* C, int ldc, int accumulate);
void wt_gemm_tn(wt_pool* pool, float* ws, int M, int N, int K, const float* A, int lda, const float* B,
                int ldb, float* C, int ldc, int accumulate);

/* ---------------------------------------------------------------------------------------------
 * Linear: pointwise 1x1 convolution and dense layers. in [rows, in_c], out [rows, out_c],
 * weight [in_c, out_c] (Keras layout), bias [out_c] or NULL.
 * ------------------------------------------------------------------------------------------- */
typedef struct wt_linear_dims {
    int rows, in_c, out_c;
} wt_linear_dims;

size_t wt_linear_workspace_floats(const wt_linear_dims* d);
void wt_linear_forward_ref(float* out, const float* in, const float* weight, const float* bias,
                           const wt_linear_dims* d);
void wt_linear_backward_ref(float* d_in, float* d_weight, float* d_bias, const float* d_out,
                            const float* in, const float* weight, const wt_linear_dims* d);
void wt_linear_forward(wt_pool* pool, float* ws, float* out, const float* in, const float* weight,
                       const float* bias, const wt_linear_dims* d);
void wt_linear_backward(wt_pool* pool, float* ws, float* d_in, float* d_weight, float* d_bias,
                        const float* d_out, const float* in, const float* weight,
                        const wt_linear_dims* d);
/* out = relu6(in * weight + bias), clamped as the GEMM stores it: the same bits as wt_linear_forward
 * then wt_relu6_forward, without the second pass over memory (inference-mode folding, net.c). */
void wt_linear_forward_relu6(wt_pool* pool, float* ws, float* out, const float* in, const float* weight,
                             const float* bias, const wt_linear_dims* d);

/* ---------------------------------------------------------------------------------------------
 * Convolutions. out[n, oy, ox, :] reads in[n, oy*stride - pad_top + ky, ox*stride - pad_left + kx, :];
 * taps outside the input read zero (so TF "same", "valid" and ZeroPadding2D are all pads).
 * ------------------------------------------------------------------------------------------- */
typedef struct wt_conv_dims {
    int n, in_h, in_w, in_c;
    int out_h, out_w, out_c; /* depthwise: out_c == in_c */
    int k_h, k_w, stride;
    int pad_top, pad_left;
} wt_conv_dims;

/* Dense KxK convolution, weight HWIO [k_h][k_w][in_c][out_c], bias [out_c] or NULL. */
size_t wt_conv2d_workspace_floats(const wt_conv_dims* d);
void wt_conv2d_forward_ref(float* out, const float* in, const float* weight, const float* bias,
                           const wt_conv_dims* d);
void wt_conv2d_backward_ref(float* d_in, float* d_weight, float* d_bias, const float* d_out,
                            const float* in, const float* weight, const wt_conv_dims* d);
void wt_conv2d_forward(wt_pool* pool, float* ws, float* out, const float* in, const float* weight,
                       const float* bias, const wt_conv_dims* d);
void wt_conv2d_backward(wt_pool* pool, float* ws, float* d_in, float* d_weight, float* d_bias,
                        const float* d_out, const float* in, const float* weight,
                        const wt_conv_dims* d);

/* Depthwise KxK convolution (channel multiplier 1), weight [k_h][k_w][c], bias [c] or NULL. */
size_t wt_depthwise_workspace_floats(const wt_conv_dims* d);
void wt_depthwise_forward_ref(float* out, const float* in, const float* weight, const float* bias,
                              const wt_conv_dims* d);
void wt_depthwise_backward_ref(float* d_in, float* d_weight, float* d_bias, const float* d_out,
                               const float* in, const float* weight, const wt_conv_dims* d);
void wt_depthwise_forward(wt_pool* pool, float* ws, float* out, const float* in, const float* weight,
                          const float* bias, const wt_conv_dims* d);
void wt_depthwise_backward(wt_pool* pool, float* ws, float* d_in, float* d_weight, float* d_bias,
                           const float* d_out, const float* in, const float* weight,
                           const wt_conv_dims* d);
/* relu6(depthwise): each output row is clamped right after it is computed, while it is in cache.
 * The same bits as wt_depthwise_forward then wt_relu6_forward. */
void wt_depthwise_forward_relu6(wt_pool* pool, float* ws, float* out, const float* in, const float* weight,
                                const float* bias, const wt_conv_dims* d);

/* ---------------------------------------------------------------------------------------------
 * Batch normalization over [rows, c].
 *   frozen:  out = (in - mean) / sqrt(var + eps) * gamma + beta, with the stored statistics.
 *   train:   mean/var are the batch's (biased var); save_mean/save_invstd [c] keep them for backward;
 *            running_mean/var are updated as r = momentum*r + (1-momentum)*batch, with the unbiased
 *            batch variance (var * rows/(rows-1)), as Keras does. running_* may be NULL (no update).
 * ------------------------------------------------------------------------------------------- */
typedef struct wt_bn_dims {
    int rows, c;
    float eps;
} wt_bn_dims;

void wt_batchnorm_forward_frozen_ref(float* out, const float* in, const float* gamma, const float* beta,
                                     const float* mean, const float* var, const wt_bn_dims* d);
void wt_batchnorm_backward_frozen_ref(float* d_in, float* d_gamma, float* d_beta, const float* d_out,
                                      const float* in, const float* gamma, const float* mean,
                                      const float* var, const wt_bn_dims* d);
void wt_batchnorm_forward_train_ref(float* out, float* save_mean, float* save_invstd,
                                    float* running_mean, float* running_var, const float* in,
                                    const float* gamma, const float* beta, float momentum,
                                    const wt_bn_dims* d);
void wt_batchnorm_backward_train_ref(float* d_in, float* d_gamma, float* d_beta, const float* d_out,
                                     const float* in, const float* gamma, const float* save_mean,
                                     const float* save_invstd, const wt_bn_dims* d);
void wt_batchnorm_forward_frozen(wt_pool* pool, float* out, const float* in, const float* gamma,
                                 const float* beta, const float* mean, const float* var,
                                 const wt_bn_dims* d);
/* Frozen batch norm and the ReLU6 that follows it, in one pass: out6 = relu6(bn(in)), and out = bn(in)
 * unless out is NULL or out6. The same bits as wt_batchnorm_forward_frozen then wt_relu6_forward.
 * in may be out or out6 (in place). */
void wt_batchnorm_relu6_forward_frozen_ref(float* out, float* out6, const float* in, const float* gamma,
                                           const float* beta, const float* mean, const float* var,
                                           const wt_bn_dims* d);
void wt_batchnorm_relu6_forward_frozen(wt_pool* pool, float* out, float* out6, const float* in,
                                       const float* gamma, const float* beta, const float* mean,
                                       const float* var, const wt_bn_dims* d);
/* Frozen backward from the layer's output (for in-place batch norm): see batchnorm_simd.c. */
void wt_batchnorm_backward_frozen_out_ref(float* d_in, float* d_gamma, float* d_beta, const float* d_out,
                                          const float* out, const float* gamma, const float* beta,
                                          const float* var, const wt_bn_dims* d);
void wt_batchnorm_backward_frozen_out(wt_pool* pool, float* d_in, float* d_gamma, float* d_beta,
                                      const float* d_out, const float* out, const float* gamma,
                                      const float* beta, const float* var, const wt_bn_dims* d);
void wt_batchnorm_backward_frozen(wt_pool* pool, float* d_in, float* d_gamma, float* d_beta,
                                  const float* d_out, const float* in, const float* gamma,
                                  const float* mean, const float* var, const wt_bn_dims* d);
void wt_batchnorm_forward_train(wt_pool* pool, float* out, float* save_mean, float* save_invstd,
                                float* running_mean, float* running_var, const float* in,
                                const float* gamma, const float* beta, float momentum,
                                const wt_bn_dims* d);
void wt_batchnorm_backward_train(wt_pool* pool, float* d_in, float* d_gamma, float* d_beta,
                                 const float* d_out, const float* in, const float* gamma,
                                 const float* save_mean, const float* save_invstd,
                                 const wt_bn_dims* d);

/* ---------------------------------------------------------------------------------------------
 * Elementwise over n floats. Activation backward uses the forward INPUT for its mask:
 * relu: d_in += d_out * (in > 0); relu6: d_in += d_out * (0 < in < 6).
 * ------------------------------------------------------------------------------------------- */
void wt_relu_forward_ref(float* out, const float* in, size_t n);
void wt_relu_backward_ref(float* d_in, const float* d_out, const float* in, size_t n);
void wt_relu6_forward_ref(float* out, const float* in, size_t n);
void wt_relu6_backward_ref(float* d_in, const float* d_out, const float* in, size_t n);
void wt_add_forward_ref(float* out, const float* a, const float* b, size_t n);
/* y += alpha * x: backward of add (alpha 1) and of gradient reversal (alpha -lambda). */
void wt_axpy_ref(float* y, float alpha, const float* x, size_t n);

void wt_relu_forward(wt_pool* pool, float* out, const float* in, size_t n);
void wt_relu_backward(wt_pool* pool, float* d_in, const float* d_out, const float* in, size_t n);
void wt_relu6_forward(wt_pool* pool, float* out, const float* in, size_t n);
void wt_relu6_backward(wt_pool* pool, float* d_in, const float* d_out, const float* in, size_t n);
void wt_add_forward(wt_pool* pool, float* out, const float* a, const float* b, size_t n);
void wt_axpy(wt_pool* pool, float* y, float alpha, const float* x, size_t n);

/* Global average pooling: in [n, hw, c] -> out [n, c]; backward d_in[n, i, c] += d_out[n, c] / hw. */
void wt_gap_forward_ref(float* out, const float* in, int n, int hw, int c);
void wt_gap_backward_ref(float* d_in, const float* d_out, int n, int hw, int c);
void wt_gap_forward(wt_pool* pool, float* out, const float* in, int n, int hw, int c);
void wt_gap_backward(wt_pool* pool, float* d_in, const float* d_out, int n, int hw, int c);

/* Inverted dropout. keep[i] = 1 when element i survives; out = in * keep / (1 - rate).
 * The mask is a pure function of (seed, i), so it does not depend on the thread count. */
void wt_dropout_forward_ref(float* out, uint8_t* keep, const float* in, float rate, uint64_t seed,
                            size_t n);
void wt_dropout_backward_ref(float* d_in, const float* d_out, const uint8_t* keep, float rate,
                             size_t n);
void wt_dropout_forward(wt_pool* pool, float* out, uint8_t* keep, const float* in, float rate,
                        uint64_t seed, size_t n);
void wt_dropout_backward(wt_pool* pool, float* d_in, const float* d_out, const uint8_t* keep,
                         float rate, size_t n);

/* Softmax cross-entropy over logits [n, k] with labels[n] in [0, k). Targets are
 * (1 - smoothing) * onehot + smoothing / k. class_weights [k] or NULL weighs each sample by its
 * label's weight; the loss is the weighted mean (sum w_i * loss_i / sum w_i). Writes probs [n, k]
 * if non-NULL, accumulates the gradient of the returned loss into d_logits if non-NULL. */
float wt_softmax_xent_ref(float* probs, float* d_logits, const float* logits, const int* labels,
                          int n, int k, float smoothing, const float* class_weights);

/* Counter-based random numbers: a pure function of (seed, index), the same on every platform. */
uint64_t wt_hash64(uint64_t seed, uint64_t index);
/* Uniform float in [0, 1) from (seed, index). */
float wt_uniform(uint64_t seed, uint64_t index);

/* ---------------------------------------------------------------------------------------------
 * Optimizer updates over n parameters (one parameter tensor). lr already includes the schedule
 * and the layer's scale. l2 adds l2*w to the gradient (coupled weight decay); decoupled_wd applies
 * w -= lr*decoupled_wd*w (AdamW). t is the 1-based step count for Adam's bias correction.
 * ------------------------------------------------------------------------------------------- */
void wt_sgd_update_ref(float* w, float* velocity, const float* g, size_t n, float lr, float momentum,
                       float l2);
void wt_adam_update_ref(float* w, float* m, float* v, const float* g, size_t n, float lr, float beta1,
                        float beta2, float eps, float l2, float decoupled_wd, int t);
void wt_sgd_update(wt_pool* pool, float* w, float* velocity, const float* g, size_t n, float lr,
                   float momentum, float l2);
void wt_adam_update(wt_pool* pool, float* w, float* m, float* v, const float* g, size_t n, float lr,
                    float beta1, float beta2, float eps, float l2, float decoupled_wd, int t);
/* 1 if every one of the n floats is finite. */
int wt_all_finite(const float* x, size_t n);

#endif /* WT_OPS_H */
