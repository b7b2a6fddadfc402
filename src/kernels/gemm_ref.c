/* gemm_ref.c: the scalar reference GEMMs. Obvious loops, single-threaded; every fast GEMM is
 * tested against these. */
#include "../ops.h"

void wt_gemm_nn_ref(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
                    int ldc, int accumulate) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc += A[(size_t)i * lda + k] * B[(size_t)k * ldb + j];
            float* c = &C[(size_t)i * ldc + j];
            *c = accumulate ? *c + acc : acc;
        }
    }
}

void wt_gemm_nt_ref(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
                    int ldc, int accumulate) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc += A[(size_t)i * lda + k] * B[(size_t)j * ldb + k];
            float* c = &C[(size_t)i * ldc + j];
            *c = accumulate ? *c + acc : acc;
        }
    }
}

void wt_gemm_tn_ref(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
                    int ldc, int accumulate) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc += A[(size_t)k * lda + i] * B[(size_t)k * ldb + j];
            float* c = &C[(size_t)i * ldc + j];
            *c = accumulate ? *c + acc : acc;
        }
    }
}
