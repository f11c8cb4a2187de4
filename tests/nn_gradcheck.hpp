#pragma once
// Finite-difference gradient checks for the nn layer tests. The scalar checked is
// L = Σ forward(x) ⊙ R for a fixed random R, so dL/dy = R, and the central difference
// (L(θ + h) − L(θ − h)) / 2h is compared with backward's gradient for every input entry and
// every parameter entry (or an evenly spread sample of at most `max_checks` of them).

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include <compress/nn.hpp>

namespace nn_test {

using compress::nn::tensor;

inline tensor random_tensor(std::vector<std::size_t> shape, compress::nn::generator& gen, float lo = -1.0f,
                            float hi = 1.0f) {
    tensor t = tensor::from_shape(shape);
    for (auto& v : t) v = gen.uniform(lo, hi);
    return t;
}

inline double weighted_sum(const tensor& y, const tensor& r) {
    double s = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) s += static_cast<double>(y.data()[i]) * r.data()[i];
    return s;
}

struct gradcheck_options {
    bool train = true;
    float h = 1e-2f;
    double abs_tol = 2e-3;
    double rel_tol = 1e-2;
    std::size_t max_checks = 400;
};

/// Checks one entry: analytic vs central difference.
inline void check_entry(double analytic, double numeric, const std::string& what, const gradcheck_options& o) {
    INFO(what << ": analytic " << analytic << ", finite difference " << numeric);
    CHECK(std::abs(analytic - numeric) <= o.abs_tol + o.rel_tol * std::abs(numeric));
}

/// Runs the finite-difference check of `m` at input `x`. In training mode the forward of
/// batch_norm depends on the batch; the check perturbs one entry at a time and recomputes the
/// whole forward, so it checks the true gradient of the batch function. Returns the number of
/// entries checked.
inline std::size_t gradcheck(compress::nn::module& m, const tensor& x, const gradcheck_options& o = {},
                             std::uint64_t seed = 7) {
    compress::nn::generator gen(seed);
    tensor y = m.forward(x, o.train);
    tensor r = random_tensor(std::vector<std::size_t>(y.shape().begin(), y.shape().end()), gen);
    tensor dx = m.backward(r, true);
    REQUIRE(dx.shape() == x.shape());
    // Snapshot parameter gradients (later forwards/backwards would overwrite them).
    auto params = m.parameters();
    std::vector<std::vector<float>> grads;
    for (const auto& p : params) grads.emplace_back(p.grad_data(), p.grad_data() + p.size());

    auto loss_at = [&](const tensor& input) { return weighted_sum(m.forward(input, o.train), r); };
    std::size_t checked = 0;
    {
        tensor xp = x;
        const std::size_t n = x.size();
        const std::size_t stride = std::max<std::size_t>(1, n / o.max_checks);
        for (std::size_t i = 0; i < n; i += stride) {
            const float v = xp.data()[i];
            xp.data()[i] = v + o.h;
            const double lp = loss_at(xp);
            xp.data()[i] = v - o.h;
            const double lm = loss_at(xp);
            xp.data()[i] = v;
            check_entry(dx.data()[i], (lp - lm) / (2.0 * o.h), "input[" + std::to_string(i) + "]", o);
            ++checked;
        }
    }
    for (std::size_t k = 0; k < params.size(); ++k) {
        const auto& p = params[k];
        float* w = p.data();
        const std::size_t n = p.size();
        const std::size_t stride = std::max<std::size_t>(1, n / o.max_checks);
        for (std::size_t i = 0; i < n; i += stride) {
            const float v = w[i];
            w[i] = v + o.h;
            const double lp = loss_at(x);
            w[i] = v - o.h;
            const double lm = loss_at(x);
            w[i] = v;
            check_entry(grads[k][i], (lp - lm) / (2.0 * o.h), p.name() + "[" + std::to_string(i) + "]", o);
            ++checked;
        }
    }
    return checked;
}

}  // namespace nn_test
