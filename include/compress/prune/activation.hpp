#pragma once
// activation_stats: per-neuron statistics of recorded activations, for the activation_*
// pruning criteria. Feed it batches of a layer's outputs (after the nonlinearity).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <xtensor/xexpression.hpp>
#include <xtensor/xtensor.hpp>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace compress {

/// Running statistics of the activations of `neurons` units, recorded batch by batch.
/// A batch is [batch, neurons] (linear layer outputs) or [batch, channels, H, W] (conv);
/// for conv every (sample, position) is one observation of the channel, and the entropy uses
/// the per-sample channel mean (global average pooling).
///
/// Kept per neuron: count, mean and M2 (Chan's parallel update, stable), count of values <= 0,
/// and one pooled value per sample (for the entropy histogram): memory is
/// samples x neurons floats.
class activation_stats {
public:
    /// `entropy_bins`: number of equal-width bins between the neuron's min and max pooled value.
    explicit activation_stats(std::size_t entropy_bins = 32) : bins_(entropy_bins) {
        if (entropy_bins == 0) throw value_error("activation_stats: entropy_bins must be > 0");
    }

    /// Adds a batch of activations. Throws shape_error for a rank other than 2 or 4 or a neuron
    /// count different from earlier batches, value_error for NaN/Inf.
    template <class E>
    void record(const xt::xexpression<E>& expr) {
        const auto& e = expr.derived_cast();
        const std::size_t rank = e.dimension();
        if (rank != 2 && rank != 4) {
            throw shape_error("activation_stats::record: activations must be [batch, neurons] or "
                              "[batch, channels, H, W], got shape " + detail::shape_str(e.shape()));
        }
        detail::check_finite(expr, "activations");
        const std::size_t batch = static_cast<std::size_t>(e.shape()[0]);
        const std::size_t units = static_cast<std::size_t>(e.shape()[1]);
        std::size_t spatial = 1;
        for (std::size_t d = 2; d < rank; ++d) spatial *= static_cast<std::size_t>(e.shape()[d]);
        if (started_ && units != neurons_) {
            throw shape_error("activation_stats::record: batch has " + std::to_string(units) +
                              " neurons, earlier batches had " + std::to_string(neurons_));
        }
        if (!started_) {
            neurons_ = units;
            count_.assign(units, 0.0);
            mean_.assign(units, 0.0);
            m2_.assign(units, 0.0);
            zeros_.assign(units, 0);
            started_ = true;
        }
        if (batch == 0 || spatial == 0) return;
        // Row-major walk without assuming the expression has a data pointer.
        std::vector<double> bsum(units, 0.0), bsq(units, 0.0);
        std::vector<std::size_t> bzero(units, 0);
        std::vector<double> vals(batch * units * spatial);
        std::size_t i = 0;
        for (auto it = e.cbegin(); it != e.cend(); ++it, ++i) vals[i] = static_cast<double>(*it);
        pooled_.reserve(pooled_.size() + batch * units);
        for (std::size_t b = 0; b < batch; ++b) {
            for (std::size_t u = 0; u < units; ++u) {
                const double* p = vals.data() + (b * units + u) * spatial;
                double s = 0.0;
                for (std::size_t j = 0; j < spatial; ++j) {
                    s += p[j];
                    bzero[u] += p[j] <= 0.0 ? 1 : 0;
                }
                bsum[u] += s;
                pooled_.push_back(static_cast<float>(s / static_cast<double>(spatial)));
            }
        }
        const double nb = static_cast<double>(batch * spatial);
        for (std::size_t u = 0; u < units; ++u) {
            const double bmean = bsum[u] / nb;
            double bm2 = 0.0;
            for (std::size_t b = 0; b < batch; ++b) {
                const double* p = vals.data() + (b * units + u) * spatial;
                for (std::size_t j = 0; j < spatial; ++j) bm2 += (p[j] - bmean) * (p[j] - bmean);
            }
            // Chan et al.: merge (count_, mean_, m2_) with (nb, bmean, bm2).
            const double na = count_[u], n = na + nb, delta = bmean - mean_[u];
            mean_[u] += delta * nb / n;
            m2_[u] += bm2 + delta * delta * na * nb / n;
            count_[u] = n;
            zeros_[u] += bzero[u];
        }
        samples_ += batch;
    }

    std::size_t neurons() const noexcept { return neurons_; }
    /// Number of samples recorded (batch rows).
    std::size_t samples() const noexcept { return samples_; }
    std::size_t entropy_bins() const noexcept { return bins_; }

    /// Mean activation per neuron.
    xt::xtensor<double, 1> mean() const {
        xt::xtensor<double, 1> out = xt::xtensor<double, 1>::from_shape({neurons_});
        for (std::size_t u = 0; u < neurons_; ++u) out(u) = mean_[u];
        return out;
    }
    /// Population standard deviation per neuron.
    xt::xtensor<double, 1> stddev() const {
        xt::xtensor<double, 1> out = xt::xtensor<double, 1>::from_shape({neurons_});
        for (std::size_t u = 0; u < neurons_; ++u) out(u) = count_[u] > 0 ? std::sqrt(m2_[u] / count_[u]) : 0.0;
        return out;
    }
    /// Fraction of recorded values <= 0 per neuron (APoZ).
    xt::xtensor<double, 1> apoz() const {
        xt::xtensor<double, 1> out = xt::xtensor<double, 1>::from_shape({neurons_});
        for (std::size_t u = 0; u < neurons_; ++u)
            out(u) = count_[u] > 0 ? static_cast<double>(zeros_[u]) / count_[u] : 0.0;
        return out;
    }
    /// Entropy (nats) of the histogram of per-sample pooled values, `entropy_bins()` equal bins
    /// between the neuron's min and max; 0 for a neuron that never changes.
    xt::xtensor<double, 1> entropy() const {
        xt::xtensor<double, 1> out = xt::xtensor<double, 1>::from_shape({neurons_});
        std::vector<std::size_t> hist(bins_);
        for (std::size_t u = 0; u < neurons_; ++u) {
            float lo = 0.f, hi = 0.f;
            for (std::size_t s = 0; s < samples_; ++s) {
                const float v = pooled_[s * neurons_ + u];
                if (s == 0 || v < lo) lo = v;
                if (s == 0 || v > hi) hi = v;
            }
            double h = 0.0;
            if (samples_ > 0 && hi > lo) {
                std::fill(hist.begin(), hist.end(), 0);
                const double width = (static_cast<double>(hi) - lo) / static_cast<double>(bins_);
                for (std::size_t s = 0; s < samples_; ++s) {
                    const double v = pooled_[s * neurons_ + u];
                    auto b = static_cast<std::size_t>((v - lo) / width);
                    hist[std::min(b, bins_ - 1)] += 1;
                }
                for (std::size_t c : hist) {
                    if (c == 0) continue;
                    const double p = static_cast<double>(c) / static_cast<double>(samples_);
                    h -= p * std::log(p);
                }
            }
            out(u) = h;
        }
        return out;
    }

private:
    std::size_t bins_;
    bool started_ = false;
    std::size_t neurons_ = 0;
    std::size_t samples_ = 0;
    std::vector<double> count_, mean_, m2_;
    std::vector<std::size_t> zeros_;
    std::vector<float> pooled_;  // [samples][neurons]
};

}  // namespace compress
