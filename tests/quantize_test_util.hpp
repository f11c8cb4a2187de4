// Helpers shared by the quantizer property tests.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <compress/quantize.hpp>

namespace qtest {
using namespace compress;


template <std::size_t N>
xt::xtensor<float, N> random_tensor(const std::array<std::size_t, N>& shape, unsigned seed, bool with_zeros = true) {
    xt::xtensor<float, N> t = xt::xtensor<float, N>::from_shape(shape);
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::uniform_real_distribution<float> scale(0.01f, 3.0f);
    const float s = scale(rng);
    const float shift = (seed % 3 == 0) ? 0.7f : 0.0f;  // some tensors off-centre (affine matters)
    std::size_t i = 0;
    for (auto& v : t) {
        v = s * (nd(rng) + shift);
        if (with_zeros && i % 7 == 3) v = 0.0f;
        ++i;
    }
    return t;
}

template <class F>
constexpr std::size_t row_bytes_by_hand(std::size_t cols) {
    if constexpr (F::family == format_family::binary) return 8 * ((cols + 63) / 64);
    else if constexpr (F::family == format_family::ternary) return 16 * ((cols + 63) / 64);
    else return (cols * F::storage_bits + 7) / 8;
}

/// Properties shared by every scheme.
template <class Q, std::size_t N>
void check_storage(const Q& q, const std::array<std::size_t, N>& shape) {
    using T = std::decay_t<decltype(q)>;
    using F = typename T::format;
    std::size_t rows = N == 1 ? 1 : shape[0];
    std::size_t cols = 1;
    for (std::size_t d = (N == 1 ? 0 : 1); d < N; ++d) cols *= shape[d];
    CHECK(q.row_stride() == row_bytes_by_hand<F>(cols));
    CHECK(q.code_bytes() == rows * row_bytes_by_hand<F>(cols));
    CHECK(q.bytes() == q.code_bytes() + q.num_scales() * sizeof(typename T::scale_type) +
                           q.num_zero_points() * sizeof(typename T::zero_point_type));
    // packed round trip: the stored parts rebuild an identical tensor
    std::vector<typename T::scale_type> sc(q.scales(), q.scales() + q.num_scales());
    std::vector<typename T::zero_point_type> zp(q.zero_points(), q.zero_points() + q.num_zero_points());
    const T back = T::from_parts(q.shape(), q.codes(), q.code_bytes(), sc, zp);
    CHECK(back == q);
    // re-packing every code through set_code gives the same bytes
    T again = T::from_parts(q.shape(), q.codes(), q.code_bytes(), sc, zp);
    std::vector<std::uint8_t> zeros(q.code_bytes(), 0);
    T fresh = T::from_parts(q.shape(), zeros.data(), zeros.size(), sc, zp);
    for (std::size_t r = 0; r < q.rows(); ++r)
        for (std::size_t c = 0; c < q.cols(); ++c) fresh.set_code(r, c, q.code(r, c));
    CHECK(fresh == again);
}

}  // namespace qtest
