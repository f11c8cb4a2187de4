#pragma once
// Weight fusion: averaging of many models' tensors (model soups, weight mixing), linear
// interpolation between two, batch-norm folding into the preceding linear or convolution,
// and merging of two linear layers that have no nonlinearity between them.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "core/error.hpp"
#include "core/tensor.hpp"
#include "kernels/gemm.hpp"

namespace compress {

/// A layer's weight (PyTorch layout: [out, in] or [out, in, kh, kw]) and bias [out].
template <class T, std::size_t N>
struct fused_layer {
    xt::xtensor<T, N> weight;
    xt::xtensor<T, 1> bias;
};

/// The parameters and running statistics of a batch-norm layer over `out` channels,
/// as in PyTorch's BatchNorm1d/2d in eval mode: y = (x - mean) / sqrt(var + eps) * gamma + beta.
struct batchnorm_stats {
    xt::xtensor<float, 1> gamma;
    xt::xtensor<float, 1> beta;
    xt::xtensor<float, 1> running_mean;
    xt::xtensor<float, 1> running_var;
    double eps = 1e-5;
};

namespace detail {

template <class A, class B>
bool fuse_same_shape(const A& a, const B& b) {
    return a.dimension() == b.dimension() && std::equal(a.shape().begin(), a.shape().end(), b.shape().begin());
}

inline void fold_check_len(const xt::xtensor<float, 1>& v, std::size_t n, const char* what, const char* fn) {
    if (v.size() != n) {
        throw shape_error(std::string(fn) + ": " + what + " has shape " + shape_str(v.shape()) + ", expected [" +
                          std::to_string(n) + "] (one per output channel)");
    }
    check_finite(v, what);
}

}  // namespace detail

/// Weighted average sum_i w_i t_i / sum_i w_i of tensors of one shape (a "model soup" of one
/// parameter). Empty `weights` means the uniform average. Throws value_error for no tensors,
/// negative / non-finite weights or a zero weight sum, NaN/Inf values; shape_error when the
/// shapes or the number of weights differ.
template <class T, std::size_t N>
xt::xtensor<T, N> average(const std::vector<xt::xtensor<T, N>>& tensors, const std::vector<double>& weights = {}) {
    static_assert(std::is_floating_point_v<T>, "average: tensors must be floating point");
    if (tensors.empty()) throw value_error("average: no tensors to average");
    if (!weights.empty() && weights.size() != tensors.size()) {
        throw shape_error("average: " + std::to_string(weights.size()) + " weights for " +
                          std::to_string(tensors.size()) + " tensors");
    }
    double total = 0.0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
        if (!(weights[i] >= 0.0) || !std::isfinite(weights[i])) {
            throw value_error("average: weight " + std::to_string(i) + " must be finite and >= 0, got " +
                              std::to_string(weights[i]));
        }
        total += weights[i];
    }
    if (!weights.empty() && !(total > 0.0)) throw value_error("average: the weights sum to 0");
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        if (tensors[i].shape() != tensors[0].shape()) {
            throw shape_error("average: tensor " + std::to_string(i) + " has shape " +
                              detail::shape_str(tensors[i].shape()) + ", tensor 0 has " +
                              detail::shape_str(tensors[0].shape()));
        }
        detail::check_finite(tensors[i], "average input " + std::to_string(i));
    }
    const std::size_t n = tensors[0].size();
    std::vector<double> acc(n, 0.0);
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const double c = weights.empty() ? 1.0 / static_cast<double>(tensors.size()) : weights[i] / total;
        const T* p = tensors[i].data();
        for (std::size_t j = 0; j < n; ++j) acc[j] += c * static_cast<double>(p[j]);
    }
    xt::xtensor<T, N> out = xt::xtensor<T, N>::from_shape(tensors[0].shape());
    for (std::size_t j = 0; j < n; ++j) out.data()[j] = static_cast<T>(acc[j]);
    return out;
}

/// (1 - t) * a + t * b. t in [0, 1] interpolates, outside it extrapolates (task arithmetic);
/// t must be finite. Throws shape_error for different shapes, value_error for NaN/Inf.
template <class EA, class EB>
auto interpolate(const xt::xexpression<EA>& a, const xt::xexpression<EB>& b, double t) {
    constexpr std::size_t N = detail::fixed_rank_v<EA>;
    static_assert(N != static_cast<std::size_t>(-1), "interpolate: needs tensors of static rank (xt::xtensor)");
    using T = std::decay_t<typename EA::value_type>;
    static_assert(std::is_floating_point_v<T>, "interpolate: tensors must be floating point");
    if (!std::isfinite(t)) throw value_error("interpolate: t must be finite, got " + std::to_string(t));
    const auto& ea = a.derived_cast();
    const auto& eb = b.derived_cast();
    if (!detail::fuse_same_shape(ea, eb)) {
        throw shape_error("interpolate: shapes " + detail::shape_str(ea.shape()) + " and " +
                          detail::shape_str(eb.shape()) + " differ");
    }
    detail::check_finite(a, "interpolate input a");
    detail::check_finite(b, "interpolate input b");
    xt::xtensor<T, N> out = ea;
    auto ib = eb.cbegin();
    for (auto& v : out) {
        v = static_cast<T>((1.0 - t) * static_cast<double>(v) + t * static_cast<double>(*ib));
        ++ib;
    }
    return out;
}

/// Folds a batch norm that follows a linear ([out, in]) or convolution ([out, in, kh, kw])
/// layer into that layer: with s = gamma / sqrt(var + eps),
///   W'[o, ...] = s[o] * W[o, ...],   b'[o] = s[o] * (b[o] - mean[o]) + beta[o].
/// The folded layer computes what the two layers computed in eval mode. Throws shape_error
/// when bias or statistics do not have one entry per output channel, value_error for NaN/Inf,
/// negative variance or eps, or var + eps == 0.
template <class EW, class EB>
auto fold_batchnorm(const xt::xexpression<EW>& weight, const xt::xexpression<EB>& bias, const batchnorm_stats& bn) {
    constexpr std::size_t N = detail::fixed_rank_v<EW>;
    static_assert(N != static_cast<std::size_t>(-1) && N >= 2,
                  "fold_batchnorm: the weight must be an xt::xtensor of rank >= 2 ([out, in] or [out, in, kh, kw])");
    using T = std::decay_t<typename EW::value_type>;
    static_assert(std::is_floating_point_v<T>, "fold_batchnorm: weights must be floating point");
    detail::check_finite(weight, "weight");
    detail::check_finite(bias, "bias");
    const auto& w = weight.derived_cast();
    const auto& b = bias.derived_cast();
    const std::size_t out = static_cast<std::size_t>(w.shape()[0]);
    if (b.dimension() != 1 || static_cast<std::size_t>(b.shape()[0]) != out) {
        throw shape_error("fold_batchnorm: bias has shape " + detail::shape_str(b.shape()) + ", expected [" +
                          std::to_string(out) + "] for a weight of shape " + detail::shape_str(w.shape()));
    }
    detail::fold_check_len(bn.gamma, out, "gamma", "fold_batchnorm");
    detail::fold_check_len(bn.beta, out, "beta", "fold_batchnorm");
    detail::fold_check_len(bn.running_mean, out, "running_mean", "fold_batchnorm");
    detail::fold_check_len(bn.running_var, out, "running_var", "fold_batchnorm");
    if (!(bn.eps >= 0.0) || !std::isfinite(bn.eps)) {
        throw value_error("fold_batchnorm: eps must be finite and >= 0, got " + std::to_string(bn.eps));
    }
    std::vector<double> scale(out);
    for (std::size_t o = 0; o < out; ++o) {
        const double v = static_cast<double>(bn.running_var(o));
        if (v < 0.0) {
            throw value_error("fold_batchnorm: running_var has a negative value " + std::to_string(v) + " at (" +
                              std::to_string(o) + ")");
        }
        if (!(v + bn.eps > 0.0)) {
            throw value_error("fold_batchnorm: running_var + eps is 0 at (" + std::to_string(o) + ")");
        }
        scale[o] = static_cast<double>(bn.gamma(o)) / std::sqrt(v + bn.eps);
    }
    fused_layer<T, N> r;
    r.weight = w;
    const std::size_t inner = out ? r.weight.size() / out : 0;
    T* p = r.weight.data();
    for (std::size_t o = 0; o < out; ++o) {
        for (std::size_t i = 0; i < inner; ++i) p[o * inner + i] = static_cast<T>(scale[o] * static_cast<double>(p[o * inner + i]));
    }
    r.bias = xt::xtensor<T, 1>::from_shape({out});
    auto bi = b.cbegin();
    for (std::size_t o = 0; o < out; ++o, ++bi) {
        r.bias(o) = static_cast<T>(scale[o] * (static_cast<double>(*bi) - static_cast<double>(bn.running_mean(o))) +
                                   static_cast<double>(bn.beta(o)));
    }
    return r;
}

/// fold_batchnorm for a layer without bias (its bias is taken as zero).
template <class EW>
auto fold_batchnorm(const xt::xexpression<EW>& weight, const batchnorm_stats& bn) {
    const auto& w = weight.derived_cast();
    using T = std::decay_t<typename EW::value_type>;
    xt::xtensor<T, 1> zero = xt::xtensor<T, 1>::from_shape({static_cast<std::size_t>(w.dimension() ? w.shape()[0] : 0)});
    zero.fill(T(0));
    return fold_batchnorm(weight, zero, bn);
}

/// Merges y = W2·(W1·x + b1) + b2 (two linear layers with nothing between them) into one
/// layer W = W2·W1 ([out, in]), b = W2·b1 + b2. Throws shape_error when W1 [hidden, in],
/// b1 [hidden], W2 [out, hidden], b2 [out] do not fit, value_error for NaN/Inf.
template <class E1, class EB1, class E2, class EB2>
fused_layer<float, 2> merge_linear(const xt::xexpression<E1>& w1, const xt::xexpression<EB1>& b1,
                                   const xt::xexpression<E2>& w2, const xt::xexpression<EB2>& b2) {
    detail::check_rank(w1, 2, "first weight");
    detail::check_rank(w2, 2, "second weight");
    detail::check_rank(b1, 1, "first bias");
    detail::check_rank(b2, 1, "second bias");
    const xt::xtensor<float, 2> a = w1.derived_cast();
    const xt::xtensor<float, 2> c = w2.derived_cast();
    const xt::xtensor<float, 1> ba = b1.derived_cast();
    const xt::xtensor<float, 1> bc = b2.derived_cast();
    const std::size_t hidden = a.shape()[0], in = a.shape()[1], out = c.shape()[0];
    if (c.shape()[1] != hidden || ba.size() != hidden || bc.size() != out) {
        throw shape_error("merge_linear: layers W1 " + detail::shape_str(a.shape()) + ", b1 " +
                          detail::shape_str(ba.shape()) + ", W2 " + detail::shape_str(c.shape()) + ", b2 " +
                          detail::shape_str(bc.shape()) + " do not chain (need W1 [h, in], b1 [h], W2 [out, h], b2 [out])");
    }
    detail::check_finite(a, "first weight");
    detail::check_finite(c, "second weight");
    detail::check_finite(ba, "first bias");
    detail::check_finite(bc, "second bias");
    fused_layer<float, 2> r;
    r.weight = xt::xtensor<float, 2>::from_shape({out, in});
    detail::sgemm(false, false, out, in, hidden, 1.0f, c.data(), hidden, a.data(), in, 0.0f, r.weight.data(), in);
    r.bias = bc;
    // b = W2·b1 + b2 as a [out, 1] = [out, hidden]·[hidden, 1] product.
    detail::sgemm(false, false, out, 1, hidden, 1.0f, c.data(), hidden, ba.data(), 1, 1.0f, r.bias.data(), 1);
    return r;
}

}  // namespace compress
