#pragma once
// Pruning schedules (TFMOT's ConstantSparsity / PolynomialDecay, geometric iterative rounds),
// the mask-in-the-loop helpers, scheduled pruning and dynamic (grow-back) pruning.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/mask.hpp"
#include "compute.hpp"

namespace compress {
namespace detail {
inline void check_schedule_fraction(double v, const char* schedule, const char* what) {
    if (!(v >= 0.0 && v <= 1.0)) {
        throw value_error(std::string(schedule) + ": " + what + " must be a fraction in [0, 1], got " + std::to_string(v));
    }
}
inline void check_schedule_steps(std::int64_t begin, std::int64_t end, std::int64_t frequency, const char* schedule,
                                 bool end_optional) {
    if (begin < 0) throw value_error(std::string(schedule) + ": begin_step must be >= 0, got " + std::to_string(begin));
    if (frequency <= 0) throw value_error(std::string(schedule) + ": frequency must be > 0, got " + std::to_string(frequency));
    if (end_optional && end == -1) return;
    if (end_optional ? end < begin : end <= begin) {
        throw value_error(std::string(schedule) + ": end_step " + std::to_string(end) + " must be " +
                          (end_optional ? ">= begin_step " : "> begin_step ") + std::to_string(begin) +
                          (end_optional ? " (or -1 for no end)" : ""));
    }
}
/// TFMOT's rule: in [begin, end] (end = -1: no end) and on a multiple of `frequency` from begin.
inline bool pruning_turn(std::int64_t step, std::int64_t begin, std::int64_t end, std::int64_t frequency) {
    return step >= begin && (end < 0 || step <= end) && (step - begin) % frequency == 0;
}
}  // namespace detail

/// The same target sparsity at every update step: steps begin, begin + frequency, ... up to end
/// (TFMOT ConstantSparsity; end_step = -1 means no end).
class constant_sparsity {
public:
    explicit constant_sparsity(double target, std::int64_t begin_step = 0, std::int64_t end_step = -1,
                               std::int64_t frequency = 100)
        : target_(target), begin_(begin_step), end_(end_step), freq_(frequency) {
        detail::check_schedule_fraction(target, "constant_sparsity", "target");
        detail::check_schedule_steps(begin_step, end_step, frequency, "constant_sparsity", true);
    }
    /// The target sparsity when `step` is an update step, nothing otherwise.
    std::optional<double> sparsity_at(std::int64_t step) const {
        if (!detail::pruning_turn(step, begin_, end_, freq_)) return std::nullopt;
        return target_;
    }
    double target() const noexcept { return target_; }

private:
    double target_;
    std::int64_t begin_, end_, freq_;
};

/// Zhu & Gupta (2017) gradual pruning, as TFMOT PolynomialDecay:
///   s(t) = s_f + (s_i - s_f) (1 - p)^power,  p = clamp((t - begin) / (end - begin), 0, 1),
/// reported on update steps begin, begin + frequency, ... <= end.
class polynomial_decay {
public:
    polynomial_decay(double initial_sparsity, double final_sparsity, std::int64_t begin_step, std::int64_t end_step,
                     double power = 3.0, std::int64_t frequency = 100)
        : initial_(initial_sparsity), final_(final_sparsity), begin_(begin_step), end_(end_step), power_(power),
          freq_(frequency) {
        detail::check_schedule_fraction(initial_sparsity, "polynomial_decay", "initial_sparsity");
        detail::check_schedule_fraction(final_sparsity, "polynomial_decay", "final_sparsity");
        detail::check_schedule_steps(begin_step, end_step, frequency, "polynomial_decay", false);
        if (!(power > 0.0) || !std::isfinite(power)) {
            throw value_error("polynomial_decay: power must be finite and > 0, got " + std::to_string(power));
        }
    }
    /// The sparsity the curve has at any step (whether or not it is an update step).
    double sparsity(std::int64_t step) const {
        const double p = std::clamp(static_cast<double>(step - begin_) / static_cast<double>(end_ - begin_), 0.0, 1.0);
        return final_ + (initial_ - final_) * std::pow(1.0 - p, power_);
    }
    std::optional<double> sparsity_at(std::int64_t step) const {
        if (!detail::pruning_turn(step, begin_, end_, freq_)) return std::nullopt;
        return sparsity(step);
    }

private:
    double initial_, final_;
    std::int64_t begin_, end_;
    double power_;
    std::int64_t freq_;
};

/// Geometric prune-retrain rounds (Han et al. 2015; the lottery-ticket schedule): `rounds` rounds
/// of `steps_per_round` steps from begin; each round removes the same fraction of the weights
/// still kept, reaching `final_sparsity` at the start of the last round:
///   s_r = 1 - (1 - final)^((r + 1) / rounds),  at step begin + r * steps_per_round.
class iterative {
public:
    iterative(double final_sparsity, std::int64_t rounds, std::int64_t steps_per_round, std::int64_t begin_step = 0)
        : final_(final_sparsity), rounds_(rounds), steps_(steps_per_round), begin_(begin_step) {
        detail::check_schedule_fraction(final_sparsity, "iterative", "final_sparsity");
        if (rounds <= 0) throw value_error("iterative: rounds must be > 0, got " + std::to_string(rounds));
        if (steps_per_round <= 0) {
            throw value_error("iterative: steps_per_round must be > 0, got " + std::to_string(steps_per_round));
        }
        if (begin_step < 0) throw value_error("iterative: begin_step must be >= 0, got " + std::to_string(begin_step));
    }
    /// `rate` of the remaining weights pruned each round (e.g. 0.2 for 20% per round).
    static iterative from_rate(double rate, std::int64_t rounds, std::int64_t steps_per_round, std::int64_t begin_step = 0) {
        detail::check_schedule_fraction(rate, "iterative::from_rate", "rate");
        if (rounds <= 0) throw value_error("iterative: rounds must be > 0, got " + std::to_string(rounds));
        return iterative(1.0 - std::pow(1.0 - rate, static_cast<double>(rounds)), rounds, steps_per_round, begin_step);
    }
    /// Sparsity after round r (0-based).
    double round_sparsity(std::int64_t r) const {
        if (r + 1 >= rounds_) return final_;
        return 1.0 - std::pow(1.0 - final_, static_cast<double>(r + 1) / static_cast<double>(rounds_));
    }
    std::optional<double> sparsity_at(std::int64_t step) const {
        if (step < begin_ || (step - begin_) % steps_ != 0) return std::nullopt;
        const std::int64_t r = (step - begin_) / steps_;
        if (r >= rounds_) return std::nullopt;
        return round_sparsity(r);
    }
    std::int64_t rounds() const noexcept { return rounds_; }

private:
    double final_;
    std::int64_t rounds_, steps_, begin_;
};

// ---------------------------------------------------------------- mask in the loop

/// Zeroes the pruned entries of a gradient, so an optimizer step does not move pruned weights
/// (call between backward and the optimizer step). Returns `g`.
template <class C, std::size_t N>
C& mask_gradient(C& g, const mask<N>& m) {
    detail::apply_mask_fast(g, m);
    return g;
}
/// Zeroes the pruned weights again (call after the optimizer step: momentum or weight decay
/// can move a zero weight even with a masked gradient). Returns `w`.
template <class C, std::size_t N>
C& apply_mask(C& w, const mask<N>& m) {
    detail::apply_mask_fast(w, m);
    return w;
}

/// A schedule driving one tensor's mask through training:
///
///     compress::scheduled_pruner<compress::polynomial_decay> sp(
///         compress::polynomial_decay(0.0, 0.9, 0, 1000, 3, 100));
///     compress::mask<2> m({out, in});               // all kept
///     for (std::int64_t step = 0; ...; ++step) {
///         sp.update(step, w, m);                     // prunes on the schedule's steps
///         ... forward, backward ...
///         compress::mask_gradient(grad, m);
///         optimizer.step();
///         compress::apply_mask(w, m);
///     }
///
/// On an update step the mask is recomputed at the scheduled sparsity with the current mask as
/// the previous one (pruned weights stay pruned), and the weights are zeroed.
template <class Schedule, class Criterion = magnitude, class Grouping = unstructured>
class scheduled_pruner {
public:
    explicit scheduled_pruner(Schedule schedule) : schedule_(std::move(schedule)) {}

    const Schedule& schedule() const noexcept { return schedule_; }

    /// Returns true when `step` was an update step (the mask was recomputed).
    template <class T, std::size_t N>
    bool update(std::int64_t step, xt::xtensor<T, N>& w, mask<N>& m) {
        return update(step, w, m, prune_context<T, N>{});
    }
    template <class T, std::size_t N, class TC>
    bool update(std::int64_t step, xt::xtensor<T, N>& w, mask<N>& m, prune_context<TC, N> ctx) {
        const auto s = schedule_.sparsity_at(step);
        if (!s) return false;
        if (m.shape() != detail::to_array<N>(w.shape())) {
            throw shape_error("scheduled_pruner::update: mask of shape " + detail::shape_str(m.shape()) +
                              " does not fit weights of shape " + detail::shape_str(w.shape()));
        }
        ctx.previous = &m;
        m = compress::prune<Criterion, Grouping>(w, *s, ctx);
        return true;
    }

private:
    Schedule schedule_;
};

/// Dynamic network surgery (Guo et al. 2016): the dense weights keep training (pruned ones
/// included, their gradients are not masked), the forward pass uses `masked(w)`, and every
/// `update` recomputes the mask with a hysteresis band around the target threshold t (the
/// score of the last group a plain prune at `target` would remove):
///   score < t - margin |t|  -> pruned;   score > t + margin |t|  -> kept (grows back);
///   otherwise (inside the band, t included) the flag does not change.
/// The first update (or after `reset`) is a plain prune at `target`. The sparsity after an
/// update is the target up to the groups inside the band.
template <class Criterion = magnitude, class Grouping = unstructured, std::size_t N = 2>
class dynamic_pruner {
    static_assert(!detail::is_n_of_m<Grouping>::value,
                  "dynamic_pruner: n_of_m has a fixed pattern per run; recompute it with compute_mask instead");

public:
    explicit dynamic_pruner(double margin = 0.1) : margin_(margin) {
        if (!(margin >= 0.0) || !std::isfinite(margin)) {
            throw value_error("dynamic_pruner: margin must be finite and >= 0, got " + std::to_string(margin));
        }
    }

    /// Recomputes the mask from the dense weights `w`; returns it.
    template <class E>
    const mask<N>& update(const xt::xexpression<E>& w, double target) {
        using T = std::decay_t<typename E::value_type>;
        return update(w, target, prune_context<T, N>{});
    }
    template <class E, class TC>
    const mask<N>& update(const xt::xexpression<E>& wexpr, double target, const prune_context<TC, N>& ctx) {
        static_assert(detail::static_rank<E>() == N, "dynamic_pruner<..., N>: the weights' rank must be N");
        detail::check_policies<Criterion, Grouping, N>();
        const std::string where_ = detail::fn_name<N>("dynamic_pruner::update", ctx.name);
        if (!(target >= 0.0 && target <= 1.0)) {
            throw value_error(where_ + ": target must be a fraction in [0, 1], got " + std::to_string(target));
        }
        auto in = detail::make_dense(wexpr.derived_cast());
        detail::check_grouping_shape<Grouping>(in.shape, where_);
        detail::check_finite_dense(in, ctx.name);
        if (!mask_ || mask_->shape() != in.shape) {
            prune_context<TC, N> plain = ctx;
            plain.previous = nullptr;
            mask_ = compress::compute_mask<Criterion, Grouping>(wexpr, target, plain);
            return *mask_;
        }
        const std::vector<double> sc = detail::group_scores<Criterion, Grouping>(in, ctx, where_);
        const std::size_t G = sc.size();
        const std::size_t k = detail::prune_count(amount::fraction(target), G, where_);
        double t;
        if (k == 0) {
            t = -std::numeric_limits<double>::infinity();
        } else {
            std::vector<double> tmp(sc);
            std::nth_element(tmp.begin(), tmp.begin() + static_cast<std::ptrdiff_t>(k - 1), tmp.end());
            t = tmp[k - 1];
        }
        // Current group flags: a group is kept when any of its weights is.
        std::vector<std::uint8_t> gkeep(G, 0);
        if constexpr (std::is_same_v<Grouping, unstructured>) {
            std::copy(mask_->data(), mask_->data() + G, gkeep.begin());
        } else {
            detail::visit_groups<Grouping>(in.shape, [&](std::size_t i, std::size_t g) { gkeep[g] |= mask_->data()[i]; });
        }
        if (k == 0) {
            std::fill(gkeep.begin(), gkeep.end(), std::uint8_t(1));  // nothing to prune: everything grows back
        } else if (k == G) {
            std::fill(gkeep.begin(), gkeep.end(), std::uint8_t(0));
        } else {
            const double lo = t - margin_ * std::abs(t), hi = t + margin_ * std::abs(t);
            for (std::size_t g = 0; g < G; ++g) {
                if (sc[g] < lo) gkeep[g] = 0;
                else if (sc[g] > hi) gkeep[g] = 1;
            }
        }
        mask<N> m(in.shape, true);
        detail::expand_groups<Grouping>(in.shape, gkeep, m.data());
        mask_ = std::move(m);
        return *mask_;
    }

    /// True once a mask exists.
    bool has_mask() const noexcept { return mask_.has_value(); }
    /// The current mask (throws value_error before the first update).
    const mask<N>& current() const {
        if (!mask_) throw value_error("dynamic_pruner::current: no mask yet (call update first)");
        return *mask_;
    }
    /// The weights for the forward pass: w with the pruned entries zeroed (w is not modified).
    template <class T>
    xt::xtensor<T, N> masked(const xt::xtensor<T, N>& w) const {
        return current().applied(w);
    }
    void reset() { mask_.reset(); }
    double margin() const noexcept { return margin_; }

private:
    double margin_;
    std::optional<mask<N>> mask_;
};

}  // namespace compress
