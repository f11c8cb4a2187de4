#pragma once
// Low-rank factorisation: W [m, n] ≈ U [m, r] · V [r, n] by truncated SVD (Eckart–Young: the
// best rank-r approximation in the Frobenius norm), at a given rank or at the smallest rank
// that keeps a fraction of the energy (sum of squared singular values).
//
// The SVD is LAPACK's dgesdd through LAPACKE (Debian: liblapacke-dev). This header is NOT in
// the umbrella compress.hpp: include <compress/lowrank.hpp> and link the CMake target
// compress::lowrank, which adds the LAPACKE library; nothing else in compress needs LAPACK.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

// Let LAPACKE's complex types be std::complex unless the user chose otherwise (the default,
// C99 _Complex, is not ISO C++).
#if !defined(lapack_complex_float)
#include <complex>
#define lapack_complex_float std::complex<float>
#define lapack_complex_double std::complex<double>
#endif
#if defined(__has_include)
#if !__has_include(<lapacke.h>)
#error "compress/lowrank.hpp needs LAPACKE (Debian: liblapacke-dev) and the CMake target compress::lowrank"
#endif
#endif
#include <lapacke.h>

#include <xtensor/xtensor.hpp>

#include "core/error.hpp"
#include "core/tensor.hpp"
#include "kernels/gemm.hpp"

namespace compress {

/// W ≈ u · v with u = U_r·diag(sqrt(σ)) [m, r] and v = diag(sqrt(σ))·V_rᵀ [r, n] (the singular
/// values split evenly between the factors, so both have the same scale).
struct low_rank_factors {
    xt::xtensor<float, 2> u;
    xt::xtensor<float, 2> v;
    xt::xtensor<double, 1> singular_values;  ///< all min(m, n) of them, descending
    std::size_t rank = 0;
    double relative_error = 0.0;  ///< ||W - u·v||_F / ||W||_F = sqrt(sum_{i>=r} σ_i²) / sqrt(sum σ_i²)
    double energy = 1.0;          ///< sum_{i<r} σ_i² / sum σ_i² (1 for a zero matrix)

    /// u · v, [m, n].
    xt::xtensor<float, 2> reconstruct() const {
        const std::size_t m = u.shape()[0], n = v.shape()[1];
        xt::xtensor<float, 2> w = xt::xtensor<float, 2>::from_shape({m, n});
        detail::sgemm(false, false, m, n, rank, 1.0f, u.data(), rank, v.data(), n, 0.0f, w.data(), n);
        return w;
    }
    /// Number of stored parameters, r·(m + n), against m·n for the dense weight.
    std::size_t parameters() const noexcept { return rank * (u.shape()[0] + v.shape()[1]); }
};

namespace detail {

struct lowrank_svd_result {
    std::size_t m = 0, n = 0, p = 0;
    std::vector<double> u, s, vt;  // u [m, p], s [p], vt [p, n], row-major
};

template <class E>
lowrank_svd_result lowrank_svd(const xt::xexpression<E>& w, const char* fn) {
    check_rank(w, 2, "weight");
    check_finite(w, "weight");
    const auto& e = w.derived_cast();
    lowrank_svd_result r;
    r.m = static_cast<std::size_t>(e.shape()[0]);
    r.n = static_cast<std::size_t>(e.shape()[1]);
    r.p = std::min(r.m, r.n);
    if (r.p == 0) throw shape_error(std::string(fn) + ": weight of shape " + shape_str(e.shape()) + " is empty");
    std::vector<double> a(r.m * r.n);
    std::size_t i = 0;
    for (auto it = e.cbegin(); it != e.cend(); ++it) a[i++] = static_cast<double>(*it);
    r.u.resize(r.m * r.p);
    r.s.resize(r.p);
    r.vt.resize(r.p * r.n);
    const lapack_int info =
        LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', static_cast<lapack_int>(r.m), static_cast<lapack_int>(r.n), a.data(),
                       static_cast<lapack_int>(r.n), r.s.data(), r.u.data(), static_cast<lapack_int>(r.p), r.vt.data(),
                       static_cast<lapack_int>(r.n));
    if (info != 0) {
        throw error(std::string(fn) + ": LAPACK dgesdd failed (info = " + std::to_string(info) + ") on a weight of shape " +
                    shape_str(e.shape()));
    }
    return r;
}

inline low_rank_factors lowrank_truncate(const lowrank_svd_result& s, std::size_t rank) {
    low_rank_factors f;
    f.rank = rank;
    f.singular_values = xt::xtensor<double, 1>::from_shape({s.p});
    double total = 0.0, kept = 0.0;
    for (std::size_t i = 0; i < s.p; ++i) {
        f.singular_values(i) = s.s[i];
        total += s.s[i] * s.s[i];
        if (i < rank) kept += s.s[i] * s.s[i];
    }
    f.energy = total > 0.0 ? kept / total : 1.0;
    f.relative_error = total > 0.0 ? std::sqrt(std::max(0.0, total - kept) / total) : 0.0;
    f.u = xt::xtensor<float, 2>::from_shape({s.m, rank});
    f.v = xt::xtensor<float, 2>::from_shape({rank, s.n});
    for (std::size_t j = 0; j < rank; ++j) {
        const double r = std::sqrt(s.s[j]);
        for (std::size_t i = 0; i < s.m; ++i) f.u(i, j) = static_cast<float>(s.u[i * s.p + j] * r);
        for (std::size_t i = 0; i < s.n; ++i) f.v(j, i) = static_cast<float>(s.vt[j * s.n + i] * r);
    }
    return f;
}

}  // namespace detail

/// The singular values of a [m, n] weight, descending. Throws shape_error for another rank or
/// an empty matrix, value_error for NaN/Inf.
template <class E>
xt::xtensor<double, 1> singular_values(const xt::xexpression<E>& w) {
    const auto s = detail::lowrank_svd(w, "singular_values");
    xt::xtensor<double, 1> out = xt::xtensor<double, 1>::from_shape({s.p});
    std::copy(s.s.begin(), s.s.end(), out.begin());
    return out;
}

/// Best rank-`rank` factorisation of a [m, n] weight. Throws value_error unless
/// 1 <= rank <= min(m, n), or for NaN/Inf; shape_error for another rank than 2.
template <class E>
low_rank_factors low_rank(const xt::xexpression<E>& w, std::size_t rank) {
    detail::check_rank(w, 2, "weight");
    const auto& e = w.derived_cast();
    const std::size_t p = std::min<std::size_t>(e.shape()[0], e.shape()[1]);
    if (rank < 1 || rank > p) {
        throw value_error("low_rank: rank " + std::to_string(rank) + " is outside [1, min(m, n) = " + std::to_string(p) +
                          "] for a weight of shape " + detail::shape_str(e.shape()));
    }
    return detail::lowrank_truncate(detail::lowrank_svd(w, "low_rank"), rank);
}

/// The smallest-rank factorisation keeping at least `energy` (in (0, 1]) of sum σ². Throws
/// value_error for energy outside (0, 1] or NaN/Inf weights.
template <class E>
low_rank_factors low_rank_energy(const xt::xexpression<E>& w, double energy) {
    if (!(energy > 0.0 && energy <= 1.0)) {
        throw value_error("low_rank_energy: energy must be a fraction in (0, 1], got " + std::to_string(energy));
    }
    const auto s = detail::lowrank_svd(w, "low_rank_energy");
    double total = 0.0;
    for (double x : s.s) total += x * x;
    std::size_t rank = 1;
    if (total > 0.0) {
        double kept = 0.0;
        rank = s.p;
        for (std::size_t i = 0; i < s.p; ++i) {
            kept += s.s[i] * s.s[i];
            // Relative slack so that energy = 1 is reached despite rounding.
            if (kept >= energy * total * (1.0 - 1e-12)) {
                rank = i + 1;
                break;
            }
        }
    }
    return detail::lowrank_truncate(s, rank);
}

}  // namespace compress
