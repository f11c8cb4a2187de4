#pragma once
// Internal: the dense products of the nn layers go through the library's sgemm
// (kernels/gemm.hpp), compiled for the translation unit's target (xsimd's default arch). sgemm
// splits M or N across OpenMP threads itself when built with COMPRESS_USE_OPENMP, and runs
// serially inside a parallel region (the per-sample loops of conv2d).

#include <cstddef>

#include <xsimd/xsimd.hpp>

#include "../kernels/gemm.hpp"
#include "config.hpp"

namespace compress::nn {
inline namespace COMPRESS_NN_ABI {
namespace detail {

/// C[M,N] = alpha·op(A)·op(B) + beta·C, row-major, with compress::detail::sgemm's contract.
inline void gemm(bool trans_a, bool trans_b, std::size_t M, std::size_t N, std::size_t K, float alpha,
                 const float* A, std::size_t lda, const float* B, std::size_t ldb, float beta, float* C,
                 std::size_t ldc) {
    compress::detail::sgemm<xsimd::default_arch>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace detail
}  // namespace COMPRESS_NN_ABI
}  // namespace compress::nn
