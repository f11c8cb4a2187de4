#pragma once
// Elementary layers: linear, relu, flatten and fake_quant (an activation transform for QAT).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "config.hpp"
#include "gemm.hpp"
#include "module.hpp"
#include "parameter.hpp"

namespace compress::nn {
inline namespace COMPRESS_NN_ABI {

/// y = x·Wᵀ + b, x [batch, in_features], W [out_features, in_features] (PyTorch's nn.Linear).
/// Parameters `weight` and `bias`, initialised like PyTorch (Kaiming-uniform a = √5, bias
/// U(±1/√in_features)) from `gen`, weight first.
class linear final : public detail::module_impl<linear> {
public:
    linear(std::size_t in_features, std::size_t out_features, generator& gen, bool bias = true)
        : weight({out_features, in_features}), in_(in_features), out_(out_features), has_bias_(bias) {
        if (in_features == 0 || out_features == 0) {
            throw value_error("linear: in_features and out_features must be positive, got " +
                              std::to_string(in_features) + " and " + std::to_string(out_features));
        }
        kaiming_uniform(weight.value, in_features, std::sqrt(5.0), gen);
        if (has_bias_) {
            this->bias = param<1>({out_features});
            bias_uniform(this->bias.value, in_features, gen);
        }
    }

    param<2> weight;
    param<1> bias;  ///< empty when constructed without bias

    std::size_t in_features() const noexcept { return in_; }
    std::size_t out_features() const noexcept { return out_; }
    bool has_bias() const noexcept { return has_bias_; }

    std::string describe() const override {
        return "Linear(in_features=" + std::to_string(in_) + ", out_features=" + std::to_string(out_) +
               ", bias=" + (has_bias_ ? "True" : "False") + ")";
    }
    void collect(const std::string& prefix, parameter_list& params, parameter_list&) override {
        params.push_back(parameter(prefix + "weight", &weight));
        if (has_bias_) params.push_back(parameter(prefix + "bias", &bias));
    }

protected:
    tensor forward_impl(tensor x, bool) override {
        if (x.dimension() != 2 || x.shape()[1] != in_) {
            throw shape_error(where("linear") + " (" + std::to_string(in_) + " -> " + std::to_string(out_) +
                              "): input has shape " + compress::detail::shape_str(x.shape()) + ", expected [batch, " +
                              std::to_string(in_) + "]");
        }
        const std::size_t batch = x.shape()[0];
        const auto& w = weight.effective(pname("weight"));
        tensor y = tensor::from_shape({batch, out_});
        detail::gemm(false, true, batch, out_, in_, 1.0f, x.data(), in_, w.data(), in_, 0.0f, y.data(), out_);
        if (has_bias_) {
            const float* b = bias.value.data();
            float* py = y.data();
            for (std::size_t i = 0; i < batch; ++i, py += out_) {
                for (std::size_t j = 0; j < out_; ++j) py[j] += b[j];
            }
        }
        input_ = std::move(x);
        return y;
    }

    tensor backward_impl(tensor g, bool need_input_grad) override {
        if (input_.dimension() != 2) throw value_error(where("linear") + ": backward called before forward");
        const std::size_t batch = input_.shape()[0];
        if (g.dimension() != 2 || g.shape()[0] != batch || g.shape()[1] != out_) {
            throw shape_error(where("linear") + ": gradient has shape " + compress::detail::shape_str(g.shape()) +
                              ", expected [" + std::to_string(batch) + ", " + std::to_string(out_) + "]");
        }
        // dW = gᵀ·x  [out, in]
        detail::gemm(true, false, out_, in_, batch, 1.0f, g.data(), out_, input_.data(), in_, 0.0f,
                     weight.grad.data(), in_);
        weight.finish_grad(pname("weight"));
        if (has_bias_) {
            float* db = bias.grad.data();
            std::fill(db, db + out_, 0.0f);
            const float* pg = g.data();
            for (std::size_t i = 0; i < batch; ++i, pg += out_) {
                for (std::size_t j = 0; j < out_; ++j) db[j] += pg[j];
            }
        }
        if (!need_input_grad) return detail::empty_tensor();
        // dx = g·W_eff  [batch, in]
        const auto& w = weight.last_effective();
        tensor dx = tensor::from_shape({batch, in_});
        detail::gemm(false, false, batch, in_, out_, 1.0f, g.data(), out_, w.data(), in_, 0.0f, dx.data(), in_);
        return dx;
    }

private:
    std::string pname(const char* p) const { return name().empty() ? std::string(p) : name() + "." + p; }

    std::size_t in_, out_;
    bool has_bias_;
    tensor input_;
};

/// max(x, 0), any shape. The gradient is passed where the output is positive (PyTorch's rule,
/// 0 at x == 0).
class relu final : public detail::module_impl<relu> {
public:
    relu() = default;
    std::string describe() const override { return "ReLU()"; }

protected:
    tensor forward_impl(tensor x, bool) override {
        const std::size_t n = x.size();
        positive_.resize(n);
        float* p = x.data();
        std::uint8_t* m = positive_.data();
        for (std::size_t i = 0; i < n; ++i) {
            const bool pos = p[i] > 0.0f;
            m[i] = pos;
            p[i] = pos ? p[i] : 0.0f;
        }
        shape_.assign(x.shape().begin(), x.shape().end());
        return x;
    }
    tensor backward_impl(tensor g, bool need_input_grad) override {
        if (!need_input_grad) return detail::empty_tensor();
        if (!std::equal(shape_.begin(), shape_.end(), g.shape().begin(), g.shape().end())) {
            throw shape_error(where("relu") + ": gradient has shape " + compress::detail::shape_str(g.shape()) +
                              ", the forward output had shape " + compress::detail::shape_str(shape_));
        }
        float* p = g.data();
        const std::uint8_t* m = positive_.data();
        for (std::size_t i = 0, n = g.size(); i < n; ++i) p[i] = m[i] ? p[i] : 0.0f;
        return g;
    }

private:
    std::vector<std::uint8_t> positive_;
    std::vector<std::size_t> shape_;
};

/// [batch, d1, d2, ...] -> [batch, d1·d2·...] (torch.nn.Flatten with start_dim = 1).
class flatten final : public detail::module_impl<flatten> {
public:
    flatten() = default;
    std::string describe() const override { return "Flatten(start_dim=1, end_dim=-1)"; }

protected:
    tensor forward_impl(tensor x, bool) override {
        if (x.dimension() < 1) throw shape_error(where("flatten") + ": input is a 0-d tensor");
        shape_.assign(x.shape().begin(), x.shape().end());
        const std::size_t batch = x.shape()[0];
        const std::size_t rest = batch == 0 ? 0 : x.size() / batch;
        x.reshape({batch, rest});
        return x;
    }
    tensor backward_impl(tensor g, bool need_input_grad) override {
        if (!need_input_grad) return detail::empty_tensor();
        std::size_t n = 1;
        for (auto d : shape_) n *= d;
        if (shape_.empty() || g.size() != n) {
            throw shape_error(where("flatten") + ": gradient has shape " + compress::detail::shape_str(g.shape()) +
                              ", the forward input had shape " + compress::detail::shape_str(shape_));
        }
        g.reshape(shape_);
        return g;
    }

private:
    std::vector<std::size_t> shape_;
};

/// An activation transform for quantization-aware training: forward computes `fn(x)` (e.g. a
/// fake quantizer with a running-range observer), backward maps the gradient with
/// `ste(x, grad)`; without `ste` the gradient passes unchanged (straight-through estimator).
/// No parameters. Insert it after the layer whose output is quantized.
class fake_quant final : public detail::module_impl<fake_quant> {
public:
    using fn = std::function<tensor(const tensor& x, bool train)>;
    using ste_fn = std::function<tensor(const tensor& x, const tensor& grad)>;

    explicit fake_quant(fn forward_fn, ste_fn ste = nullptr, std::string label = "FakeQuantize")
        : fn_(std::move(forward_fn)), ste_(std::move(ste)), label_(std::move(label)) {
        if (!fn_) throw value_error("fake_quant: the forward function is empty");
    }
    std::string describe() const override { return label_ + "()"; }

protected:
    tensor forward_impl(tensor x, bool train) override {
        tensor y = fn_(x, train);
        if (y.shape() != x.shape()) {
            throw shape_error(where("fake_quant") + ": the transform returned shape " +
                              compress::detail::shape_str(y.shape()) + " for an input of shape " +
                              compress::detail::shape_str(x.shape()));
        }
        if (ste_) input_ = std::move(x);
        shape_.assign(y.shape().begin(), y.shape().end());
        return y;
    }
    tensor backward_impl(tensor g, bool need_input_grad) override {
        if (!need_input_grad) return detail::empty_tensor();
        if (!std::equal(shape_.begin(), shape_.end(), g.shape().begin(), g.shape().end())) {
            throw shape_error(where("fake_quant") + ": gradient has shape " + compress::detail::shape_str(g.shape()) +
                              ", the forward output had shape " + compress::detail::shape_str(shape_));
        }
        if (!ste_) return g;
        tensor out = ste_(input_, g);
        if (out.shape() != g.shape()) {
            throw shape_error(where("fake_quant") + ": the gradient function returned shape " +
                              compress::detail::shape_str(out.shape()) + " for a gradient of shape " +
                              compress::detail::shape_str(g.shape()));
        }
        return out;
    }

private:
    fn fn_;
    ste_fn ste_;
    std::string label_;
    tensor input_;
    std::vector<std::size_t> shape_;
};

}  // namespace COMPRESS_NN_ABI
}  // namespace compress::nn
