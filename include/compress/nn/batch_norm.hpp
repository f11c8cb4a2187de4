#pragma once
// Batch normalisation over the channel axis (axis 1) of [batch, C] or [batch, C, ...] inputs:
// torch.nn.BatchNorm1d / BatchNorm2d with affine parameters and running statistics.

#include <cmath>
#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "config.hpp"
#include "module.hpp"
#include "parameter.hpp"

namespace compress::nn {
inline namespace COMPRESS_NN_ABI {

/// y = γ·(x − μ)/√(σ² + eps) + β per channel. In training mode μ, σ² are the batch statistics
/// (biased variance) and the running statistics move by `momentum`:
/// running = (1 − momentum)·running + momentum·batch, with the unbiased variance (n/(n−1)), as
/// PyTorch does; in eval mode the running statistics are used. Parameters `weight` (γ, 1) and
/// `bias` (β, 0); buffers `running_mean` (0) and `running_var` (1).
class batch_norm final : public detail::module_impl<batch_norm> {
public:
    explicit batch_norm(std::size_t num_features, double eps = 1e-5, double momentum = 0.1)
        : weight({num_features}, 1.0f), bias({num_features}, 0.0f),
          running_mean({num_features}, 0.0f, false), running_var({num_features}, 1.0f, false),
          c_(num_features), eps_(eps), momentum_(momentum) {
        if (num_features == 0) throw value_error("batch_norm: num_features must be positive");
        if (!(eps > 0.0) || !std::isfinite(eps)) throw value_error("batch_norm: eps must be > 0, got " + std::to_string(eps));
        if (!(momentum >= 0.0 && momentum <= 1.0)) {
            throw value_error("batch_norm: momentum must be in [0, 1], got " + std::to_string(momentum));
        }
    }

    param<1> weight, bias;
    param<1> running_mean, running_var;  ///< buffers (trainable == false)

    std::size_t num_features() const noexcept { return c_; }
    double eps() const noexcept { return eps_; }
    double momentum() const noexcept { return momentum_; }

    std::string describe() const override {
        std::ostringstream os;
        os << "BatchNorm(" << c_ << ", eps=" << eps_ << ", momentum=" << momentum_ << ")";
        return os.str();
    }
    void collect(const std::string& prefix, parameter_list& params, parameter_list& buffers) override {
        params.push_back(parameter(prefix + "weight", &weight));
        params.push_back(parameter(prefix + "bias", &bias));
        buffers.push_back(parameter(prefix + "running_mean", &running_mean));
        buffers.push_back(parameter(prefix + "running_var", &running_var));
    }

protected:
    tensor forward_impl(tensor x, bool train) override {
        if (x.dimension() < 2 || x.shape()[1] != c_) {
            throw shape_error(where("batch_norm") + ": input has shape " + compress::detail::shape_str(x.shape()) +
                              ", expected [batch, " + std::to_string(c_) + ", ...]");
        }
        const std::size_t B = x.shape()[0];
        S_ = x.size() / std::max<std::size_t>(1, B * c_);
        if (B == 0) S_ = 0;
        const std::size_t n = B * S_;
        if (train && n <= 1) {
            throw value_error(where("batch_norm") + ": training needs more than one value per channel, got input shape " +
                              compress::detail::shape_str(x.shape()));
        }
        trained_ = train;
        invstd_.assign(c_, 0.0f);
        float* px = x.data();
        const float* g = weight.value.data();
        const float* b = bias.value.data();
        for (std::size_t c = 0; c < c_; ++c) {
            double mean, var;
            if (train) {
                double s = 0.0;
                for (std::size_t i = 0; i < B; ++i) {
                    const float* p = px + (i * c_ + c) * S_;
                    for (std::size_t j = 0; j < S_; ++j) s += p[j];
                }
                mean = s / static_cast<double>(n);
                double ss = 0.0;
                for (std::size_t i = 0; i < B; ++i) {
                    const float* p = px + (i * c_ + c) * S_;
                    for (std::size_t j = 0; j < S_; ++j) {
                        const double d = p[j] - mean;
                        ss += d * d;
                    }
                }
                var = ss / static_cast<double>(n);
                float& rm = running_mean.value(c);
                float& rv = running_var.value(c);
                rm = static_cast<float>((1.0 - momentum_) * rm + momentum_ * mean);
                rv = static_cast<float>((1.0 - momentum_) * rv +
                                        momentum_ * var * static_cast<double>(n) / static_cast<double>(n - 1));
            } else {
                mean = running_mean.value(c);
                var = running_var.value(c);
            }
            const double inv = 1.0 / std::sqrt(var + eps_);
            invstd_[c] = static_cast<float>(inv);
            const auto m = static_cast<float>(mean), is = static_cast<float>(inv);
            // x is overwritten with x̂ (kept for backward), y = γ·x̂ + β goes to the output.
            for (std::size_t i = 0; i < B; ++i) {
                float* p = px + (i * c_ + c) * S_;
                for (std::size_t j = 0; j < S_; ++j) p[j] = (p[j] - m) * is;
            }
        }
        xhat_ = std::move(x);
        tensor y = tensor::from_shape(xhat_.shape());
        const float* xh = xhat_.data();
        float* py = y.data();
        for (std::size_t i = 0; i < B; ++i) {
            for (std::size_t c = 0; c < c_; ++c) {
                const std::size_t off = (i * c_ + c) * S_;
                for (std::size_t j = 0; j < S_; ++j) py[off + j] = g[c] * xh[off + j] + b[c];
            }
        }
        return y;
    }

    tensor backward_impl(tensor gy, bool need_input_grad) override {
        if (xhat_.dimension() < 2) throw value_error(where("batch_norm") + ": backward called before forward");
        if (gy.shape() != xhat_.shape()) {
            throw shape_error(where("batch_norm") + ": gradient has shape " + compress::detail::shape_str(gy.shape()) +
                              ", the forward input had shape " + compress::detail::shape_str(xhat_.shape()));
        }
        const std::size_t B = xhat_.shape()[0];
        const double n = static_cast<double>(B * S_);
        const float* xh = xhat_.data();
        float* pg = gy.data();
        float* dg = weight.grad.data();
        float* db = bias.grad.data();
        const float* gamma = weight.value.data();
        for (std::size_t c = 0; c < c_; ++c) {
            double sg = 0.0, sgx = 0.0;
            for (std::size_t i = 0; i < B; ++i) {
                const std::size_t off = (i * c_ + c) * S_;
                for (std::size_t j = 0; j < S_; ++j) {
                    sg += pg[off + j];
                    sgx += static_cast<double>(pg[off + j]) * xh[off + j];
                }
            }
            dg[c] = static_cast<float>(sgx);
            db[c] = static_cast<float>(sg);
            if (!need_input_grad) continue;
            const float scale = gamma[c] * invstd_[c];
            if (trained_) {
                // dx = γ/σ · (g − mean(g) − x̂·mean(g·x̂))
                const auto mg = static_cast<float>(sg / n), mgx = static_cast<float>(sgx / n);
                for (std::size_t i = 0; i < B; ++i) {
                    const std::size_t off = (i * c_ + c) * S_;
                    for (std::size_t j = 0; j < S_; ++j) pg[off + j] = scale * (pg[off + j] - mg - xh[off + j] * mgx);
                }
            } else {
                for (std::size_t i = 0; i < B; ++i) {
                    const std::size_t off = (i * c_ + c) * S_;
                    for (std::size_t j = 0; j < S_; ++j) pg[off + j] *= scale;
                }
            }
        }
        if (!need_input_grad) return detail::empty_tensor();
        return gy;
    }

private:
    std::size_t c_;
    double eps_, momentum_;
    std::size_t S_ = 0;
    bool trained_ = false;
    tensor xhat_;
    std::vector<float> invstd_;
};

}  // namespace COMPRESS_NN_ABI
}  // namespace compress::nn
