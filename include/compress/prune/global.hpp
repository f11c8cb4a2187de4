#pragma once
// prune_global: one ranking across many tensors (PyTorch `global_unstructured`): the tensors
// are concatenated in the order given (flattened row-major) and the amount applies to the
// total; ties are broken by position in that concatenation.

#include <cstddef>
#include <cstdint>
#include <array>
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

/// Where the keys of one tensor come from: straight from the weights (magnitude on a
/// contiguous float / double tensor) or from precomputed 64-bit order keys of the scores.
struct global_source {
    const float* f = nullptr;
    const double* d = nullptr;
    std::vector<std::uint64_t> keys;
};

/// Validates tensor `index`, builds its mask (the previous one, or all kept) and its key source.
template <class Criterion, class E, class TC, std::size_t NC>
mask<static_rank<E>()> prepare_global(const E& w, const prune_context<TC, NC>& ctx, std::size_t index,
                                      global_source& src, std::uint64_t offset) {
    constexpr std::size_t N = static_rank<E>();
    static_assert(NC == N, "prune_global: each context's rank must match its tensor's rank");
    using T = std::decay_t<typename E::value_type>;
    static_assert(std::is_floating_point_v<T>, "pruning needs floating-point weights");
    const std::string name = ctx.name.empty() ? "tensor #" + std::to_string(index) : ctx.name;
    const std::string where_ = "prune_global (" + where(name) + ")";
    auto in = make_dense(w);
    check_finite_dense(in, name);
    mask<N> m(in.shape, true);
    if (ctx.previous != nullptr) {
        if (ctx.previous->shape() != in.shape) {
            throw shape_error(where_ + ": previous mask of shape " + shape_str(ctx.previous->shape()) +
                              " does not fit weights of shape " + shape_str(in.shape));
        }
        m = *ctx.previous;
    }
    if constexpr (std::is_same_v<Criterion, magnitude> && (std::is_same_v<T, float> || std::is_same_v<T, double>)) {
        if (in.storage.size() == 0) {  // a pointer into the caller's tensor
            if constexpr (std::is_same_v<T, float>) src.f = in.data;
            else src.d = in.data;
            return m;
        }
    }
    src.keys.resize(in.size);
    std::uint64_t* k = src.keys.data();
    if constexpr (std::is_same_v<Criterion, random>) {
        for (std::size_t i = 0; i < in.size; ++i) k[i] = order_key(random_score(ctx.seed, offset + i));
    } else {
        with_element_scores<Criterion>(in, ctx, where_, [&](auto score_at) {
            for (std::size_t i = 0; i < in.size; ++i) k[i] = order_key(static_cast<double>(score_at(i)));
        });
    }
    return m;
}

/// Ranks every flag of `segs` together (sources[s] gives segment s's keys) and prunes.
inline void select_global(const std::vector<flag_segment>& segs, const std::vector<global_source>& sources,
                          const amount& a) {
    const std::string where_ = "prune_global";
    std::size_t n = 0, candidates = 0;
    bool all_float = true;
    for (std::size_t s = 0; s < segs.size(); ++s) {
        n += segs[s].size;
        candidates += count_ones(segs[s].keep, segs[s].size);
        all_float = all_float && (sources[s].f != nullptr || segs[s].size == 0);
    }
    check_threshold(a, where_);
    if (a.which() == amount::kind::threshold) {
        const double t = a.value();
        const std::uint64_t tk = order_key(t);
        for (std::size_t s = 0; s < segs.size(); ++s) {
            const auto& src = sources[s];
            std::uint8_t* keep = segs[s].keep;
            for (std::size_t i = 0; i < segs[s].size; ++i) {
                const bool below = src.f ? std::abs(static_cast<double>(src.f[i])) < t
                                 : src.d ? std::abs(src.d[i]) < t
                                         : src.keys[i] < tk;
                if (below) keep[i] = 0;
            }
        }
        return;
    }
    const std::size_t k = prune_count(a, n, where_);
    const std::size_t already = n - candidates;
    if (k <= already) return;
    if (all_float) {
        std::vector<const float*> p(segs.size());
        for (std::size_t s = 0; s < segs.size(); ++s) p[s] = sources[s].f;
        prune_smallest<std::uint32_t>(segs, [&p](std::size_t s, std::size_t i) { return abs_key(p[s][i]); }, 31,
                                      k - already, candidates);
    } else {
        auto key_at = [&sources](std::size_t s, std::size_t i) -> std::uint64_t {
            const auto& src = sources[s];
            if (src.f) return order_key(static_cast<double>(std::abs(src.f[i])));
            if (src.d) return order_key(std::abs(src.d[i]));
            return src.keys[i];
        };
        prune_smallest<std::uint64_t>(segs, key_at, 64, k - already, candidates);
    }
}

template <class Criterion, class Tuple, class CtxTuple, std::size_t... I>
auto compute_global_tuple(const Tuple& ws, const amount& a, const CtxTuple& ctxs, std::index_sequence<I...>) {
    std::vector<global_source> sources(sizeof...(I));
    std::array<std::uint64_t, sizeof...(I) + 1> offsets{};
    std::size_t j = 0;
    ((offsets[j + 1] = offsets[j] + static_cast<std::uint64_t>(std::get<I>(ws).size()), ++j), ...);
    // Braced initialization evaluates left to right.
    std::tuple<mask<static_rank<std::decay_t<std::tuple_element_t<I, Tuple>>>()>...> masks{
        prepare_global<Criterion>(std::get<I>(ws), std::get<I>(ctxs), I, sources[I], offsets[I])...};
    std::vector<flag_segment> segs{flag_segment{std::get<I>(masks).size(), std::get<I>(masks).data()}...};
    select_global(segs, sources, a);
    return masks;
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
    const prune_context<T, N> none{};
    std::vector<detail::global_source> sources(tensors.size());
    std::vector<mask<N>> out;
    out.reserve(tensors.size());
    std::uint64_t offset = 0;
    for (std::size_t j = 0; j < tensors.size(); ++j) {
        if (tensors[j] == nullptr) throw value_error("compute_mask_global: tensor #" + std::to_string(j) + " is null");
        out.push_back(detail::prepare_global<Criterion>(*tensors[j], contexts.empty() ? none : contexts[j], j, sources[j], offset));
        offset += tensors[j]->size();
    }
    std::vector<detail::flag_segment> segs;
    for (auto& m : out) segs.push_back(detail::flag_segment{m.size(), m.data()});
    detail::select_global(segs, sources, a);
    return out;
}

/// Prunes in place across tensors; returns the masks (a tuple, in the order given).
template <class Criterion = magnitude, class... Ws>
auto prune_global(const std::tuple<Ws&...>& tensors, const amount& a) {
    auto masks = compute_mask_global<Criterion>(tensors, a);
    std::apply([&](auto&... m) { std::apply([&](auto&... w) { (detail::apply_mask_fast(w, m), ...); }, tensors); }, masks);
    return masks;
}

template <class Criterion = magnitude, class... Ws, class... Cs>
auto prune_global(const std::tuple<Ws&...>& tensors, const amount& a, const std::tuple<Cs...>& contexts) {
    auto masks = compute_mask_global<Criterion>(tensors, a, contexts);
    std::apply([&](auto&... m) { std::apply([&](auto&... w) { (detail::apply_mask_fast(w, m), ...); }, tensors); }, masks);
    return masks;
}

template <class Criterion = magnitude, class T, std::size_t N>
std::vector<mask<N>> prune_global(const std::vector<xt::xtensor<T, N>*>& tensors, const amount& a,
                                  const std::vector<prune_context<T, N>>& contexts = {}) {
    std::vector<const xt::xtensor<T, N>*> cs(tensors.begin(), tensors.end());
    auto masks = compute_mask_global<Criterion>(cs, a, contexts);
    for (std::size_t j = 0; j < masks.size(); ++j) detail::apply_mask_fast(*tensors[j], masks[j]);
    return masks;
}

}  // namespace compress
