#pragma once
// compute_mask / prune / pruner: one criterion x one grouping over one tensor.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xexpression.hpp>
#include <xtensor/xadapt.hpp>
#include <xtensor/xshape.hpp>
#include <xtensor/xtensor.hpp>

#include "../core/error.hpp"
#include "../core/mask.hpp"
#include "../core/static_checks.hpp"
#include "../core/tensor.hpp"
#include "activation.hpp"
#include "policies.hpp"
#include "select.hpp"

namespace compress {
namespace detail {

template <class E>
constexpr std::size_t static_rank() {
    constexpr std::ptrdiff_t d = xt::static_dimension<typename std::decay_t<E>::shape_type>::value;
    static_assert(d >= 1, "pruning needs a tensor of fixed rank >= 1 (xt::xtensor<T, N>, not xt::xarray)");
    return static_cast<std::size_t>(d);
}

template <std::size_t N, class S>
std::array<std::size_t, N> to_array(const S& s) {
    std::array<std::size_t, N> a{};
    for (std::size_t d = 0; d < N; ++d) a[d] = static_cast<std::size_t>(s[d]);
    return a;
}

template <std::size_t N>
std::size_t prod(const std::array<std::size_t, N>& s, std::size_t from = 0) {
    std::size_t n = 1;
    for (std::size_t d = from; d < N; ++d) n *= s[d];
    return n;
}

/// A contiguous row-major view of the weights: a pointer into the caller's container when it
/// has one, otherwise an evaluated copy (expressions are evaluated once).
template <class T, std::size_t N>
struct dense_input {
    const T* data = nullptr;
    std::array<std::size_t, N> shape{};
    std::size_t size = 0;
    xt::xtensor<T, N> storage;
};

template <class E, class T = std::decay_t<typename E::value_type>, std::size_t N = static_rank<E>()>
dense_input<T, N> make_dense(const E& e) {
    dense_input<T, N> in;
    in.shape = to_array<N>(e.shape());
    in.size = prod(in.shape);
    bool direct = false;
    if constexpr (xt::has_data_interface<E>::value) {
        if constexpr (std::is_same_v<std::decay_t<decltype(*e.data())>, T>) {
            direct = e.layout() == xt::layout_type::row_major && e.is_contiguous();
            if (direct) in.data = e.data();
        }
    }
    if (!direct) {
        in.storage = e;
        in.data = in.storage.data();
    }
    return in;
}

template <class T, std::size_t N>
void check_finite_dense(const dense_input<T, N>& in, const std::string& name) {
    const std::size_t bad = find_non_finite(in.data, in.size);
    if (bad != in.size) {
        throw value_error(where(name) + " has a non-finite value (" +
                          (std::isnan(in.data[bad]) ? std::string("NaN") : std::string("Inf")) + ") at " +
                          index_str(in.shape, bad));
    }
}

template <std::size_t N>
std::string fn_name(const char* fn, const std::string& name) {
    return name.empty() ? std::string(fn) : std::string(fn) + " (" + where(name) + ")";
}

// ------------------------------------------------------------ groupings: geometry

template <class Grouping, std::size_t N>
std::size_t group_count(const std::array<std::size_t, N>& s) {
    if constexpr (std::is_same_v<Grouping, unstructured>) {
        return prod(s);
    } else if constexpr (is_rows<Grouping>::value) {
        return s[0];
    } else if constexpr (is_columns<Grouping>::value) {
        return s[1];
    } else {
        static_assert(is_blocks<Grouping>::value, "unknown grouping");
        const std::size_t K = prod(s, 1);
        return (s[0] / Grouping::block_rows) * (K / Grouping::block_cols);
    }
}

/// Calls f(flat_index, group) for every element, in flat order.
template <class Grouping, std::size_t N, class F>
void visit_groups(const std::array<std::size_t, N>& s, F&& f) {
    const std::size_t n = prod(s);
    if (n == 0) return;
    if constexpr (is_rows<Grouping>::value) {
        const std::size_t inner = n / s[0];
        std::size_t i = 0;
        for (std::size_t g = 0; g < s[0]; ++g)
            for (std::size_t j = 0; j < inner; ++j) f(i++, g);
    } else if constexpr (is_columns<Grouping>::value) {
        const std::size_t inner = prod(s, 2);
        std::size_t i = 0;
        for (std::size_t o = 0; o < s[0]; ++o)
            for (std::size_t c = 0; c < s[1]; ++c)
                for (std::size_t j = 0; j < inner; ++j) f(i++, c);
    } else {
        static_assert(is_blocks<Grouping>::value, "unknown grouping");
        constexpr std::size_t R = Grouping::block_rows, C = Grouping::block_cols;
        const std::size_t K = prod(s, 1), bc = K / C;
        std::size_t i = 0;
        for (std::size_t r = 0; r < s[0]; ++r)
            for (std::size_t c = 0; c < K; ++c) f(i++, (r / R) * bc + c / C);
    }
}

template <class Grouping, std::size_t N>
void check_grouping_shape(const std::array<std::size_t, N>& s, const std::string& where_) {
    if constexpr (is_blocks<Grouping>::value) {
        constexpr std::size_t R = Grouping::block_rows, C = Grouping::block_cols;
        const std::size_t K = prod(s, 1);
        if (s[0] % R != 0 || K % C != 0) {
            throw shape_error(where_ + ": blocks<" + std::to_string(R) + "," + std::to_string(C) +
                              "> needs the weight seen as [" + std::to_string(s[0]) + ", " + std::to_string(K) +
                              "] to have extents that are multiples of the block, shape " + shape_str(s));
        }
    } else if constexpr (is_n_of_m<Grouping>::value) {
        constexpr std::size_t M = Grouping::run;
        const std::size_t K = prod(s, 1);
        if (K % M != 0) {
            throw shape_error(where_ + ": n_of_m<" + std::to_string(Grouping::keep) + "," + std::to_string(M) +
                              "> needs the input extent (" + std::to_string(K) + " for shape " + shape_str(s) +
                              ") to be a multiple of " + std::to_string(M));
        }
    } else {
        (void)s;
        (void)where_;
    }
}

/// Norm of the element scores [b, b + len), with 8 independent accumulators (the reduction
/// is not serialized on one register).
template <class Norm, class ScoreAt>
double reduce_range(const ScoreAt& score_at, std::size_t b, std::size_t len) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::size_t j = 0;
    for (; j + 8 <= len; j += 8) {
        for (std::size_t u = 0; u < 8; ++u) acc[u] = Norm::accumulate(acc[u], static_cast<double>(score_at(b + j + u)));
    }
    for (; j < len; ++j) acc[0] = Norm::accumulate(acc[0], static_cast<double>(score_at(b + j)));
    for (std::size_t u = 1; u < 8; ++u) acc[0] = Norm::combine(acc[0], acc[u]);
    return acc[0];
}

/// Group norms (finished) of rows / columns / blocks.
template <class Grouping, class Norm, std::size_t N, class ScoreAt>
std::vector<double> group_norms(const std::array<std::size_t, N>& s, const ScoreAt& score_at) {
    const std::size_t G = group_count<Grouping>(s);
    std::vector<double> acc(G, 0.0);
    const std::size_t n = prod(s);
    if (n > 0) {
        if constexpr (is_rows<Grouping>::value) {
            const std::size_t inner = n / s[0];
            for (std::size_t g = 0; g < G; ++g) acc[g] = reduce_range<Norm>(score_at, g * inner, inner);
        } else if constexpr (is_columns<Grouping>::value) {
            const std::size_t inner = prod(s, 2);
            if (inner == 1) {
                for (std::size_t o = 0; o < s[0]; ++o) {
                    const std::size_t b = o * s[1];
                    for (std::size_t c = 0; c < s[1]; ++c) acc[c] = Norm::accumulate(acc[c], static_cast<double>(score_at(b + c)));
                }
            } else {
                for (std::size_t o = 0; o < s[0]; ++o)
                    for (std::size_t c = 0; c < s[1]; ++c)
                        acc[c] = Norm::combine(acc[c], reduce_range<Norm>(score_at, (o * s[1] + c) * inner, inner));
            }
        } else {
            constexpr std::size_t R = Grouping::block_rows, C = Grouping::block_cols;
            const std::size_t K = prod(s, 1), bc = K / C;
            for (std::size_t r = 0; r < s[0]; ++r)
                for (std::size_t cb = 0; cb < bc; ++cb)
                    acc[(r / R) * bc + cb] = Norm::combine(acc[(r / R) * bc + cb], reduce_range<Norm>(score_at, r * K + cb * C, C));
        }
    }
    for (auto& v : acc) v = Norm::finish(v);
    return acc;
}

// ------------------------------------------------------------ scores

/// Random score in [0, 1) of (seed, index): splitmix64, the top 53 bits.
inline double random_score(std::uint64_t seed, std::uint64_t index) noexcept {
    std::uint64_t z = seed * 0x9e3779b97f4a7c15ull + index + 0x632be59bd9b4e019ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
}

/// Calls f(score_at) where score_at(i) returns the element score (float or double) of element
/// i of the weights, for element-wise criteria (magnitude, taylor, user-defined).
template <class Criterion, class T, std::size_t N, class Ctx, class F>
decltype(auto) with_element_scores(const dense_input<T, N>& in, const Ctx& ctx, const std::string& where_, F&& f) {
    if constexpr (std::is_same_v<Criterion, magnitude>) {
        const T* w = in.data;
        return f([w](std::size_t i) { return std::abs(w[i]); });
    } else if constexpr (std::is_same_v<Criterion, taylor>) {
        if (ctx.gradient == nullptr) {
            throw value_error(where_ + ": the taylor criterion needs a gradient (prune_context::gradient)");
        }
        const auto& g = *ctx.gradient;
        if (to_array<N>(g.shape()) != in.shape) {
            throw shape_error(where_ + ": gradient of shape " + shape_str(g.shape()) + " does not fit weights of shape " +
                              shape_str(in.shape));
        }
        check_finite(g, ctx.name.empty() ? std::string("gradient") : ctx.name + ".grad");
        const T* w = in.data;
        const auto* gp = g.data();
        return f([w, gp](std::size_t i) { return std::abs(static_cast<double>(w[i]) * static_cast<double>(gp[i])); });
    } else {
        static_assert(!is_activation_criterion_v<Criterion> && !std::is_same_v<Criterion, random>, "not element-wise");
        auto wt = xt::adapt(in.data, in.size, xt::no_ownership(), in.shape);
        auto expr = Criterion{}.scores(wt, ctx);
        using R = std::decay_t<typename decltype(expr)::value_type>;
        using S = std::conditional_t<std::is_same_v<R, float>, float, double>;
        xt::xtensor<S, N> s = xt::cast<S>(expr);
        if (to_array<N>(s.shape()) != in.shape) {
            throw shape_error(where_ + ": criterion returned scores of shape " + shape_str(s.shape()) +
                              " for weights of shape " + shape_str(in.shape));
        }
        check_finite(s, ctx.name.empty() ? std::string("scores") : ctx.name + " scores");
        const S* sp = s.data();
        return f([sp](std::size_t i) { return sp[i]; });
    }
}

/// Scores of the neurons (rows) or inputs (columns) from activation statistics.
template <class Criterion, class Grouping, class Ctx>
std::vector<double> activation_group_scores(std::size_t groups, const Ctx& ctx, const std::string& where_) {
    if (ctx.activations == nullptr) {
        throw value_error(where_ + ": activation criteria need activation statistics (prune_context::activations)");
    }
    const activation_stats& st = *ctx.activations;
    if (st.samples() == 0) {
        throw value_error(where_ + ": the activation statistics hold no samples");
    }
    if (st.neurons() != groups) {
        throw shape_error(where_ + ": activation statistics have " + std::to_string(st.neurons()) + " neurons, the weight has " +
                          std::to_string(groups) + (is_rows<Grouping>::value ? " rows (outputs)" : " columns (inputs)"));
    }
    xt::xtensor<double, 1> v;
    if constexpr (std::is_same_v<Criterion, activation_mean>) v = st.mean();
    else if constexpr (std::is_same_v<Criterion, activation_std>) v = st.stddev();
    else if constexpr (std::is_same_v<Criterion, apoz>) v = 1.0 - st.apoz();
    else v = st.entropy();
    return std::vector<double>(v.begin(), v.end());
}

// ------------------------------------------------------------ selection over groups

/// Turns group scores into group keep-flags. `keep` holds on entry 1 for candidate groups and 0
/// for groups already pruned (they stay pruned and count towards the amount).
template <class S, class ScoreAt>
void select_groups(std::size_t groups, ScoreAt&& score_at, const amount& a, std::uint8_t* keep,
                   const std::string& where_) {
    check_threshold(a, where_);
    if (a.which() == amount::kind::threshold) {
        const double t = a.value();
        for (std::size_t g = 0; g < groups; ++g) {
            if (static_cast<double>(score_at(g)) < t) keep[g] = 0;
        }
        return;
    }
    const std::size_t k = prune_count(a, groups, where_);
    const std::size_t candidates = count_ones(keep, groups);
    const std::size_t already = groups - candidates;
    if (k <= already) return;
    if constexpr (std::is_same_v<S, float>) {
        prune_smallest<std::uint32_t>(groups, [&](std::size_t g) { return order_key(static_cast<float>(score_at(g))); }, 32,
                                      k - already, candidates, keep);
    } else {
        prune_smallest<std::uint64_t>(groups, [&](std::size_t g) { return order_key(static_cast<double>(score_at(g))); },
                                      64, k - already, candidates, keep);
    }
}

/// The fast path: magnitude, unstructured. Keys are the weights' bits without the sign.
template <class T, std::size_t N>
void magnitude_unstructured(const dense_input<T, N>& in, const amount& a, std::uint8_t* keep, const std::string& where_) {
    const std::size_t n = in.size;
    const T* w = in.data;
    check_threshold(a, where_);
    if (a.which() == amount::kind::threshold) {
        const double t = a.value();
        for (std::size_t i = 0; i < n; ++i) keep[i] = static_cast<std::uint8_t>(keep[i] & (std::abs(w[i]) < t ? 0 : 1));
        return;
    }
    const std::size_t k = prune_count(a, n, where_);
    const std::size_t candidates = count_ones(keep, n);
    const std::size_t already = n - candidates;
    if (k <= already) return;
    if constexpr (std::is_same_v<T, float>) {
        prune_smallest<std::uint32_t>(n, [w](std::size_t i) { return abs_key(w[i]); }, 31, k - already, candidates, keep);
    } else if constexpr (std::is_same_v<T, double>) {
        prune_smallest<std::uint64_t>(n, [w](std::size_t i) { return abs_key(w[i]); }, 63, k - already, candidates, keep);
    } else {
        prune_smallest<std::uint64_t>(n, [w](std::size_t i) { return order_key(static_cast<double>(std::abs(w[i]))); }, 64,
                                      k - already, candidates, keep);
    }
}

/// n_of_m: in every run of M consecutive weights along the (flattened) input axis, prune the
/// M - N lowest (score, index); previously pruned weights rank lowest.
template <std::size_t KeepN, std::size_t M, class ScoreAt>
void select_n_of_m(std::size_t n, ScoreAt&& score_at, std::uint8_t* keep) {
    constexpr std::size_t P = M - KeepN;
    using S = std::decay_t<decltype(score_at(std::size_t(0)))>;
    S sc[M];
    for (std::size_t base = 0; base < n; base += M) {
        std::uint8_t* k = keep + base;
        std::size_t pruned = 0;
        for (std::size_t j = 0; j < M; ++j) pruned += k[j] ? 0 : 1;
        if (pruned >= P) continue;
        for (std::size_t j = 0; j < M; ++j) sc[j] = score_at(base + j);
        for (std::size_t r = pruned; r < P; ++r) {
            // The lowest (score, index) still kept; strict < keeps the lower index on ties.
            std::size_t best = M;
            for (std::size_t j = 0; j < M; ++j) {
                if (k[j] && (best == M || sc[j] < sc[best])) best = j;
            }
            k[best] = 0;
        }
    }
}

template <class Grouping>
constexpr const char* grouping_hint() {
    if constexpr (std::is_same_v<Grouping, unstructured>) return "unstructured";
    else if constexpr (is_rows<Grouping>::value) return "rows";
    else if constexpr (is_columns<Grouping>::value) return "columns";
    else if constexpr (is_blocks<Grouping>::value) return "blocks";
    else return "n_of_m";
}

template <class Criterion, class Grouping, std::size_t N>
constexpr void check_policies() {
    COMPRESS_REQUIRE_POLICY(Criterion, criterion,
                            "compute_mask<Criterion, Grouping>: Criterion must be a pruning criterion "
                            "(magnitude, random, taylor, activation_mean, ... or a struct with "
                            "`using policy_kind = compress::policy::criterion;`)");
    COMPRESS_REQUIRE_POLICY(Grouping, grouping,
                            "compute_mask<Criterion, Grouping>: Grouping must be a grouping "
                            "(unstructured, rows<Norm>, columns<Norm>, blocks<R,C>, n_of_m<N,M>)");
    static_assert(std::is_same_v<Grouping, unstructured> || N >= 2,
                  "structured pruning (rows, columns, blocks, n_of_m) needs a tensor of rank >= 2");
    static_assert(!is_activation_criterion_v<Criterion> || is_rows<Grouping>::value || is_columns<Grouping>::value,
                  "activation criteria score neurons: use them with rows<Norm> (outputs) or columns<Norm> (inputs)");
}

/// The core: computes keep flags of the weights `in` into `out` (which must hold the previous
/// mask, or all ones).
template <class Criterion, class Grouping, class T, std::size_t N, class Ctx>
void compute_flags(const dense_input<T, N>& in, const amount& a, const Ctx& ctx, bool fresh, std::uint8_t* out,
                   const std::string& where_) {
    const std::size_t n = in.size;
    if constexpr (is_n_of_m<Grouping>::value) {
        constexpr std::size_t KN = Grouping::keep, M = Grouping::run;
        if (a.which() != amount::kind::fraction || !(std::abs(a.value() - double(M - KN) / double(M)) <= 1e-9)) {
            throw value_error(where_ + ": n_of_m<" + std::to_string(KN) + "," + std::to_string(M) + "> prunes exactly " +
                              std::to_string(double(M - KN) / double(M)) + " of the weights, the amount asks for " +
                              a.describe());
        }
        if constexpr (std::is_same_v<Criterion, random>) {
            const std::uint64_t seed = ctx.seed;
            select_n_of_m<KN, M>(n, [seed](std::size_t i) { return random_score(seed, i); }, out);
        } else {
            with_element_scores<Criterion>(in, ctx, where_, [&](auto score_at) { select_n_of_m<KN, M>(n, score_at, out); });
        }
    } else if constexpr (std::is_same_v<Grouping, unstructured>) {
        if constexpr (std::is_same_v<Criterion, magnitude>) {
            magnitude_unstructured(in, a, out, where_);
        } else if constexpr (std::is_same_v<Criterion, random>) {
            const std::uint64_t seed = ctx.seed;
            select_groups<double>(n, [seed](std::size_t i) { return random_score(seed, i); }, a, out, where_);
        } else {
            with_element_scores<Criterion>(in, ctx, where_, [&](auto score_at) {
                using S = std::decay_t<decltype(score_at(std::size_t(0)))>;
                select_groups<S>(n, score_at, a, out, where_);
            });
        }
    } else {
        // rows / columns / blocks: a group is forced-pruned when all of its elements are.
        const std::size_t G = group_count<Grouping>(in.shape);
        std::vector<std::uint8_t> gkeep(G, 1);
        if (!fresh) {
            std::vector<std::size_t> alive(G, 0);
            visit_groups<Grouping>(in.shape, [&](std::size_t i, std::size_t g) { alive[g] += out[i]; });
            for (std::size_t g = 0; g < G; ++g) gkeep[g] = alive[g] > 0 ? 1 : 0;
        }
        if constexpr (std::is_same_v<Criterion, random>) {
            const std::uint64_t seed = ctx.seed;
            select_groups<double>(G, [seed](std::size_t g) { return random_score(seed, g); }, a, gkeep.data(), where_);
        } else if constexpr (is_activation_criterion_v<Criterion>) {
            const std::vector<double> sc = activation_group_scores<Criterion, Grouping>(G, ctx, where_);
            select_groups<double>(G, [&sc](std::size_t g) { return sc[g]; }, a, gkeep.data(), where_);
        } else {
            using Norm = typename Grouping::norm;
            std::vector<double> acc;
            with_element_scores<Criterion>(in, ctx, where_, [&](auto score_at) {
                acc = group_norms<Grouping, Norm>(in.shape, score_at);
            });
            select_groups<double>(G, [&acc](std::size_t g) { return acc[g]; }, a, gkeep.data(), where_);
        }
        visit_groups<Grouping>(in.shape, [&](std::size_t i, std::size_t g) {
            out[i] = static_cast<std::uint8_t>(out[i] & gkeep[g]);
        });
    }
}

/// Group scores (one per weight when unstructured) of a criterion x grouping, higher = more
/// important; used by dynamic pruning. n_of_m has no group scores.
template <class Criterion, class Grouping, class T, std::size_t N, class Ctx>
std::vector<double> group_scores(const dense_input<T, N>& in, const Ctx& ctx, const std::string& where_) {
    static_assert(!is_n_of_m<Grouping>::value, "n_of_m has no group scores");
    if constexpr (std::is_same_v<Grouping, unstructured>) {
        std::vector<double> sc(in.size);
        if constexpr (std::is_same_v<Criterion, random>) {
            for (std::size_t i = 0; i < in.size; ++i) sc[i] = random_score(ctx.seed, i);
        } else {
            with_element_scores<Criterion>(in, ctx, where_, [&](auto score_at) {
                for (std::size_t i = 0; i < in.size; ++i) sc[i] = static_cast<double>(score_at(i));
            });
        }
        return sc;
    } else {
        const std::size_t G = group_count<Grouping>(in.shape);
        if constexpr (std::is_same_v<Criterion, random>) {
            std::vector<double> sc(G);
            for (std::size_t g = 0; g < G; ++g) sc[g] = random_score(ctx.seed, g);
            return sc;
        } else if constexpr (is_activation_criterion_v<Criterion>) {
            return activation_group_scores<Criterion, Grouping>(G, ctx, where_);
        } else {
            std::vector<double> sc;
            with_element_scores<Criterion>(in, ctx, where_, [&](auto score_at) {
                sc = group_norms<Grouping, typename Grouping::norm>(in.shape, score_at);
            });
            return sc;
        }
    }
}

/// out[i] &= gkeep[group of i].
template <class Grouping, std::size_t N>
void expand_groups(const std::array<std::size_t, N>& shape, const std::vector<std::uint8_t>& gkeep, std::uint8_t* out) {
    if constexpr (std::is_same_v<Grouping, unstructured>) {
        for (std::size_t i = 0; i < gkeep.size(); ++i) out[i] = static_cast<std::uint8_t>(out[i] & gkeep[i]);
    } else {
        visit_groups<Grouping>(shape, [&](std::size_t i, std::size_t g) { out[i] = static_cast<std::uint8_t>(out[i] & gkeep[g]); });
    }
}

template <class Criterion, class Grouping, class E, class TC, std::size_t NC>
auto compute_mask_impl(const E& w, const amount& a, const prune_context<TC, NC>& ctx) {
    constexpr std::size_t N = static_rank<E>();
    static_assert(NC == N, "prune_context<T, N>: the context's rank N must match the weights' rank");
    check_policies<Criterion, Grouping, N>();
    using T = std::decay_t<typename E::value_type>;
    static_assert(std::is_floating_point_v<T>, "pruning needs floating-point weights");
    const std::string where_ = fn_name<N>("compute_mask", ctx.name);
    auto in = make_dense(w);
    check_grouping_shape<Grouping>(in.shape, where_);
    check_finite_dense(in, ctx.name);
    mask<N> m(in.shape, true);
    if (ctx.previous != nullptr) {
        if (ctx.previous->shape() != in.shape) {
            throw shape_error(where_ + ": previous mask of shape " + shape_str(ctx.previous->shape()) +
                              " does not fit weights of shape " + shape_str(in.shape));
        }
        m = *ctx.previous;
    }
    if (in.size == 0) {
        if (a.which() == amount::kind::fraction) prune_count(a, 0, where_);  // still validates the fraction
        check_threshold(a, where_);
        return m;
    }
    compute_flags<Criterion, Grouping>(in, a, ctx, ctx.previous == nullptr, m.data(), where_);
    return m;
}

/// Zeroes the pruned entries of w: a branchless select on contiguous row-major containers
/// (the branchy loop mispredicts on random masks), mask::apply otherwise.
template <class C, std::size_t N>
void apply_mask_fast(C& w, const mask<N>& m) {
    using T = std::decay_t<typename C::value_type>;
    if constexpr (xt::has_data_interface<C>::value) {
        if (w.layout() == xt::layout_type::row_major && w.is_contiguous() && to_array<N>(w.shape()) == m.shape()) {
            T* p = w.data();
            const std::uint8_t* f = m.data();
            for (std::size_t i = 0, n = m.size(); i < n; ++i) p[i] = f[i] ? p[i] : T(0);
            return;
        }
    }
    m.apply(w);
}

}  // namespace detail

/// The mask that `Criterion` x `Grouping` gives the weights `w` for the amount `a`
/// (0.5 = prune half of the groups). Does not modify `w`. See docs/prune.md.
template <class Criterion, class Grouping = unstructured, class E, class TC, std::size_t NC>
mask<detail::static_rank<E>()> compute_mask(const xt::xexpression<E>& w, const amount& a,
                                            const prune_context<TC, NC>& ctx) {
    return detail::compute_mask_impl<Criterion, Grouping>(w.derived_cast(), a, ctx);
}

template <class Criterion, class Grouping = unstructured, class E>
mask<detail::static_rank<E>()> compute_mask(const xt::xexpression<E>& w, const amount& a) {
    using T = std::decay_t<typename E::value_type>;
    return detail::compute_mask_impl<Criterion, Grouping>(w.derived_cast(), a,
                                                          prune_context<T, detail::static_rank<E>()>{});
}

/// n_of_m without an amount: its sparsity is fixed at (M - N) / M.
template <class Criterion, class Grouping, class E, std::enable_if_t<detail::is_n_of_m<Grouping>::value, int> = 0>
mask<detail::static_rank<E>()> compute_mask(const xt::xexpression<E>& w) {
    return compute_mask<Criterion, Grouping>(w, double(Grouping::run - Grouping::keep) / double(Grouping::run));
}

/// Computes the mask and zeroes the pruned weights of `w` in place; returns the mask.
template <class Criterion, class Grouping = unstructured, class C, class TC, std::size_t NC>
mask<detail::static_rank<C>()> prune(C& w, const amount& a, const prune_context<TC, NC>& ctx) {
    auto m = compute_mask<Criterion, Grouping>(w, a, ctx);
    detail::apply_mask_fast(w, m);
    return m;
}

template <class Criterion, class Grouping = unstructured, class C>
mask<detail::static_rank<C>()> prune(C& w, const amount& a) {
    auto m = compute_mask<Criterion, Grouping>(w, a);
    detail::apply_mask_fast(w, m);
    return m;
}

template <class Criterion, class Grouping, class C, std::enable_if_t<detail::is_n_of_m<Grouping>::value, int> = 0>
mask<detail::static_rank<C>()> prune(C& w) {
    auto m = compute_mask<Criterion, Grouping>(w);
    detail::apply_mask_fast(w, m);
    return m;
}

/// A criterion, a grouping and an amount bundled as a value: `pruner<magnitude, rows<l2>> p(0.3);
/// auto m = p(w);`.
template <class Criterion, class Grouping = unstructured>
class pruner {
public:
    using criterion = Criterion;
    using grouping = Grouping;

    explicit pruner(amount a) : amount_(a) {}

    const amount& target() const noexcept { return amount_; }

    template <class E>
    auto compute_mask(const xt::xexpression<E>& w) const {
        return compress::compute_mask<Criterion, Grouping>(w, amount_);
    }
    template <class E, class TC, std::size_t NC>
    auto compute_mask(const xt::xexpression<E>& w, const prune_context<TC, NC>& ctx) const {
        return compress::compute_mask<Criterion, Grouping>(w, amount_, ctx);
    }
    /// Prunes in place, returns the mask.
    template <class C>
    auto operator()(C& w) const {
        return compress::prune<Criterion, Grouping>(w, amount_);
    }
    template <class C, class TC, std::size_t NC>
    auto operator()(C& w, const prune_context<TC, NC>& ctx) const {
        return compress::prune<Criterion, Grouping>(w, amount_, ctx);
    }

private:
    amount amount_;
};

}  // namespace compress
