#pragma once
// Seeded random tensors shared by the test programs (one definition instead of a copy per file).
#include <cstddef>
#include <random>

#include <xtensor/xtensor.hpp>

namespace test_random {

/// r x c matrix of N(0, stddev^2) floats from mt19937(seed), filled in row-major order.
inline xt::xtensor<float, 2> normal_matrix(std::size_t r, std::size_t c, unsigned seed, float stddev = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, stddev);
    xt::xtensor<float, 2> m = xt::xtensor<float, 2>::from_shape({r, c});
    for (auto& v : m) v = d(rng);
    return m;
}

}  // namespace test_random
