#pragma once
// Optimizers (SGD with momentum / Nesterov / weight decay, Adam) that keep masked parameters
// exactly zero, and learning-rate schedules (constant, step, cosine).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "config.hpp"
#include "parameter.hpp"

namespace compress::nn {
inline namespace COMPRESS_NN_ABI {

namespace detail {
inline void check_nonneg(double v, const char* opt, const char* what) {
    if (!(v >= 0.0) || !std::isfinite(v)) {
        throw value_error(std::string(opt) + ": " + what + " must be a finite number >= 0, got " + std::to_string(v));
    }
}

/// Common part of the optimizers: the parameters, their sizes at construction, the step count.
class optimizer_base {
public:
    const parameter_list& params() const noexcept { return params_; }
    double lr() const noexcept { return lr_; }
    void set_lr(double lr) {
        check_nonneg(lr, name_, "lr");
        lr_ = lr;
    }
    /// Number of step() calls so far.
    std::size_t steps() const noexcept { return steps_; }
    /// Zeroes every gradient (backward overwrites them; this is for hand-written loops).
    void zero_grad() {
        for (const auto& p : params_) {
            float* g = p.grad_data();
            std::fill(g, g + p.size(), 0.0f);
        }
    }

protected:
    optimizer_base(parameter_list params, double lr, const char* name)
        : params_(std::move(params)), name_(name) {
        set_lr(lr);
        for (const auto& p : params_) sizes_.push_back(p.size());
    }
    void check_sizes() const {
        for (std::size_t k = 0; k < params_.size(); ++k) {
            if (params_[k].size() != sizes_[k]) {
                throw shape_error(std::string(name_) + ": parameter '" + params_[k].name() + "' has " +
                                  std::to_string(params_[k].size()) + " elements, it had " +
                                  std::to_string(sizes_[k]) + " when the optimizer was created");
            }
        }
    }

    parameter_list params_;
    std::vector<std::size_t> sizes_;
    double lr_ = 0.0;
    std::size_t steps_ = 0;
    const char* name_;
};
}  // namespace detail

/// torch.optim.SGD's options (same meaning and defaults, lr has no default there).
struct sgd_options {
    double lr = 0.01;
    double momentum = 0.0;
    double dampening = 0.0;
    double weight_decay = 0.0;
    bool nesterov = false;
};

/// Stochastic gradient descent with PyTorch's update rule:
///   d = g + weight_decay·w;  b = momentum·b + (1 − dampening)·d  (b = d at the first step);
///   d = d + momentum·b (Nesterov) or d = b;  w = w − lr·d.
/// Masked entries (param<N>::keep) have gradient, momentum and value set to exactly zero.
/// Parameters with trainable == false are skipped.
class sgd : public detail::optimizer_base {
public:
    sgd(parameter_list params, sgd_options opt) : optimizer_base(std::move(params), opt.lr, "sgd"), opt_(opt) {
        detail::check_nonneg(opt.momentum, "sgd", "momentum");
        detail::check_nonneg(opt.dampening, "sgd", "dampening");
        detail::check_nonneg(opt.weight_decay, "sgd", "weight_decay");
        if (opt.nesterov && (opt.momentum <= 0.0 || opt.dampening != 0.0)) {
            throw value_error("sgd: Nesterov momentum requires a momentum > 0 and zero dampening");
        }
        buf_.resize(params_.size());
    }

    const sgd_options& options() const noexcept { return opt_; }

    void step() {
        check_sizes();
        const auto lr = static_cast<float>(lr_);
        const auto mom = static_cast<float>(opt_.momentum);
        const auto damp = static_cast<float>(1.0 - opt_.dampening);
        const auto wd = static_cast<float>(opt_.weight_decay);
        for (std::size_t k = 0; k < params_.size(); ++k) {
            const parameter p = params_[k];
            if (!p.trainable()) continue;
            float* w = p.data();
            float* g = p.grad_data();
            const std::uint8_t* m = p.mask_data();
            const std::size_t n = p.size();
            const bool first = buf_[k].empty();
            if (mom != 0.0f && first) buf_[k].assign(n, 0.0f);
            float* b = mom != 0.0f ? buf_[k].data() : nullptr;
            for (std::size_t i = 0; i < n; ++i) {
                if (m && !m[i]) {
                    g[i] = 0.0f;
                    w[i] = 0.0f;
                    if (b) b[i] = 0.0f;
                    continue;
                }
                float d = g[i] + wd * w[i];
                if (b) {
                    b[i] = first ? d : mom * b[i] + damp * d;
                    d = opt_.nesterov ? d + mom * b[i] : b[i];
                }
                w[i] -= lr * d;
            }
        }
        ++steps_;
    }

private:
    sgd_options opt_;
    std::vector<std::vector<float>> buf_;
};

/// torch.optim.Adam's options (L2 weight decay added to the gradient, not AdamW).
struct adam_options {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;
};

/// Adam with PyTorch's update rule: d = g + weight_decay·w; m = β1·m + (1 − β1)·d;
/// v = β2·v + (1 − β2)·d²; w = w − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps).
/// Masked entries stay exactly zero (value, gradient and both moments).
class adam : public detail::optimizer_base {
public:
    adam(parameter_list params, adam_options opt) : optimizer_base(std::move(params), opt.lr, "adam"), opt_(opt) {
        if (!(opt.beta1 >= 0.0 && opt.beta1 < 1.0) || !(opt.beta2 >= 0.0 && opt.beta2 < 1.0)) {
            throw value_error("adam: betas must be in [0, 1), got (" + std::to_string(opt.beta1) + ", " +
                              std::to_string(opt.beta2) + ")");
        }
        detail::check_nonneg(opt.eps, "adam", "eps");
        detail::check_nonneg(opt.weight_decay, "adam", "weight_decay");
        m_.resize(params_.size());
        v_.resize(params_.size());
    }

    const adam_options& options() const noexcept { return opt_; }

    void step() {
        check_sizes();
        ++steps_;
        const double t = static_cast<double>(steps_);
        const double bc1 = 1.0 - std::pow(opt_.beta1, t);
        const double bc2 = 1.0 - std::pow(opt_.beta2, t);
        const auto step_size = static_cast<float>(lr_ / bc1);
        const auto sqrt_bc2 = static_cast<float>(std::sqrt(bc2));
        // 1 − β in double, then rounded, as PyTorch does (alpha = 1 - beta1 is a Python float).
        const auto b1 = static_cast<float>(opt_.beta1), b2 = static_cast<float>(opt_.beta2);
        const auto c1 = static_cast<float>(1.0 - opt_.beta1), c2 = static_cast<float>(1.0 - opt_.beta2);
        const auto eps = static_cast<float>(opt_.eps), wd = static_cast<float>(opt_.weight_decay);
        for (std::size_t k = 0; k < params_.size(); ++k) {
            const parameter p = params_[k];
            if (!p.trainable()) continue;
            const std::size_t n = p.size();
            if (m_[k].empty()) {
                m_[k].assign(n, 0.0f);
                v_[k].assign(n, 0.0f);
            }
            float* w = p.data();
            float* g = p.grad_data();
            float* m = m_[k].data();
            float* v = v_[k].data();
            const std::uint8_t* keep = p.mask_data();
            for (std::size_t i = 0; i < n; ++i) {
                if (keep && !keep[i]) {
                    g[i] = w[i] = m[i] = v[i] = 0.0f;
                    continue;
                }
                const float d = g[i] + wd * w[i];
                m[i] = b1 * m[i] + c1 * d;
                v[i] = b2 * v[i] + c2 * d * d;
                w[i] -= step_size * (m[i] / (std::sqrt(v[i]) / sqrt_bc2 + eps));
            }
        }
    }

private:
    adam_options opt_;
    std::vector<std::vector<float>> m_, v_;
};

// ---------------------------------------------------------------- learning-rate schedules
// Each schedule answers lr_at(t, base_lr) in closed form; t counts epochs or steps, as the
// caller chooses (PyTorch's schedulers count scheduler.step() calls, usually epochs).

/// lr = base_lr.
struct constant_lr {
    double lr_at(std::size_t, double base_lr) const noexcept { return base_lr; }
};

/// lr = base_lr · gamma^⌊t / step_size⌋ (torch.optim.lr_scheduler.StepLR).
struct step_lr {
    std::size_t step_size;
    double gamma;
    explicit step_lr(std::size_t step, double g = 0.1) : step_size(step), gamma(g) {
        if (step == 0) throw value_error("step_lr: step_size must be positive");
        detail::check_nonneg(g, "step_lr", "gamma");
    }
    double lr_at(std::size_t t, double base_lr) const {
        return base_lr * std::pow(gamma, static_cast<double>(t / step_size));
    }
};

/// lr = eta_min + (base_lr − eta_min)·(1 + cos(π·t / t_max)) / 2 for t <= t_max, eta_min after
/// (torch.optim.lr_scheduler.CosineAnnealingLR's closed form, without restarts).
struct cosine_lr {
    std::size_t t_max;
    double eta_min;
    explicit cosine_lr(std::size_t tmax, double min_lr = 0.0) : t_max(tmax), eta_min(min_lr) {
        if (tmax == 0) throw value_error("cosine_lr: t_max must be positive");
        detail::check_nonneg(min_lr, "cosine_lr", "eta_min");
    }
    double lr_at(std::size_t t, double base_lr) const {
        if (t >= t_max) return eta_min;
        const double pi = 3.14159265358979323846;
        return eta_min + (base_lr - eta_min) * (1.0 + std::cos(pi * static_cast<double>(t) / static_cast<double>(t_max))) / 2.0;
    }
};

}  // namespace COMPRESS_NN_ABI
}  // namespace compress::nn
