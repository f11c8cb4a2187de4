// nn/loss.hpp and nn/optim.hpp: softmax cross-entropy, SGD, Adam, learning-rate schedules,
// masked parameters through the optimizers.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include <compress/nn.hpp>

using namespace compress;
using nn::tensor;

TEST_CASE("softmax cross-entropy: hand-computed values and gradient", "[nn][loss]") {
    // Row 0: equal logits -> loss log 2, softmax (1/2, 1/2). Row 1: logits (log 3, 0), label 0
    // -> softmax (3/4, 1/4), loss log(4/3). Mean over the batch; gradient divided by 2.
    tensor z = {{0.f, 0.f}, {std::log(3.f), 0.f}};
    nn::labels y = {1, 0};
    const auto r = nn::softmax_cross_entropy(z, y);
    CHECK(r.loss == Approx((std::log(2.0) + std::log(4.0 / 3.0)) / 2.0).epsilon(1e-6));
    CHECK(r.grad(0, 0) == Approx(0.25f));
    CHECK(r.grad(0, 1) == Approx(-0.25f));
    CHECK(r.grad(1, 0) == Approx(-0.125f));
    CHECK(r.grad(1, 1) == Approx(0.125f));
    // Ties: arg-max is the first maximum (class 0), so row 0 (label 1) is wrong.
    CHECK(r.correct == 1);
    CHECK(nn::count_correct(z, y) == 1);
}

TEST_CASE("softmax cross-entropy is stable for huge logits", "[nn][loss]") {
    tensor z = {{1000.f, 0.f, -1000.f}};
    const auto r = nn::softmax_cross_entropy(z, nn::labels{1});
    CHECK(r.loss == Approx(1000.0));
    CHECK(r.grad(0, 0) == Approx(1.0f));
    CHECK(r.grad(0, 1) == Approx(-1.0f));
    CHECK(r.grad(0, 2) == 0.0f);
    const auto r2 = nn::softmax_cross_entropy(tensor{{88.f, 88.f}}, nn::labels{0});
    CHECK(r2.loss == Approx(std::log(2.0)));
}

TEST_CASE("softmax cross-entropy gradient matches finite differences", "[nn][loss][grad]") {
    nn::generator gen(3);
    xt::xtensor<float, 2> z = xt::zeros<float>({4, 5});
    for (auto& v : z) v = gen.uniform(-3.f, 3.f);
    nn::labels y = {0, 4, 2, 2};
    const auto r = nn::softmax_cross_entropy(z, y);
    for (std::size_t i = 0; i < z.size(); ++i) {
        const float v = z.data()[i];
        z.data()[i] = v + 1e-2f;
        const double lp = nn::softmax_cross_entropy(z, y).loss;
        z.data()[i] = v - 1e-2f;
        const double lm = nn::softmax_cross_entropy(z, y).loss;
        z.data()[i] = v;
        CHECK(r.grad.data()[i] == Approx((lp - lm) / 2e-2).margin(1e-4));
    }
}

TEST_CASE("softmax cross-entropy rejects bad input", "[nn][loss][errors]") {
    tensor z = {{0.f, 1.f, 2.f}, {1.f, 1.f, 1.f}};
    CHECK_THROWS_AS(nn::softmax_cross_entropy(z, nn::labels{0, 3}), value_error);
    CHECK_THROWS_WITH(nn::softmax_cross_entropy(z, nn::labels{0, 3}),
                      "value error: softmax_cross_entropy: label 3 at index 1 is outside [0, 3)");
    CHECK_THROWS_WITH(nn::softmax_cross_entropy(z, nn::labels{-1, 0}),
                      "value error: softmax_cross_entropy: label -1 at index 0 is outside [0, 3)");
    CHECK_THROWS_WITH(nn::softmax_cross_entropy(z, nn::labels{0}),
                      "shape error: softmax_cross_entropy: 2 rows of logits but 1 labels");
    CHECK_THROWS_WITH(nn::softmax_cross_entropy(tensor{0.f, 1.f}, nn::labels{0}),
                      "shape error: softmax_cross_entropy: logits must be [batch, classes], got shape [2]");
    z(1, 2) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(nn::softmax_cross_entropy(z, nn::labels{0, 0}),
                      "value error: softmax_cross_entropy: logit (1, 2) is not finite");
}

namespace {
// One scalar parameter driven by a fixed sequence of gradients.
struct scalar_model {
    nn::param<1> p{{1}, 1.0f};
    nn::parameter_list list() { return nn::parameter_list({nn::parameter("w", &p)}); }
};
}  // namespace

// Expected values: torch.optim on the same gradient sequence (python3-torch 1.13), also
// derived by hand from the update rules.
TEST_CASE("SGD with momentum and weight decay follows PyTorch's rule", "[nn][optim]") {
    scalar_model m;
    nn::sgd opt(m.list(), {0.1, 0.9, 0.0, 0.01, false});
    const float expected[] = {0.949f, 0.927151f, 0.8940597772598267f};
    const float grads[] = {0.5f, -0.25f, 0.125f};
    for (int t = 0; t < 3; ++t) {
        m.p.grad(0) = grads[t];
        opt.step();
        CHECK(m.p.value(0) == Approx(expected[t]).epsilon(1e-6));
    }
    CHECK(opt.steps() == 3);
}

TEST_CASE("SGD Nesterov follows PyTorch's rule", "[nn][optim]") {
    scalar_model m;
    nn::sgd opt(m.list(), {0.1, 0.9, 0.0, 0.01, true});
    const float expected[] = {0.9031f, 0.9075741171836853f, 0.8644391894340515f};
    const float grads[] = {0.5f, -0.25f, 0.125f};
    for (int t = 0; t < 3; ++t) {
        m.p.grad(0) = grads[t];
        opt.step();
        CHECK(m.p.value(0) == Approx(expected[t]).epsilon(1e-6));
    }
}

TEST_CASE("plain SGD and dampening", "[nn][optim]") {
    scalar_model m;
    nn::sgd opt(m.list(), {0.5});
    m.p.grad(0) = 0.2f;
    opt.step();
    CHECK(m.p.value(0) == Approx(0.9f));
    scalar_model d;
    nn::sgd damp(d.list(), {1.0, 0.5, 0.5});
    d.p.grad(0) = 1.0f;
    damp.step();  // b = 1 (first step), w = 0
    damp.step();  // b = 0.5·1 + 0.5·1 = 1, w = -1
    CHECK(d.p.value(0) == Approx(-1.0f));
}

TEST_CASE("Adam follows PyTorch's rule", "[nn][optim]") {
    scalar_model m;
    nn::adam opt(m.list(), {0.1, 0.9, 0.999, 1e-8, 0.01});
    const float expected[] = {0.9000000357627869f, 0.8712294101715088f, 0.834843099117279f};
    const float grads[] = {0.5f, -0.25f, 0.125f};
    for (int t = 0; t < 3; ++t) {
        m.p.grad(0) = grads[t];
        opt.step();
        CHECK(m.p.value(0) == Approx(expected[t]).epsilon(1e-6));
    }
}

TEST_CASE("optimizers reject bad options", "[nn][optim][errors]") {
    scalar_model m;
    CHECK_THROWS_AS(nn::sgd(m.list(), {-0.1}), value_error);
    CHECK_THROWS_WITH(nn::sgd(m.list(), {-0.1}), Catch::Matchers::StartsWith("value error: sgd: lr must be a finite number >= 0"));
    CHECK_THROWS_WITH(nn::sgd(m.list(), {0.1, 0.0, 0.0, 0.0, true}),
                      "value error: sgd: Nesterov momentum requires a momentum > 0 and zero dampening");
    CHECK_THROWS_WITH(nn::sgd(m.list(), {0.1, -0.9}),
                      Catch::Matchers::StartsWith("value error: sgd: momentum must be a finite number >= 0"));
    CHECK_THROWS_WITH(nn::adam(m.list(), {0.1, 1.0}),
                      Catch::Matchers::StartsWith("value error: adam: betas must be in [0, 1)"));
    nn::sgd ok(m.list(), {0.1});
    CHECK_THROWS_WITH(ok.set_lr(std::nan("")), Catch::Matchers::StartsWith("value error: sgd: lr must be"));
}

TEST_CASE("a parameter that changed size is reported by the optimizer", "[nn][optim][errors]") {
    scalar_model m;
    nn::sgd opt(m.list(), {0.1});
    m.p = nn::param<1>({3});
    CHECK_THROWS_AS(opt.step(), shape_error);
    CHECK_THROWS_WITH(opt.step(),
                      "shape error: sgd: parameter 'w' has 3 elements, it had 1 when the optimizer was created");
}

TEST_CASE("masked entries stay exactly zero through SGD + momentum + weight decay and Adam", "[nn][optim][mask]") {
    for (int which = 0; which < 3; ++which) {
        nn::param<2> p({3, 4}, 0.0f);
        nn::generator gen(17);
        for (auto& v : p.value) v = gen.uniform(0.5f, 1.0f);
        nn::parameter h("fc.weight", &p);
        nn::parameter_list list({h});
        nn::sgd sgd_opt(list, {0.1, 0.9, 0.0, 0.05, which == 1});
        nn::adam adam_opt(list, {0.01, 0.9, 0.999, 1e-8, 0.05});
        auto step = [&] { which == 2 ? adam_opt.step() : sgd_opt.step(); };
        // A few unmasked steps first, so momentum buffers are nonzero everywhere.
        for (int t = 0; t < 3; ++t) {
            for (auto& g : p.grad) g = gen.uniform(-1.f, 1.f);
            step();
        }
        mask<2> m({3, 4});
        m.set(0, false);
        m.set(5, false);
        m.set(11, false);
        h.set_mask(m);
        CHECK(h.has_mask());
        CHECK(p.value.data()[5] == 0.0f);
        const xt::xtensor<float, 2> before = p.value;
        for (int t = 0; t < 20; ++t) {
            for (auto& g : p.grad) g = gen.uniform(-1.f, 1.f);  // gradients reach the pruned entries too
            step();
            for (std::size_t i : {0u, 5u, 11u}) {
                INFO("optimizer " << which << " step " << t << " entry " << i);
                CHECK(p.value.data()[i] == 0.0f);
                CHECK(std::signbit(p.value.data()[i]) == false);
            }
        }
        std::size_t moved = 0;
        for (std::size_t i = 0; i < 12; ++i) moved += (p.value.data()[i] != before.data()[i]);
        CHECK(moved == 9);  // every kept entry trained
        CHECK(h.zero_fraction() == Approx(3.0 / 12.0));
        h.clear_mask();
        CHECK_FALSE(h.has_mask());
    }
}

TEST_CASE("set_mask checks rank and shape", "[nn][mask][errors]") {
    nn::param<2> p({3, 4});
    nn::parameter h("fc1.weight", &p);
    CHECK_THROWS_WITH(h.set_mask(mask<2>({4, 3})),
                      "shape error: mask of shape [4, 3] does not fit parameter 'fc1.weight' of shape [3, 4]");
    CHECK_THROWS_WITH(h.set_mask(mask<1>({12})),
                      "shape error: parameter 'fc1.weight' has rank 2 (shape [3, 4]), asked for rank 1");
}

TEST_CASE("frozen parameters are not updated", "[nn][optim]") {
    scalar_model m;
    nn::sgd opt(m.list(), {0.1});
    m.list()[0].set_trainable(false);
    m.p.grad(0) = 1.0f;
    opt.step();
    CHECK(m.p.value(0) == 1.0f);
}

TEST_CASE("learning-rate schedules: constant, step, cosine", "[nn][schedule]") {
    CHECK(nn::constant_lr{}.lr_at(123, 0.05) == 0.05);
    nn::step_lr s(2, 0.5);
    const double step_expected[] = {1.0, 1.0, 0.5, 0.5, 0.25, 0.25};
    for (std::size_t t = 0; t < 6; ++t) CHECK(s.lr_at(t, 1.0) == Approx(step_expected[t]));
    nn::cosine_lr c(10, 0.01);
    CHECK(c.lr_at(0, 0.1) == Approx(0.1));
    CHECK(c.lr_at(5, 0.1) == Approx(0.055));  // halfway: (base + eta_min) / 2
    CHECK(c.lr_at(10, 0.1) == Approx(0.01));
    CHECK(c.lr_at(20, 0.1) == Approx(0.01));
    // cos(π/4): 0.01 + 0.09·(1 + √2/2)/2
    CHECK(nn::cosine_lr(8, 0.01).lr_at(2, 0.1) == Approx(0.01 + 0.09 * (1 + std::sqrt(2.0) / 2) / 2));
    CHECK_THROWS_WITH(nn::step_lr(0), "value error: step_lr: step_size must be positive");
    CHECK_THROWS_WITH(nn::cosine_lr(0), "value error: cosine_lr: t_max must be positive");
}
