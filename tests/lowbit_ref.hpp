#pragma once
// Plain scalar references and data generators shared by the low-bit kernel tests. Nothing
// here calls the library's kernels: the references work on unpacked codes and doubles.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace lowbit_ref {

inline std::vector<float> randn(std::size_t n, unsigned seed, float scale = 1.0f) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
}

inline std::vector<std::int8_t> rand_s8(std::size_t n, unsigned seed, int lo = -128, int hi = 127) {
    std::mt19937 g(seed);
    std::uniform_int_distribution<int> d(lo, hi);
    std::vector<std::int8_t> v(n);
    for (auto& x : v) x = static_cast<std::int8_t>(d(g));
    return v;
}

/// Relative closeness for fp32 results computed in a different order than the reference.
inline bool close(double got, double want, double rel = 1e-4, double abs_tol = 1e-4) {
    return std::fabs(got - want) <= abs_tol + rel * std::fabs(want);
}

/// Exact Σ_k a[m,k]·(w[n,k] − zw[n]) in 64-bit integers.
inline std::vector<std::int64_t> int_gemm(const std::vector<std::int8_t>& a, std::size_t M, std::size_t lda,
                                          const std::vector<std::int8_t>& w, std::size_t N, std::size_t K,
                                          const std::vector<std::int32_t>& zw = {}) {
    std::vector<std::int64_t> c(M * N, 0);
    for (std::size_t m = 0; m < M; ++m)
        for (std::size_t n = 0; n < N; ++n) {
            std::int64_t s = 0;
            for (std::size_t k = 0; k < K; ++k)
                s += std::int64_t(a[m * lda + k]) * (std::int64_t(w[n * K + k]) - (zw.empty() ? 0 : zw[n]));
            c[m * N + n] = s;
        }
    return c;
}

}  // namespace lowbit_ref
