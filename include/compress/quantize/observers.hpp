#pragma once
// Range observers: they accumulate statistics over many batches and give a clipping range,
// hence a scale and zero point. Each observer keeps one state per "slot" (one slot for a
// standalone, per-tensor observer; one per channel or group inside a quantizer), can be
// frozen, and also computes a range from one block of values at once (`one_shot`, used for
// weights). Part of quantize.hpp.
//
//   minmax                 running min / max (PyTorch MinMaxObserver)
//   moving_average_minmax  min/max averaged over batches with a constant (PyTorch MovingAverage…)
//   percentile             the p-th percentile of |x| (symmetric) or the (100-p)/p percentiles
//   mse_search             the clipping range (a shrink of min/max) with the smallest quantization MSE
//   histogram_kl           TensorRT's entropy calibration: the |x| threshold minimising KL(P||Q)

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "kernels.hpp"
#include "qparams.hpp"

namespace compress {

namespace detail {

/// A signed histogram over [-R, R] with 2·half_bins equal bins, R a power of two above the
/// largest |x| seen, growing by doubling R (merging bin pairs, exact) when wider values arrive. Used by the histogram-based observers.
class range_histogram {
public:
    static constexpr std::size_t half_bins = 2048;

    void add(const float* v, std::size_t n) {
        if (n == 0) return;
        float amax = 0.0f;
        for (std::size_t i = 0; i < n; ++i) {
            amax = std::max(amax, std::fabs(v[i]));
            lo_ = std::min(lo_, v[i]);
            hi_ = std::max(hi_, v[i]);
        }
        if (amax > 0.0f) {
            if (range_ == 0.0) {
                // the smallest power of two above amax: bin edges are then exact binary
                // fractions, and doubling merges bins exactly
                int e = 0;
                std::frexp(static_cast<double>(amax), &e);
                range_ = std::ldexp(1.0, e);
                counts_.assign(2 * half_bins, 0);
                counts_[half_bins] += pending_zeros_;
                pending_zeros_ = 0;
            }
            while (range_ <= static_cast<double>(amax)) grow();
        }
        total_ += n;
        if (range_ == 0.0) {
            pending_zeros_ += n;
            return;
        }
        const double scale = static_cast<double>(half_bins) / range_;
        for (std::size_t i = 0; i < n; ++i) {
            const double pos = (static_cast<double>(v[i]) + range_) * scale;
            std::size_t b = pos <= 0.0 ? 0 : static_cast<std::size_t>(pos);
            if (b >= 2 * half_bins) b = 2 * half_bins - 1;
            ++counts_[b];
        }
    }

    double range() const noexcept { return range_; }
    std::uint64_t total() const noexcept { return total_; }
    float min() const noexcept { return lo_; }
    float max() const noexcept { return hi_; }
    double bin_width() const noexcept { return range_ / static_cast<double>(half_bins); }
    /// Count of signed bin i in [0, 2·half_bins) covering [-R + i·w, -R + (i+1)·w).
    std::uint64_t count(std::size_t i) const noexcept { return counts_.empty() ? 0 : counts_[i]; }

    /// |x| histogram: bin m covers [m·w, (m+1)·w).
    std::vector<double> folded() const {
        std::vector<double> h(half_bins, 0.0);
        if (range_ == 0.0) {
            h[0] = static_cast<double>(pending_zeros_);
            return h;
        }
        for (std::size_t m = 0; m < half_bins; ++m) {
            h[m] = static_cast<double>(counts_[half_bins + m] + counts_[half_bins - 1 - m]);
        }
        return h;
    }

    /// Value below which a fraction q of the observed values lie (linear within a bin).
    double quantile(double q) const {
        if (range_ == 0.0) return 0.0;
        const double target = q * static_cast<double>(total_);
        const double w = bin_width();
        double cum = 0.0;
        for (std::size_t i = 0; i < 2 * half_bins; ++i) {
            const double c = static_cast<double>(counts_[i]);
            if (c > 0.0 && cum + c >= target) {
                const double f = std::min(std::max((target - cum) / c, 0.0), 1.0);
                return -range_ + (static_cast<double>(i) + f) * w;
            }
            cum += c;
        }
        return range_;
    }

    /// Quantile of |x| from the folded histogram.
    double abs_quantile(double q) const {
        const std::vector<double> h = folded();
        const double target = q * static_cast<double>(total_);
        const double w = range_ == 0.0 ? 0.0 : bin_width();
        double cum = 0.0;
        for (std::size_t m = 0; m < half_bins; ++m) {
            if (h[m] > 0.0 && cum + h[m] >= target) {
                const double f = std::min(std::max((target - cum) / h[m], 0.0), 1.0);
                return (static_cast<double>(m) + f) * w;
            }
            cum += h[m];
        }
        return range_;
    }

private:
    void grow() {
        std::vector<std::uint64_t> next(2 * half_bins, 0);
        for (std::size_t j = half_bins / 2; j < 3 * half_bins / 2; ++j) {
            const std::size_t o = 2 * (j - half_bins / 2);
            next[j] = counts_[o] + counts_[o + 1];
        }
        counts_.swap(next);
        range_ *= 2.0;
    }

    double range_ = 0.0;
    std::vector<std::uint64_t> counts_;
    std::uint64_t pending_zeros_ = 0;
    std::uint64_t total_ = 0;
    float lo_ = std::numeric_limits<float>::infinity();
    float hi_ = -std::numeric_limits<float>::infinity();
};

/// Mean squared error of quantize-dequantize with parameters p over weighted points.
template <class F>
double weighted_qmse(const double* x, const double* w, std::size_t n, const qparams& p) {
    const float inv = 1.0f / p.scale;
    double s = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        if (w[i] == 0.0) continue;
        const float xf = static_cast<float>(x[i]);
        const double d = static_cast<double>(fake_quantize_value<F>(xf, p, inv, nearest_even{}, 0)) - x[i];
        s += w[i] * d * d;
    }
    return s;
}

/// mse_search core: candidates [lo·f, hi·f] with f = 1 - i·(1 - min_ratio)/steps, i = 0..steps;
/// the first candidate with the smallest MSE wins.
template <class F, class M, class S>
clip_range mse_best_range(float lo, float hi, const double* x, const double* w, std::size_t n, int steps,
                          float min_ratio) {
    clip_range best{lo, hi, true};
    double best_err = std::numeric_limits<double>::infinity();
    for (int i = 0; i <= steps; ++i) {
        const float f = 1.0f - static_cast<float>(i) * (1.0f - min_ratio) / static_cast<float>(steps);
        const clip_range c{lo * f, hi * f, true};
        const double e = weighted_qmse<F>(x, w, n, compute_qparams<F, M, S>(c));
        if (e < best_err) {
            best_err = e;
            best = c;
        }
    }
    return best;
}

/// TensorRT entropy calibration on an |x| histogram of `bins` bins of width w: the threshold
/// (upper edge of the first i bins, i >= nq) whose clipped distribution P and its nq-level
/// quantization Q have the smallest KL(P || Q). Smoothing of zero bins as MXNet's reference.
inline double kl_threshold(const std::vector<double>& hist, double w, std::size_t nq) {
    const std::size_t bins = hist.size();
    if (nq >= bins) return static_cast<double>(bins) * w;
    std::vector<double> suffix(bins + 1, 0.0);
    for (std::size_t i = bins; i-- > 0;) suffix[i] = suffix[i + 1] + hist[i];
    double best = std::numeric_limits<double>::infinity();
    std::size_t best_i = bins;
    std::vector<double> p, q;
    auto smooth = [](std::vector<double>& d) {
        const double eps = 0.0001;
        std::size_t zeros = 0;
        for (double v : d) zeros += (v == 0.0);
        const std::size_t nonzeros = d.size() - zeros;
        if (nonzeros == 0) return false;
        const double eps1 = eps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
        for (double& v : d) v += (v == 0.0) ? eps : -eps1;
        return true;
    };
    for (std::size_t i = nq; i <= bins; ++i) {
        p.assign(hist.begin(), hist.begin() + static_cast<std::ptrdiff_t>(i));
        p[i - 1] += suffix[i];
        q.assign(i, 0.0);
        const std::size_t merged = i / nq;
        for (std::size_t j = 0; j < nq; ++j) {
            const std::size_t start = j * merged;
            const std::size_t stop = (j + 1 == nq) ? i : start + merged;
            double total = 0.0;
            std::size_t nonzero = 0;
            for (std::size_t k = start; k < stop; ++k) {
                total += hist[k];
                nonzero += (p[k] != 0.0);
            }
            if (nonzero == 0) continue;
            for (std::size_t k = start; k < stop; ++k) q[k] = (p[k] != 0.0) ? total / static_cast<double>(nonzero) : 0.0;
        }
        if (!smooth(p) || !smooth(q)) continue;
        double sp = 0.0, sq = 0.0;
        for (std::size_t k = 0; k < i; ++k) {
            sp += p[k];
            sq += q[k];
        }
        double kl = 0.0;
        for (std::size_t k = 0; k < i; ++k) {
            const double pk = p[k] / sp, qk = q[k] / sq;
            if (pk > 0.0) kl += pk * std::log(pk / qk);
        }
        if (kl < best) {
            best = kl;
            best_i = i;
        }
    }
    return static_cast<double>(best_i) * w;
}

/// Exact quantile of sorted values (linear interpolation between order statistics).
inline float sorted_quantile(const std::vector<float>& s, double q) {
    if (s.empty()) return 0.0f;
    const double pos = q * static_cast<double>(s.size() - 1);
    const std::size_t k = static_cast<std::size_t>(pos);
    if (k + 1 >= s.size()) return s.back();
    const double f = pos - static_cast<double>(k);
    return static_cast<float>(static_cast<double>(s[k]) + f * (static_cast<double>(s[k + 1]) - static_cast<double>(s[k])));
}

}  // namespace detail

/// Common part of the observers: slots, freezing, and the standalone per-tensor interface.
template <class Derived>
class observer_base {
public:
    using policy_kind = policy::observer;
    /// True for observers that only work with integer formats (histogram_kl).
    static constexpr bool integer_formats_only = false;

    /// Stops (freeze) or resumes accumulation; a frozen observer ignores observe().
    void freeze() noexcept { frozen_ = true; }
    void unfreeze() noexcept { frozen_ = false; }
    bool frozen() const noexcept { return frozen_; }
    /// Number of independent ranges tracked (0 before the first observation).
    std::size_t slots() const noexcept { return slots_; }
    /// Number of batches observed.
    std::size_t batches() const noexcept { return batches_; }
    /// Forgets everything observed (keeps the configuration and the frozen flag).
    void reset(std::size_t slots = 0) {
        slots_ = slots;
        batches_ = 0;
        self().reset_state(slots);
    }

    /// Standalone use: accumulates every value of x (one batch) into a single range.
    /// Throws value_error on NaN/Inf (with the position), shape_error when the observer
    /// already tracks several slots (it belongs to a per-channel quantizer).
    template <class E>
    void observe(const xt::xexpression<E>& expr, const std::string& name = {}) {
        if (frozen_) return;
        detail::check_finite(expr, name);
        if (slots_ == 0) reset(1);
        if (slots_ != 1) {
            throw shape_error("observer::observe: this observer tracks " + std::to_string(slots_) +
                              " channels/groups; observe through its quantizer");
        }
        const auto& e = expr.derived_cast();
        std::vector<float> flat;
        flat.reserve(e.size());
        for (auto it = e.cbegin(); it != e.cend(); ++it) flat.push_back(static_cast<float>(*it));
        self().observe_slot(0, flat.data(), flat.size());
        ++batches_;
    }

    /// Clipping range of slot s for a format and mapping (invalid when nothing was observed).
    template <class F, class M = symmetric, class S = float>
    clip_range range(std::size_t s = 0) const {
        if (s >= slots_) return {};
        return self().template range_of<F, M, S>(s);
    }

    /// Scale and zero point of slot s (PyTorch's formulas; scale 1 when nothing was observed).
    template <class F, class M = symmetric, class S = float>
    qparams calculate_qparams(std::size_t s = 0) const {
        return compute_qparams<F, M, S>(range<F, M, S>(s));
    }

    /// Used by quantizer: counts one observed batch over all slots.
    void count_batch() noexcept { ++batches_; }

private:
    Derived& self() noexcept { return static_cast<Derived&>(*this); }
    const Derived& self() const noexcept { return static_cast<const Derived&>(*this); }
    std::size_t slots_ = 0;
    std::size_t batches_ = 0;
    bool frozen_ = false;
};

/// Running minimum and maximum over every observed value (PyTorch MinMaxObserver /
/// PerChannelMinMaxObserver): range [min, max].
class minmax : public observer_base<minmax> {
public:
    static constexpr bool minmax_like = true;
    static const char* name() noexcept { return "minmax"; }

    void reset_state(std::size_t n) {
        lo_.assign(n, std::numeric_limits<float>::infinity());
        hi_.assign(n, -std::numeric_limits<float>::infinity());
    }
    void observe_slot(std::size_t s, const float* v, std::size_t n) {
        detail::span_minmax<scalar_arch>(v, n, lo_[s], hi_[s]);
    }
    /// Merges a block's (min, max) into slot s (used by the fused quantize pass).
    void merge(std::size_t s, float lo, float hi) {
        lo_[s] = std::min(lo_[s], lo);
        hi_[s] = std::max(hi_[s], hi);
    }
    template <class F, class M, class S>
    clip_range range_of(std::size_t s) const {
        if (lo_[s] > hi_[s]) return {};
        return {lo_[s], hi_[s], true};
    }
    /// Range of one block of values (for weights).
    template <class F, class M, class S>
    clip_range one_shot(const float* v, std::size_t n) const {
        float lo = std::numeric_limits<float>::infinity(), hi = -lo;
        detail::span_minmax<scalar_arch>(v, n, lo, hi);
        if (n == 0) return {};
        return {lo, hi, true};
    }

private:
    std::vector<float> lo_, hi_;
};

/// Min and max averaged over batches (PyTorch MovingAverageMinMaxObserver and its per-channel
/// form): the first batch sets them, each later batch moves them by
/// `min += c·(batch_min − min)` (same for max) with the averaging constant c (default 0.01).
class moving_average_minmax : public observer_base<moving_average_minmax> {
public:
    static constexpr bool minmax_like = true;
    static const char* name() noexcept { return "moving_average_minmax"; }

    /// Throws value_error unless 0 < averaging_constant <= 1.
    explicit moving_average_minmax(float averaging_constant = 0.01f) : c_(averaging_constant) {
        if (!(averaging_constant > 0.0f && averaging_constant <= 1.0f)) {
            throw value_error("moving_average_minmax: averaging constant must be in (0, 1], got " +
                              std::to_string(averaging_constant));
        }
    }
    float averaging_constant() const noexcept { return c_; }

    void reset_state(std::size_t n) {
        lo_.assign(n, std::numeric_limits<float>::infinity());
        hi_.assign(n, -std::numeric_limits<float>::infinity());
    }
    void observe_slot(std::size_t s, const float* v, std::size_t n) {
        if (n == 0) return;
        float lo = std::numeric_limits<float>::infinity(), hi = -lo;
        detail::span_minmax<scalar_arch>(v, n, lo, hi);
        merge(s, lo, hi);
    }
    /// Moves slot s towards one batch's (min, max).
    void merge(std::size_t s, float lo, float hi) {
        if (lo_[s] == std::numeric_limits<float>::infinity() && hi_[s] == -std::numeric_limits<float>::infinity()) {
            lo_[s] = lo;
            hi_[s] = hi;
        } else {
            lo_[s] = lo_[s] + detail::no_fma(c_ * (lo - lo_[s]));
            hi_[s] = hi_[s] + detail::no_fma(c_ * (hi - hi_[s]));
        }
    }
    template <class F, class M, class S>
    clip_range range_of(std::size_t s) const {
        if (lo_[s] > hi_[s]) return {};
        return {lo_[s], hi_[s], true};
    }
    template <class F, class M, class S>
    clip_range one_shot(const float* v, std::size_t n) const {
        float lo = std::numeric_limits<float>::infinity(), hi = -lo;
        detail::span_minmax<scalar_arch>(v, n, lo, hi);
        if (n == 0) return {};
        return {lo, hi, true};
    }

private:
    float c_;
    std::vector<float> lo_, hi_;
};

/// Percentile clipping: symmetric → [-t, t] with t the p-th percentile of |x|;
/// affine → [(100−p)-th percentile, p-th percentile] of x. Streaming over batches with a
/// 4096-bin histogram (resolution: range/2048); one_shot is exact (sorted values).
class percentile : public observer_base<percentile> {
public:
    static constexpr bool minmax_like = false;
    static const char* name() noexcept { return "percentile"; }

    /// Throws value_error unless 0 < p <= 100.
    explicit percentile(double p = 99.99) : p_(p) {
        if (!(p > 0.0 && p <= 100.0)) {
            throw value_error("percentile: p must be in (0, 100], got " + std::to_string(p));
        }
    }
    double p() const noexcept { return p_; }

    void reset_state(std::size_t n) { hist_.assign(n, detail::range_histogram{}); }
    void observe_slot(std::size_t s, const float* v, std::size_t n) { hist_[s].add(v, n); }
    template <class F, class M, class S>
    clip_range range_of(std::size_t s) const {
        const auto& h = hist_[s];
        if (h.total() == 0) return {};
        if constexpr (M::is_affine) {
            const float lo = static_cast<float>(h.quantile(1.0 - p_ / 100.0));
            const float hi = static_cast<float>(h.quantile(p_ / 100.0));
            return {std::max(lo, h.min()), std::min(hi, h.max()), true};
        } else {
            const float t = std::min(static_cast<float>(h.abs_quantile(p_ / 100.0)),
                                     std::max(std::fabs(h.min()), std::fabs(h.max())));
            return {-t, t, true};
        }
    }
    template <class F, class M, class S>
    clip_range one_shot(const float* v, std::size_t n) const {
        if (n == 0) return {};
        std::vector<float> s(v, v + n);
        if constexpr (M::is_affine) {
            std::sort(s.begin(), s.end());
            return {detail::sorted_quantile(s, 1.0 - p_ / 100.0), detail::sorted_quantile(s, p_ / 100.0), true};
        } else {
            for (float& x : s) x = std::fabs(x);
            std::sort(s.begin(), s.end());
            const float t = detail::sorted_quantile(s, p_ / 100.0);
            return {-t, t, true};
        }
    }

private:
    double p_;
    std::vector<detail::range_histogram> hist_;
};

/// Searches the clipping range with the smallest quantization MSE among shrinks of the
/// observed [min, max]: [min·f, max·f] for f = 1 − i·(1 − min_ratio)/steps, i = 0..steps
/// (first minimum wins). Streaming uses a 4096-bin histogram (bin centres weighted by counts);
/// one_shot evaluates the exact values.
class mse_search : public observer_base<mse_search> {
public:
    static constexpr bool minmax_like = false;
    static const char* name() noexcept { return "mse_search"; }

    /// Throws value_error unless steps >= 1 and 0 < min_ratio <= 1.
    explicit mse_search(int steps = 100, float min_ratio = 0.05f) : steps_(steps), min_ratio_(min_ratio) {
        if (steps < 1) throw value_error("mse_search: steps must be >= 1, got " + std::to_string(steps));
        if (!(min_ratio > 0.0f && min_ratio <= 1.0f)) {
            throw value_error("mse_search: min_ratio must be in (0, 1], got " + std::to_string(min_ratio));
        }
    }
    int steps() const noexcept { return steps_; }
    float min_ratio() const noexcept { return min_ratio_; }

    void reset_state(std::size_t n) { hist_.assign(n, detail::range_histogram{}); }
    void observe_slot(std::size_t s, const float* v, std::size_t n) { hist_[s].add(v, n); }
    template <class F, class M, class S>
    clip_range range_of(std::size_t s) const {
        const auto& h = hist_[s];
        if (h.total() == 0) return {};
        const std::size_t B = 2 * detail::range_histogram::half_bins;
        std::vector<double> x(B), w(B);
        const double bw = h.bin_width();
        for (std::size_t i = 0; i < B; ++i) {
            x[i] = -h.range() + (static_cast<double>(i) + 0.5) * bw;
            w[i] = static_cast<double>(h.count(i));
        }
        if (h.range() == 0.0) return {h.min(), h.max(), true};
        return detail::mse_best_range<F, M, S>(h.min(), h.max(), x.data(), w.data(), B, steps_, min_ratio_);
    }
    template <class F, class M, class S>
    clip_range one_shot(const float* v, std::size_t n) const {
        if (n == 0) return {};
        float lo = std::numeric_limits<float>::infinity(), hi = -lo;
        detail::span_minmax<scalar_arch>(v, n, lo, hi);
        std::vector<double> x(v, v + n), w(n, 1.0);
        return detail::mse_best_range<F, M, S>(lo, hi, x.data(), w.data(), n, steps_, min_ratio_);
    }

private:
    int steps_;
    float min_ratio_;
    std::vector<detail::range_histogram> hist_;
};

/// TensorRT-style entropy calibration: a 2048-bin |x| histogram, threshold T minimising
/// KL(P‖Q) between the clipped distribution and its quantization to (qmax − qmin + 1)/2
/// levels (128 for int8). Symmetric → [−T, T]; affine → [max(min, −T), min(max, T)].
/// Integer formats only.
class histogram_kl : public observer_base<histogram_kl> {
public:
    static constexpr bool minmax_like = false;
    static constexpr bool integer_formats_only = true;
    static const char* name() noexcept { return "histogram_kl"; }

    void reset_state(std::size_t n) { hist_.assign(n, detail::range_histogram{}); }
    void observe_slot(std::size_t s, const float* v, std::size_t n) { hist_[s].add(v, n); }
    template <class F, class M, class S>
    clip_range range_of(std::size_t s) const {
        static_assert(F::family == format_family::integer, "histogram_kl needs an integer format (int8, uint8, int4, ...)");
        return from_hist<F, M>(hist_[s]);
    }
    template <class F, class M, class S>
    clip_range one_shot(const float* v, std::size_t n) const {
        static_assert(F::family == format_family::integer, "histogram_kl needs an integer format (int8, uint8, int4, ...)");
        detail::range_histogram h;
        h.add(v, n);
        return from_hist<F, M>(h);
    }

private:
    template <class F, class M>
    static clip_range from_hist(const detail::range_histogram& h) {
        if (h.total() == 0) return {};
        if (h.range() == 0.0) return {h.min(), h.max(), true};
        const std::size_t nq = static_cast<std::size_t>(F::qmax - F::qmin + 1) / 2;
        const float t = static_cast<float>(detail::kl_threshold(h.folded(), h.bin_width(), nq));
        if constexpr (M::is_affine) {
            return {std::max(h.min(), -t), std::min(h.max(), t), true};
        } else {
            return {-t, t, true};
        }
    }
    std::vector<detail::range_histogram> hist_;
};

}  // namespace compress
