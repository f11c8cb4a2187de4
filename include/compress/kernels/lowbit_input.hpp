#pragma once
// Input checks shared by the compress::linear overloads for low-bit weights
// (linear_lowbit.hpp, linear_sparse_lowbit.hpp): the activations as a checked row-major
// float pointer, the bias as a checked float vector, the feature count of pre-quantized
// activations.

#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xexpression.hpp>
#include <xtensor/xtensor.hpp>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace compress::detail {

/// A 2-d float input as a row-major contiguous pointer (copied once when it is a view or
/// expression), checked: rank 2, `in` features, every value finite.
struct lowbit_input {
    xt::xtensor<float, 2> storage;
    const float* data = nullptr;
    std::size_t rows = 0, cols = 0;
};

template <class EX>
lowbit_input prepare_input(const xt::xexpression<EX>& xe, std::size_t out, std::size_t in, const char* what) {
    const auto& x = xe.derived_cast();
    if (x.dimension() != 2) {
        throw shape_error(std::string(what) + ": input x must be 2-d [batch, in_features], got shape " +
                          shape_str(x.shape()));
    }
    if (static_cast<std::size_t>(x.shape()[1]) != in) {
        throw shape_error(std::string(what) + ": input x of shape " + shape_str(x.shape()) + " has " +
                          std::to_string(x.shape()[1]) + " features but the weight [" + std::to_string(out) + ", " +
                          std::to_string(in) + "] expects " + std::to_string(in));
    }
    lowbit_input r;
    r.rows = static_cast<std::size_t>(x.shape()[0]);
    r.cols = in;
    bool direct = false;
    if constexpr (std::is_same_v<std::decay_t<typename EX::value_type>, float>) {
        if constexpr (std::is_same_v<EX, xt::xtensor<float, 2>> || std::is_same_v<EX, xt::xarray<float>>) {
            if (x.layout() == xt::layout_type::row_major) {
                r.data = x.data();
                direct = true;
            }
        }
    }
    if (!direct) {
        r.storage = x;
        r.data = r.storage.data();
    }
    // fast scan; the library's check_finite builds the message (with the position) on a hit
    bool finite = true;
    for (std::size_t i = 0, n = r.rows * r.cols; i < n; ++i) finite &= std::isfinite(r.data[i]);
    if (!finite) check_finite(xt::xtensor<float, 2>(x), "x");
    return r;
}

template <class EB>
std::vector<float> prepare_bias(const xt::xexpression<EB>& be, std::size_t out, const char* what) {
    const auto& b = be.derived_cast();
    if (b.dimension() != 1 || static_cast<std::size_t>(b.shape()[0]) != out) {
        throw shape_error(std::string(what) + ": bias of shape " + shape_str(b.shape()) + " does not fit " +
                          std::to_string(out) + " output features (expected [" + std::to_string(out) + "])");
    }
    std::vector<float> v(out);
    std::size_t i = 0;
    for (auto it = b.cbegin(); it != b.cend(); ++it, ++i) v[i] = static_cast<float>(*it);
    for (std::size_t j = 0; j < out; ++j) {
        if (!std::isfinite(v[j])) check_finite(xt::xtensor<float, 1>(b), "bias");
    }
    return v;
}

inline void check_features(std::size_t act_cols, std::size_t w_out, std::size_t w_in, const char* what) {
    if (act_cols != w_in) {
        throw shape_error(std::string(what) + ": the activations have " + std::to_string(act_cols) +
                          " features but the weight [" + std::to_string(w_out) + ", " + std::to_string(w_in) +
                          "] expects " + std::to_string(w_in));
    }
}

}  // namespace compress::detail
