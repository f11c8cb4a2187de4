#pragma once
// remove_neurons: physically shrinks a layer pair after row (neuron / filter) pruning.

#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "../core/error.hpp"
#include "../core/mask.hpp"
#include "../core/tensor.hpp"

namespace compress {

/// Inference parameters of a batch-norm layer over `out` features / channels:
/// y = gamma (x - running_mean) / sqrt(running_var + eps) + beta.
template <class T>
struct batch_norm_params {
    xt::xtensor<T, 1> gamma, beta, running_mean, running_var;
    double eps = 1e-5;
};

/// Two consecutive layers: layer 1 (`weight` [out, in] or [out, in, kh, kw], `bias` [out] or
/// empty, an optional batch norm over its `out` outputs), an elementwise activation, then
/// layer 2 (`next_weight` [out2, out] linear, [out2, out, kh, kw] conv, or [out2, out * H * W]
/// for conv -> flatten -> linear; `next_bias` [out2] or empty).
template <class T, std::size_t N1, std::size_t N2>
struct layer_pair {
    static_assert(N1 == 2 || N1 == 4, "layer_pair: the first weight is [out, in] or [out, in, kh, kw]");
    static_assert(N2 == 2 || N2 == 4, "layer_pair: the next weight is [out2, out], [out2, out * H * W] or [out2, out, kh, kw]");
    static_assert(!(N1 == 2 && N2 == 4), "layer_pair: a linear layer followed by a conv is not a supported pair");
    xt::xtensor<T, N1> weight;
    xt::xtensor<T, 1> bias;
    std::optional<batch_norm_params<T>> norm;
    xt::xtensor<T, N2> next_weight;
    xt::xtensor<T, 1> next_bias;
};

/// max(x, 0), the default activation between the two layers.
struct relu_activation {
    template <class T>
    T operator()(T x) const noexcept { return x > T(0) ? x : T(0); }
};
/// No activation.
struct identity_activation {
    template <class T>
    T operator()(T x) const noexcept { return x; }
};

/// Indices of the rows (axis 0) of a mask that keep at least one weight.
template <std::size_t N>
std::vector<std::size_t> kept_rows(const mask<N>& m) {
    std::vector<std::size_t> out;
    const std::size_t rows = m.shape()[0];
    const std::size_t inner = rows ? m.size() / rows : 0;
    for (std::size_t r = 0; r < rows; ++r) {
        bool any = false;
        for (std::size_t j = 0; j < inner && !any; ++j) any = m[r * inner + j];
        if (any) out.push_back(r);
    }
    return out;
}

namespace detail {
template <class T, std::size_t N1, std::size_t N2>
void check_pair(const layer_pair<T, N1, N2>& p, std::size_t keep_size) {
    const std::size_t out = p.weight.shape()[0];
    auto fail = [](const std::string& what) { throw shape_error("remove_neurons: " + what); };
    if (keep_size != out) {
        fail("the keep list has " + std::to_string(keep_size) + " entries for a layer of " + std::to_string(out) + " neurons");
    }
    if (p.bias.size() != 0 && p.bias.size() != out) {
        fail("bias of shape " + shape_str(p.bias.shape()) + " for " + std::to_string(out) + " neurons");
    }
    if (p.norm) {
        const auto& bn = *p.norm;
        for (const auto* v : {&bn.gamma, &bn.beta, &bn.running_mean, &bn.running_var}) {
            if (v->size() != out) fail("batch-norm parameter of shape " + shape_str(v->shape()) + " for " + std::to_string(out) + " neurons");
        }
        for (std::size_t j = 0; j < out; ++j) {
            if (!(static_cast<double>(bn.running_var(j)) + bn.eps > 0.0)) {
                throw value_error("remove_neurons: batch-norm running_var + eps must be > 0, got " +
                                  std::to_string(static_cast<double>(bn.running_var(j)) + bn.eps) + " at (" + std::to_string(j) + ")");
            }
        }
    }
    const std::size_t in2 = p.next_weight.shape()[1];
    if constexpr (N2 == 4) {
        if (in2 != out) fail("next conv weight of shape " + shape_str(p.next_weight.shape()) + " does not take " + std::to_string(out) + " input channels");
    } else if constexpr (N1 == 2) {
        if (in2 != out) fail("next weight of shape " + shape_str(p.next_weight.shape()) + " does not take " + std::to_string(out) + " inputs");
    } else {
        if (out == 0 ? in2 != 0 : in2 % out != 0) {
            fail("next weight of shape " + shape_str(p.next_weight.shape()) + " is not [out2, " + std::to_string(out) +
                 " * H * W] (conv -> flatten -> linear)");
        }
    }
    const std::size_t out2 = p.next_weight.shape()[0];
    if (p.next_bias.size() != 0 && p.next_bias.size() != out2) {
        fail("next bias of shape " + shape_str(p.next_bias.shape()) + " for " + std::to_string(out2) + " outputs");
    }
    check_finite(p.weight, "weight");
    check_finite(p.bias, "bias");
    check_finite(p.next_weight, "next_weight");
    check_finite(p.next_bias, "next_bias");
}
}  // namespace detail

/// Drops the neurons j with keep[j] == false: row j of `weight` (filter j), entry j of `bias`
/// and of the batch norm, and the inputs of the next layer fed by neuron j (column j; input
/// channel j; columns j*H*W .. (j+1)*H*W - 1 after a flatten).
///
/// The shrunk pair computes what the masked pair computes: a removed neuron's weights are
/// zero after row pruning, but its output is not — it is the constant c_j = act(BN(bias_j)).
/// That constant's contribution to the next layer, sum over its inputs from neuron j of
/// next_weight * c_j, is added to `next_bias` (created when empty and needed). This is exact for
/// linear next layers, flatten + linear, and convs without zero padding; a next conv WITH zero
/// padding sees the constant only inside the image, so its border outputs differ (prune the
/// bias too, or fold with padding in mind, when that matters).
template <class T, std::size_t N1, std::size_t N2, class Act = relu_activation>
layer_pair<T, N1, N2> remove_neurons(const layer_pair<T, N1, N2>& p, const std::vector<bool>& keep, Act act = {}) {
    detail::check_pair(p, keep.size());
    const std::size_t out = p.weight.shape()[0];
    std::vector<std::size_t> kept;
    for (std::size_t j = 0; j < out; ++j)
        if (keep[j]) kept.push_back(j);
    const std::size_t nk = kept.size();
    const std::size_t inner1 = out ? p.weight.size() / out : 0;

    layer_pair<T, N1, N2> r;
    auto s1 = p.weight.shape();
    std::array<std::size_t, N1> ns1{};
    for (std::size_t d = 0; d < N1; ++d) ns1[d] = s1[d];
    ns1[0] = nk;
    r.weight = xt::xtensor<T, N1>::from_shape(ns1);
    for (std::size_t a = 0; a < nk; ++a)
        std::copy(p.weight.data() + kept[a] * inner1, p.weight.data() + (kept[a] + 1) * inner1, r.weight.data() + a * inner1);
    if (p.bias.size()) {
        r.bias = xt::xtensor<T, 1>::from_shape({nk});
        for (std::size_t a = 0; a < nk; ++a) r.bias(a) = p.bias(kept[a]);
    }
    if (p.norm) {
        batch_norm_params<T> bn;
        bn.eps = p.norm->eps;
        auto pick = [&](const xt::xtensor<T, 1>& v) {
            xt::xtensor<T, 1> o = xt::xtensor<T, 1>::from_shape({nk});
            for (std::size_t a = 0; a < nk; ++a) o(a) = v(kept[a]);
            return o;
        };
        bn.gamma = pick(p.norm->gamma);
        bn.beta = pick(p.norm->beta);
        bn.running_mean = pick(p.norm->running_mean);
        bn.running_var = pick(p.norm->running_var);
        r.norm = std::move(bn);
    }

    // Next layer: [out2, out, rest...] viewed as out2 x out x span.
    const auto s2 = p.next_weight.shape();
    const std::size_t out2 = s2[0];
    const std::size_t per_out2 = out2 ? p.next_weight.size() / out2 : 0;  // out * span
    const std::size_t span = out ? per_out2 / out : 0;
    std::array<std::size_t, N2> ns2{};
    for (std::size_t d = 0; d < N2; ++d) ns2[d] = s2[d];
    ns2[1] = (N2 == 2) ? nk * span : nk;
    r.next_weight = xt::xtensor<T, N2>::from_shape(ns2);
    std::vector<double> fold(out2, 0.0);
    bool folded = false;
    for (std::size_t j = 0, a = 0; j < out; ++j) {
        if (a < nk && kept[a] == j) {
            for (std::size_t o = 0; o < out2; ++o) {
                const T* src = p.next_weight.data() + o * per_out2 + j * span;
                std::copy(src, src + span, r.next_weight.data() + o * nk * span + a * span);
            }
            ++a;
            continue;
        }
        // Removed neuron j: its constant output.
        double y = p.bias.size() ? static_cast<double>(p.bias(j)) : 0.0;
        if (p.norm) {
            const auto& bn = *p.norm;
            y = static_cast<double>(bn.gamma(j)) * (y - static_cast<double>(bn.running_mean(j))) /
                    std::sqrt(static_cast<double>(bn.running_var(j)) + bn.eps) +
                static_cast<double>(bn.beta(j));
        }
        const double c = static_cast<double>(act(static_cast<T>(y)));
        if (c == 0.0) continue;
        folded = true;
        for (std::size_t o = 0; o < out2; ++o) {
            const T* src = p.next_weight.data() + o * per_out2 + j * span;
            double s = 0.0;
            for (std::size_t q = 0; q < span; ++q) s += static_cast<double>(src[q]);
            fold[o] += s * c;
        }
    }
    if (p.next_bias.size() || folded) {
        r.next_bias = xt::xtensor<T, 1>::from_shape({out2});
        for (std::size_t o = 0; o < out2; ++o) {
            const double b = p.next_bias.size() ? static_cast<double>(p.next_bias(o)) : 0.0;
            r.next_bias(o) = static_cast<T>(b + fold[o]);
        }
    }
    return r;
}

/// The neurons to drop are the rows that `row_mask` (a mask of `weight`, e.g. from
/// `prune<magnitude, rows<l2>>`) prunes entirely.
template <class T, std::size_t N1, std::size_t N2, class Act = relu_activation>
layer_pair<T, N1, N2> remove_neurons(const layer_pair<T, N1, N2>& p, const mask<N1>& row_mask, Act act = {}) {
    for (std::size_t d = 0; d < N1; ++d) {
        if (row_mask.shape()[d] != p.weight.shape()[d]) {
            throw shape_error("remove_neurons: mask of shape " + detail::shape_str(row_mask.shape()) +
                              " does not fit weight of shape " + detail::shape_str(p.weight.shape()));
        }
    }
    std::vector<bool> keep(p.weight.shape()[0], false);
    for (auto r : kept_rows(row_mask)) keep[r] = true;
    return remove_neurons(p, keep, act);
}

}  // namespace compress
