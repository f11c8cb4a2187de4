#pragma once
// Shared helpers of the sparse/linear tests: seeded random weights and a double-precision
// reference for y = x · Wᵀ + b.
#include <cmath>
#include <cstddef>
#include <random>
#include <sstream>
#include <string>

#include <xtensor/xtensor.hpp>

namespace sparse_test {

/// Random [rows, cols] weights; each entry is kept with probability `density`; rows listed
/// by `zero_every` (every k-th row, 0 = none) are all zero.
inline xt::xtensor<float, 2> random_sparse(std::size_t rows, std::size_t cols, double density, unsigned seed,
                                           std::size_t zero_every = 0) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::uniform_real_distribution<double> keep(0.0, 1.0);
    xt::xtensor<float, 2> w = xt::zeros<float>({rows, cols});
    for (std::size_t r = 0; r < rows; ++r) {
        if (zero_every != 0 && r % zero_every == 1) continue;
        for (std::size_t c = 0; c < cols; ++c) {
            if (keep(rng) < density) {
                float v = u(rng);
                w(r, c) = v == 0.0f ? 0.5f : v;
            }
        }
    }
    return w;
}

/// Keeps at most N of every M consecutive weights of each row (the N largest |w|, ties by index).
template <std::size_t N, std::size_t M>
xt::xtensor<float, 2> to_n_of_m(xt::xtensor<float, 2> w) {
    const std::size_t rows = w.shape()[0], cols = w.shape()[1];
    for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t c0 = 0; c0 < cols; c0 += M) {
            const std::size_t width = std::min(M, cols - c0);
            for (std::size_t drop = 0;; ++drop) {
                std::size_t nz = 0, smallest = c0;
                float sv = INFINITY;
                for (std::size_t c = c0; c < c0 + width; ++c) {
                    if (w(r, c) != 0.0f) {
                        ++nz;
                        if (std::fabs(w(r, c)) < sv) { sv = std::fabs(w(r, c)); smallest = c; }
                    }
                }
                if (nz <= N) break;
                w(r, smallest) = 0.0f;
            }
        }
    }
    return w;
}

inline xt::xtensor<float, 2> random_dense(std::size_t rows, std::size_t cols, unsigned seed) {
    return random_sparse(rows, cols, 1.0, seed);
}

/// Number of elements where got and the double reference differ by more than
/// 1e-5 * (sum |x w| + |b|) + 1e-6; the first few are described in `report`.
inline std::size_t count_mismatches(const xt::xtensor<float, 2>& x, const xt::xtensor<float, 2>& w,
                                    const float* bias, const xt::xtensor<float, 2>& got, std::string& report) {
    const std::size_t batch = x.shape()[0], in = x.shape()[1], out = w.shape()[0];
    std::size_t bad = 0;
    std::ostringstream os;
    if (got.shape()[0] != batch || got.shape()[1] != out) {
        report = "wrong output shape";
        return 1;
    }
    // row-major pointers, not xtensor's operator(): this loop runs ~10^8 times in the kernel
    // sweeps, and under the sanitizer build (-O0) operator() made it most of their time
    const float* xp = x.data();
    const float* wp = w.data();
    for (std::size_t b = 0; b < batch; ++b) {
        for (std::size_t o = 0; o < out; ++o) {
            double s = bias ? bias[o] : 0.0, mag = bias ? std::fabs(bias[o]) : 0.0;
            const float* xr = xp + b * in;
            const float* wr = wp + o * in;
            for (std::size_t k = 0; k < in; ++k) {
                const double t = static_cast<double>(xr[k]) * wr[k];
                s += t;
                mag += std::fabs(t);
            }
            if (!(std::fabs(got(b, o) - s) <= 1e-5 * mag + 1e-6)) {
                if (bad < 4) os << "y(" << b << "," << o << ")=" << got(b, o) << " want " << s << "; ";
                ++bad;
            }
        }
    }
    report = os.str();
    return bad;
}

}  // namespace sparse_test
