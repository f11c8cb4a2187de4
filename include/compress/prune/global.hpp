#pragma once
// prune_global: one ranking across many tensors (PyTorch `global_unstructured`): the tensors
// are concatenated in the order given (flattened row-major) and the amount applies to the
// total; ties are broken by position in that concatenation.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "compute.hpp"

namespace compress {
namespace detail {

template <class Criterion>
constexpr void check_global_criterion() {
    COMPRESS_REQUIRE_POLICY(Criterion, criterion,
                            "prune_global<Criterion>: Criterion must be a pruning criterion (magnitude, random, taylor, ...)");
    static_assert(!is_activation_criterion_v<Criterion>,
                  "prune_global<Criterion>: global pruning is unstructured; activation criteria score neurons "
                  "(use compute_mask<Criterion, rows<Norm>> per layer)");
}

/// The concatenation being ranked: one 64-bit order key and one keep flag per weight.
struct global_pool {
    std::vector<std::uint64_t> keys;
    std::vector<std::uint8_t> keep;
};

template <class Criterion, class E, class TC, std::size_t NC>
void add_to_pool(global_pool& pool, const E& w, const prune_context<TC, NC>& ctx, std::size_t index) {
    constexpr std::size_t N = static_rank<E>();
    static_assert(NC == N, "prune_global: each context's rank must match its tensor's rank");
    using T = std::decay_t<typename E::value_type>;
    static_assert(std::is_floating_point_v<T>, "pruning needs floating-point weights");
    const std::string name = ctx.name.empty() ? "tensor #" + std::to_string(index) : ctx.name;
    const std::string where_ = "prune_global (" + where(name) + ")";
    auto in = make_dense(w);
    check_finite_dense(in, name);
    const std::size_t off = pool.keys.size();
    pool.keys.resize(off + in.size);
    pool.keep.resize(off + in.size, 1);
    if (ctx.previous != nullptr) {
        if (ctx.previous->shape() != in.shape) {
            throw shape_error(where_ + ": previous mask of shape " + shape_str(ctx.previous->shape()) +
                              " does not fit weights of shape " + shape_str(in.shape));
        }
        std::copy(ctx.previous->data(), ctx.previous->data() + in.size, pool.keep.begin() + static_cast<std::ptrdiff_t>(off));
    }
    std::uint64_t* k = pool.keys.data() + off;
    if constexpr (std::is_same_v<Criterion, random>) {
        for (std::size_t i = 0; i < in.size; ++i) k[i] = order_key(random_score(ctx.seed, off + i));
    } else {
        with_element_scores<Criterion>(in, ctx, where_, [&](auto score_at) {
            for (std::size_t i = 0; i < in.size; ++i) k[i] = order_key(static_cast<double>(score_at(i)));
        });
    }
}

inline void select_pool(global_pool& pool, const amount& a) {
    const std::string where_ = "prune_global";
    const std::size_t n = pool.keys.size();
    check_threshold(a, where_);
    if (a.which() == amount::kind::threshold) {
        for (std::size_t i = 0; i < n; ++i) {
            // order keys compare as the scores do; t itself is not pruned (strict <)
            if (pool.keys[i] < order_key(a.value())) pool.keep[i] = 0;
        }
        return;
    }
    const std::size_t k = prune_count(a, n, where_);
    const std::size_t candidates = count_ones(pool.keep.data(), n);
    const std::size_t already = n - candidates;
    if (k <= already) return;
    const std::uint64_t* keys = pool.keys.data();
    prune_smallest<std::uint64_t>(n, [keys](std::size_t i) { return keys[i]; }, 64, k - already, candidates,
                                  pool.keep.data());
}

template <std::size_t N>
mask<N> take_mask(const global_pool& pool, std::size_t& off, const std::array<std::size_t, N>& shape) {
    mask<N> m(shape, true);
    std::copy(pool.keep.begin() + static_cast<std::ptrdiff_t>(off),
              pool.keep.begin() + static_cast<std::ptrdiff_t>(off + m.size()), m.data());
    off += m.size();
    return m;
}

template <class Criterion, class Tuple, class CtxTuple, std::size_t... I>
auto compute_global_tuple(const Tuple& ws, const amount& a, const CtxTuple& ctxs, std::index_sequence<I...>) {
    global_pool pool;
    (add_to_pool<Criterion>(pool, std::get<I>(ws), std::get<I>(ctxs), I), ...);
    select_pool(pool, a);
    std::size_t off = 0;
    // Braced initialization evaluates left to right.
    return std::tuple<mask<static_rank<std::decay_t<std::tuple_element_t<I, Tuple>>>()>...>{
        take_mask(pool, off, to_array<static_rank<std::decay_t<std::tuple_element_t<I, Tuple>>>()>(std::get<I>(ws).shape()))...};
}

template <class W>
using default_context_t = prune_context<std::decay_t<typename std::decay_t<W>::value_type>, static_rank<std::decay_t<W>>()>;

}  // namespace detail

/// Masks for tensors of any ranks ranked together, e.g.
/// `auto [m1, m2, m3] = compute_mask_global<magnitude>(std::tie(fc1, fc2, conv), 0.8);`
template <class Criterion = magnitude, class... Ws>
auto compute_mask_global(const std::tuple<Ws&...>& tensors, const amount& a) {
    detail::check_global_criterion<Criterion>();
    const std::tuple<detail::default_context_t<Ws>...> ctxs{};
    return detail::compute_global_tuple<Criterion>(tensors, a, ctxs, std::index_sequence_for<Ws...>{});
}

/// With one context per tensor (previous masks, gradients for taylor, seeds, names).
template <class Criterion = magnitude, class... Ws, class... Cs>
auto compute_mask_global(const std::tuple<Ws&...>& tensors, const amount& a, const std::tuple<Cs...>& contexts) {
    static_assert(sizeof...(Ws) == sizeof...(Cs), "compute_mask_global: one context per tensor");
    detail::check_global_criterion<Criterion>();
    return detail::compute_global_tuple<Criterion>(tensors, a, contexts, std::index_sequence_for<Ws...>{});
}

/// Tensors of one type in a runtime list.
template <class Criterion = magnitude, class T, std::size_t N>
std::vector<mask<N>> compute_mask_global(const std::vector<const xt::xtensor<T, N>*>& tensors, const amount& a,
                                         const std::vector<prune_context<T, N>>& contexts = {}) {
    detail::check_global_criterion<Criterion>();
    if (!contexts.empty() && contexts.size() != tensors.size()) {
        throw shape_error("compute_mask_global: " + std::to_string(contexts.size()) + " contexts for " +
                          std::to_string(tensors.size()) + " tensors");
    }
    detail::global_pool pool;
    const prune_context<T, N> none{};
    for (std::size_t j = 0; j < tensors.size(); ++j) {
        if (tensors[j] == nullptr) throw value_error("compute_mask_global: tensor #" + std::to_string(j) + " is null");
        detail::add_to_pool<Criterion>(pool, *tensors[j], contexts.empty() ? none : contexts[j], j);
    }
    detail::select_pool(pool, a);
    std::vector<mask<N>> out;
    std::size_t off = 0;
    for (const auto* t : tensors) out.push_back(detail::take_mask(pool, off, detail::to_array<N>(t->shape())));
    return out;
}

/// Prunes in place across tensors; returns the masks (a tuple, in the order given).
template <class Criterion = magnitude, class... Ws>
auto prune_global(const std::tuple<Ws&...>& tensors, const amount& a) {
    auto masks = compute_mask_global<Criterion>(tensors, a);
    std::apply([&](auto&... m) { std::apply([&](auto&... w) { (m.apply(w), ...); }, tensors); }, masks);
    return masks;
}

template <class Criterion = magnitude, class... Ws, class... Cs>
auto prune_global(const std::tuple<Ws&...>& tensors, const amount& a, const std::tuple<Cs...>& contexts) {
    auto masks = compute_mask_global<Criterion>(tensors, a, contexts);
    std::apply([&](auto&... m) { std::apply([&](auto&... w) { (m.apply(w), ...); }, tensors); }, masks);
    return masks;
}

template <class Criterion = magnitude, class T, std::size_t N>
std::vector<mask<N>> prune_global(const std::vector<xt::xtensor<T, N>*>& tensors, const amount& a,
                                  const std::vector<prune_context<T, N>>& contexts = {}) {
    std::vector<const xt::xtensor<T, N>*> cs(tensors.begin(), tensors.end());
    auto masks = compute_mask_global<Criterion>(cs, a, contexts);
    for (std::size_t j = 0; j < masks.size(); ++j) masks[j].apply(*tensors[j]);
    return masks;
}

}  // namespace compress
