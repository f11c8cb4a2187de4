#pragma once
// Internal: the dense products of the nn layers, on the library's sgemm
// (kernels/gemm.hpp), split across OpenMP threads when built with COMPRESS_USE_OPENMP.

#include <algorithm>
#include <cstddef>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "../kernels/gemm.hpp"
#include "config.hpp"

namespace compress::nn {
inline namespace COMPRESS_NN_ABI {
namespace detail {

/// C[M,N] = alpha·op(A)·op(B) + beta·C, row-major, with compress::detail::sgemm's contract.
/// With several threads the larger of M and N is cut into one panel per thread; when both are
/// small and K is long (convolution weight gradients), K is cut and the partial products summed
/// in a fixed order (deterministic for a given thread count).
inline void gemm(bool trans_a, bool trans_b, std::size_t M, std::size_t N, std::size_t K, float alpha,
                 const float* A, std::size_t lda, const float* B, std::size_t ldb, float beta, float* C,
                 std::size_t ldc) {
    using arch = xsimd::default_arch;
    const int threads = max_threads();
    const double work = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
    if (threads <= 1 || work < 262144.0) {
        compress::detail::sgemm<arch>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#if COMPRESS_NN_OPENMP
    const auto T = static_cast<std::size_t>(threads);
    if (std::max(M, N) >= 16 * T || K < 64 * T) {
        // Panels of rows (split M) or of columns (split N).
        const bool split_m = M >= N;
        const std::size_t total = split_m ? M : N;
        const std::size_t align = split_m ? 1 : 16;
        std::size_t chunk = (total + T - 1) / T;
        chunk = (chunk + align - 1) / align * align;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (long t = 0; t < static_cast<long>(T); ++t) {
            const std::size_t lo = std::min(total, static_cast<std::size_t>(t) * chunk);
            const std::size_t hi = std::min(total, lo + chunk);
            if (lo >= hi) continue;
            if (split_m) {
                const float* a = trans_a ? A + lo : A + lo * lda;
                compress::detail::sgemm<arch>(trans_a, trans_b, hi - lo, N, K, alpha, a, lda, B, ldb, beta,
                                              C + lo * ldc, ldc);
            } else {
                const float* b = trans_b ? B + lo * ldb : B + lo;
                compress::detail::sgemm<arch>(trans_a, trans_b, M, hi - lo, K, alpha, A, lda, b, ldb, beta,
                                              C + lo, ldc);
            }
        }
        return;
    }
    // Split K: each thread computes a partial product into its own buffer.
    const std::size_t chunk = (K + T - 1) / T;
    std::vector<float> partial(T * M * N);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long t = 0; t < static_cast<long>(T); ++t) {
        const std::size_t lo = std::min(K, static_cast<std::size_t>(t) * chunk);
        const std::size_t hi = std::min(K, lo + chunk);
        float* c = partial.data() + static_cast<std::size_t>(t) * M * N;
        if (lo >= hi) {
            std::fill(c, c + M * N, 0.0f);
            continue;
        }
        const float* a = trans_a ? A + lo * lda : A + lo;
        const float* b = trans_b ? B + lo : B + lo * ldb;
        compress::detail::sgemm<arch>(trans_a, trans_b, M, N, hi - lo, alpha, a, lda, b, ldb, 0.0f, c, N);
    }
    for (std::size_t i = 0; i < M; ++i) {
        float* c = C + i * ldc;
        for (std::size_t j = 0; j < N; ++j) {
            float s = 0.0f;
            for (std::size_t t = 0; t < T; ++t) s += partial[(t * M + i) * N + j];
            c[j] = (beta == 0.0f ? 0.0f : beta * c[j]) + s;
        }
    }
#else
    compress::detail::sgemm<arch>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

}  // namespace detail
}  // namespace COMPRESS_NN_ABI
}  // namespace compress::nn
