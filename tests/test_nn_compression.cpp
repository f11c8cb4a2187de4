// nn/compression.hpp: the training substrate with the library's pruning (compute_mask on a
// schedule) and quantization (quantizer::fake_quantize + straight-through gradient) types.
#include <catch2/catch.hpp>

#include <cmath>
#include <optional>

#include <compress/nn.hpp>

#include "nn_test_util.hpp"
#include <compress/nn/compression.hpp>

using namespace compress;
using nn::tensor;

namespace {

using nn_test::make_toy;
nn::sequential mlp(nn::generator& gen) { return nn_test::mlp(gen, 8, 32, 3); }

// Sparsity 0.3 from step 5, 0.6 from step 10, 0.8 from step 20; nothing before step 5.
struct staircase {
    std::optional<double> sparsity_at(std::size_t step) const {
        if (step < 5) return std::nullopt;
        if (step < 10) return 0.3;
        if (step < 20) return 0.6;
        return 0.8;
    }
};

}  // namespace

TEST_CASE("prune_with<magnitude> on a schedule: masks grow, pruned weights stay exactly zero", "[nn][compression][prune]") {
    auto d = make_toy(96, 8, 3, 1);
    nn::generator gen(2);
    auto m = mlp(gen);
    auto params = m.parameters();
    nn::scheduled_pruning<staircase> pruning(nn::parameter_list({params["fc1.weight"], params["fc2.weight"]}),
                                             staircase{}, 5, nn::prune_with<magnitude>());
    nn::sgd opt(params, {0.05, 0.9, 0.0, 1e-3, true});  // momentum, Nesterov and weight decay
    nn::data_loader loader(d.x, d.y, 16, true, 3);       // 6 steps per epoch
    mask<2> at_06;
    for (std::size_t e = 0; e < 8; ++e) {
        nn::train_epoch(m, opt, loader, e, [&](std::size_t step) {
            pruning(step);
            if (step == 15) at_06 = *params["fc1.weight"].get<2>().keep;
            // After every step (not just at re-masking) the pruned weights are exactly zero.
            const auto& w = params["fc1.weight"];
            if (w.has_mask()) {
                const std::uint8_t* f = w.mask_data();
                for (std::size_t i = 0; i < w.size(); ++i) {
                    if (!f[i] && w.data()[i] != 0.0f) FAIL("fc1.weight[" << i << "] is pruned but " << w.data()[i]);
                }
            }
        });
    }
    CHECK(pruning.updates() == 48 / 5);
    CHECK(params["fc1.weight"].zero_fraction() == Approx(0.8).margin(1.0 / 256));
    CHECK(params["fc2.weight"].zero_fraction() == Approx(0.8).margin(1.0 / 96));
    // Gradual: what was pruned at 0.6 is still pruned at 0.8 (previous masks are kept).
    const mask<2>& final_mask = *params["fc1.weight"].get<2>().keep;
    CHECK(((final_mask & at_06) == final_mask));
    CHECK(at_06.sparsity() == Approx(0.6).margin(1.0 / 256));
    CHECK(nn::evaluate(m, d.x, d.y).accuracy > 0.7);
}

TEST_CASE("prune_with<magnitude, rows<l2>> removes whole neurons; 1-d parameters are refused", "[nn][compression][prune]") {
    nn::generator gen(4);
    auto m = mlp(gen);
    auto params = m.parameters();
    auto update = nn::prune_with<magnitude, rows<l2>>();
    update(params["fc1.weight"], 0.25);
    const auto& w = params["fc1.weight"].value<2>();
    std::size_t zero_rows = 0;
    for (std::size_t r = 0; r < 32; ++r) {
        bool all_zero = true;
        for (std::size_t c = 0; c < 8; ++c) all_zero = all_zero && w(r, c) == 0.0f;
        zero_rows += all_zero;
    }
    CHECK(zero_rows == 8);
    CHECK_THROWS_AS(update(params["fc1.bias"], 0.5), value_error);
    CHECK_THROWS_WITH(update(params["fc1.bias"], 0.5),
                      "value error: prune_with: structured pruning needs a parameter of rank >= 2, 'fc1.bias' has rank 1");
}

TEST_CASE("fake_quantize_weights: the forward uses the quantizer's fake_quantize, the gradient its STE", "[nn][compression][qat]") {
    using q4 = quantizer<int4, symmetric, per_channel<0>>;
    nn::generator gen(5);
    nn::linear fc(6, 4, gen, false);
    auto q = nn::fake_quantize_weights(fc.parameters()["weight"], q4{});
    tensor x = tensor::from_shape({3, 6});
    for (auto& v : x) v = gen.uniform(-1.f, 1.f);
    tensor y = fc.forward(x, true);
    // Reference: a separate quantizer with the same scheme, applied by hand.
    q4 ref;
    const xt::xtensor<float, 2> wq = ref.fake_quantize(fc.weight.value);
    CHECK_FALSE((wq == fc.weight.value));  // 4 bits really change the weights
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t o = 0; o < 4; ++o) {
            double s = 0;
            for (std::size_t j = 0; j < 6; ++j) s += double(x(i, j)) * wq(o, j);
            CHECK(y(i, o) == Approx(s).margin(1e-5));
        }
    // The gradient is gᵀx through the quantized forward, passed where the STE passes. With
    // PyTorch's symmetric scale (max|w| / 7.5 for int4) a channel's largest positive weight
    // rounds to code 8 and is clamped to 7: its gradient is 0 (as in PyTorch).
    tensor g = xt::ones<float>({3, 4});
    fc.backward(g);
    const mask<2> pass = ref.ste_mask(fc.weight.value);
    CHECK(pass.pruned() >= 1);
    CHECK(pass.pruned() <= 4);
    for (std::size_t o = 0; o < 4; ++o)
        for (std::size_t j = 0; j < 6; ++j) {
            const double expected = pass(o, j) ? double(x(0, j)) + x(1, j) + x(2, j) : 0.0;
            CHECK(fc.weight.grad(o, j) == Approx(expected).margin(1e-5));
        }
    // A frozen quantizer with a narrow calibrated range clamps the larger weights: their gradient is 0.
    q->reset();
    q->observe(xt::xtensor<float, 2>(0.01f * fc.weight.value));
    q->freeze();
    fc.forward(x, true);
    fc.backward(g);
    std::size_t passed = 0;
    for (std::size_t i = 0; i < fc.weight.grad.size(); ++i) passed += fc.weight.grad.data()[i] != 0.0f;
    CHECK(passed < fc.weight.grad.size() / 4);
}

TEST_CASE("QAT with int8 weights and uint8 activations trains the MLP", "[nn][compression][qat]") {
    using w8 = quantizer<int8, symmetric, per_channel<0>>;
    using a8 = quantizer<uint8, affine, per_tensor, moving_average_minmax>;
    auto d = make_toy(128, 8, 3, 6);
    nn::generator gen(7);
    nn::sequential m;
    m.add("fc1", nn::linear(8, 32, gen));
    m.add("relu1", nn::relu());
    auto act_q = std::make_shared<a8>();
    m.add("act_q", nn::fake_quantize_activations<2>(act_q));
    m.add("fc2", nn::linear(32, 3, gen));
    auto params = m.parameters();
    nn::fake_quantize_weights(params["fc1.weight"], w8{});
    nn::fake_quantize_weights(params["fc2.weight"], w8{});
    nn::sgd opt(params, {0.05, 0.9});
    nn::data_loader loader(d.x, d.y, 16, true, 8);
    const double before = nn::evaluate(m, d.x, d.y).loss;
    for (std::size_t e = 0; e < 25; ++e) nn::train_epoch(m, opt, loader, e);
    const auto after = nn::evaluate(m, d.x, d.y);
    CHECK(after.loss < 0.5 * before);
    CHECK(after.accuracy > 0.85);
    CHECK(act_q->calibrated());
    // The activations leaving act_q lie on the uint8 grid of the calibrated range.
    nn::activation_recorder rec(m, {"act_q"});
    m.forward(d.x, false);
    const tensor a = rec.get("act_q");
    const auto qp = act_q->calibrated_params().at(0);
    for (std::size_t i = 0; i < a.size(); i += 7) {
        const double code = a.data()[i] / qp.scale + qp.zero_point;
        CHECK(std::abs(code - std::round(code)) < 1e-3);
    }
    CHECK_THROWS_AS(nn::fake_quantize_activations<4>(a8{}).forward(d.x, true), shape_error);
}
