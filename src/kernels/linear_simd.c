/* linear_simd.c: the fast linear op (pointwise 1x1 convolution and dense layers), over the fast
 * GEMMs. Shapes as in linear_ref.c:
 *   forward:  out[rows, out_c] = in[rows, in_c] * weight[in_c, out_c] + bias   (gemm nn, bias fused)
 *   backward: d_in += d_out * weight^T (gemm nt); d_weight += in^T * d_out (gemm tn);
 *             d_bias[j] += sum_r d_out[r, j], split over channels (each sum in row order). */
#include "../ops.h"
#include "../simd.h"

/* Defined in gemm_simd.c: wt_gemm_nn with accumulate = 0 and C initialized to the row vector bias
 * (bias may be NULL). Internal to the linear op, so not in ops.h. */
void wt_gemm_nn_bias(wt_pool* pool, float* ws, int M, int N, int K, const float* A, int lda,
                     const float* B, int ldb, const float* bias, float* C, int ldc);
void wt_gemm_nn_bias_relu6(wt_pool* pool, float* ws, int M, int N, int K, const float* A, int lda,
                           const float* B, int ldb, const float* bias, float* C, int ldc);

/* The three GEMMs' workspaces share one buffer (they run one after another). */
size_t wt_linear_workspace_floats(const wt_linear_dims* d) {
    size_t fwd = wt_gemm_workspace_floats(d->rows, d->out_c, d->in_c);     /* nn: out */
    size_t bwd_in = wt_gemm_workspace_floats(d->rows, d->in_c, d->out_c);  /* nt: d_in */
    size_t bwd_w = wt_gemm_workspace_floats(d->in_c, d->out_c, d->rows);   /* tn: d_weight */
    size_t ws = fwd > bwd_in ? fwd : bwd_in;
    return ws > bwd_w ? ws : bwd_w;
}

void wt_linear_forward(wt_pool* pool, float* ws, float* out, const float* in, const float* weight,
                       const float* bias, const wt_linear_dims* d) {
    wt_gemm_nn_bias(pool, ws, d->rows, d->out_c, d->in_c, in, d->in_c, weight, d->out_c, bias, out,
                    d->out_c);
}

void wt_linear_forward_relu6(wt_pool* pool, float* ws, float* out, const float* in, const float* weight,
                             const float* bias, const wt_linear_dims* d) {
    wt_gemm_nn_bias_relu6(pool, ws, d->rows, d->out_c, d->in_c, in, d->in_c, weight, d->out_c, bias, out,
                          d->out_c);
}

typedef struct bias_job {
    float* d_bias;
    const float* d_out;
    int rows, c;
} bias_job;

/* Channels [4*begin, 4*end) of d_bias += column sums of d_out. */
static void bias_range(void* ctx, size_t begin, size_t end) {
    const bias_job* b = (const bias_job*)ctx;
    const int j0 = (int)begin * 4;
    const int j1 = (int)end * 4 < b->c ? (int)end * 4 : b->c;
    int j = j0;
    for (; j + 16 <= j1; j += 16) {
        v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0, s2 = s0, s3 = s0;
        const float* p = b->d_out + j;
        for (int r = 0; r < b->rows; r++, p += b->c) {
            s0 = wasm_f32x4_add(s0, wasm_v128_load(p));
            s1 = wasm_f32x4_add(s1, wasm_v128_load(p + 4));
            s2 = wasm_f32x4_add(s2, wasm_v128_load(p + 8));
            s3 = wasm_f32x4_add(s3, wasm_v128_load(p + 12));
        }
        float* db = b->d_bias + j;
        wasm_v128_store(db, wasm_f32x4_add(wasm_v128_load(db), s0));
        wasm_v128_store(db + 4, wasm_f32x4_add(wasm_v128_load(db + 4), s1));
        wasm_v128_store(db + 8, wasm_f32x4_add(wasm_v128_load(db + 8), s2));
        wasm_v128_store(db + 12, wasm_f32x4_add(wasm_v128_load(db + 12), s3));
    }
    for (; j + 4 <= j1; j += 4) {
        v128_t s = wasm_f32x4_splat(0.0f);
        const float* p = b->d_out + j;
        for (int r = 0; r < b->rows; r++, p += b->c) s = wasm_f32x4_add(s, wasm_v128_load(p));
        wasm_v128_store(b->d_bias + j, wasm_f32x4_add(wasm_v128_load(b->d_bias + j), s));
    }
    for (; j < j1; j++) {
        float s = 0.0f;
        const float* p = b->d_out + j;
        for (int r = 0; r < b->rows; r++, p += b->c) s += *p;
        b->d_bias[j] += s;
    }
}

void wt_linear_backward(wt_pool* pool, float* ws, float* d_in, float* d_weight, float* d_bias,
                        const float* d_out, const float* in, const float* weight,
                        const wt_linear_dims* d) {
    if (d_in)
        wt_gemm_nt(pool, ws, d->rows, d->in_c, d->out_c, d_out, d->out_c, weight, d->out_c, d_in,
                   d->in_c, 1);
    if (d_weight)
        wt_gemm_tn(pool, ws, d->in_c, d->out_c, d->rows, in, d->in_c, d_out, d->out_c, d_weight,
                   d->out_c, 1);
    if (d_bias) {
        /* units of 4 channels, grain 4 units: every 16-channel group stays in one chunk */
        bias_job b = {d_bias, d_out, d->rows, d->out_c};
        wt_parallel_for(pool, (size_t)(d->out_c + 3) / 4, 4, bias_range, &b);
    }
}
