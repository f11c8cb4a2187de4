#pragma once
// Pruning policies: norms, groupings, criteria, the amount to prune and the pruning context.
// Public names live in namespace compress; this header is included by <compress/prune.hpp>.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include <xtensor/xtensor.hpp>

#include "../core/error.hpp"
#include "../core/mask.hpp"
#include "../core/static_checks.hpp"

namespace compress {

class activation_stats;

// ---------------------------------------------------------------- norms

/// Sum of absolute values (PyTorch `ln_structured(n=1)`).
struct l1 {
    using policy_kind = policy::norm;
    static constexpr const char* name() noexcept { return "l1"; }
    static double accumulate(double acc, double v) noexcept { return acc + std::abs(v); }
    static double combine(double a, double b) noexcept { return a + b; }
    static double finish(double acc) noexcept { return acc; }
};
/// Euclidean norm (PyTorch `ln_structured(n=2)`).
struct l2 {
    using policy_kind = policy::norm;
    static constexpr const char* name() noexcept { return "l2"; }
    static double accumulate(double acc, double v) noexcept { return acc + v * v; }
    static double combine(double a, double b) noexcept { return a + b; }
    static double finish(double acc) noexcept { return std::sqrt(acc); }
};
/// Largest absolute value (PyTorch `ln_structured(n=inf)`).
struct linf {
    using policy_kind = policy::norm;
    static constexpr const char* name() noexcept { return "linf"; }
    static double accumulate(double acc, double v) noexcept { return std::max(acc, std::abs(v)); }
    static double combine(double a, double b) noexcept { return std::max(a, b); }
    static double finish(double acc) noexcept { return acc; }
};

// ---------------------------------------------------------------- groupings

/// Every weight is ranked on its own.
struct unstructured {
    using policy_kind = policy::grouping;
};

/// Output neurons (linear) or filters (conv): a group is a slice along axis 0, scored by the
/// norm of its element scores (PyTorch `ln_structured(dim=0)`).
template <class Norm>
struct rows {
    COMPRESS_REQUIRE_POLICY(Norm, norm, "rows<Norm>: Norm must be a norm policy (compress::l1, l2 or linf)");
    using policy_kind = policy::grouping;
    using norm = Norm;
};

/// Input features (linear) or input channels (conv): a group is a slice along axis 1
/// (PyTorch `ln_structured(dim=1)`).
template <class Norm>
struct columns {
    COMPRESS_REQUIRE_POLICY(Norm, norm, "columns<Norm>: Norm must be a norm policy (compress::l1, l2 or linf)");
    using policy_kind = policy::grouping;
    using norm = Norm;
};

/// R x C tiles of the weight seen as a matrix [out, in*kh*kw]; both extents must be multiples
/// of the tile. Tiles are scored by the norm of their element scores (default l1).
template <std::size_t R, std::size_t C, class Norm = l1>
struct blocks {
    static_assert(R > 0 && C > 0, "blocks<R,C> needs R > 0 and C > 0");
    COMPRESS_REQUIRE_POLICY(Norm, norm, "blocks<R,C,Norm>: Norm must be a norm policy (compress::l1, l2 or linf)");
    using policy_kind = policy::grouping;
    using norm = Norm;
    static constexpr std::size_t block_rows = R;
    static constexpr std::size_t block_cols = C;
};

/// Keep the N best of every M consecutive weights along the input axis: the weight is seen as a
/// matrix [out, in*kh*kw] (row-major flattening of the trailing axes) and each row is cut into
/// runs of M. The flattened input extent must be a multiple of M.
template <std::size_t N, std::size_t M>
struct n_of_m {
    static_assert(0 < N && N < M, "n_of_m<N,M> needs 0 < N < M");
    using policy_kind = policy::grouping;
    static constexpr std::size_t keep = N;
    static constexpr std::size_t run = M;
};

namespace detail {
template <class G>
struct is_n_of_m : std::false_type {};
template <std::size_t N, std::size_t M>
struct is_n_of_m<n_of_m<N, M>> : std::true_type {};
template <class G>
struct is_blocks : std::false_type {};
template <std::size_t R, std::size_t C, class Norm>
struct is_blocks<blocks<R, C, Norm>> : std::true_type {};
template <class G>
struct is_rows : std::false_type {};
template <class Norm>
struct is_rows<rows<Norm>> : std::true_type {};
template <class G>
struct is_columns : std::false_type {};
template <class Norm>
struct is_columns<columns<Norm>> : std::true_type {};
}  // namespace detail

// ---------------------------------------------------------------- criteria

/// |w|. The fast path (radix selection straight on the weights' bits) is taken for this type.
struct magnitude {
    using policy_kind = policy::criterion;
    template <class E, class Ctx>
    auto scores(const E& w, const Ctx&) const {
        return xt::abs(w);
    }
};

/// Uniform random scores from an explicit seed (`prune_context::seed`): one score per group
/// (per weight when unstructured), a pure function of (seed, group index), identical on every
/// machine.
struct random {
    using policy_kind = policy::criterion;
};

/// First-order Taylor saliency |w * g|; needs the gradient (`prune_context::gradient`).
struct taylor {
    using policy_kind = policy::criterion;
};

namespace detail {
/// Base of the criteria that score output neurons from recorded activations.
struct activation_criterion {
    using policy_kind = policy::criterion;
};
}  // namespace detail

/// Mean recorded activation of the neuron (record after the nonlinearity); lowest pruned first.
struct activation_mean : detail::activation_criterion {};
/// Standard deviation of the neuron's activation over samples (and positions); a neuron that
/// barely varies carries little information.
struct activation_std : detail::activation_criterion {};
/// Average percentage of zeros (Hu et al. 2016): the fraction of recorded values <= 0, i.e. zero
/// after a ReLU. The score is 1 - APoZ, so the neurons that are zero most often go first.
struct apoz : detail::activation_criterion {};
/// Entropy of the histogram of the neuron's per-sample activation (Luo & Wu 2017; conv channels
/// are averaged over H x W first); the least informative neurons go first.
struct activation_entropy : detail::activation_criterion {};

namespace detail {
template <class C>
inline constexpr bool is_activation_criterion_v = std::is_base_of_v<activation_criterion, C>;
}  // namespace detail

// ---------------------------------------------------------------- amount

/// How much to prune: a fraction of the groups (count = round-half-even(fraction x groups),
/// exactly as PyTorch), an absolute count of groups, or a score threshold (groups whose score
/// is strictly below it are pruned). A floating-point number converts to a fraction.
class amount {
public:
    enum class kind { fraction, count, threshold };

    template <class F, std::enable_if_t<std::is_floating_point_v<F>, int> = 0>
    amount(F fraction) : kind_(kind::fraction), value_(static_cast<double>(fraction)) {}  // NOLINT: implicit on purpose

    template <class I, std::enable_if_t<std::is_integral_v<I>, int> = 0>
    amount(I) : kind_(kind::count) {
        static_assert(detail::dependent_false<I>,
                      "prune amount: an integer is ambiguous; write a fraction (0.5, 1.0), "
                      "compress::amount::count(n) or compress::amount::threshold(t)");
    }

    static amount fraction(double f) { return amount(kind::fraction, f, 0); }
    static amount count(std::size_t n) { return amount(kind::count, 0.0, n); }
    static amount threshold(double t) { return amount(kind::threshold, t, 0); }

    kind which() const noexcept { return kind_; }
    double value() const noexcept { return value_; }
    std::size_t count_value() const noexcept { return count_; }

    std::string describe() const {
        switch (kind_) {
            case kind::fraction: return "fraction " + std::to_string(value_);
            case kind::count: return "count " + std::to_string(count_);
            default: return "threshold " + std::to_string(value_);
        }
    }

private:
    amount(kind k, double v, std::size_t c) : kind_(k), value_(v), count_(c) {}
    kind kind_;
    double value_ = 0.0;
    std::size_t count_ = 0;
};

// ---------------------------------------------------------------- context

/// What some criteria need besides the weights. Non-owning: the pointed-to objects must outlive
/// the call. Every field is optional; a criterion that needs one throws value_error when it is
/// missing.
///   gradient     taylor: dL/dw, same shape as the weights
///   activations  activation_* criteria: statistics recorded on the layer's outputs
///                (rows<>) or on its inputs (columns<>)
///   seed         random
///   previous     a previous mask: its pruned weights stay pruned (and count towards the amount)
///   name         used in error messages ("tensor 'fc1.weight' ...")
template <class T = float, std::size_t N = 2>
struct prune_context {
    static_assert(N >= 1, "prune_context<T, N> needs N >= 1");
    using value_type = T;
    static constexpr std::size_t rank = N;

    const xt::xtensor<T, N>* gradient = nullptr;
    const activation_stats* activations = nullptr;
    std::uint64_t seed = 0;
    const mask<N>* previous = nullptr;
    std::string name;

    prune_context& with_gradient(const xt::xtensor<T, N>& g) { gradient = &g; return *this; }
    prune_context& with_activations(const activation_stats& a) { activations = &a; return *this; }
    prune_context& with_seed(std::uint64_t s) { seed = s; return *this; }
    prune_context& with_previous(const mask<N>& m) { previous = &m; return *this; }
    prune_context& with_name(std::string n) { name = std::move(n); return *this; }
};

}  // namespace compress
