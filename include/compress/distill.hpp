#pragma once
// Knowledge distillation: softmax with temperature, cross-entropy, the Hinton KD loss,
// hard-target distillation and feature (hint) losses, each with its gradient.
//
//   kd_loss(s, t, y, {T, alpha}) = alpha * CE(s, y) + (1 - alpha) * T^2 * KL(softmax(t/T) || softmax(s/T))
//
// averaged over the batch (Hinton, Vinyals & Dean 2015; PyTorch: cross_entropy(s, y) and
// kl_div(log_softmax(s/T), softmax(t/T), reduction="batchmean") * T^2).
// Logits are [batch, classes]; feature maps are [batch, features] (flatten conv maps first).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xtensor.hpp>

#include "core/error.hpp"
#include "core/static_checks.hpp"
#include "core/tensor.hpp"
#include "kernels/gemm.hpp"

namespace compress {

/// Parameters of kd_loss: the softmax temperature T > 0 and the weight alpha in [0, 1] of
/// the hard-label cross-entropy (1 - alpha weighs the soft-target term).
struct kd_options {
    double temperature = 4.0;
    double alpha = 0.5;
};

/// A loss value and its gradient with respect to the student's logits.
struct loss_result {
    double loss = 0.0;
    xt::xtensor<float, 2> grad;
};

/// kd_loss's value, split into its two terms (already weighted), and the gradient.
struct kd_result {
    double loss = 0.0;       ///< hard + soft
    double hard = 0.0;       ///< alpha * CE(student, labels)
    double soft = 0.0;       ///< (1 - alpha) * T^2 * KL(teacher_T || student_T)
    xt::xtensor<float, 2> grad;  ///< d loss / d student logits, [batch, classes]
};

namespace detail {

inline void kd_check_temperature(double T, const char* fn) {
    if (!(T > 0.0) || !std::isfinite(T)) {
        throw value_error(std::string(fn) + ": temperature must be a finite number > 0, got " + std::to_string(T));
    }
}

/// Copies a rank-2 expression of logits into a double buffer, checking rank and finiteness.
template <class E>
std::vector<double> kd_logits_to_double(const xt::xexpression<E>& expr, std::size_t& rows, std::size_t& cols,
                                     const std::string& name) {
    check_rank(expr, 2, name);
    check_finite(expr, name);
    const auto& e = expr.derived_cast();
    rows = static_cast<std::size_t>(e.shape()[0]);
    cols = static_cast<std::size_t>(e.shape()[1]);
    if (cols == 0) throw shape_error(where(name) + " has no classes (shape " + shape_str(e.shape()) + ")");
    std::vector<double> out(rows * cols);
    std::size_t i = 0;
    for (auto it = e.cbegin(); it != e.cend(); ++it) out[i++] = static_cast<double>(*it);
    return out;
}

/// Row-wise log-softmax of x / T in place (double, max-subtracted).
inline void kd_log_softmax_rows(std::vector<double>& x, std::size_t rows, std::size_t cols, double T) {
    for (std::size_t r = 0; r < rows; ++r) {
        double* p = x.data() + r * cols;
        double m = p[0];
        for (std::size_t c = 1; c < cols; ++c) m = std::max(m, p[c]);
        double s = 0.0;
        for (std::size_t c = 0; c < cols; ++c) {
            p[c] = (p[c] - m) / T;
            s += std::exp(p[c]);
        }
        const double ls = std::log(s);
        for (std::size_t c = 0; c < cols; ++c) p[c] -= ls;
    }
}

/// Reads integer class labels, checking the count and the range [0, classes).
template <class L>
std::vector<std::size_t> kd_read_labels(const xt::xexpression<L>& expr, std::size_t rows, std::size_t cols,
                                     const char* fn) {
    const auto& l = expr.derived_cast();
    using V = std::decay_t<typename L::value_type>;
    static_assert(std::is_integral_v<V>, "labels must be a tensor of integer class indices");
    if (l.dimension() != 1 || static_cast<std::size_t>(l.shape()[0]) != rows) {
        throw shape_error(std::string(fn) + ": labels of shape " + shape_str(l.shape()) +
                          " do not fit logits with " + std::to_string(rows) + " rows (expected [" +
                          std::to_string(rows) + "])");
    }
    std::vector<std::size_t> out(rows);
    std::size_t i = 0;
    for (auto it = l.cbegin(); it != l.cend(); ++it, ++i) {
        const auto v = *it;
        bool ok = true;
        if constexpr (std::is_signed_v<V>) ok = v >= 0;
        if (!ok || static_cast<unsigned long long>(v) >= cols) {
            throw value_error(std::string(fn) + ": label " + std::to_string(static_cast<long long>(v)) + " at (" +
                              std::to_string(i) + ") is not a class index in [0, " + std::to_string(cols) + ")");
        }
        out[i] = static_cast<std::size_t>(v);
    }
    return out;
}

template <class E1, class E2>
void kd_check_same_logits(const E1& a, const E2& b, const char* fn) {
    if (a.dimension() != b.dimension() || !std::equal(a.shape().begin(), a.shape().end(), b.shape().begin())) {
        throw shape_error(std::string(fn) + ": student logits of shape " + shape_str(a.shape()) +
                          " and teacher logits of shape " + shape_str(b.shape()) + " differ");
    }
}

}  // namespace detail

/// Softmax of logits / T along the classes (last) axis of a [batch, classes] tensor.
/// Throws shape_error for another rank, value_error for T <= 0 or NaN/Inf logits.
template <class E>
xt::xtensor<float, 2> softmax(const xt::xexpression<E>& logits, double temperature = 1.0) {
    detail::kd_check_temperature(temperature, "softmax");
    std::size_t rows = 0, cols = 0;
    auto x = detail::kd_logits_to_double(logits, rows, cols, "logits");
    detail::kd_log_softmax_rows(x, rows, cols, temperature);
    xt::xtensor<float, 2> out = xt::xtensor<float, 2>::from_shape({rows, cols});
    for (std::size_t i = 0; i < x.size(); ++i) out.data()[i] = static_cast<float>(std::exp(x[i]));
    return out;
}

/// log(softmax(logits / T)), computed stably (no log of a rounded probability).
template <class E>
xt::xtensor<float, 2> log_softmax(const xt::xexpression<E>& logits, double temperature = 1.0) {
    detail::kd_check_temperature(temperature, "log_softmax");
    std::size_t rows = 0, cols = 0;
    auto x = detail::kd_logits_to_double(logits, rows, cols, "logits");
    detail::kd_log_softmax_rows(x, rows, cols, temperature);
    xt::xtensor<float, 2> out = xt::xtensor<float, 2>::from_shape({rows, cols});
    for (std::size_t i = 0; i < x.size(); ++i) out.data()[i] = static_cast<float>(x[i]);
    return out;
}

/// Mean cross-entropy of logits [batch, classes] against integer labels [batch], and its
/// gradient (softmax - onehot) / batch. An empty batch has loss 0.
template <class E, class L>
loss_result cross_entropy(const xt::xexpression<E>& logits, const xt::xexpression<L>& labels) {
    std::size_t rows = 0, cols = 0;
    auto x = detail::kd_logits_to_double(logits, rows, cols, "logits");
    const auto y = detail::kd_read_labels(labels, rows, cols, "cross_entropy");
    detail::kd_log_softmax_rows(x, rows, cols, 1.0);
    loss_result r;
    r.grad = xt::xtensor<float, 2>::from_shape({rows, cols});
    if (rows == 0) return r;
    const double inv_b = 1.0 / static_cast<double>(rows);
    double loss = 0.0;
    for (std::size_t b = 0; b < rows; ++b) {
        const double* lp = x.data() + b * cols;
        float* g = r.grad.data() + b * cols;
        loss -= lp[y[b]];
        for (std::size_t c = 0; c < cols; ++c) {
            g[c] = static_cast<float>((std::exp(lp[c]) - (c == y[b] ? 1.0 : 0.0)) * inv_b);
        }
    }
    r.loss = loss * inv_b;
    return r;
}

/// The teacher's predicted classes (argmax of each row; ties go to the lowest index), the
/// labels of hard-target distillation.
template <class E>
xt::xtensor<std::int64_t, 1> teacher_labels(const xt::xexpression<E>& teacher_logits) {
    std::size_t rows = 0, cols = 0;
    const auto x = detail::kd_logits_to_double(teacher_logits, rows, cols, "teacher logits");
    xt::xtensor<std::int64_t, 1> out = xt::xtensor<std::int64_t, 1>::from_shape({rows});
    for (std::size_t b = 0; b < rows; ++b) {
        const double* p = x.data() + b * cols;
        std::size_t best = 0;
        for (std::size_t c = 1; c < cols; ++c) {
            if (p[c] > p[best]) best = c;
        }
        out(b) = static_cast<std::int64_t>(best);
    }
    return out;
}

/// Hard-target distillation: cross-entropy of the student against the teacher's argmax.
template <class S, class T>
loss_result hard_kd_loss(const xt::xexpression<S>& student, const xt::xexpression<T>& teacher) {
    detail::kd_check_same_logits(student.derived_cast(), teacher.derived_cast(), "hard_kd_loss");
    return cross_entropy(student, teacher_labels(teacher));
}

/// Hinton's distillation loss, averaged over the batch:
///   alpha * CE(student, labels) + (1 - alpha) * T^2 * KL(softmax(teacher/T) || softmax(student/T)),
/// and its gradient w.r.t. the student logits:
///   alpha * (softmax(s) - onehot(y)) / B + (1 - alpha) * T * (softmax(s/T) - softmax(t/T)) / B.
/// Throws shape_error when student/teacher/labels shapes do not fit, value_error for T <= 0,
/// alpha outside [0, 1], NaN/Inf logits or labels outside [0, classes).
template <class S, class Tt, class L>
kd_result kd_loss(const xt::xexpression<S>& student, const xt::xexpression<Tt>& teacher,
                  const xt::xexpression<L>& labels, const kd_options& opt = {}) {
    detail::kd_check_temperature(opt.temperature, "kd_loss");
    if (!(opt.alpha >= 0.0 && opt.alpha <= 1.0)) {
        throw value_error("kd_loss: alpha must be in [0, 1] (the weight of the hard-label term), got " +
                          std::to_string(opt.alpha));
    }
    detail::kd_check_same_logits(student.derived_cast(), teacher.derived_cast(), "kd_loss");
    std::size_t rows = 0, cols = 0;
    auto s = detail::kd_logits_to_double(student, rows, cols, "student logits");
    auto t = detail::kd_logits_to_double(teacher, rows, cols, "teacher logits");
    const auto y = detail::kd_read_labels(labels, rows, cols, "kd_loss");

    const double T = opt.temperature, a = opt.alpha;
    std::vector<double> s1 = s;  // log softmax(s)
    detail::kd_log_softmax_rows(s1, rows, cols, 1.0);
    detail::kd_log_softmax_rows(s, rows, cols, T);  // log softmax(s/T)
    detail::kd_log_softmax_rows(t, rows, cols, T);  // log softmax(t/T)

    kd_result r;
    r.grad = xt::xtensor<float, 2>::from_shape({rows, cols});
    if (rows == 0) return r;
    const double inv_b = 1.0 / static_cast<double>(rows);
    double ce = 0.0, kl = 0.0;
    for (std::size_t b = 0; b < rows; ++b) {
        const double* ls1 = s1.data() + b * cols;
        const double* lsT = s.data() + b * cols;
        const double* ltT = t.data() + b * cols;
        float* g = r.grad.data() + b * cols;
        ce -= ls1[y[b]];
        for (std::size_t c = 0; c < cols; ++c) {
            const double pt = std::exp(ltT[c]);
            if (pt > 0.0) kl += pt * (ltT[c] - lsT[c]);
            const double hard = std::exp(ls1[c]) - (c == y[b] ? 1.0 : 0.0);
            const double soft = std::exp(lsT[c]) - pt;
            g[c] = static_cast<float>((a * hard + (1.0 - a) * T * soft) * inv_b);
        }
    }
    r.hard = a * ce * inv_b;
    r.soft = (1.0 - a) * T * T * kl * inv_b;
    r.loss = r.hard + r.soft;
    return r;
}

// ------------------------------------------------------------------ feature (hint) losses

/// Mean squared error over every element: sum((s - t)^2) / (batch * features)
/// (PyTorch's mse_loss with reduction="mean").
struct mse {
    using policy_kind = policy::feature_metric;
    static constexpr const char* name() noexcept { return "mse"; }

    /// Loss of p against t (both [rows, cols], row-major) and d loss / d p into g.
    static double eval(const float* p, const float* t, float* g, std::size_t rows, std::size_t cols) {
        const std::size_t n = rows * cols;
        if (n == 0) return 0.0;
        const double inv = 1.0 / static_cast<double>(n);
        double loss = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            const double d = static_cast<double>(p[i]) - static_cast<double>(t[i]);
            loss += d * d;
            g[i] = static_cast<float>(2.0 * d * inv);
        }
        return loss * inv;
    }
};

/// Mean over the batch of 1 - cos(s_b, t_b), with each norm clamped below at eps = 1e-8
/// (as PyTorch's cosine_similarity).
struct cosine {
    using policy_kind = policy::feature_metric;
    static constexpr const char* name() noexcept { return "cosine"; }
    static constexpr double eps = 1e-8;

    static double eval(const float* p, const float* t, float* g, std::size_t rows, std::size_t cols) {
        if (rows == 0) return 0.0;
        const double inv_b = 1.0 / static_cast<double>(rows);
        double loss = 0.0;
        for (std::size_t b = 0; b < rows; ++b) {
            const float* x = p + b * cols;
            const float* y = t + b * cols;
            double xy = 0.0, xx = 0.0, yy = 0.0;
            for (std::size_t c = 0; c < cols; ++c) {
                xy += double(x[c]) * y[c];
                xx += double(x[c]) * x[c];
                yy += double(y[c]) * y[c];
            }
            const double nx_raw = std::sqrt(xx);
            const double nx = std::max(nx_raw, eps), ny = std::max(std::sqrt(yy), eps);
            const double cs = xy / (nx * ny);
            loss += 1.0 - cs;
            // d(1 - cos)/dx = -(y / (nx ny) - cos * x / nx^2) while |x| > eps; -y / (eps ny) below.
            const bool clamped = nx_raw <= eps;
            for (std::size_t c = 0; c < cols; ++c) {
                const double d = y[c] / (nx * ny) - (clamped ? 0.0 : cs * x[c] / (nx * nx));
                g[b * cols + c] = static_cast<float>(-d * inv_b);
            }
        }
        return loss * inv_b;
    }
};

/// Result of a feature loss: the value, the gradient w.r.t. the student's features and,
/// when a projection is learnt, the gradients of its weight [teacher, student] and bias [teacher].
struct feature_loss_result {
    double loss = 0.0;
    xt::xtensor<float, 2> grad;
    xt::xtensor<float, 2> grad_weight;
    xt::xtensor<float, 1> grad_bias;
};

/// A hint loss between a student layer's features [batch, ds] and a teacher layer's
/// features [batch, dt] (FitNets, Romero et al. 2015). When ds == dt the features are compared
/// directly; when they differ a learnable linear regressor r(s) = s·Wᵀ + b (W: [dt, ds],
/// initialised like PyTorch's nn.Linear from `seed`) maps the student's features first.
/// Metric is `mse` or `cosine`.
template <class Metric>
class feature_loss {
    COMPRESS_REQUIRE_POLICY(Metric, feature_metric,
                            "feature_loss<Metric>: Metric must be a feature metric (compress::mse or compress::cosine)");

public:
    /// No projection: the student's and teacher's features must have the same width.
    feature_loss() = default;

    /// A projection from student_width to teacher_width when they differ (none when equal).
    feature_loss(std::size_t student_width, std::size_t teacher_width, std::uint64_t seed = 0)
        : ds_(student_width), dt_(teacher_width) {
        if (student_width == 0 || teacher_width == 0) {
            throw shape_error("feature_loss: feature widths must be > 0, got student " +
                              std::to_string(student_width) + " and teacher " + std::to_string(teacher_width));
        }
        if (student_width != teacher_width) {
            weight = xt::xtensor<float, 2>::from_shape({dt_, ds_});
            bias = xt::xtensor<float, 1>::from_shape({dt_});
            // U(-1/sqrt(ds), 1/sqrt(ds)) from a splitmix64 stream (portable, seeded).
            const double bound = 1.0 / std::sqrt(static_cast<double>(ds_));
            std::uint64_t state = seed;
            auto next = [&state]() {
                std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
                z ^= z >> 31;
                return static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
            };
            for (auto& w : weight) w = static_cast<float>((2.0 * next() - 1.0) * bound);
            for (auto& b : bias) b = static_cast<float>((2.0 * next() - 1.0) * bound);
        }
    }

    bool has_projection() const noexcept { return weight.size() != 0; }

    /// The loss, d loss / d student features and (with a projection) the projection's gradients.
    template <class S, class T>
    feature_loss_result operator()(const xt::xexpression<S>& student, const xt::xexpression<T>& teacher) const {
        detail::check_rank(student, 2, "student features");
        detail::check_rank(teacher, 2, "teacher features");
        detail::check_finite(student, "student features");
        detail::check_finite(teacher, "teacher features");
        const xt::xtensor<float, 2> s = student.derived_cast();
        const xt::xtensor<float, 2> t = teacher.derived_cast();
        const std::size_t B = s.shape()[0];
        if (t.shape()[0] != B) {
            throw shape_error("feature_loss: student features " + detail::shape_str(s.shape()) +
                              " and teacher features " + detail::shape_str(t.shape()) + " have different batch sizes");
        }
        feature_loss_result r;
        if (!has_projection()) {
            if (s.shape()[1] != t.shape()[1] || (ds_ != 0 && s.shape()[1] != ds_)) {
                throw shape_error("feature_loss<" + std::string(Metric::name()) + ">: student features " +
                                  detail::shape_str(s.shape()) + " and teacher features " +
                                  detail::shape_str(t.shape()) +
                                  " differ in width; construct feature_loss(student_width, teacher_width) to learn "
                                  "a projection");
            }
            r.grad = xt::xtensor<float, 2>::from_shape(s.shape());
            r.loss = Metric::eval(s.data(), t.data(), r.grad.data(), B, s.shape()[1]);
            return r;
        }
        if (s.shape()[1] != ds_ || t.shape()[1] != dt_) {
            throw shape_error("feature_loss<" + std::string(Metric::name()) + ">: projection maps width " +
                              std::to_string(ds_) + " to " + std::to_string(dt_) + ", got student features " +
                              detail::shape_str(s.shape()) + " and teacher features " + detail::shape_str(t.shape()));
        }
        // p = s·Wᵀ + b
        xt::xtensor<float, 2> p = xt::xtensor<float, 2>::from_shape({B, dt_});
        detail::sgemm(false, true, B, dt_, ds_, 1.0f, s.data(), ds_, weight.data(), ds_, 0.0f, p.data(), dt_);
        for (std::size_t b = 0; b < B; ++b) {
            for (std::size_t j = 0; j < dt_; ++j) p(b, j) += bias(j);
        }
        xt::xtensor<float, 2> gp = xt::xtensor<float, 2>::from_shape({B, dt_});
        r.loss = Metric::eval(p.data(), t.data(), gp.data(), B, dt_);
        r.grad = xt::xtensor<float, 2>::from_shape({B, ds_});
        detail::sgemm(false, false, B, ds_, dt_, 1.0f, gp.data(), dt_, weight.data(), ds_, 0.0f, r.grad.data(), ds_);
        r.grad_weight = xt::xtensor<float, 2>::from_shape({dt_, ds_});
        detail::sgemm(true, false, dt_, ds_, B, 1.0f, gp.data(), dt_, s.data(), ds_, 0.0f, r.grad_weight.data(), ds_);
        r.grad_bias = xt::zeros<float>({dt_});
        for (std::size_t b = 0; b < B; ++b) {
            for (std::size_t j = 0; j < dt_; ++j) r.grad_bias(j) += gp(b, j);
        }
        return r;
    }

    /// One plain SGD step on the projection: W -= lr * grad_weight, b -= lr * grad_bias.
    void step(const feature_loss_result& r, float lr) {
        if (!has_projection()) return;
        if (r.grad_weight.shape() != weight.shape() || r.grad_bias.shape() != bias.shape()) {
            throw shape_error("feature_loss::step: gradients of shape " + detail::shape_str(r.grad_weight.shape()) +
                              " do not fit the projection " + detail::shape_str(weight.shape()));
        }
        for (std::size_t i = 0; i < weight.size(); ++i) weight.data()[i] -= lr * r.grad_weight.data()[i];
        for (std::size_t i = 0; i < bias.size(); ++i) bias.data()[i] -= lr * r.grad_bias.data()[i];
    }

    xt::xtensor<float, 2> weight;  ///< [teacher_width, student_width]; empty without projection
    xt::xtensor<float, 1> bias;    ///< [teacher_width]

private:
    std::size_t ds_ = 0, dt_ = 0;
};

}  // namespace compress
