#pragma once
// Softmax cross-entropy (mean over the batch) with its gradient, and accuracy counting.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include <xtensor/xtensor.hpp>

#include "../core/error.hpp"
#include "config.hpp"
#include "parameter.hpp"

namespace compress::nn {
inline namespace COMPRESS_NN_ABI {

/// Loss value, gradient with respect to the logits, and the number of rows whose arg-max
/// (first maximum on ties) equals the label.
struct loss_result {
    double loss = 0.0;
    xt::xtensor<float, 2> grad;
    std::size_t correct = 0;
};

namespace detail {
template <class E>
void check_logits(const E& z, const char* fn) {
    if (z.dimension() != 2) {
        throw shape_error(std::string(fn) + ": logits must be [batch, classes], got shape " +
                          compress::detail::shape_str(z.shape()));
    }
}
template <class L>
std::int64_t label_at(const L& y, std::size_t i, std::size_t classes, const char* fn) {
    using T = std::decay_t<typename L::value_type>;
    static_assert(std::is_integral_v<T>, "labels must be an integer tensor (class indices)");
    const auto v = y.data()[i];
    if constexpr (std::is_signed_v<T>) {
        if (v < 0 || static_cast<std::uint64_t>(v) >= classes) {
            throw value_error(std::string(fn) + ": label " + std::to_string(v) + " at index " + std::to_string(i) +
                              " is outside [0, " + std::to_string(classes) + ")");
        }
    } else {
        if (static_cast<std::uint64_t>(v) >= classes) {
            throw value_error(std::string(fn) + ": label " + std::to_string(v) + " at index " + std::to_string(i) +
                              " is outside [0, " + std::to_string(classes) + ")");
        }
    }
    return static_cast<std::int64_t>(v);
}
}  // namespace detail

/// Mean softmax cross-entropy of `logits` [batch, classes] against integer `labels` [batch]
/// (PyTorch's F.cross_entropy, reduction='mean'), computed with log-sum-exp after subtracting
/// the row maximum (no overflow for large logits). `grad` = (softmax − one_hot) / batch.
/// Throws shape_error on mismatched shapes, value_error on a label outside [0, classes) or a
/// non-finite logit.
template <class E, class L>
loss_result softmax_cross_entropy(const xt::xexpression<E>& logits_expr, const xt::xexpression<L>& labels_expr) {
    xt::xtensor<float, 2> logits;
    {
        const auto& e = logits_expr.derived_cast();
        detail::check_logits(e, "softmax_cross_entropy");
        logits = e;
    }
    const xt::xtensor<typename L::value_type, 1> y = labels_expr.derived_cast();
    const std::size_t batch = logits.shape()[0], classes = logits.shape()[1];
    if (y.size() != batch) {
        throw shape_error("softmax_cross_entropy: " + std::to_string(batch) + " rows of logits but " +
                          std::to_string(y.size()) + " labels");
    }
    if (classes == 0) throw shape_error("softmax_cross_entropy: logits have 0 classes");
    loss_result r;
    r.grad = xt::xtensor<float, 2>::from_shape({batch, classes});
    if (batch == 0) return r;
    double total = 0.0;
    const double inv_batch = 1.0 / static_cast<double>(batch);
    for (std::size_t i = 0; i < batch; ++i) {
        const float* z_row = logits.data() + i * classes;
        float* g = r.grad.data() + i * classes;
        const std::int64_t label = detail::label_at(y, i, classes, "softmax_cross_entropy");
        std::size_t arg = 0;
        float m = z_row[0];
        for (std::size_t j = 0; j < classes; ++j) {
            if (!std::isfinite(z_row[j])) {
                throw value_error("softmax_cross_entropy: logit (" + std::to_string(i) + ", " + std::to_string(j) +
                                  ") is not finite");
            }
            if (z_row[j] > m) {
                m = z_row[j];
                arg = j;
            }
        }
        double s = 0.0;
        for (std::size_t j = 0; j < classes; ++j) s += std::exp(static_cast<double>(z_row[j]) - m);
        const double log_s = std::log(s);
        total += log_s - (static_cast<double>(z_row[label]) - m);
        for (std::size_t j = 0; j < classes; ++j) {
            const double p = std::exp(static_cast<double>(z_row[j]) - m - log_s);
            g[j] = static_cast<float>((p - (static_cast<std::int64_t>(j) == label ? 1.0 : 0.0)) * inv_batch);
        }
        r.correct += (static_cast<std::int64_t>(arg) == label);
    }
    r.loss = total * inv_batch;
    return r;
}

/// Number of rows of `logits` whose arg-max (first maximum on ties) equals the label.
template <class E, class L>
std::size_t count_correct(const xt::xexpression<E>& logits_expr, const xt::xexpression<L>& labels_expr) {
    const xt::xtensor<float, 2> logits = [&] {
        const auto& e = logits_expr.derived_cast();
        detail::check_logits(e, "count_correct");
        return xt::xtensor<float, 2>(e);
    }();
    const xt::xtensor<typename L::value_type, 1> y = labels_expr.derived_cast();
    const std::size_t batch = logits.shape()[0], classes = logits.shape()[1];
    if (y.size() != batch) {
        throw shape_error("count_correct: " + std::to_string(batch) + " rows of logits but " +
                          std::to_string(y.size()) + " labels");
    }
    std::size_t correct = 0;
    for (std::size_t i = 0; i < batch; ++i) {
        const float* z = logits.data() + i * classes;
        std::size_t arg = 0;
        for (std::size_t j = 1; j < classes; ++j) {
            if (z[j] > z[arg]) arg = j;
        }
        correct += (static_cast<std::int64_t>(arg) == detail::label_at(y, i, classes, "count_correct"));
    }
    return correct;
}

}  // namespace COMPRESS_NN_ABI
}  // namespace compress::nn
