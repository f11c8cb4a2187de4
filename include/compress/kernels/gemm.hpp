#pragma once
// Dense fp32 GEMM, row-major, BLAS-like interface. This is the contract that the training
// substrate (nn/) and compress::linear build on.
//
//   C[M,N] = alpha * op(A) · op(B) + beta * C
//   op(A) is A [M,K] (lda >= K) or, with trans_a, Aᵀ where A is [K,M] (lda >= M);
//   op(B) is B [K,N] (ldb >= N) or, with trans_b, Bᵀ where B is [N,K] (ldb >= K).
//
// beta == 0 overwrites C without reading it (NaN in C does not propagate).
// NOTE: the body below is a simple reference implementation; the packed, register-blocked
// xsimd micro-kernel replaces it (issue: sparse kernels) without changing the signature.

#include <cstddef>

#include <xsimd/xsimd.hpp>

#include "../core/arch.hpp"

namespace compress::detail {

template <class Arch = xsimd::default_arch>
void sgemm(bool trans_a, bool trans_b, std::size_t M, std::size_t N, std::size_t K, float alpha,
           const float* A, std::size_t lda, const float* B, std::size_t ldb, float beta, float* C,
           std::size_t ldc) {
    for (std::size_t i = 0; i < M; ++i) {
        float* c = C + i * ldc;
        if (beta == 0.0f) {
            for (std::size_t j = 0; j < N; ++j) c[j] = 0.0f;
        } else if (beta != 1.0f) {
            for (std::size_t j = 0; j < N; ++j) c[j] *= beta;
        }
    }
    if (K == 0 || alpha == 0.0f) return;
    for (std::size_t i = 0; i < M; ++i) {
        float* c = C + i * ldc;
        if (!trans_b) {
            for (std::size_t k = 0; k < K; ++k) {
                const float a = alpha * (trans_a ? A[k * lda + i] : A[i * lda + k]);
                const float* b = B + k * ldb;
                for (std::size_t j = 0; j < N; ++j) c[j] += a * b[j];
            }
        } else {
            for (std::size_t j = 0; j < N; ++j) {
                const float* b = B + j * ldb;
                float s = 0.0f;
                for (std::size_t k = 0; k < K; ++k) s += (trans_a ? A[k * lda + i] : A[i * lda + k]) * b[k];
                c[j] += alpha * s;
            }
        }
    }
}

}  // namespace compress::detail
