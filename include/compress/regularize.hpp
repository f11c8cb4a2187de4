#pragma once
// Regularization: L1, L2 and group-lasso penalties, their (sub)gradients and their proximal
// steps. Proximal steps (soft-threshold, group soft-threshold) set weights or whole groups to
// EXACT zeros, which pruning then takes as they are (the returned mask marks the survivors).
//
//   penalty<l1_penalty>(w)       = sum |w|                    gradient sign(w) (0 at 0)
//   penalty<l2_penalty>(w)       = 1/2 sum w^2                gradient w (PyTorch weight decay)
//   penalty<group_lasso<A>>(w)   = sum_g ||w_g||_2            gradient w_g / ||w_g|| (0 for a zero group)
//
// group_lasso<0> (= group_lasso_rows) groups by output neuron / filter (axis 0 of [out, in] or
// [out, in, kh, kw]); group_lasso<1> (= group_lasso_columns) by input feature / channel (axis 1).

#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "core/error.hpp"
#include "core/mask.hpp"
#include "core/static_checks.hpp"
#include "core/tensor.hpp"

namespace compress {

/// Lasso: sum of absolute values. Proximal step: soft-threshold.
struct l1_penalty {
    using policy_kind = policy::penalty;
    static constexpr const char* name() noexcept { return "l1_penalty"; }
};

/// Ridge / weight decay: half the sum of squares. Proximal step: w / (1 + lambda) (no zeros).
struct l2_penalty {
    using policy_kind = policy::penalty;
    static constexpr const char* name() noexcept { return "l2_penalty"; }
};

/// Group lasso over the slices of axis `Axis` (0: rows / output neurons / filters,
/// 1: columns / input features / input channels). Proximal step: group soft-threshold.
template <std::size_t Axis>
struct group_lasso {
    static_assert(Axis <= 1, "group_lasso<Axis>: Axis must be 0 (rows: output neurons / filters) or "
                             "1 (columns: input features / channels)");
    using policy_kind = policy::penalty;
    static constexpr std::size_t axis = Axis;
    static constexpr const char* name() noexcept { return Axis == 0 ? "group_lasso_rows" : "group_lasso_columns"; }
};
using group_lasso_rows = group_lasso<0>;
using group_lasso_columns = group_lasso<1>;

namespace detail {

template <class P>
struct is_group_lasso : std::false_type {};
template <std::size_t A>
struct is_group_lasso<group_lasso<A>> : std::true_type {};

inline void check_prox_threshold(double lambda, const char* fn) {
    if (!(lambda >= 0.0) || !std::isfinite(lambda)) {
        throw value_error(std::string(fn) + ": threshold (lambda * step) must be a finite number >= 0, got " +
                          std::to_string(lambda));
    }
}

/// Group id of each row-major flat index for grouping along `axis` of `shape`, and the
/// number of groups. Throws shape_error for rank < 2.
template <class S>
std::vector<std::size_t> penalty_group_ids(const S& shape, std::size_t axis, std::size_t& groups, const char* fn) {
    if (shape.size() < 2) {
        throw shape_error(std::string(fn) + ": group lasso needs a weight of rank >= 2 ([out, in] or "
                          "[out, in, kh, kw]), got shape " + shape_str(shape));
    }
    std::size_t n = 1;
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    std::size_t inner = 1;
    for (std::size_t d = axis + 1; d < shape.size(); ++d) inner *= static_cast<std::size_t>(shape[d]);
    groups = static_cast<std::size_t>(shape[axis]);
    std::vector<std::size_t> ids(n);
    for (std::size_t i = 0; i < n; ++i) ids[i] = groups ? (i / inner) % groups : 0;
    return ids;
}

/// L2 norm of each group (double accumulation).
template <class It>
std::vector<double> penalty_group_norms(It first, const std::vector<std::size_t>& ids, std::size_t groups) {
    std::vector<double> sq(groups, 0.0);
    for (std::size_t i = 0; i < ids.size(); ++i, ++first) {
        const double v = static_cast<double>(*first);
        sq[ids[i]] += v * v;
    }
    for (auto& s : sq) s = std::sqrt(s);
    return sq;
}

template <class P>
constexpr void require_penalty() {
    COMPRESS_REQUIRE_POLICY(P, penalty,
                            "Penalty must be a regularization penalty (l1_penalty, l2_penalty, group_lasso<Axis>)");
}

}  // namespace detail

/// Value of the penalty P at w (double). Throws value_error for NaN/Inf weights, shape_error
/// for group lasso on a tensor of rank < 2.
template <class P, class E>
double penalty(const xt::xexpression<E>& w) {
    detail::require_penalty<P>();
    detail::check_finite(w, "weight");
    const auto& e = w.derived_cast();
    double s = 0.0;
    if constexpr (std::is_same_v<P, l1_penalty>) {
        for (auto it = e.cbegin(); it != e.cend(); ++it) s += std::abs(static_cast<double>(*it));
    } else if constexpr (std::is_same_v<P, l2_penalty>) {
        for (auto it = e.cbegin(); it != e.cend(); ++it) s += 0.5 * static_cast<double>(*it) * static_cast<double>(*it);
    } else {
        static_assert(detail::is_group_lasso<P>::value, "penalty<P>: unknown penalty");
        std::size_t groups = 0;
        const auto ids = detail::penalty_group_ids(e.shape(), P::axis, groups, "penalty<group_lasso>");
        for (double n : detail::penalty_group_norms(e.cbegin(), ids, groups)) s += n;
    }
    return s;
}

/// (Sub)gradient of penalty<P> at w, same shape: sign(w), w, or w_g / ||w_g|| (zero where
/// the weight or the group is zero).
template <class P, class E>
auto penalty_gradient(const xt::xexpression<E>& w) {
    detail::require_penalty<P>();
    constexpr std::size_t N = detail::fixed_rank_v<E>;
    static_assert(N != static_cast<std::size_t>(-1), "penalty_gradient: needs a tensor of static rank (xt::xtensor)");
    using T = std::decay_t<typename E::value_type>;
    static_assert(std::is_floating_point_v<T>, "penalty_gradient: weights must be floating point");
    detail::check_finite(w, "weight");
    const auto& e = w.derived_cast();
    xt::xtensor<T, N> g = e;
    if constexpr (std::is_same_v<P, l1_penalty>) {
        for (auto& v : g) v = v > T(0) ? T(1) : (v < T(0) ? T(-1) : T(0));
    } else if constexpr (std::is_same_v<P, l2_penalty>) {
        // gradient of 1/2 ||w||^2 is w itself
    } else {
        std::size_t groups = 0;
        const auto ids = detail::penalty_group_ids(g.shape(), P::axis, groups, "penalty_gradient<group_lasso>");
        const auto norms = detail::penalty_group_norms(g.cbegin(), ids, groups);
        T* p = g.data();
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const double n = norms[ids[i]];
            p[i] = n > 0.0 ? static_cast<T>(p[i] / n) : T(0);
        }
    }
    return g;
}

/// grad += lambda * penalty_gradient<P>(w): adds the penalty's term to a loss gradient.
template <class P, class T, std::size_t N>
void add_penalty_gradient(xt::xtensor<T, N>& grad, const xt::xtensor<T, N>& w, double lambda) {
    detail::check_prox_threshold(lambda, "add_penalty_gradient");
    if (grad.shape() != w.shape()) {
        throw shape_error("add_penalty_gradient: gradient of shape " + detail::shape_str(grad.shape()) +
                          " does not fit weight of shape " + detail::shape_str(w.shape()));
    }
    const auto pg = penalty_gradient<P>(w);
    for (std::size_t i = 0; i < grad.size(); ++i) grad.data()[i] += static_cast<T>(lambda * pg.data()[i]);
}

/// Soft-threshold in place: w <- sign(w) * max(|w| - threshold, 0), the proximal operator of
/// threshold * ||w||_1. Returns the mask of the weights still nonzero.
template <class T, std::size_t N>
mask<N> soft_threshold(xt::xtensor<T, N>& w, double threshold) {
    detail::check_prox_threshold(threshold, "soft_threshold");
    detail::check_finite(w, "weight");
    mask<N> m(w.shape(), true);
    T* p = w.data();
    for (std::size_t i = 0; i < w.size(); ++i) {
        const double a = std::abs(static_cast<double>(p[i])) - threshold;
        if (a > 0.0) {
            p[i] = static_cast<T>(p[i] > T(0) ? a : -a);
        } else {
            p[i] = T(0);
            m.set(i, false);
        }
    }
    return m;
}

/// Group soft-threshold in place along axis `Axis`: w_g <- max(0, 1 - threshold / ||w_g||) * w_g,
/// the proximal operator of threshold * sum_g ||w_g||. Whole groups become exactly zero.
/// Returns the mask of the weights still nonzero.
template <std::size_t Axis, class T, std::size_t N>
mask<N> group_soft_threshold(xt::xtensor<T, N>& w, double threshold) {
    static_assert(Axis <= 1, "group_soft_threshold<Axis>: Axis must be 0 (rows) or 1 (columns)");
    detail::check_prox_threshold(threshold, "group_soft_threshold");
    detail::check_finite(w, "weight");
    std::size_t groups = 0;
    const auto ids = detail::penalty_group_ids(w.shape(), Axis, groups, "group_soft_threshold");
    const auto norms = detail::penalty_group_norms(w.cbegin(), ids, groups);
    std::vector<double> scale(groups);
    for (std::size_t g = 0; g < groups; ++g) scale[g] = norms[g] > threshold ? 1.0 - threshold / norms[g] : 0.0;
    mask<N> m(w.shape(), true);
    T* p = w.data();
    for (std::size_t i = 0; i < ids.size(); ++i) {
        p[i] = static_cast<T>(static_cast<double>(p[i]) * scale[ids[i]]);
        if (p[i] == T(0)) m.set(i, false);
    }
    return m;
}

/// The proximal step of threshold * P at w, in place (use threshold = learning rate * lambda
/// after a plain gradient step on the loss: proximal gradient descent / ISTA). Returns the mask
/// of the weights still nonzero.
template <class P, class T, std::size_t N>
mask<N> proximal_step(xt::xtensor<T, N>& w, double threshold) {
    detail::require_penalty<P>();
    if constexpr (std::is_same_v<P, l1_penalty>) {
        return soft_threshold(w, threshold);
    } else if constexpr (std::is_same_v<P, l2_penalty>) {
        detail::check_prox_threshold(threshold, "proximal_step<l2_penalty>");
        detail::check_finite(w, "weight");
        mask<N> m(w.shape(), true);
        T* p = w.data();
        for (std::size_t i = 0; i < w.size(); ++i) {
            p[i] = static_cast<T>(static_cast<double>(p[i]) / (1.0 + threshold));
            if (p[i] == T(0)) m.set(i, false);
        }
        return m;
    } else {
        return group_soft_threshold<P::axis>(w, threshold);
    }
}

}  // namespace compress
