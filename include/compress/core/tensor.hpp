#pragma once
// Small tensor helpers shared by every public header: input checks that throw the
// library's error types, and shape utilities.

#include <cmath>
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>

#include <xtensor/xexpression.hpp>
#include <xtensor/xtensor.hpp>

#include "error.hpp"

namespace compress::detail {

/// The rank of an expression whose shape type has a compile-time size (xtensor, xfixed,
/// views of them); std::size_t(-1) for dynamic-rank shapes (xarray).
template <class S, class = void>
struct fixed_rank : std::integral_constant<std::size_t, static_cast<std::size_t>(-1)> {};
template <class S>
struct fixed_rank<S, std::void_t<decltype(std::tuple_size<S>::value)>>
    : std::integral_constant<std::size_t, std::tuple_size<S>::value> {};
template <class E>
inline constexpr std::size_t fixed_rank_v = fixed_rank<std::decay_t<typename E::shape_type>>::value;

/// Throws value_error naming the first NaN or Inf element (multi-index) of `e`.
template <class E>
void check_finite(const xt::xexpression<E>& expr, const std::string& name = {}) {
    const auto& e = expr.derived_cast();
    using value_type = std::decay_t<typename E::value_type>;
    if constexpr (std::is_floating_point_v<value_type>) {
        std::size_t i = 0;
        for (auto it = e.cbegin(); it != e.cend(); ++it, ++i) {
            if (!std::isfinite(*it)) {
                throw value_error(where(name) + " has a non-finite value (" +
                                  (std::isnan(*it) ? std::string("NaN") : std::string("Inf")) +
                                  ") at " + index_str(e.shape(), i));
            }
        }
    }
}

/// Throws value_error unless 0 <= amount <= 1 (NaN rejected).
inline void check_fraction(double amount, const char* what = "amount") {
    if (!(amount >= 0.0 && amount <= 1.0)) {
        throw value_error(std::string(what) + " must be a fraction in [0, 1], got " + std::to_string(amount));
    }
}

/// Throws shape_error unless the expression has the given rank.
template <class E>
void check_rank(const xt::xexpression<E>& expr, std::size_t rank, const std::string& name = {}) {
    const auto& e = expr.derived_cast();
    if (e.dimension() != rank) {
        throw shape_error(where(name) + " must have rank " + std::to_string(rank) + ", got shape " +
                          shape_str(e.shape()));
    }
}

}  // namespace compress::detail
