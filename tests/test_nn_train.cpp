// nn/train.hpp: data loader, training loops, evaluation, pruning and fake quantization in the
// loop, reproducibility.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <set>

#include <compress/nn.hpp>

#include "nn_test_util.hpp"

using namespace compress;
using nn::tensor;

namespace {

using nn_test::make_toy;
using nn_test::mlp;
using nn_test::toy_data;

// Keeps the largest (1 − s) fraction of |w| (ties by index) — a reference magnitude pruner
// for these tests, independent of prune.hpp.
template <std::size_t N>
mask<N> top_magnitude(const xt::xtensor<float, N>& w, double s) {
    std::vector<std::size_t> idx(w.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(),
                     [&](std::size_t a, std::size_t b) { return std::abs(w.data()[a]) < std::abs(w.data()[b]); });
    const auto prune_count = static_cast<std::size_t>(std::llround(s * static_cast<double>(w.size())));
    typename mask<N>::shape_type shape;
    std::copy(w.shape().begin(), w.shape().end(), shape.begin());
    mask<N> m(shape);
    for (std::size_t k = 0; k < prune_count; ++k) m.set(idx[k], false);
    return m;
}

struct step_schedule {  // sparsity 0.25 from step 4, 0.5 from step 8, 0.75 from step 12
    std::optional<double> sparsity_at(std::size_t step) const {
        if (step < 4) return std::nullopt;
        return std::min(0.75, 0.25 * static_cast<double>(step / 4));
    }
};

}  // namespace

TEST_CASE("a tiny net overfits a tiny batch to ~zero loss", "[nn][train]") {
    nn::generator gen(1);
    auto m = mlp(gen, 10, 32, 4);
    auto d = make_toy(16, 10, 4, 2);
    nn::sgd opt(m.parameters(), {0.1, 0.9});
    double first = 0, last = 0;
    for (int t = 0; t < 500; ++t) {
        const auto r = nn::train_step(m, opt, d.x, d.y);
        if (t == 0) first = r.loss;
        last = r.loss;
    }
    CHECK(first > 1.0);
    CHECK(last < 1e-3);
    const auto e = nn::evaluate(m, d.x, d.y);
    CHECK(e.accuracy == 1.0);
    CHECK(e.loss < 1e-3);
}

TEST_CASE("Adam also overfits the tiny batch", "[nn][train]") {
    nn::generator gen(3);
    auto m = mlp(gen, 10, 32, 4);
    auto d = make_toy(16, 10, 4, 4);
    nn::adam opt(m.parameters(), {0.01});
    double last = 0;
    for (int t = 0; t < 300; ++t) last = nn::train_step(m, opt, d.x, d.y).loss;
    CHECK(last < 1e-2);
}

TEST_CASE("data_loader: batches cover every sample once, seeded shuffling", "[nn][data]") {
    tensor x = tensor::from_shape({10, 2});
    nn::labels y = nn::labels::from_shape({10});
    for (std::size_t i = 0; i < 10; ++i) {
        x(i, 0) = float(i);
        x(i, 1) = float(10 * i);
        y(i) = std::int64_t(i);
    }
    nn::data_loader a(x, y, 4, true, 123), b(x, y, 4, true, 123), c(x, y, 4, true, 124);
    CHECK(a.num_batches() == 3);
    a.set_epoch(2);
    b.set_epoch(0);
    b.set_epoch(2);  // the order depends on (seed, epoch) only
    CHECK(a.order() == b.order());
    c.set_epoch(2);
    CHECK(a.order() != c.order());
    nn::data_loader a1(x, y, 4, true, 123);
    a1.set_epoch(3);
    CHECK(a1.order() != a.order());
    std::multiset<std::int64_t> seen;
    tensor xb;
    nn::labels yb;
    for (std::size_t i = 0; i < a.num_batches(); ++i) {
        a.batch(i, xb, yb);
        CHECK(xb.shape()[0] == (i < 2 ? 4u : 2u));
        for (std::size_t k = 0; k < yb.size(); ++k) {
            CHECK(xb(k, 0) == float(yb(k)));  // rows stay with their labels
            CHECK(xb(k, 1) == float(10 * yb(k)));
            seen.insert(yb(k));
        }
    }
    CHECK(seen == std::multiset<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    nn::data_loader seq(x, y, 3, false, 0, true);
    CHECK(seq.num_batches() == 3);
    seq.batch(1, xb, yb);
    CHECK((yb == nn::labels{3, 4, 5}));
    CHECK_THROWS_WITH(seq.batch(3, xb, yb), "value error: data_loader: batch 3 of an epoch with 3 batches");
    CHECK_THROWS_WITH(nn::data_loader(x, y, 0), "value error: data_loader: batch_size must be positive");
    nn::labels short_y = {1, 2};
    CHECK_THROWS_WITH(nn::data_loader(x, short_y, 2), "shape error: data_loader: 10 inputs (shape [10, 2]) but 2 labels");
}

TEST_CASE("train_epoch and evaluate learn a separable problem; fixed seeds give identical runs", "[nn][train]") {
    auto d = make_toy(256, 8, 3, 5);
    auto run = [&](std::uint64_t seed) {
        nn::generator gen(seed);
        auto m = mlp(gen, 8, 16, 3);
        nn::sgd opt(m.parameters(), {0.05, 0.9});
        nn::data_loader loader(d.x, d.y, 32, true, seed);
        nn::epoch_stats last;
        std::size_t steps_seen = 0;
        for (std::size_t e = 0; e < 15; ++e) {
            last = nn::train_epoch(m, opt, loader, e, [&](std::size_t s) { steps_seen = s; });
        }
        CHECK(last.samples == 256);
        CHECK(last.steps == 8);
        CHECK(steps_seen == 15 * 8);
        return std::make_pair(nn::evaluate(m, d.x, d.y, 100), m);
    };
    auto [r1, m1] = run(7);
    auto [r2, m2] = run(7);
    auto [r3, m3] = run(8);
    CHECK(r1.accuracy > 0.9);
    CHECK(r1.samples == 256);
    CHECK(r1.loss == r2.loss);  // bit-identical
    CHECK((m1.get<nn::linear>("fc1").weight.value == m2.get<nn::linear>("fc1").weight.value));
    CHECK_FALSE((m1.get<nn::linear>("fc1").weight.value == m3.get<nn::linear>("fc1").weight.value));
}

TEST_CASE("masked training: pruned weights stay exactly zero, the rest still learns", "[nn][train][mask]") {
    auto d = make_toy(128, 8, 3, 9);
    nn::generator gen(10);
    auto m = mlp(gen, 8, 16, 3);
    auto params = m.parameters();
    const auto& w = params["fc1.weight"];
    w.set_mask(top_magnitude(w.value<2>(), 0.6));
    const mask<2> keep = *w.get<2>().keep;
    nn::sgd opt(params, {0.05, 0.9, 0.0, 1e-3, true});
    nn::data_loader loader(d.x, d.y, 16, true, 1);
    for (std::size_t e = 0; e < 10; ++e) nn::train_epoch(m, opt, loader, e);
    for (std::size_t i = 0; i < keep.size(); ++i) {
        if (!keep[i]) CHECK(w.data()[i] == 0.0f);
    }
    CHECK(w.zero_fraction() == Approx(keep.sparsity()));
    CHECK(nn::evaluate(m, d.x, d.y).accuracy > 0.8);
}

TEST_CASE("scheduled pruning re-masks every k steps as the schedule says", "[nn][train][mask]") {
    auto d = make_toy(64, 8, 3, 11);
    nn::generator gen(12);
    auto m = mlp(gen, 8, 16, 3);
    auto params = m.parameters();
    nn::parameter_list targets = {params["fc1.weight"], params["fc2.weight"]};
    std::vector<std::pair<std::size_t, double>> calls;
    nn::scheduled_pruning<step_schedule> pruning(targets, step_schedule{}, 2, [&](const nn::parameter& p, double s) {
        if (p.name() == "fc1.weight") calls.emplace_back(0, s);
        p.set_mask(top_magnitude(p.value<2>(), s));
    });
    nn::sgd opt(params, {0.05, 0.9, 0.0, 1e-4});
    nn::data_loader loader(d.x, d.y, 16, true, 3);  // 4 steps per epoch
    for (std::size_t e = 0; e < 4; ++e) {
        nn::train_epoch(m, opt, loader, e, [&](std::size_t step) { pruning(step); });
    }
    // Steps 2..16 every 2: the schedule answers from step 4 on -> steps 4, 6, ..., 16 = 7 updates.
    CHECK(pruning.updates() == 7);
    REQUIRE(pruning.last_sparsity().has_value());
    CHECK(*pruning.last_sparsity() == 0.75);
    CHECK(calls.front().second == 0.25);
    CHECK(params["fc1.weight"].zero_fraction() == Approx(0.75));
    CHECK(params["fc2.weight"].zero_fraction() == Approx(0.75).margin(1.0 / 48));
    CHECK(params["fc1.bias"].zero_fraction() == 0.0);
    CHECK_THROWS_WITH(nn::scheduled_pruning<step_schedule>(targets, step_schedule{}, 0, [](const nn::parameter&, double) {}),
                      "value error: scheduled_pruning: every must be positive");
}

TEST_CASE("scheduled pruning rejects a sparsity outside [0, 1]", "[nn][train][mask][errors]") {
    struct bad_schedule {
        std::optional<double> sparsity_at(std::size_t) const { return 1.5; }
    };
    nn::param<2> p({2, 2});
    nn::scheduled_pruning<bad_schedule> pruning(nn::parameter_list({nn::parameter("w", &p)}), bad_schedule{}, 1,
                                                [](const nn::parameter&, double) {});
    CHECK_THROWS_AS(pruning(1), value_error);
    CHECK_THROWS_WITH(pruning(1), Catch::Matchers::StartsWith("value error: scheduled_pruning: sparsity must be a fraction in [0, 1]"));
}

TEST_CASE("QAT: a fake-quantized net (weights and activations) still trains", "[nn][train][qat]") {
    auto d = make_toy(128, 8, 3, 13);
    nn::generator gen(14);
    nn::sequential m;
    m.add("fc1", nn::linear(8, 16, gen));
    m.add("relu1", nn::relu());
    // Activations on a 1/16 grid in [0, 4], gradient passed inside the range only.
    m.add("act_q", nn::fake_quant([](const tensor& x, bool) { return tensor(xt::round(xt::clip(x, 0.f, 4.f) * 16.f) / 16.f); },
                                  [](const tensor& x, const tensor& g) { return tensor(xt::where(x <= 4.f, g, 0.f)); }));
    m.add("fc2", nn::linear(16, 3, gen));
    // Weights on a symmetric 4-bit grid of step 1/16 (a stand-in for quantize.hpp's fake_quantize).
    auto wq = [](const auto& w) { return xt::eval(xt::round(xt::clip(w, -0.5f, 0.4375f) * 16.f) / 16.f); };
    for (const auto& name : {"fc1.weight", "fc2.weight"}) m.parameters()[name].set_transform(wq);
    nn::sgd opt(m.parameters(), {0.05, 0.9});
    nn::data_loader loader(d.x, d.y, 16, true, 5);
    const double before = nn::evaluate(m, d.x, d.y).loss;
    for (std::size_t e = 0; e < 20; ++e) nn::train_epoch(m, opt, loader, e);
    const auto after = nn::evaluate(m, d.x, d.y);
    CHECK(after.loss < 0.5 * before);
    CHECK(after.accuracy > 0.85);
    // The forward really used quantized weights: quantizing the float weights by hand and
    // running a plain copy gives the same logits.
    nn::sequential plain = m;
    for (const auto& name : {"fc1.weight", "fc2.weight"}) {
        const auto& p = plain.parameters()[name];
        p.clear_transform();
        p.value<2>() = wq(p.value<2>());
    }
    tensor z1 = m.forward(d.x, false), z2 = plain.forward(d.x, false);
    CHECK((z1 == z2));
}
